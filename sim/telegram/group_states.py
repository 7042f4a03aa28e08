"""What real groups do to a bot, on demand: the per-group send budget, an upgrade to a
supergroup (the chat's id changes), and the bot being kicked or blocked.

The texts are Telegram's own, as clients see them (python-telegram-bot maps the 400 with
`migrate_to_chat_id` to `ChatMigrated`, the 403 to `Forbidden`, the 429 to `RetryAfter`):
- 429 `Too Many Requests: retry after N`, `parameters.retry_after` N: about 20 messages a
  minute to one group (Telegram's FAQ on broadcasting; the exact number is not published);
- 400 `Bad Request: group chat was upgraded to a supergroup chat`,
  `parameters.migrate_to_chat_id`: any call naming the old id once a group was upgraded;
- 403 `Forbidden: bot was kicked from the group chat` (`supergroup chat`), or `Forbidden:
  bot was blocked by the user` in a private chat;
- 400 `Bad Request: not enough rights to send text messages to the chat`: a send where an
  admin restricted the bot (`my_chat_member` with the status `restricted`).
An upgrade posts `migrate_to_chat_id` in the old group (from the user) and
`migrate_from_chat_id` in the new one from GroupAnonymousBot (1087968824) with `sender_chat`
the supergroup, then a `my_chat_member` (left → member) for the new id.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from sim.telegram.wire import ApiError, as_int

__all__ = ["GROUP_ANONYMOUS_BOT", "GROUP_LIMITED_METHODS", "GroupLimit", "Membership", "restricted_member"]

GROUP_LIMITED_METHODS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup",
        "editMessageText", "editMessageCaption", "editMessageReplyMarkup",
    }
)
"""Calls that put something in the group (new messages and edits): these spend its budget."""

UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
NO_RIGHTS = "Bad Request: not enough rights to send text messages to the chat"
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
"""Who Telegram says posted a group's own service messages (and anonymous admins' ones)."""


def restricted_member(user: dict[str, Any], *, can_send_messages: bool, until_date: int = 0) -> dict[str, Any]:
    """A ChatMemberRestricted as the Bot API sends it: every permission present."""
    rights = {
        name: can_send_messages
        for name in (
            "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
            "can_send_video_notes", "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
            "can_add_web_page_previews", "can_react_to_messages",
        )
    }
    return {
        "user": user, "status": "restricted", "is_member": True, **rights,
        "can_change_info": False, "can_invite_users": False, "can_pin_messages": False,
        "can_manage_topics": False, "can_edit_tag": False, "until_date": until_date,
    }


def _chat_of(params: dict[str, Any]) -> int | None:
    raw = params.get("chat_id")
    return as_int(raw) if raw not in (None, "") else None


class GroupLimit:
    """At most `per_minute` successful message calls per group chat in any 60 seconds
    (a sliding window); off (None) unless switched on."""

    def __init__(self, per_minute: int | None = None, window: float = 60.0) -> None:
        self._lock = threading.Lock()
        self.per_minute = per_minute
        self.window = window
        self._sent: dict[int, deque[float]] = {}
        self.refused = 0

    def set(self, per_minute: int | None) -> None:
        with self._lock:
            self.per_minute = per_minute
            self._sent.clear()

    def check(self, method: str, params: dict[str, Any]) -> None:
        """Raise the 429 Telegram answers when this call would exceed the group's budget;
        otherwise count it (a call refused later for another reason is uncounted by `undo`)."""
        chat_id = _chat_of(params)
        if self.per_minute is None or method not in GROUP_LIMITED_METHODS or chat_id is None or chat_id >= 0:
            return
        now = time.monotonic()
        with self._lock:
            sent = self._sent.setdefault(chat_id, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            if len(sent) >= self.per_minute:
                self.refused += 1
                retry = max(1, math.ceil(sent[0] + self.window - now))
                raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
            sent.append(now)

    def undo(self, method: str, params: dict[str, Any]) -> None:
        chat_id = _chat_of(params)
        if self.per_minute is None or method not in GROUP_LIMITED_METHODS or chat_id is None:
            return
        with self._lock:
            sent = self._sent.get(chat_id)
            if sent:
                sent.pop()


class Membership:
    """Chats the bot was removed from (or blocked in) and groups that became supergroups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.removed: dict[int, str] = {}  # chat id → the 403 description
        self.migrated: dict[int, int] = {}  # old group id → the supergroup's id
        self.muted: set[int] = set()  # chats where the bot is restricted from sending

    def check(self, method: str, params: dict[str, Any]) -> None:
        chat_id = _chat_of(params)
        if chat_id is None:
            return
        with self._lock:
            new_id = self.migrated.get(chat_id)
            removed = self.removed.get(chat_id)
            muted = chat_id in self.muted
        if new_id is not None:
            raise ApiError(400, UPGRADED, {"migrate_to_chat_id": new_id})
        if removed is not None:
            raise ApiError(403, removed)
        if muted and method in SEND_METHODS:
            raise ApiError(400, NO_RIGHTS)

    def mute(self, chat_id: int, muted: bool) -> bool:
        """True if that changed anything."""
        with self._lock:
            was = chat_id in self.muted
            (self.muted.add if muted else self.muted.discard)(chat_id)
            return was != muted

    def remove(self, chat_id: int, chat_type: str) -> None:
        text = (
            "Forbidden: bot was blocked by the user"
            if chat_type == "private"
            else f"Forbidden: bot was kicked from the {'supergroup' if chat_type == 'supergroup' else 'group'} chat"
        )
        with self._lock:
            self.removed[chat_id] = text

    def restore(self, chat_id: int) -> bool:
        with self._lock:
            return self.removed.pop(chat_id, None) is not None

    def is_removed(self, chat_id: int) -> bool:
        with self._lock:
            return chat_id in self.removed

    def migrate(self, old: int, new: int) -> None:
        with self._lock:
            self.migrated[old] = new


class GroupEvents:
    """The driver's controls for these states (mixed into ChatDriver, which holds `_state`,
    `_updates`, `_membership` and `_group_limit`)."""

    _state: Any
    _updates: Any
    _membership: Membership
    _group_limit: GroupLimit

    def group_limit(self, per_minute: int | None) -> None:
        """Telegram's per-group budget: `group_limit(20)`; None switches it off."""
        self._group_limit.set(per_minute)

    def upgrade(self, chat_id: int, user_id: int = 1, *, new_id: int | None = None) -> int:
        """Upgrades a group to a supergroup, as Telegram does when someone changes a setting
        that needs one: a new id (-100…), a service message `migrate_to_chat_id` in the old
        chat and `migrate_from_chat_id` in the new one (both delivered to the bot), and from
        then on every call naming the old id answers 400 with `migrate_to_chat_id`."""
        state = self._state
        with state.lock:
            old = state.chats.get(chat_id)
            if old is None or old["type"] != "group":
                raise ValueError(f"chat {chat_id} is not a (basic) group")
            if new_id is None:
                new_id = -1_000_000_000_000 - abs(chat_id)
            new = state.ensure_chat(new_id, "supergroup", old.get("title"), None, None)
            user = state.users.get(user_id) or state.ensure_user(user_id, "Alice", None)
            now = int(time.time())
            # In the old group the message is the user's; in the new one Telegram posts it as
            # GroupAnonymousBot on behalf of the supergroup itself (sender_chat).
            to_old = {"from": dict(user), "chat": dict(old), "migrate_to_chat_id": new_id}
            to_new = {"from": dict(GROUP_ANONYMOUS_BOT), "sender_chat": dict(new), "chat": dict(new), "migrate_from_chat_id": chat_id}
            for where, fields in ((old, to_old), (new, to_new)):
                message = {"message_id": state.new_message_id(where["id"]), "date": now, **fields}
                state.messages[(where["id"], message["message_id"])] = message
                self._updates.push("message", dict(message))
            self._membership.migrate(chat_id, new_id)
            # The bot is now a member of the supergroup: Telegram tells it so, for the new id.
            me = state.identity.user()
            self._updates.push(
                "my_chat_member",
                {
                    "chat": dict(new), "from": dict(user), "date": now,
                    "old_chat_member": {"user": me, "status": "left"},
                    "new_chat_member": {"user": me, "status": "member"},
                },
            )
            state.cond.notify_all()
        return new_id

    def kick(self, chat_id: int, user_id: int = 1) -> None:
        """Removes the bot from a group (or, in a private chat, the user blocks it): a
        `my_chat_member` update, and every call naming the chat answers 403 until `readd`."""
        self._member_change(chat_id, user_id, kicked=True)

    def readd(self, chat_id: int, user_id: int = 1) -> None:
        """Adds the bot back (or unblocks it): a `my_chat_member` update, calls work again."""
        self._member_change(chat_id, user_id, kicked=False)

    def restrict(self, chat_id: int, user_id: int = 1, *, can_send_messages: bool = False) -> None:
        """An admin restricts the bot in a (super)group: a `my_chat_member` update with the
        status `restricted`; without `can_send_messages` every send there answers 400
        `not enough rights to send text messages to the chat` until `unrestrict`."""
        self._rights_change(chat_id, user_id, restricted=True, can_send_messages=can_send_messages)

    def unrestrict(self, chat_id: int, user_id: int = 1) -> None:
        """The restriction is lifted: `my_chat_member` restricted → member, sends work again."""
        self._rights_change(chat_id, user_id, restricted=False, can_send_messages=True)

    def _rights_change(self, chat_id: int, user_id: int, *, restricted: bool, can_send_messages: bool) -> None:
        state = self._state
        with state.lock:
            chat = state.chats.get(chat_id)
            if chat is None or chat["type"] == "private":
                raise ValueError(f"chat {chat_id} is not a group")
            was_muted = chat_id in self._membership.muted
            self._membership.mute(chat_id, restricted and not can_send_messages)
            me = state.identity.user()
            member = {"user": me, "status": "member"}
            limited = restricted_member(me, can_send_messages=can_send_messages)
            before = restricted_member(me, can_send_messages=not was_muted) if not restricted else limited
            user = state.users.get(user_id) or state.ensure_user(user_id, "Alice", None)
            self._updates.push(
                "my_chat_member",
                {
                    "chat": dict(chat), "from": dict(user), "date": int(time.time()),
                    "old_chat_member": member if restricted else before,
                    "new_chat_member": limited if restricted else member,
                },
            )
            state.cond.notify_all()

    def bot_removed(self, chat_id: int) -> bool:
        return self._membership.is_removed(chat_id)

    def _member_change(self, chat_id: int, user_id: int, *, kicked: bool) -> None:
        state = self._state
        with state.lock:
            chat = state.chats.get(chat_id)
            if chat is None:
                raise ValueError(f"no chat {chat_id}")
            gone = "kicked" if chat["type"] != "private" else "kicked"
            if kicked:
                self._membership.remove(chat_id, chat["type"])
            elif not self._membership.restore(chat_id):
                return
            me = state.identity.user()
            status = {"user": me, "status": gone, "until_date": 0}
            member = {"user": me, "status": "member"}
            user = state.users.get(user_id) or state.ensure_user(user_id, "Alice", None)
            self._updates.push(
                "my_chat_member",
                {
                    "chat": dict(chat), "from": dict(user), "date": int(time.time()),
                    "old_chat_member": status if not kicked else member,
                    "new_chat_member": member if not kicked else status,
                },
            )
            state.cond.notify_all()
