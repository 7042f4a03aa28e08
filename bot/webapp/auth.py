"""Telegram's Mini App initData, validated as Telegram documents it
(core.telegram.org/bots/webapps, "Validating data received via the Mini App"):

    secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)
    data_check_string = every received field but `hash`, sorted by key, as key=value
                        (values URL-decoded), joined by "\\n"
    valid  <=>  hex(HMAC_SHA256(key=secret_key, msg=data_check_string)) == hash

and `auth_date` no older than WEBAPP_AUTH_MAX_AGE (nor in the future beyond a small clock
skew), so a captured initData cannot be replayed later. Anything else is an InitDataError,
which the server answers with a bare 401. The key never leaves the process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_INIT_DATA = 4096  # characters; Telegram's are a few hundred
CLOCK_SKEW = 60.0  # s an auth_date may lie ahead of this host's clock


class InitDataError(ValueError):
    """Not a valid, fresh initData of this bot (the reason goes to the log, not the page)."""


@dataclass(frozen=True)
class WebAppUser:
    id: int
    first_name: str
    username: str | None
    auth_date: int
    start_param: str | None
    chat_id: int | None  # WebAppChat.id when opened from a group's attachment menu

    @property
    def who(self) -> str:
        """As the chat's buttons name a presser: @username, else `user <id>`."""
        return f"@{self.username}" if self.username else f"user {self.id}"


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: list[tuple[str, str]]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields) if k != "hash")


def validate(init_data: str, key: bytes, max_age: float, now: float | None = None) -> WebAppUser:
    """The user who opened the Mini App, or InitDataError. `key` is secret_key(token)."""
    if not init_data or len(init_data) > MAX_INIT_DATA or not init_data.isascii():
        raise InitDataError("missing or oversized")
    try:
        fields = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("not a query string") from None
    keys = [k for k, _ in fields]
    if len(set(keys)) != len(keys):
        raise InitDataError("a field given twice")
    values = dict(fields)
    given = values.get("hash", "")
    expected = hmac.new(key, data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InitDataError("bad hash")
    now = time.time() if now is None else now
    raw_date = values.get("auth_date", "")
    if not raw_date.isdigit() or len(raw_date) > 12:
        raise InitDataError("no auth_date")
    auth_date = int(raw_date)
    if now - auth_date > max_age:
        raise InitDataError("expired")
    if auth_date - now > CLOCK_SKEW:
        raise InitDataError("auth_date in the future")
    try:
        user = json.loads(values["user"])
        user_id = int(user["id"])
        chat = json.loads(values["chat"]) if "chat" in values else None
        chat_id = int(chat["id"]) if isinstance(chat, dict) else None
    except (KeyError, ValueError, TypeError):
        raise InitDataError("no user") from None
    if not isinstance(user, dict) or isinstance(user.get("id"), bool):
        raise InitDataError("no user")
    username = user.get("username")
    return WebAppUser(
        id=user_id,
        first_name=str(user.get("first_name") or ""),
        username=username if isinstance(username, str) and username else None,
        auth_date=auth_date,
        start_param=values.get("start_param") or None,
        chat_id=chat_id,
    )
