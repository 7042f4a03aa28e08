"""Mini Apps in the local world: what a Telegram client does when it opens one (the signed
initData in the launch URL's fragment), and the Bot API methods about them and about who is
in a chat: getChatMember, setChatMenuButton, getChatMenuButton, answerWebAppQuery
(core.telegram.org/bots/api; core.telegram.org/bots/webapps).

initData is signed as Telegram signs it: hash = hex HMAC-SHA256(key = HMAC-SHA256("WebAppData",
bot token), data-check-string of every other field sorted by key, joined by "\\n"). Telegram
also adds an Ed25519 `signature` for third parties; nothing here can make Telegram's, so it
is left out (the bot checks only the hash, which covers every field).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from sim.telegram.state import ChatState
from sim.telegram.wire import as_int, bad

__all__ = ["WebAppMethods", "launch_url", "sign_init_data"]

THEME = {
    "bg_color": "#17212b", "secondary_bg_color": "#232e3c", "text_color": "#f5f5f5", "hint_color": "#708499",
    "link_color": "#6ab3f3", "button_color": "#5288c1", "button_text_color": "#ffffff",
}
_query_ids = itertools.count(1)


def sign_init_data(token: str, fields: dict[str, str]) -> str:
    """`fields` (user as JSON, auth_date, …) with Telegram's hash appended, as a query string."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest}, quote_via=quote)


def launch_url(page: str, init_data: str, platform: str = "tdesktop") -> str:
    """The URL a Telegram client opens: the Mini App's address with its launch parameters
    in the fragment (tgWebAppData is the initData, percent-encoded once more)."""
    params = {
        "tgWebAppData": init_data, "tgWebAppVersion": "8.0", "tgWebAppPlatform": platform,
        "tgWebAppThemeParams": json.dumps(THEME, separators=(",", ":")),
    }
    return page + "#" + urlencode(params, quote_via=quote)


class WebAppMethods:
    def __init__(self, state: ChatState) -> None:
        self._state = state
        self._menu: dict[int | None, dict[str, Any]] = {}
        self.queries: dict[str, dict[str, Any]] = {}  # web_app_query_id → the user, and its answer

    def handlers(self) -> dict[str, Any]:
        return {
            "getChatMember": self.get_chat_member,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "answerWebAppQuery": self.answer_web_app_query,
        }

    # -- what a client does ----------------------------------------------------------------------

    def init_data(
        self, user_id: int, *, start_param: str | None = None, chat_type: str | None = None,
        auth_date: int | None = None, token: str | None = None,
    ) -> str:
        """The initData a client hands the Mini App it opens for `user_id` (known or new)."""
        with self._state.lock:
            user = copy.deepcopy(self._state.users.get(user_id) or {"id": user_id, "first_name": "Alice"})
            query_id = f"AAH{user_id}-{next(_query_ids)}"
            self.queries[query_id] = {"user_id": user_id, "answered": False}
        shown = {k: user[k] for k in ("id", "first_name", "last_name", "username", "language_code") if k in user}
        shown["allows_write_to_pm"] = True
        fields = {
            "query_id": query_id,
            "user": json.dumps(shown, separators=(",", ":"), ensure_ascii=False),
            "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        }
        if start_param is not None:
            with self._state.lock:
                chat = self._state.chats.get(as_int(start_param) or 0, {})
            fields.update(start_param=start_param, chat_type=chat_type or chat.get("type", "supergroup"),
                          chat_instance=str(abs(hash(start_param)) % 10**19))
        return sign_init_data(token or self._state.identity.token, fields)

    # -- Bot API methods --------------------------------------------------------------------------

    def get_chat_member(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        """ChatMember: `member` for someone in the chat (who spoke or pressed there, or was
        added), `left` for a known user who is not; Telegram's 400 for an unknown user."""
        with self._state.lock:
            chat_id = self._state.chat_param(params)
            user_id = as_int(params.get("user_id"))
            if user_id is None:
                raise bad("user_id is empty" if params.get("user_id") in (None, "") else "wrong user_id specified")
            if user_id == self._state.identity.id:
                return {"status": "member", "user": self._state.identity.user()}, None
            user = self._state.users.get(user_id)
            if user is None:
                raise bad("PARTICIPANT_ID_INVALID")
            chat = self._state.chats[chat_id]
            inside = user_id == chat_id if chat["type"] == "private" else user_id in self._state.members.get(chat_id, set())
            return {"status": "member" if inside else "left", "user": copy.deepcopy(user)}, None

    def set_chat_menu_button(self, params: dict[str, Any], files: Any) -> tuple[Any, Any]:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict):
            raise bad("can't parse menu button: MenuButton must be an Object")
        kind = button.get("type")
        if kind not in ("commands", "web_app", "default"):
            raise bad("can't parse menu button: unsupported menu button type")
        if kind == "web_app":
            web_app = button.get("web_app")
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise bad("can't parse menu button: field \"text\" must be of type String")
            if not isinstance(web_app, dict) or not isinstance(web_app.get("url"), str):
                raise bad("can't parse menu button: field \"web_app\" must be of type Object")
        with self._state.lock:
            chat_id = self._state.chat_param(params) if params.get("chat_id") not in (None, "") else None
            if chat_id is not None and self._state.chats[chat_id]["type"] != "private":
                raise bad("chat not found")  # menu buttons exist in private chats only
            self._menu[chat_id] = copy.deepcopy(button)
        return True, {"chat_id": chat_id, "menu_button": copy.deepcopy(button)}

    def get_chat_menu_button(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            chat_id = self._state.chat_param(params) if params.get("chat_id") not in (None, "") else None
            button = self._menu.get(chat_id) or self._menu.get(None) or {"type": "default"}
            return copy.deepcopy(button), None

    def answer_web_app_query(self, params: dict[str, Any], files: Any) -> tuple[Any, Any]:
        """One answer per query id (the Mini App's query_id), as a SentWebAppMessage."""
        query_id = params.get("web_app_query_id")
        result = params.get("result")
        if not isinstance(result, dict) or not result.get("type") or not result.get("id"):
            raise bad("can't parse inline query result")
        with self._state.lock:
            query = self.queries.get(str(query_id))
            if query is None or query["answered"]:
                raise bad("QUERY_ID_INVALID")
            query["answered"] = True
            query["result"] = copy.deepcopy(result)
        inline_id = f"web-{query_id}"
        return {"inline_message_id": inline_id}, {"web_app_query_id": query_id, "result": result}
