"""Run the bot: the engine, the notifier bridge and the PTB Application, start to shutdown.

`serve()` is the one lifecycle; `python -m bot` runs it in the main thread until SIGINT or
SIGTERM, and `BotThread` runs the very same coroutine on a background thread for the demo,
the end-to-end tests and the benchmarks (which need the main thread for themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable

from telegram.error import Conflict, TelegramError
from telegram.ext import Application

from bot import stale
from bot.app import (
    FEED_CHECK_SECONDS,
    TELEGRAM_LIMITS,
    RateLimits,
    build_application,
    on_shutdown,
    on_startup,
)
from bot.notifier import TelegramNotifier
from bot.webapp import server as webapp
from trading.config import Settings
from trading.live.service import Engine
from trading.logsafe import LogRing

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


class PollingErrors:
    """getUpdates failures as one line each, never a traceback per retry. A 409 Conflict
    means another process polls this token: said once (again only after CONFLICT_REPEAT
    seconds), since PTB retries it every few seconds for as long as both run."""

    CONFLICT_REPEAT = 600.0

    def __init__(self) -> None:
        self._conflict_said: float | None = None

    def __call__(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            now = time.monotonic()
            if self._conflict_said is None or now - self._conflict_said >= self.CONFLICT_REPEAT:
                self._conflict_said = now
                log.error(
                    "another bot is polling this token (Telegram: 409 Conflict); one bot per token: "
                    "stop the other one (this one keeps polling)"
                )
            return
        log.warning("polling Telegram failed (%s: %s); retrying", type(exc).__name__, exc)


async def serve(
    engine: Engine,
    notifier: TelegramNotifier,
    stop: asyncio.Event,
    *,
    rate_limits: RateLimits = TELEGRAM_LIMITS,
    poll_timeout: int = 10,
    feed_check_seconds: float = FEED_CHECK_SECONDS,
    ready: threading.Event | None = None,
    on_app: Callable[[Application], None] | None = None,
    logs: LogRing | None = None,
) -> None:
    """`logs`: the /logs ring, installed before the engine was built (what it logged while
    building, the start-up check say, is shown too); else one from now on."""
    app = build_application(
        engine, notifier, rate_limits=rate_limits, feed_check_seconds=feed_check_seconds, logs=logs
    )
    if on_app is not None:
        on_app(app)
    async with app:
        await on_startup(app)
        await stale.prepare(
            app, app.bot_data["stale"], lambda: asyncio.to_thread(engine.remembered, "alive_at"), ALLOWED_UPDATES
        )
        await asyncio.to_thread(engine.remember, "alive_at", f"{time.time():.0f}")
        await app.start()
        await webapp.start(app)  # the dashboard, when WEBAPP_URL is set
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, drop_pending_updates=False,
            allowed_updates=ALLOWED_UPDATES, error_callback=PollingErrors(),
        )
        if await asyncio.to_thread(engine.resume_stream):
            log.info("stream was running before the restart; resumed")
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            await app.updater.stop()
            await webapp.stop(app)
            # Stop the stream while the loop still runs, so "socket stopped" is delivered.
            await asyncio.to_thread(engine.close)  # the account stream runs even when the market one does not
            await notifier.drain(timeout=5.0)
            await asyncio.to_thread(engine.remember, "alive_at", f"{time.time():.0f}")
            await app.stop()
            await on_shutdown(app)


def run(settings: Settings) -> None:
    """Foreground: until SIGINT/SIGTERM (Procfile's worker)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        notifier = TelegramNotifier()
        logs = log_ring(settings)
        try:
            engine = Engine(settings, notifier)
        except BaseException:
            logs.remove()
            raise
        await serve(engine, notifier, stop, logs=logs)

    asyncio.run(main())


def log_ring(settings: Settings) -> LogRing:
    """The /logs ring, on the root logger from now on (secrets masked)."""
    return LogRing([settings.telegram_token, settings.binance_api_key, settings.binance_api_secret]).install()


class BotThread:
    """The same serve() on a background thread: start() returns once polling runs."""

    def __init__(self, settings: Settings, **kwargs: object) -> None:
        self.settings = settings
        self.kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self.notifier = TelegramNotifier()
        self.logs = log_ring(settings)  # from before the engine: what building it logs is in /logs
        try:
            self.engine = Engine(settings, self.notifier)
        except BaseException:
            self.logs.remove()
            raise
        self.app: Application | None = None

    def start(self, timeout: float = 15.0) -> BotThread:
        self._thread = threading.Thread(target=self._main, name="bot-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"bot did not start: {self.error!r}")
        if self.error is not None:
            raise RuntimeError(f"bot did not start: {self.error!r}")
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(
                self.engine, self.notifier, self._stop, ready=self._ready, on_app=self._set_app, logs=self.logs,
                **self.kwargs,  # type: ignore[arg-type]
            )

        try:
            asyncio.run(main())
        except BaseException as e:  # surfaced by start()/stop()
            self.error = e
            log.exception("bot thread failed")
        finally:
            self._ready.set()

    def _set_app(self, app: Application) -> None:
        self.app = app

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
        self.logs.remove()  # (the shutdown removed it already, unless the bot never started)

    def __enter__(self) -> BotThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
