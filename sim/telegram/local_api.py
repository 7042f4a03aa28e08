"""A Telegram Bot API server on the loopback interface, for running the bot fully offline.

The real python-telegram-bot client talks to it over real sockets; only the base URL differs
(`ApplicationBuilder().base_url(api.base_url)`). That keeps the whole client stack (request
encoding, error mapping, polling, rate limiting) exercised in the demo and in tests, which a
mocked `Bot` would not. Replies follow https://core.telegram.org/bots/api closely, including
its error texts, so bot bugs that Telegram would reject (bad HTML, stale edits, over-long
texts, unknown chats) are rejected here too.

`LocalBotApi` only assembles the parts: `server` (HTTP), `wire` (parameters, JSON answers),
`state` (chats, messages, calls), `updates` (getUpdates, webhooks), `message_methods`,
`bot_methods` and `files` (the Bot API methods), and `driver` (acting as users, waiting for
the bot), whose methods it inherits.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import time
from typing import Any

from aiohttp import web

from sim.telegram.bot_methods import BotMethods
from sim.telegram.driver import ChatDriver
from sim.telegram.files import FileStore
from sim.telegram.message_methods import MessageMethods
from sim.telegram.server import HttpServer
from sim.telegram.state import MESSAGE_METHODS, BotIdentity, Call, ChatState
from sim.telegram.updates import UpdateQueue
from sim.telegram.web_apps import WebAppMethods, launch_url
from sim.telegram.wire import NOT_FOUND, ApiError, bad, error_response, json_response, read_params

__all__ = ["DEFAULT_TOKEN", "MESSAGE_METHODS", "ApiError", "Call", "LocalBotApi"]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:LOCAL-DEMO-TOKEN"
CALLBACK_TIMEOUT = 60.0
"""Seconds a press stays answerable. Telegram does not publish the figure; answers much
later than the press fail with "query is too old and response timeout expired or query ID
is invalid", which is what this reproduces."""


class LocalBotApi(ChatDriver):
    """The server and the people in its chats, in one object (see ChatDriver for the latter)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_id: int | None = None,
        bot_username: str = "ReplayTradeBot",
        bot_name: str = "Replay Trade Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        privacy_mode: bool = True,
        group_limit: int | None = None,
        callback_timeout: float | None = CALLBACK_TIMEOUT,
    ) -> None:
        """`privacy_mode` (on, as BotFather sets it for new bots) withholds group messages
        that are neither commands, replies to the bot nor mentions of it. `group_limit`
        (messages a minute per group, e.g. 20 as Telegram) answers 429 beyond it; off unless
        given. `callback_timeout`: an answerCallbackQuery later than this many seconds after
        the press is refused as too old (None: never)."""
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456
        self.identity = BotIdentity(token, bot_id, bot_username, bot_name)
        state = ChatState(self.identity)
        updates = UpdateQueue(state)
        state.callback_timeout = callback_timeout
        super().__init__(state, updates, privacy_mode=privacy_mode, group_limit=group_limit)
        self._files = FileStore()
        self._server = HttpServer(
            host, port, self._on_method, self._on_file, updates.bind, updates.close
        )
        self.web_apps = WebAppMethods(state)
        handlers: dict[str, Any] = {
            **updates.handlers(),
            **BotMethods(state).handlers(),
            **self.web_apps.handlers(),
            **MessageMethods(state, self._files).handlers(),
            **self._files.handlers(),
        }
        # Telegram matches method names case-insensitively.
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}

    # -- identity and addresses -------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.identity.token

    @property
    def bot_id(self) -> int:
        return self.identity.id

    @property
    def bot_username(self) -> str:
        return self.identity.username

    @property
    def bot_name(self) -> str:
        return self.identity.name

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        """What PTB's `base_url` takes (the token and method are appended)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def file_url(self) -> str:
        """Where getFile's file_path is downloadable: `file_url + token + "/" + file_path`."""
        return f"http://{self.host}:{self.port}/file/bot"

    def open_web_app(self, page: str, user_id: int, *, start_param: str | None = None, **kwargs: Any) -> str:
        """What a Telegram client opens when `user_id` taps the Mini App: `page` with the
        launch parameters (signed initData) in its fragment."""
        return launch_url(page, self.web_apps.init_data(user_id, start_param=start_param, **kwargs))

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalBotApi:
        self._server.start()
        log.info("local Bot API listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LocalBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- requests (server loop) --------------------------------------------------------------

    async def _on_method(
        self, token: str, raw_method: str, request: web.BaseRequest
    ) -> web.Response:
        at = time.monotonic()
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        try:
            params, files = await read_params(request)
        except web.HTTPRequestEntityTooLarge:
            return self._fail(Call(name, {}, at), ApiError(413, "Request Entity Too Large"))
        except ValueError as exc:
            return self._fail(Call(name, {}, at), bad(f"can't parse request: {exc}"))
        except Exception:
            log.exception("local Bot API: reading a %s request failed", name)
            return self._fail(Call(name, {}, at), ApiError(500, "Internal Server Error"))
        call = Call(name, params, at, dict(files))
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            self._membership.check(name, params)
            self._flood.check(name)
            self._group_limit.check(name, params)
            try:
                outcome = handler(params, files)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
            except BaseException:
                self._group_limit.undo(name, params)  # only what reached the chat spends the budget
                raise
            result, event = outcome
        except ApiError as error:
            return self._fail(call, error)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception:
            log.exception("local Bot API: %s failed", name)
            return self._fail(call, ApiError(500, "Internal Server Error"))
        # Subscribers run first so that whoever wakes from wait_for sees their effects (the
        # console has printed the reply before the script sends its next line).
        if event is not None:
            self._state.publish(name, event)
        self._state.record(Call(name, params, at, dict(files), True, copy.deepcopy(result)))
        return json_response({"ok": True, "result": result}, 200)

    def _fail(self, call: Call, error: ApiError) -> web.Response:
        notable = error.code in (403, 429) or "upgraded" in error.description or "too old" in error.description
        if notable and call.method != "getUpdates":
            # what a person watching would want to know: the bot was refused (the console shows it)
            self._state.publish(
                "refused",
                {"method": call.method, "chat_id": call.params.get("chat_id"), "error_code": error.code,
                 "description": error.description},
            )
        self._state.record(
            Call(
                call.method,
                call.params,
                call.at,
                call.files,
                False,
                None,
                error.code,
                error.description,
            )
        )
        return error_response(error)

    def _on_file(self, token: str, file_path: str) -> web.Response:
        record = self._files.by_path(file_path) if token == self.token else None
        if record is None:
            return error_response(NOT_FOUND)
        return web.Response(body=record.data, content_type="application/octet-stream")
