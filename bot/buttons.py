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
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

BUTTON_TTL = 24 * 3600.0


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
        if len(data.encode()) > 64:
            raise ValueError(f"callback data too long for Telegram: {action!r}")
        return data

    def verify(self, chat_id: int, data: str, now: float | None = None) -> Press:
        try:
            action, ts_hex, sig = data.split("|")
            ts = int(ts_hex, 16)
        except ValueError:
            raise BadButton("This button is not valid.") from None
        if not hmac.compare_digest(sig, self._sig(chat_id, action, ts)):
            raise BadButton("This button is not valid.")
        if (time.time() if now is None else now) - ts > self.ttl:
            raise BadButton("This button has expired; send /status again.")
        return Press(action, ts)


# action → (admin only?)
ACTIONS = {"status:refresh": False, "stream:start": True, "stream:stop": True}


def status_keyboard(signer: Signer, chat_id: int, running: bool) -> InlineKeyboardMarkup:
    toggle = ("⏹ Stop stream", "stream:stop") if running else ("▶️ Start stream", "stream:start")
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🔄 Refresh", callback_data=signer.sign(chat_id, "status:refresh")),
                InlineKeyboardButton(toggle[0], callback_data=signer.sign(chat_id, toggle[1])),
            ]
        ]
    )
