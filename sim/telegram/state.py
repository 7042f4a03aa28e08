"""What the local Bot API remembers: the bot, its chats, their messages, and every call.

One lock guards all of it, because a test or the console acts as a user on one thread while
the server answers the bot on another, and each must see the other's effects in order. The
condition on that lock is what `wait_for` blocks on; nothing polls.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.telegram.wire import ApiError, as_int, bad

__all__ = ["MESSAGE_METHODS", "BotIdentity", "Call", "ChatState"]

log = logging.getLogger("sim.telegram.local_api")

MESSAGE_METHODS = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
)
"""Methods whose result is a Message in a chat (what a person in the chat would see change)."""

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

Subscriber = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class BotIdentity:
    token: str
    id: int
    username: str
    name: str

    def user(self) -> dict[str, Any]:
        """The bot as a Telegram User object (message senders, getMe)."""
        return {"id": self.id, "is_bot": True, "first_name": self.name, "username": self.username}


@dataclass(frozen=True)
class Call:
    """One Bot API request as the server saw it, recorded once it was answered.

    `ok`/`error_code`/`description` tell failed calls (429, 400, ...) apart, so that waiting
    for "the bot replied" can ignore a send that Telegram would have refused.
    """

    method: str
    params: dict[str, Any]
    at: float
    files: dict[str, bytes] = field(default_factory=dict)
    ok: bool = True
    result: Any = None
    error_code: int | None = None
    description: str | None = None

    @property
    def chat_id(self) -> int | None:
        """The chat a message-producing call ended up in (from the result when there is one)."""
        if isinstance(self.result, dict) and isinstance(self.result.get("chat"), dict):
            return self.result["chat"].get("id")
        value = self.params.get("chat_id")
        return as_int(value) if value is not None else None


class ChatState:
    """Chats, users, messages (with the bot's local extras), callbacks, commands and calls."""

    def __init__(self, identity: BotIdentity) -> None:
        self.identity = identity
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, set[int]] = {}  # group → the users in it (getChatMember)
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        # Bot-sent messages: send order, and what the JSON message cannot hold.
        self.bot_messages: list[tuple[int, int]] = []
        self.extras: dict[tuple[int, int], dict[str, Any]] = {}
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.callback_ids = itertools.count(4_200_000_000_000_001)
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._next_message_id: dict[int, int] = {}
        self._subscribers: list[Subscriber] = []
        self.callback_timeout: float | None = None

    # -- calls and subscribers ----------------------------------------------------------------

    def record(self, call: Call) -> None:
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    def subscribe(self, callback: Subscriber) -> None:
        with self.lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self.lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def publish(self, method: str, event: dict[str, Any]) -> None:
        with self.lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(method, copy.deepcopy(event))
            except Exception:
                log.exception("local Bot API subscriber failed on %s", method)

    # -- chats and users (callers hold the lock) ---------------------------------------------

    def ensure_chat(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        first_name: str | None,
        username: str | None,
    ) -> dict[str, Any]:
        chat = self.chats.get(chat_id)
        if chat is not None:
            return chat
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name or "Alice"
            if username:
                chat["username"] = username
        else:
            chat["title"] = title or "Traders"
        self.chats[chat_id] = chat
        self._next_message_id.setdefault(chat_id, 1)
        return chat

    def ensure_user(self, user_id: int, first_name: str, username: str | None) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None or user["first_name"] != first_name or user.get("username") != username:
            user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
            if username:
                user["username"] = username
            self.users[user_id] = user
        return user

    def chat_param(self, params: dict[str, Any]) -> int:
        """The `chat_id` parameter of a method, which must name a chat the bot is in."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        chat_id = as_int(raw)
        if chat_id is None or chat_id not in self.chats:
            raise bad("chat not found")
        return chat_id

    # -- messages (callers hold the lock) ----------------------------------------------------

    def new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    @staticmethod
    def shallow_reply(message: dict[str, Any]) -> dict[str, Any]:
        """Telegram does not nest reply_to_message inside a reply_to_message."""
        return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}

    def store_bot_message(
        self, chat_id: int, fields: dict[str, Any], extras: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.new_message_id(chat_id),
            "from": self.identity.user(),
            "chat": copy.deepcopy(self.chats[chat_id]),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in fields.items() if v not in (None, [])})
        key = (chat_id, message["message_id"])
        self.messages[key] = message
        self.bot_messages.append(key)
        self.extras[key] = extras
        return message

    def view(self, key: tuple[int, int]) -> dict[str, Any]:
        """A bot message as the chat shows it, plus the local extras (see LocalBotApi.sent)."""
        extras = self.extras[key]
        message = extras.get("deleted_message") or self.messages[key]
        view = copy.deepcopy(message)
        view["chat_id"] = key[0]
        view.update({k: v for k, v in extras.items() if k != "deleted_message"})
        view.setdefault("deleted", False)
        return view

    def editable(self, params: dict[str, Any]) -> tuple[tuple[int, int], dict[str, Any]]:
        """The bot message an edit method names, with Telegram's refusals."""
        if params.get("inline_message_id"):
            raise bad("message to edit not found")
        chat_id = self.chat_param(params)
        message_id = as_int(params.get("message_id"))
        if message_id is None:
            raise bad("message identifier is not specified")
        key = (chat_id, message_id)
        message = self.messages.get(key)
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.identity.id:
            raise bad("message can't be edited")
        return key, message

    def apply_edit(
        self, key: tuple[int, int], message: dict[str, Any], changes: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Applies an edit, refusing one that changes nothing as Telegram does."""
        current = {k: message.get(k) for k in changes}
        if current == changes:
            raise ApiError(400, _NOT_MODIFIED)
        for name, value in changes.items():
            if value in (None, []):
                message.pop(name, None)
            else:
                message[name] = value
        message["edit_date"] = max(int(time.time()), message["date"])
        self.extras[key]["edits"] = self.extras[key].get("edits", 0) + 1
        return copy.deepcopy(message), self.view(key)

    # -- commands ------------------------------------------------------------------------------

    @staticmethod
    def commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")
