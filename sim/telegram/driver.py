"""Acting as the people in the chats, and watching the bot: what tests and the console use.

Users speak by injecting updates (`send_message`, `press_button`); the bot's side is read
from the recorded calls (`wait_for`, `wait_for_text`, `sent`). Waiting blocks on the state's
condition variable, so a test never sleeps to let the bot catch up.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sim.telegram.formatting import command_entities
from sim.telegram.group_states import GroupEvents, GroupLimit, Membership
from sim.telegram.state import MESSAGE_METHODS, Call, ChatState, Subscriber
from sim.telegram.updates import UpdateQueue
from sim.telegram.wire import ApiError

__all__ = ["ChatDriver", "FloodControl"]


class FloodControl:
    """Telegram's 429s on demand, to exercise a bot's retry and rate limiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._until = 0.0
        self._retry_after = 1
        self._methods: frozenset[str] = frozenset()

    def set(
        self, count: int, seconds: float | None, retry_after: int, methods: Iterable[str]
    ) -> None:
        with self._lock:
            self._count = max(0, count)
            self._until = time.monotonic() + seconds if seconds else 0.0
            self._retry_after = max(1, int(retry_after))
            self._methods = frozenset(methods)

    def check(self, method: str) -> None:
        with self._lock:
            if method not in self._methods:
                return
            if self._count > 0:
                self._count -= 1
            elif time.monotonic() >= self._until:
                return
            retry_after = self._retry_after
        raise ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )


class ChatDriver(GroupEvents):
    def __init__(
        self, state: ChatState, updates: UpdateQueue, *, privacy_mode: bool, group_limit: int | None = None
    ) -> None:
        self._state = state
        self._updates = updates
        self._flood = FloodControl()
        self._group_limit = GroupLimit(group_limit)
        self._membership = Membership()
        self.privacy_mode = privacy_mode

    # -- acting as users ---------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        type: str = "group",
        title: str | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Makes a chat known, as if the bot had been added to it, so the bot may post first."""
        with self._state.lock:
            chat = self._state.ensure_chat(chat_id, type, title, first_name, username)
            return copy.deepcopy(chat)

    def send_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "group",
        chat_title: str = "Traders",
        first_name: str = "Alice",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """Injects a user's text message; returns the Update (delivered unless filtered).

        `date` (unix seconds) dates it in the past: a message typed while the bot was down,
        which Telegram keeps (up to 24 hours) and delivers with its original date."""
        state = self._state
        with state.lock:
            title = chat_title if chat_type != "private" else None
            chat = state.ensure_chat(chat_id, chat_type, title, first_name, username)
            user = state.ensure_user(user_id, first_name, username)
            state.members.setdefault(chat_id, set()).add(user_id)
            message: dict[str, Any] = {
                "message_id": state.new_message_id(chat_id),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()) if date is None else int(date),
                "text": text,
            }
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            replied_to_bot = False
            if reply_to_message_id is not None:
                original = state.messages.get((chat_id, reply_to_message_id))
                if original is None:
                    raise LookupError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = state.shallow_reply(original)
                replied_to_bot = original["from"]["id"] == state.identity.id
            state.messages[(chat_id, message["message_id"])] = message
            deliver = not self._membership.is_removed(chat_id) and not (
                self.privacy_mode
                and chat["type"] != "private"
                and not entities
                and not replied_to_bot
                and f"@{state.identity.username}".lower() not in text.lower()
            )
            return self._updates.push("message", copy.deepcopy(message), deliver=deliver)

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        first_name: str = "Alice",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Injects a callback query for a button on a message the bot sent.

        `data` is not checked against the keyboard: a modified client can send any callback
        data, and a stale button press (keyboard already edited away) is a real race the bot
        has to handle.
        """
        state = self._state
        with state.lock:
            message = state.messages.get((chat_id, message_id))
            if message is None or message["from"]["id"] != state.identity.id:
                raise LookupError(f"no bot message {message_id} in chat {chat_id}")
            user = state.ensure_user(user_id, first_name, username)
            state.members.setdefault(chat_id, set()).add(user_id)
            query_id = str(next(state.callback_ids))
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": str((chat_id * 2_654_435_761) % 10**19),
                "data": data,
            }
            state.callbacks[query_id] = {
                "at": time.monotonic(),
                "answered": False,
                "chat_id": chat_id,
                "message_id": message_id,
                "from": copy.deepcopy(user),
            }
            return self._updates.push("callback_query", query)

    def add_member(self, chat_id: int, user_id: int, first_name: str = "Alice", username: str | None = None) -> None:
        """`user_id` joins the group (getChatMember answers `member`); speaking there does too."""
        with self._state.lock:
            self._state.ensure_user(user_id, first_name, username)
            self._state.members.setdefault(chat_id, set()).add(user_id)

    def remove_member(self, chat_id: int, user_id: int) -> None:
        """`user_id` leaves the group (getChatMember answers `left`)."""
        with self._state.lock:
            self._state.members.get(chat_id, set()).discard(user_id)

    def flood(
        self,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        methods: Iterable[str] = ("sendMessage", "sendPhoto", "editMessageText"),
    ) -> None:
        """Answers 429 for the next `count` calls or for `seconds` (one call if neither).

        `flood(count=0)` ends any flood in progress.
        """
        if count is None and seconds is None:
            count = 1
        self._flood.set(count or 0, seconds, retry_after, methods)

    # -- watching the bot --------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._state.lock:
            return list(self._state.calls)

    def mark(self) -> int:
        """A position in the call log; `wait_for(..., start=mark)` ignores calls before it."""
        with self._state.lock:
            return len(self._state.calls)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Bot messages in send order with edits applied, as the chat would show them.

        Each is the Telegram Message plus local keys: `chat_id`, `raw_text` (the text as the bot
        sent it, before entity parsing), `parse_mode`, `deleted`, and for photos
        `photo_bytes`, `photo_len`, `photo_filename` (for documents `document_bytes`).
        """
        with self._state.lock:
            return [
                self._state.view(key)
                for key in self._state.bot_messages
                if chat_id is None or key[0] == chat_id
            ]

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, start: int = 0
    ) -> Call | None:
        """The first call from `start` on that matches, waiting up to `timeout` for it."""
        deadline = time.monotonic() + timeout
        index = start
        with self._state.cond:
            while True:
                calls = self._state.calls
                while index < len(calls):
                    call = calls[index]
                    index += 1
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._state.cond.wait(remaining)

    def wait_for_text(
        self, chat_id: int, substring: str, timeout: float = 10.0, *, start: int = 0
    ) -> dict[str, Any] | None:
        """The message (as that call returned it) once the bot shows `substring` in the chat.

        Matches the plain text Telegram displays and also the raw text the bot sent, so both
        "BTC 42" and "<b>BTC</b> 42" find a `<b>BTC</b> 42` message.
        """

        def matches(call: Call) -> bool:
            if not call.ok or call.method not in MESSAGE_METHODS or call.chat_id != chat_id:
                return False
            shown = call.result.get("text", call.result.get("caption", "")) or ""
            raw = call.params.get("text", call.params.get("caption", "")) or ""
            return substring in shown or (isinstance(raw, str) and substring in raw)

        call = self.wait_for(matches, timeout, start=start)
        return dict(call.result) if call is not None else None

    def wait_polling(self, timeout: float = 10.0) -> bool:
        """True once the bot has a getUpdates waiting: it has consumed everything injected
        so far and will see the next update by long polling."""
        return self._updates.wait_polling(timeout)

    def wait_quiet(self, quiet: float, timeout: float) -> bool:
        """True once the bot made no call for `quiet` seconds (its getUpdates aside) and has
        a getUpdates waiting, i.e. it has answered everything; False if `timeout` runs out."""
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while True:
                now = time.monotonic()
                idle_for = now - self._last_activity()
                if idle_for >= quiet and self._updates.idle:
                    return True
                remaining = deadline - now
                if remaining <= 0:
                    return False
                # Calls and parked polls notify the condition; only the quiet period's end
                # needs a timed wake-up.
                step = quiet - idle_for if idle_for < quiet else remaining
                self._state.cond.wait(min(remaining, step))

    def _last_activity(self) -> float:
        for call in reversed(self._state.calls):
            if call.method != "getUpdates":
                return call.at
        return 0.0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """The callback runs on the server thread and must be quick; returns an unsubscriber."""
        self._state.subscribe(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        self._state.unsubscribe(callback)

    @property
    def pending_updates(self) -> int:
        return self._updates.pending

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        with self._state.lock:
            key = self._state.commands_key(scope, language_code)
            return copy.deepcopy(self._state.commands.get(key, []))
