"""The user data stream: the account's own events on a second websocket (demo and live).

- A listenKey from Binance (python-binance's futures listen-key calls: POST answers the
  account's active key or a new one), kept alive every KEEPALIVE_SECONDS (30–50 minutes is
  Binance's advice for its 60-minute validity); a -1125 on the keep-alive, or a
  `listenKeyExpired` event, gets a new key and reconnects with it.
- The 2026 routing: the base is BINANCE_WS_URL with its trailing `/market` replaced by
  `/private` (live: wss://fstream.binance.com/private), or BINANCE_USER_WS_URL; the stream
  is at `<base>/ws/<listenKey>`.
- Reconnects with the market stream's backoff (RECONNECT_DELAY doubling up to 30 s, with
  jitter) and one chat notice per outage. After every (re)connect the handler reconciles
  over REST (fills and funding of the gap), so nothing that happened while the socket was
  down is lost, and nothing is booked twice (the handler keys fills by trade id).
- Events reach the handler one by one in the order the socket delivers them, which is
  Binance's event-time order on one connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
from typing import Any, Protocol

from binance.exceptions import BinanceAPIException

from trading.config import Settings
from trading.core.events import AccountStreamNote, Notifier
from trading.exchange.orders import ANY_ERROR, _what
from trading.exchange.rest import make_client
from trading.exchange.stream import HANDSHAKE_TIMEOUT, MAX_BACKOFF, PING_INTERVAL, PING_TIMEOUT
from trading.exchange.ws_app import StreamApp, describe

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 30 * 60.0
KEY_GONE = -1125


class AccountHandler(Protocol):
    def on_connected(self) -> None:
        """The socket is open: book what happened while it was not (REST)."""

    def on_event(self, event: dict[str, Any]) -> None:
        """One account event (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE, MARGIN_CALL)."""


def user_ws_base(settings: Settings) -> str:
    """BINANCE_USER_WS_URL, else BINANCE_WS_URL with a trailing /market made /private."""
    if settings.binance_user_ws_url:
        return settings.binance_user_ws_url.rstrip("/")
    base = settings.binance_ws_url.rstrip("/")
    if base.endswith("/market"):
        return base[: -len("/market")] + "/private"
    return base + "/private"


class UserStream:
    """start()/stop() from any thread; everything else runs on the user-stream thread."""

    def __init__(self, settings: Settings, notifier: Notifier, handler: AccountHandler) -> None:
        self.settings = settings
        self.notifier = notifier
        self.handler = handler
        self.base = user_ws_base(settings)
        self.keepalive_seconds = KEEPALIVE_SECONDS
        self.client = make_client(settings)
        self.key: str | None = None
        self.connected = False
        self.connects = 0
        self.events = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._keeper: threading.Thread | None = None
        self._ws: StreamApp | None = None
        self._lock = threading.Lock()
        self._attempt = 0
        self._told_outage = False
        self._cond = threading.Condition()

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="user-stream", daemon=True)
            self._thread.start()
            self._keeper = threading.Thread(target=self._keep_alive, name="listenkey-keepalive", daemon=True)
            self._keeper.start()
            return True

    def stop(self, timeout: float = 5.0) -> bool:
        with self._lock:
            thread = self._thread
            if thread is None:
                return False
            self._stop.set()
            ws = self._ws
            if ws is not None:
                ws.keep_running = False
                ws.shutdown()
            thread.join(timeout)
            if self._keeper is not None:
                self._keeper.join(timeout)
            self._thread = None
            return not thread.is_alive()

    def wait_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def reconnect(self) -> None:
        """A new listenKey and a new connection (listenKeyExpired, -1125)."""
        self.key = None
        ws = self._ws
        if ws is not None:
            ws.shutdown()

    # ------------------------------------------------------------------ listen key
    def _new_key(self) -> str:
        self.key = str(self.client.futures_stream_get_listen_key())
        return self.key

    def _url(self) -> str:
        return f"{self.base}/ws/{self.key or self._new_key()}"

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.keepalive_seconds):
            key = self.key
            if key is None:
                continue
            try:
                self.client.futures_stream_keepalive(listenKey=key)
            except BinanceAPIException as e:
                if e.code == KEY_GONE:
                    log.warning("listenKey gone (-1125); getting a new one")
                    self.reconnect()
                else:
                    log.warning("listenKey keep-alive failed: %s", _what(e))
            except ANY_ERROR as e:
                log.warning("listenKey keep-alive failed: %s", _what(e))

    # ------------------------------------------------------------------ thread body
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                url = self._url()
            except ANY_ERROR as e:
                self.connection_lost(f"no listenKey ({_what(e)})")
                if not self.before_reconnect():
                    return
                continue
            ws = StreamApp(
                url, self, HANDSHAKE_TIMEOUT,
                on_open=self._on_open, on_reconnect=self._on_open, on_message=self._on_message,
            )  # fmt: skip
            self._ws = ws
            opened = self.connects
            try:
                # reconnect=0: each connection gets a fresh URL (the key may have changed).
                ws.run_forever(ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT, skip_utf8_validation=True)
            except Exception as e:  # noqa: BLE001 (reported, then the loop reconnects)
                log.exception("user stream failed")
                self.connection_lost(describe(e))
            self._ws = None
            if self.connected:
                self.connection_lost("connection closed")
            if self.connects == opened:  # the handshake failed: the key may be dead
                self.key = None
                self.connection_lost("cannot connect")
            if self._stop.is_set() or not self.before_reconnect():
                return

    def _on_open(self, ws: StreamApp) -> None:
        ws.opened()
        with self._cond:
            self.connected = True
            self.connects += 1
            self._attempt = 0
            self._cond.notify_all()
        if self._told_outage:
            self._told_outage = False
            self._notify(AccountStreamNote("reconnected"))
        try:
            self.handler.on_connected()
        except Exception as e:  # noqa: BLE001 (said; the next reconnect tries again)
            log.exception("reconciliation after connect")
            self._notify(AccountStreamNote("catch_up_failed", f"{type(e).__name__}: {e}"))

    def _on_message(self, ws: StreamApp, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            log.warning("user stream: malformed frame ignored")
            return
        if isinstance(event, dict) and "data" in event and "stream" in event:
            event = event["data"]
        if not isinstance(event, dict):
            return
        if event.get("e") == "listenKeyExpired":
            log.warning("listenKey expired; reconnecting with a new one")
            self.reconnect()
            return
        try:
            self.handler.on_event(event)
        except Exception:  # a bad event must not end the stream; logged with its type
            log.exception("user stream event %s", event.get("e"))
        with self._cond:
            self.events += 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ ConnectionHooks
    def connection_lost(self, reason: str) -> None:
        with self._cond:
            was = self.connected
            self.connected = False
            self._cond.notify_all()
        if not self._stop.is_set() and not self._told_outage and (was or self._attempt == 0):
            self._told_outage = True
            self._notify(AccountStreamNote("lost", reason))

    def before_reconnect(self) -> bool:
        attempt, self._attempt = self._attempt, self._attempt + 1
        base = self.settings.reconnect_delay
        delay = min(MAX_BACKOFF, base * (2 ** max(0, attempt - 1))) if attempt else base
        return not self._stop.wait(delay * random.uniform(0.8, 1.2))

    def _notify(self, event: AccountStreamNote) -> None:
        try:
            self.notifier.notify(event)
        except Exception:
            log.exception("notifier failed on %s", event.kind)

    def close_key(self) -> None:
        """On shutdown (after stop): tell Binance the key is no longer needed
        (`DELETE /fapi/v1/listenKey`, best effort)."""
        key, self.key = self.key, None
        if key:
            with contextlib.suppress(*ANY_ERROR):
                self.client.futures_stream_close(listenKey=key)


class NoUserStream:
    """Paper mode: the paper broker is the exchange, there is no account stream."""

    connected = False

    def start(self) -> bool:
        return False

    def stop(self) -> bool:
        return False

    def close_key(self) -> None:
        return None


def user_stream_for(settings: Settings, notifier: Notifier, follower: AccountHandler | None) -> UserStream | NoUserStream:
    return NoUserStream() if follower is None else UserStream(settings, notifier, follower)
