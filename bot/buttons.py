"""Inline buttons with opaque, signed callback data.

Telegram hands callback_data back verbatim, and any client can send any string, so data
is `action|ts|sig` with an HMAC over chat, action and time under a key derived from the
bot token: a forged or edited button fails the check, an old one is stale. The key never
leaves the process and the token is never logged. 64 bytes is Telegram's limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

BUTTON_TTL = 24 * 3600.0
MAX_DATA = 64  # Telegram's limit for callback_data, in bytes


class BadButton(ValueError):
    """The reason is shown to the person who pressed it."""


@dataclass(frozen=True)
class Press:
    action: str
    issued: int


class Signer:
    def __init__(self, token: str, ttl: float = BUTTON_TTL) -> None:
        self._key = hmac.new(token.encode(), b"callback-data-v1", hashlib.sha256).digest()
        self.ttl = ttl

    def _sig(self, chat_id: int, action: str, ts: int) -> str:
        mac = hmac.new(self._key, f"{chat_id}|{action}|{ts}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:9]).decode()

    def sign(self, chat_id: int, action: str, now: float | None = None) -> str:
        ts = int(time.time() if now is None else now)
        data = f"{action}|{ts:x}|{self._sig(chat_id, action, ts)}"
        if len(data.encode()) > MAX_DATA:
            raise ValueError(f"callback data too long for Telegram: {action!r}")
        return data

    def verify(self, chat_id: int, data: str, now: float | None = None) -> Press:
        """Raises BadButton for anything but a button this bot signed for this chat.

        Callback data comes from the client, so any string can arrive: non-ASCII (which
        compare_digest refuses), megabytes, a huge hex time; each is simply not valid.
        """
        invalid = BadButton("This button is not valid.")
        if not data.isascii() or len(data) > MAX_DATA:
            raise invalid
        try:
            action, ts_hex, sig = data.split("|")
            if not (ts_hex.isalnum() and len(ts_hex) <= 12):
                raise ValueError(ts_hex)
            ts = int(ts_hex, 16)
        except ValueError:
            raise invalid from None
        if not hmac.compare_digest(sig.encode(), self._sig(chat_id, action, ts).encode()):
            raise invalid
        if (time.time() if now is None else now) - ts > self.ttl:
            raise BadButton("This button has expired; send /status again.")
        return Press(action, ts)


# ---------------------------------------------------------------- the registry of button actions
@dataclass(frozen=True)
class PressResult:
    """What a press did: `outcome` for the audit, `note` for the person (an alert if `alert`).

    `then` is what the press still changes in the chat (an edit of the pressed message): it
    runs after the press was answered, because answerCallbackQuery costs none of the group's
    budget and an edit may have to wait for it."""

    outcome: str
    note: str = ""
    alert: bool = False
    then: Callable[[], Awaitable[object]] | None = field(default=None, compare=False, repr=False)


ActionHandler = Callable[[Any, str], Awaitable[PressResult]]  # (bot.app.PressCtx, argument)


@dataclass(frozen=True)
class ButtonAction:
    name: str
    admin: bool
    run: ActionHandler


BUTTON_ACTIONS: dict[str, ButtonAction] = {}


def button_action(name: str, *, admin: bool = False) -> Callable[[ActionHandler], ActionHandler]:
    """Register what a button does, the way @command registers a command. The signed
    callback data is `name` or `name/argument` (e.g. `prop:confirm/17`), so an argument
    is covered by the signature and cannot be edited into another proposal's id."""
    if "/" in name or "|" in name:
        raise ValueError(f"button action names cannot contain / or |: {name!r}")

    def register(fn: ActionHandler) -> ActionHandler:
        if name in BUTTON_ACTIONS:
            raise ValueError(f"button action {name!r} registered twice")
        BUTTON_ACTIONS[name] = ButtonAction(name, admin, fn)
        return fn

    return register


def split_action(action: str) -> tuple[ButtonAction | None, str]:
    name, _, arg = action.partition("/")
    return BUTTON_ACTIONS.get(name), arg


def button(signer: Signer, chat_id: int, label: str, name: str, arg: str = "") -> InlineKeyboardButton:
    if name not in BUTTON_ACTIONS:
        raise ValueError(f"no button action {name!r}")
    return InlineKeyboardButton(label, callback_data=signer.sign(chat_id, f"{name}/{arg}" if arg else name))


def status_keyboard(signer: Signer, chat_id: int, running: bool) -> InlineKeyboardMarkup:
    """The /status message's buttons (their actions are registered in bot/status_buttons.py)."""
    toggle = ("⏹ Stop stream", "stream:stop") if running else ("▶️ Start stream", "stream:start")
    return InlineKeyboardMarkup(
        [[button(signer, chat_id, "🔄 Refresh", "status:refresh"), button(signer, chat_id, *toggle)]]
    )
