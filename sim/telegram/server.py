"""The HTTP side of the local Bot API: a loopback aiohttp server on its own thread and loop.

Its own loop lets it serve a bot running on the main thread's loop and be driven from plain
synchronous test code. It routes Telegram's two URL shapes, `/bot<token>/<method>` and
`/file/bot<token>/<file_path>`, and answers anything else, even a request aiohttp cannot
parse, with Bot API JSON: clients map errors from that body and choke on a text page.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sim.telegram.wire import MAX_BODY_BYTES, MAX_LINE_BYTES, NOT_FOUND, ApiError, error_response

__all__ = ["HttpServer"]

log = logging.getLogger("sim.telegram.local_api")

MethodRoute = Callable[[str, str, web.BaseRequest], Awaitable[web.StreamResponse]]
FileRoute = Callable[[str, str], web.StreamResponse]

_METHOD_PATH = re.compile(r"/bot([^/]*)/([A-Za-z_][A-Za-z0-9_]*)")
_FILE_PATH = re.compile(r"/file/bot([^/]*)/(.+)")


class _TelegramShapedErrors(web.RequestHandler):
    """aiohttp answers requests it cannot parse (a request line over the limit, broken
    headers) itself with text/plain; this makes those answers Bot API JSON too."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        log.debug("local Bot API: unreadable request (%s): %s", status, exc or message)
        if status == 400:
            reason = str(getattr(exc, "message", "") or message or "invalid request").split("\n")[0]
            error = ApiError(400, f"Bad Request: {reason[:200]}")
        else:
            error = ApiError(status, HTTPStatus(status).phrase)
        response = error_response(error)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _TelegramShapedErrors(self, loop=self._loop, **self._kwargs)


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        on_method: MethodRoute,
        on_file: FileRoute,
        on_start: Callable[[asyncio.AbstractEventLoop], None],
        on_stop: Callable[[], None],
    ) -> None:
        """`on_start` runs on the server loop once it listens; `on_stop` on the loop before
        connections close (a long poll still waiting must be answered, not cut off)."""
        self.host = host
        self.port = port
        self._on_method = on_method
        self._on_file = on_file
        self._on_start = on_start
        self._on_stop = on_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._start_error: BaseException | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def start(self) -> None:
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
        loop = asyncio.get_running_loop()

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY_BYTES
            )

        server = _Server(
            self._route,
            request_factory=make_request,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            access_log=None,
        )
        # A short shutdown timeout: a long-poll that outlives stop() has no one to answer.
        self._runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._on_start(loop)

    async def _shutdown(self) -> None:
        self._on_stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if match := _METHOD_PATH.fullmatch(path):
            return await self._on_method(match[1], match[2], request)
        if match := _FILE_PATH.fullmatch(path):
            return self._on_file(match[1], match[2])
        return error_response(NOT_FOUND)
