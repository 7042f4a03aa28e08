"""Parameters every send/edit method shares: formatted text, reply markup, reply target.

Validated as strictly as Telegram does, with its error texts, because these are where bot
bugs show up (unescaped HTML, over-long texts, 65-byte callback data, stale reply targets).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sim.telegram.formatting import EntityParseError, parse_text
from sim.telegram.state import ChatState
from sim.telegram.wire import as_int, bad

__all__ = ["CAPTION_LIMIT", "TEXT_LIMIT", "formatted", "inline_markup", "reply_to"]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "login_url",
    "web_app",
    "copy_text",
)


def formatted(
    params: dict[str, Any], key: str, limit: int, empty: str, too_long: str
) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and entities of `params[key]` after parse_mode, or Telegram's refusal.

    `empty` is the error for a text with nothing visible ("" allows it, as captions do).
    """
    raw = params.get(key, "")
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raw = json.dumps(raw)
    entities = params.get(f"{key}_entities" if key == "caption" else "entities")
    if entities is not None and not isinstance(entities, list):
        raise bad("can't parse entities JSON object")
    try:
        text, parsed = parse_text(raw, params.get("parse_mode"), entities)
    except EntityParseError as exc:
        raise bad(f"can't parse entities: {exc}") from exc
    except ValueError as exc:
        raise bad("unsupported parse_mode") from exc
    if empty and not text.strip():
        raise bad(empty)
    if len(text) > limit:
        raise bad(too_long)
    return text, parsed


def inline_markup(params: dict[str, Any], *, inline_only: bool, private: bool = True) -> dict[str, Any] | None:
    """Validates reply_markup; only an inline keyboard becomes part of the Message. A
    `web_app` button outside a private chat is refused as Telegram refuses it
    (BUTTON_TYPE_INVALID: "Available only in private chats between a user and the bot")."""
    markup = params.get("reply_markup")
    if markup in (None, ""):
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad("inline keyboard expected")
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad("can't parse reply keyboard markup JSON object")
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            _check_button(button)
            if not private and isinstance(button, dict) and "web_app" in button:
                raise bad("BUTTON_TYPE_INVALID")
    if not any(rows):
        return None
    return {"inline_keyboard": copy.deepcopy(rows)}


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad('can\'t find field "text"')
    if not any(a in button for a in _BUTTON_ACTIONS):
        raise bad("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not (isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64):
        raise bad("BUTTON_DATA_INVALID")


def reply_to(state: ChatState, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
    """The message being replied to (reply_parameters or the older reply_to_message_id)."""
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        message_id = as_int(reply.get("message_id"))
        allow_missing = bool(reply.get("allow_sending_without_reply"))
        target_chat = as_int(reply.get("chat_id")) or chat_id
    else:
        message_id = as_int(params.get("reply_to_message_id"))
        allow_missing = bool(params.get("allow_sending_without_reply"))
        target_chat = chat_id
    if message_id is None:
        return None
    original = state.messages.get((target_chat, message_id))
    if original is None:
        if allow_missing:
            return None
        raise bad("message to be replied not found")
    return state.shallow_reply(original)
