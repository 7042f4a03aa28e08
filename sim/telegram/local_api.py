"""A Telegram Bot API server on the loopback interface, for running the bot fully offline.

The real python-telegram-bot client talks to it over real sockets; only the base URL differs
(`ApplicationBuilder().base_url(api.base_url)`). That keeps the whole client stack (request
encoding, error mapping, polling, rate limiting) exercised in the demo and in tests, which a
mocked `Bot` would not. Replies follow https://core.telegram.org/bots/api closely, including
its error texts, so bot bugs that Telegram would reject (bad HTML, stale edits, over-long
texts, unknown chats) are rejected here too.

The aiohttp server runs on its own event loop in a daemon thread, so it can serve a bot that
runs on the main thread's loop, and be driven from plain synchronous test code. All state sits
behind one lock; `wait_for` blocks on a condition of that lock rather than polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from sim.telegram.formatting import (
    EntityParseError,
    command_entities,
    image_size,
    parse_text,
)

__all__ = ["DEFAULT_TOKEN", "MESSAGE_METHODS", "ApiError", "Call", "LocalBotApi"]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:LOCAL-DEMO-TOKEN"

MESSAGE_METHODS = (
    "sendMessage",
    "sendPhoto",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
)
"""Methods whose result is a Message in a chat (what a person in the chat would see change)."""

_TEXT_LIMIT = 4096
_CAPTION_LIMIT = 1024
_CALLBACK_ANSWER_LIMIT = 200
_CHAT_ACTIONS = {
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
# Form values are JSON-encoded by PTB unless they are plain strings; these parameters are
# strings by definition, so a text such as "42" or "true" must not be decoded into a number.
_STRING_PARAMS = {
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "inline_message_id",
    "action",
    "language_code",
    "url",
    "photo",
    "description",
    "short_description",
    "name",
    "title",
    "business_connection_id",
    "message_effect_id",
    "secret_token",
    "ip_address",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A Bot API error response; raised inside method handlers."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


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
        return _as_int(value) if value is not None else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Uploads(dict[str, bytes]):
    """Uploaded files by form field, remembering the client's file names."""

    def __init__(self) -> None:
        super().__init__()
        self.filenames: dict[str, str] = {}


def _file_id(kind: str) -> tuple[str, str]:
    """Random ids shaped like Telegram's (prefix, URL-safe base64); unique is the short one."""
    return (
        f"AgAC{kind}" + secrets.token_urlsafe(48)[:60],
        "AQAD" + secrets.token_urlsafe(9)[:12],
    )


class LocalBotApi:
    """The server and the people in its chats, in one object.

    Injected updates, the bot's calls and the chat state share one lock, so a test or the
    console can act as a user and then observe the bot's reaction without racing the server.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_id: int | None = None,
        bot_username: str = "ReplayTradeBot",
        bot_name: str = "Replay Trade Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        privacy_mode: bool = False,
    ) -> None:
        """`privacy_mode=True` withholds group messages that are neither commands, replies to
        the bot nor mentions of it, as Telegram does for bots with privacy mode on; it is off
        by default so that the console can answer a bot's free-text questions."""
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.host = host
        self.port = port
        self.privacy_mode = privacy_mode

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        # Bot-sent messages: send order, and what the JSON message cannot hold.
        self._bot_messages: list[tuple[int, int]] = []
        self._extras: dict[tuple[int, int], dict[str, Any]] = {}
        self._files: dict[str, bytes] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10_000_001)
        self._callback_ids = itertools.count(4_200_000_000_000_001)
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._allowed_updates: list[str] | None = None
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._subscribers: list[Callable[[str, dict[str, Any]], None]] = []
        self._flood_count = 0
        self._flood_until = 0.0
        self._flood_retry_after = 1
        self._flood_methods: frozenset[str] = frozenset()

        # Loop-thread-only state for long polling.
        self._poll_generation = 0
        self._poll_waiter: asyncio.Future[None] | None = None
        self._closing = False

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._start_error: BaseException | None = None

        handlers: dict[str, Callable[[dict[str, Any], dict[str, bytes]], Any]] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendChatAction": self._m_send_chat_action,
            "deleteMessage": self._m_delete_message,
            "getChat": self._m_get_chat,
        }
        # Telegram matches method names case-insensitively.
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}

    # -----------------------------------------------------------------------------------------
    # lifecycle
    # -----------------------------------------------------------------------------------------

    def start(self) -> LocalBotApi:
        if self._thread is not None:
            raise RuntimeError("LocalBotApi already started")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="local-bot-api", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._start_error is not None:
            self._thread.join()
            raise RuntimeError("local Bot API failed to start") from self._start_error
        log.info("local Bot API listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def __enter__(self) -> LocalBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    def _serve(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()'s caller
            self._start_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: a long-poll that outlives stop() has no one to answer.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()

    # -----------------------------------------------------------------------------------------
    # HTTP
    # -----------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        match = re.fullmatch(r"bot([^/]*)/([A-Za-z_][A-Za-z0-9_]*)", request.match_info["tail"])
        if match is None:
            return self._respond(ApiError(404, "Not Found").payload(), 404)
        token, raw_method = match.groups()
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        try:
            params, files = await self._read_params(request)
        except Exception as exc:
            if isinstance(exc, ValueError):
                error = _bad(f"can't parse request: {exc}")
            else:
                log.exception("local Bot API: reading a %s request failed", name)
                error = ApiError(500, "Internal Server Error")
            self._record(Call(name, {}, at, {}, False, None, error.code, error.description))
            return self._respond(error.payload(), error.code)

        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            self._check_flood(name)
            outcome = handler(params, files)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            result, event = outcome
        except ApiError as error:
            self._record(
                Call(name, params, at, dict(files), False, None, error.code, error.description)
            )
            return self._respond(error.payload(), error.code)
        except Exception:
            log.exception("local Bot API: %s failed", name)
            error = ApiError(500, "Internal Server Error")
            self._record(Call(name, params, at, dict(files), False, None, 500, error.description))
            return self._respond(error.payload(), 500)

        # Subscribers run first so that whoever wakes from wait_for sees their effects (the
        # console has printed the reply before the script sends its next line).
        if event is not None:
            self._publish(name, event)
        self._record(Call(name, params, at, dict(files), True, copy.deepcopy(result)))
        return self._respond({"ok": True, "result": result}, 200)

    @staticmethod
    def _respond(body: dict[str, Any], status: int) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict[str, Any], _Uploads]:
        """Accepts everything Telegram accepts: query string, JSON, urlencoded, multipart."""
        params: dict[str, Any] = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        files = _Uploads()
        if not request.body_exists:
            return params, files
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise ValueError("invalid JSON") from exc
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = bytes(await part.read(decode=True))
                    files.filenames[part.name] = part.filename
                else:
                    params[part.name] = _decode_form_value(part.name, await part.text())
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                    files.filenames[key] = value.filename
                else:
                    params[key] = _decode_form_value(key, str(value))
        return params, files

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def _publish(self, method: str, event: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(method, copy.deepcopy(event))
            except Exception:
                log.exception("local Bot API subscriber failed on %s", method)

    def _check_flood(self, method: str) -> None:
        with self._lock:
            if method not in self._flood_methods:
                return
            if self._flood_count > 0:
                self._flood_count -= 1
            elif time.monotonic() >= self._flood_until:
                return
            retry_after = self._flood_retry_after
        raise ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    # -----------------------------------------------------------------------------------------
    # public: chats, injection, observation
    # -----------------------------------------------------------------------------------------

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
        with self._lock:
            return copy.deepcopy(self._ensure_chat(chat_id, type, title, first_name, username))

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
    ) -> dict[str, Any]:
        """Injects a user's text message; returns the Update (delivered unless filtered)."""
        now = int(time.time())
        with self._lock:
            chat = self._ensure_chat(
                chat_id,
                chat_type,
                chat_title if chat_type != "private" else None,
                first_name,
                username,
            )
            user = self._ensure_user(user_id, first_name, username)
            message: dict[str, Any] = {
                "message_id": self._new_message_id(chat_id),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": now,
                "text": text,
            }
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            replied_to_bot = False
            if reply_to_message_id is not None:
                original = self._messages.get((chat_id, reply_to_message_id))
                if original is None:
                    raise LookupError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = self._shallow_reply(original)
                replied_to_bot = original["from"]["id"] == self.bot_id
            self._messages[(chat_id, message["message_id"])] = message
            deliver = not (
                self.privacy_mode
                and chat["type"] != "private"
                and not entities
                and not replied_to_bot
                and f"@{self.bot_username}".lower() not in text.lower()
            )
            return self._push_update("message", copy.deepcopy(message), deliver=deliver)

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
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None or message["from"]["id"] != self.bot_id:
                raise LookupError(f"no bot message {message_id} in chat {chat_id}")
            user = self._ensure_user(user_id, first_name, username)
            query_id = str(next(self._callback_ids))
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": str((chat_id * 2_654_435_761) % 10**19),
                "data": data,
            }
            self._callbacks[query_id] = {
                "answered": False,
                "chat_id": chat_id,
                "message_id": message_id,
                "from": copy.deepcopy(user),
            }
            return self._push_update("callback_query", query)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def mark(self) -> int:
        with self._lock:
            return len(self._calls)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Bot messages in send order with edits applied, as the chat would show them.

        Each is the Telegram Message plus local keys: `chat_id`, `raw_text` (the text as the bot
        sent it, before entity parsing), `parse_mode`, `deleted`, and for photos
        `photo_bytes`, `photo_len`, `photo_filename`.
        """
        with self._lock:
            return [
                self._view(key)
                for key in self._bot_messages
                if chat_id is None or key[0] == chat_id
            ]

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, start: int = 0
    ) -> Call | None:
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self._calls):
                    call = self._calls[index]
                    index += 1
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

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
        with self._lock:
            self._flood_count = max(0, count or 0)
            self._flood_until = time.monotonic() + seconds if seconds else 0.0
            self._flood_retry_after = max(1, int(retry_after))
            self._flood_methods = frozenset(methods)

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """The callback runs on the server thread and must be quick; returns an unsubscriber."""
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    @property
    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    # -----------------------------------------------------------------------------------------
    # state helpers (callers hold the lock)
    # -----------------------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def _ensure_chat(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        first_name: str | None,
        username: str | None,
    ) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
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
        self._chats[chat_id] = chat
        self._next_message_id.setdefault(chat_id, 1)
        return chat

    def _ensure_user(self, user_id: int, first_name: str, username: str | None) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None or user["first_name"] != first_name or user.get("username") != username:
            user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
            if username:
                user["username"] = username
            self._users[user_id] = user
        return user

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _push_update(
        self, kind: str, payload: dict[str, Any], *, deliver: bool = True
    ) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        allowed = self._allowed_updates
        if deliver and (not allowed or kind in allowed):
            self._updates.append(update)
            loop = self._loop
            if loop is not None and not loop.is_closed():
                # The loop may close between the check and the call once stop() runs.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._wake_pollers)
        return copy.deepcopy(update)

    @staticmethod
    def _shallow_reply(message: dict[str, Any]) -> dict[str, Any]:
        """Telegram does not nest reply_to_message inside a reply_to_message."""
        return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}

    def _view(self, key: tuple[int, int]) -> dict[str, Any]:
        extras = self._extras[key]
        message = extras.get("deleted_message") or self._messages[key]
        view = copy.deepcopy(message)
        view["chat_id"] = key[0]
        view.update({k: v for k, v in extras.items() if k != "deleted_message"})
        view.setdefault("deleted", False)
        return view

    def _chat_param(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat_id = _as_int(raw)
        if chat_id is None or chat_id not in self._chats:
            raise _bad("chat not found")
        return chat_id

    @staticmethod
    def _formatted(
        params: dict[str, Any], key: str, limit: int, empty: str, too_long: str
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = params.get(key, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raw = json.dumps(raw)
        entities = params.get(f"{key}_entities" if key == "caption" else "entities")
        if entities is not None and not isinstance(entities, list):
            raise _bad("can't parse entities JSON object")
        try:
            text, parsed = parse_text(raw, params.get("parse_mode"), entities)
        except EntityParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from exc
        except ValueError as exc:
            raise _bad("unsupported parse_mode") from exc
        if empty and not text.strip():
            raise _bad(empty)
        if len(text) > limit:
            raise _bad(too_long)
        return text, parsed

    @staticmethod
    def _inline_markup(params: dict[str, Any], *, inline_only: bool) -> dict[str, Any] | None:
        """Validates reply_markup; only an inline keyboard becomes part of the Message."""
        markup = params.get("reply_markup")
        if markup in (None, ""):
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad("inline keyboard expected")
            if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                raise _bad("can't parse reply keyboard markup JSON object")
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        actions = (
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
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t find field "text"')
                if not any(a in button for a in actions):
                    raise _bad("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not (
                    isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64
                ):
                    raise _bad("BUTTON_DATA_INVALID")
        if not any(rows):
            return None
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = _as_int(reply.get("message_id"))
            allow_missing = bool(reply.get("allow_sending_without_reply"))
            target_chat = _as_int(reply.get("chat_id")) or chat_id
        else:
            message_id = _as_int(params.get("reply_to_message_id"))
            allow_missing = bool(params.get("allow_sending_without_reply"))
            target_chat = chat_id
        if message_id is None:
            return None
        original = self._messages.get((target_chat, message_id))
        if original is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return self._shallow_reply(original)

    def _store_bot_message(
        self, chat_id: int, fields: dict[str, Any], extras: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": self._bot_user(),
            "chat": copy.deepcopy(self._chats[chat_id]),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in fields.items() if v not in (None, [])})
        key = (chat_id, message["message_id"])
        self._messages[key] = message
        self._bot_messages.append(key)
        self._extras[key] = extras
        return message

    def _editable(self, params: dict[str, Any]) -> tuple[tuple[int, int], dict[str, Any]]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        chat_id = self._chat_param(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        key = (chat_id, message_id)
        message = self._messages.get(key)
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return key, message

    def _apply_edit(
        self, key: tuple[int, int], message: dict[str, Any], changes: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        current = {k: message.get(k) for k in changes}
        if current == changes:
            raise ApiError(400, _NOT_MODIFIED)
        for name, value in changes.items():
            if value in (None, []):
                message.pop(name, None)
            else:
                message[name] = value
        message["edit_date"] = max(int(time.time()), message["date"])
        self._extras[key]["edits"] = self._extras[key].get("edits", 0) + 1
        return copy.deepcopy(message), self._view(key)

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    # -----------------------------------------------------------------------------------------
    # long polling (loop thread)
    # -----------------------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        waiter, self._poll_waiter = self._poll_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _m_get_updates(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[list[dict[str, Any]], None]:
        offset = _as_int(params.get("offset")) or 0
        limit = min(100, max(1, _as_int(params.get("limit")) or 100))
        try:
            timeout = max(0.0, float(params.get("timeout") or 0))
        except (TypeError, ValueError):
            timeout = 0.0
        allowed = params.get("allowed_updates")
        # A newer getUpdates terminates the one still waiting, as Telegram does (409).
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        with self._lock:
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            with self._lock:
                batch = copy.deepcopy(self._updates[:limit])
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch, None
            if self._poll_waiter is None or self._poll_waiter.done():
                self._poll_waiter = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._poll_waiter), remaining)

    # -----------------------------------------------------------------------------------------
    # Bot API methods; each returns (result, event for subscribers or None)
    # -----------------------------------------------------------------------------------------

    def _m_get_me(self, params: dict[str, Any], files: dict[str, bytes]) -> tuple[Any, None]:
        me = self._bot_user()
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me, None

    def _m_delete_webhook(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, None]:
        if params.get("drop_pending_updates") in (True, "true", "True", 1):
            with self._lock:
                self._updates.clear()
        return True, None

    def _m_get_webhook_info(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, None]:
        with self._lock:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}, None

    def _m_set_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, None]:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        with self._lock:
            key = self._commands_key(params.get("scope"), params.get("language_code"))
            self._commands[key] = cleaned
        return True, None

    def _m_get_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, None]:
        return self.my_commands(params.get("scope"), params.get("language_code") or ""), None

    def _m_delete_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, None]:
        with self._lock:
            key = self._commands_key(params.get("scope"), params.get("language_code"))
            self._commands.pop(key, None)
        return True, None

    def _m_send_message(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            chat_id = self._chat_param(params)
            text, entities = self._formatted(
                params, "text", _TEXT_LIMIT, "message text is empty", "message is too long"
            )
            markup = self._inline_markup(params, inline_only=False)
            reply = self._reply_to(chat_id, params)
            message = self._store_bot_message(
                chat_id,
                {
                    "reply_to_message": reply,
                    "text": text,
                    "entities": entities,
                    "reply_markup": markup,
                },
                {"raw_text": params.get("text"), "parse_mode": params.get("parse_mode")},
            )
            return copy.deepcopy(message), self._view((chat_id, message["message_id"]))

    def _photo_bytes(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[bytes, str | None, str | None]:
        """The image, the file_id it was sent by (if any) and the uploaded file name."""
        names = getattr(files, "filenames", {})
        if "photo" in files:
            return files["photo"], None, names.get("photo")
        ref = params.get("photo")
        if not isinstance(ref, str) or not ref:
            raise _bad("there is no photo in the request")
        if ref.startswith("attach://"):
            name = ref[len("attach://") :]
            if name not in files:
                raise _bad(f"file {name!r} not found in the request")
            return files[name], None, names.get(name)
        if ref in self._files:
            return self._files[ref], ref, None
        if ref.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        raise _bad("wrong file identifier/HTTP URL specified")

    def _m_send_photo(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            chat_id = self._chat_param(params)
            data, reused_id, filename = self._photo_bytes(params, files)
            size = image_size(data)
            if size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            caption, entities = self._formatted(
                params, "caption", _CAPTION_LIMIT, "", "message caption is too long"
            )
            markup = self._inline_markup(params, inline_only=False)
            reply = self._reply_to(chat_id, params)
            photo = self._photo_sizes(data, size, reused_id)
            message = self._store_bot_message(
                chat_id,
                {
                    "reply_to_message": reply,
                    "photo": photo,
                    "caption": caption or None,
                    "caption_entities": entities,
                    "reply_markup": markup,
                },
                {
                    "raw_text": params.get("caption"),
                    "parse_mode": params.get("parse_mode"),
                    "photo_bytes": data,
                    "photo_len": len(data),
                    "photo_filename": filename,
                },
            )
            return copy.deepcopy(message), self._view((chat_id, message["message_id"]))

    def _photo_sizes(
        self, data: bytes, size: tuple[int, int], reused_id: str | None
    ) -> list[dict[str, Any]]:
        """Telegram returns thumbnails of 90/320/800/1280 px plus the largest size."""
        width, height = size
        longest = max(width, height)
        sizes = []
        for side in (90, 320, 800, 1280):
            if side < longest:
                scale = side / longest
                sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
        sizes.append((width, height))
        result = []
        for w, h in sizes:
            is_full = (w, h) == (width, height)
            if is_full and reused_id:
                file_id = reused_id
                unique_id = _file_id("Q")[1]
            else:
                file_id, unique_id = _file_id("Q")
                self._files[file_id] = data
            file_size = len(data) if is_full else max(1, len(data) * w * h // (width * height))
            result.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique_id,
                    "file_size": file_size,
                    "width": w,
                    "height": h,
                }
            )
        return result

    def _m_edit_message_text(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            key, message = self._editable(params)
            if "text" not in message:
                raise _bad("there is no text in the message to edit")
            text, entities = self._formatted(
                params, "text", _TEXT_LIMIT, "message text is empty", "message is too long"
            )
            # Without reply_markup Telegram drops the keyboard, like this does.
            markup = self._inline_markup(params, inline_only=True)
            result, view = self._apply_edit(
                key,
                message,
                {"text": text, "entities": entities or None, "reply_markup": markup},
            )
            self._extras[key].update(
                raw_text=params.get("text"), parse_mode=params.get("parse_mode")
            )
            view.update(raw_text=params.get("text"), parse_mode=params.get("parse_mode"))
            return result, view

    def _m_edit_message_caption(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            key, message = self._editable(params)
            if "photo" not in message:
                raise _bad("there is no caption in the message to edit")
            caption, entities = self._formatted(
                params, "caption", _CAPTION_LIMIT, "", "message caption is too long"
            )
            markup = self._inline_markup(params, inline_only=True)
            result, view = self._apply_edit(
                key,
                message,
                {
                    "caption": caption or None,
                    "caption_entities": entities or None,
                    "reply_markup": markup,
                },
            )
            self._extras[key].update(
                raw_text=params.get("caption"), parse_mode=params.get("parse_mode")
            )
            view.update(raw_text=params.get("caption"), parse_mode=params.get("parse_mode"))
            return result, view

    def _m_edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            key, message = self._editable(params)
            markup = self._inline_markup(params, inline_only=True)
            return self._apply_edit(key, message, {"reply_markup": markup})

    def _m_answer_callback_query(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        query_id = params.get("callback_query_id")
        text = params.get("text") or ""
        with self._lock:
            query = self._callbacks.get(str(query_id)) if query_id is not None else None
            if query is None or query["answered"]:
                raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
            if len(text) > _CALLBACK_ANSWER_LIMIT:
                raise _bad("MESSAGE_TOO_LONG")
            query["answered"] = True
            event = {
                "callback_query_id": str(query_id),
                "text": text,
                "show_alert": params.get("show_alert") in (True, "true", "True", 1),
                "url": params.get("url"),
                "chat_id": query["chat_id"],
                "message_id": query["message_id"],
                "from": query["from"],
            }
        return True, event

    def _m_send_chat_action(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            chat_id = self._chat_param(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True, {"chat_id": chat_id, "action": action}

    def _m_delete_message(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            chat_id = self._chat_param(params)
            message_id = _as_int(params.get("message_id"))
            key = (chat_id, message_id or 0)
            message = self._messages.pop(key, None)
            if message is None:
                raise _bad("message to delete not found")
            if key in self._extras:
                self._extras[key].update(deleted=True, deleted_message=message)
                event = self._view(key)
            else:
                event = {"chat_id": chat_id, "message_id": message_id, "deleted": True}
        return True, event

    def _m_get_chat(self, params: dict[str, Any], files: dict[str, bytes]) -> tuple[Any, None]:
        with self._lock:
            chat = copy.deepcopy(self._chats[self._chat_param(params)])
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
