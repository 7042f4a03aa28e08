"""Binance futures REST through python-binance: the client factory, requests that another
thread can cut in flight, and retries that respect the exchange's rate-limit answers.

Every other file of trading/exchange/ that reads REST builds its client here and wraps
its calls in `with_retries`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from trading.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExchangeUnavailable(RuntimeError):
    """REST kept failing after the retries; the message says why, for the chat."""


def make_client(settings: Settings, timeout: float = 10) -> Client:
    """A python-binance Client aimed at settings.binance_rest_url, with no network at construction.

    python-binance ignores FUTURES_URL when testnet=True, so testnet is selected purely by
    URL here (config picks the testnet URL for TRADING_MODE=testnet).
    """
    client = Client(
        settings.binance_api_key or None,
        settings.binance_api_secret or None,
        ping=False,
        requests_params={"timeout": timeout},
    )
    base = settings.binance_rest_url.rstrip("/")
    client.FUTURES_URL = base + "/fapi"
    client.FUTURES_DATA_URL = base + "/futures/data"
    return client


class RestInterrupter:
    """Cuts a client's requests in flight from another thread.

    A request blocked on a server that never answers holds the stream thread for the
    whole read timeout, and closing a requests Session does not help: it only drops idle
    pooled connections, not the one a request holds. So the session's connections report
    themselves here once connected, and `interrupt()` shuts their sockets down, which ends
    a blocked read at once (the request fails like a dropped connection).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        self.interrupted = False

    def track(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._conns.add(conn)
            late = self.interrupted
        if late:  # connected just as interrupt() ran: cut it too
            _cut(conn)

    def interrupt(self) -> int:
        """Shut down every connection's socket, now and from now on; returns how many."""
        with self._lock:
            self.interrupted = True
            conns = list(self._conns)
        return sum(_cut(conn) for conn in conns)


def _cut(conn: HTTPConnection) -> bool:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return True


class _TrackingAdapter(HTTPAdapter):
    def __init__(self, interrupter: RestInterrupter) -> None:
        self._interrupter = interrupter  # before super().__init__, which builds the pools
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        track = self._interrupter.track

        class Http(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                track(self)

        class Https(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                track(self)

        class HttpPool(HTTPConnectionPool):
            ConnectionCls = Http

        class HttpsPool(HTTPSConnectionPool):
            ConnectionCls = Https

        self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}


def interruptible(client: Client) -> RestInterrupter:
    """Make `client`'s requests cuttable from another thread (see RestInterrupter)."""
    interrupter = RestInterrupter()
    adapter = _TrackingAdapter(interrupter)
    client.session.mount("http://", adapter)
    client.session.mount("https://", adapter)
    return interrupter


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.25,
    max_delay: float = 30.0,
    stop: threading.Event | None = None,
    what: str = "request",
) -> T:
    """Retry transient failures: 5xx, 429/418 (honouring Retry-After), timeouts, refused sockets.

    4xx answers other than 429/418 are the caller's mistake and are raised at once.
    """
    delay = base_delay
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        if stop is not None and stop.is_set():
            raise ExchangeUnavailable(f"{what}: stopped")
        try:
            return call()
        except BinanceAPIException as e:
            status = e.status_code
            if status not in (418, 429) and status < 500:
                raise
            last = e
            retry_after = e.response.headers.get("Retry-After") if e.response is not None else None
            wait = float(retry_after) if retry_after else delay
        except (requests.RequestException, BinanceRequestException, OSError) as e:
            last = e
            wait = delay
        if attempt == attempts:
            break
        log.warning(
            "%s failed (%s); retry %d/%d in %.2fs", what, _short(last), attempt, attempts - 1, wait
        )
        if stop is not None:
            if stop.wait(wait):
                break
        else:
            time.sleep(wait)
        delay = min(max_delay, delay * 2)
    raise ExchangeUnavailable(f"{what} failed: {_short(last)}")


def _short(e: Exception | None) -> str:
    if isinstance(e, BinanceAPIException):
        return f"HTTP {e.status_code} code {e.code}: {e.message}"
    return f"{type(e).__name__}: {e}"[:200]


def server_time_ms(client: Client, stop: threading.Event | None = None) -> int:
    return int(with_retries(client.futures_time, stop=stop, what="GET /fapi/v1/time")["serverTime"])
