"""Bot API methods about the bot and its chats rather than messages: getMe, the command menu,
callback answers, chat actions and getChat."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from sim.telegram.state import ChatState
from sim.telegram.wire import as_bool, bad

__all__ = ["BotMethods"]

_CALLBACK_ANSWER_LIMIT = 200
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class BotMethods:
    def __init__(self, state: ChatState) -> None:
        self._state = state

    def handlers(self) -> dict[str, Any]:
        return {
            "getMe": self.get_me,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
        }

    def get_me(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        me = self._state.identity.user()
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me, None

    # -- the command menu ----------------------------------------------------------------------

    def set_my_commands(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("BOT_COMMANDS_TOO_MUCH")
        cleaned = [_checked_command(command) for command in commands]
        with self._state.lock:
            key = self._state.commands_key(params.get("scope"), params.get("language_code"))
            self._state.commands[key] = cleaned
        return True, None

    def get_my_commands(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            key = self._state.commands_key(params.get("scope"), params.get("language_code"))
            return copy.deepcopy(self._state.commands.get(key, [])), None

    def delete_my_commands(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            key = self._state.commands_key(params.get("scope"), params.get("language_code"))
            self._state.commands.pop(key, None)
        return True, None

    # -- chats ---------------------------------------------------------------------------------

    def answer_callback_query(self, params: dict[str, Any], files: Any) -> tuple[Any, Any]:
        query_id = params.get("callback_query_id")
        text = params.get("text") or ""
        with self._state.lock:
            query = self._state.callbacks.get(str(query_id)) if query_id is not None else None
            if query is None or query["answered"]:
                raise bad(_QUERY_INVALID)
            timeout = self._state.callback_timeout
            if timeout is not None and time.monotonic() - query.get("at", time.monotonic()) > timeout:
                raise bad(_QUERY_INVALID)
            if len(text) > _CALLBACK_ANSWER_LIMIT:
                raise bad("MESSAGE_TOO_LONG")
            query["answered"] = True
            event = {
                "callback_query_id": str(query_id),
                "text": text,
                "show_alert": as_bool(params.get("show_alert")),
                "url": params.get("url"),
                "chat_id": query["chat_id"],
                "message_id": query["message_id"],
                "from": query["from"],
            }
        return True, event

    def send_chat_action(self, params: dict[str, Any], files: Any) -> tuple[Any, Any]:
        with self._state.lock:
            chat_id = self._state.chat_param(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True, {"chat_id": chat_id, "action": action}

    def get_chat(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            chat = copy.deepcopy(self._state.chats[self._state.chat_param(params)])
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat, None


def _checked_command(command: Any) -> dict[str, str]:
    if not isinstance(command, dict):
        raise bad("can't parse BotCommand")
    name = command.get("command")
    description = command.get("description")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
        raise bad("BOT_COMMAND_INVALID")
    if not isinstance(description, str) or not 1 <= len(description) <= 256:
        raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
    return {"command": name, "description": description}
