"""Historical candles over Binance futures REST (python-binance), with retries that respect
the exchange's rate-limit answers.

`historical_klines` gives one symbol's closed candles as a DataFrame. It
pages `futures_klines` itself (1,500 rows a request) instead of calling python-binance's
`futures_historical_klines`, which asks for the earliest candle first, pages by 1,000 and
sleeps a full second after every third page; the result is the same rows with a third of
the requests and none of the sleeps.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException
from binance.helpers import convert_ts_str
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from trading.config import Settings, load_settings
from trading.core.candles import Candle, candle_from_rest
from trading.core.intervals import interval_ms
from trading.core.symbols import SymbolFilters

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_LIMIT = 1500  # Binance futures maximum per /fapi/v1/klines request


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


def unknown_symbols(client: Client, symbols: Iterable[str]) -> list[str]:
    """Symbols the exchange does not list as trading USDⓈ-M contracts."""
    info = with_retries(client.futures_exchange_info, attempts=2, what="GET /fapi/v1/exchangeInfo")
    listed = {s["symbol"] for s in info.get("symbols", []) if s.get("status", "TRADING") == "TRADING"}
    return [s for s in symbols if s not in listed]


def symbol_filters(client: Client, symbols: Iterable[str]) -> dict[str, SymbolFilters]:
    """Each symbol's price and quantity rules from one exchangeInfo call."""
    info = with_retries(client.futures_exchange_info, attempts=3, what="GET /fapi/v1/exchangeInfo")
    return {s: SymbolFilters.from_exchange_info(info, s) for s in symbols}


def server_time_ms(client: Client, stop: threading.Event | None = None) -> int:
    return int(with_retries(client.futures_time, stop=stop, what="GET /fapi/v1/time")["serverTime"])


def fetch_kline_rows(
    client: Client,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    stop: threading.Event | None = None,
) -> list[list[Any]]:
    """Raw /fapi/v1/klines rows with open_time in [start_ms, end_ms], paged forward."""
    step = interval_ms(interval)
    rows: list[list[Any]] = []
    cursor = start_ms
    while end_ms is None or cursor <= end_ms:
        params: dict[str, Any] = {
            "symbol": symbol,
            "interval": interval,
            "startTime": cursor,
            "limit": PAGE_LIMIT,
        }
        if end_ms is not None:
            params["endTime"] = end_ms
        page = with_retries(
            lambda p=params: client.futures_klines(**p), stop=stop, what=f"klines {symbol}"
        )
        if not page:
            break
        rows.extend(page)
        if len(page) < PAGE_LIMIT:
            break
        cursor = int(page[-1][0]) + step
    return rows


def closed_candles(
    client: Client,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    now_ms: int | None = None,
    stop: threading.Event | None = None,
) -> list[Candle]:
    """Closed candles only: Binance includes the still-forming candle in klines answers."""
    if now_ms is None:
        now_ms = server_time_ms(client, stop)
    rows = fetch_kline_rows(client, symbol, interval, start_ms, end_ms, stop=stop)
    return [candle_from_rest(symbol, interval, r) for r in rows if int(r[6]) < now_ms]


def to_ms(when: int | float | str | datetime | pd.Timestamp) -> int:
    """ms since epoch from ms, a datetime, or a date string ("2025-01-01", "3 days ago UTC")."""
    if isinstance(when, bool):
        raise TypeError("a time, not a bool")
    if isinstance(when, int | float):
        return int(when)
    if isinstance(when, datetime | pd.Timestamp):
        ts = pd.Timestamp(when)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.value // 1_000_000)
    try:
        return to_ms(pd.Timestamp(when))
    except ValueError:
        ms = convert_ts_str(when)  # python-binance's dateparser path: "1 week ago UTC"
        if ms is None:
            raise ValueError(f"cannot read {when!r} as a time") from None
        return int(ms)


def candles_to_frame(candles: Iterable[Candle]) -> pd.DataFrame:
    """DataFrame indexed by UTC open time with float columns Open, High, Low, Close, Volume."""
    candles = list(candles)
    index = pd.DatetimeIndex(
        pd.to_datetime([c.open_time for c in candles], unit="ms", utc=True), name="Open time"
    )
    return pd.DataFrame(
        {
            "Open": [c.open for c in candles],
            "High": [c.high for c in candles],
            "Low": [c.low for c in candles],
            "Close": [c.close for c in candles],
            "Volume": [c.volume for c in candles],
        },
        index=index,
        dtype="float64",
    )


def historical_klines(
    symbol: str,
    interval: str,
    start: int | str | datetime,
    end: int | str | datetime | None = None,
    *,
    client: Client | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Closed futures candles of one symbol from `start` (to `end`, default now) as a DataFrame."""
    if client is None:
        client = make_client(settings or load_settings())
    candles = closed_candles(
        client, symbol.upper(), interval, to_ms(start), None if end is None else to_ms(end)
    )
    return candles_to_frame(candles)


def paper_funding_rate(settings: Settings) -> Callable[[str, int], Decimal | None]:
    """The paper trader's funding rate at a funding time: the rate Binance settled at that
    time (`GET /fapi/v1/fundingRate` from it), asked once per symbol and funding time.

    Why not premiumIndex's lastFundingRate: that is the rate to be paid at the *next*
    funding time, one period late once the time has passed. Only when the settled row is
    not published yet is it used instead (said in the log). A failure books no funding for
    that time and says so in the log, never stops trading."""
    client = make_client(settings)
    cache: dict[tuple[str, int], Decimal | None] = {}

    def settled(symbol: str, ts: int) -> Decimal | None:
        rows = with_retries(lambda: client.futures_funding_rate(symbol=symbol, startTime=ts, limit=1),
                            attempts=3, what=f"GET /fapi/v1/fundingRate {symbol}")
        # Binance's fundingTime can be a few ms past the hour
        if rows and 0 <= int(rows[0]["fundingTime"]) - ts < 60_000:
            return Decimal(str(rows[0]["fundingRate"]))
        return None

    def rate(symbol: str, ts: int) -> Decimal | None:
        if (symbol, ts) not in cache:
            try:
                got = settled(symbol, ts)
                if got is None:
                    premium = with_retries(lambda: client.futures_mark_price(symbol=symbol), attempts=3,
                                           what=f"GET /fapi/v1/premiumIndex {symbol}")
                    got = Decimal(str(premium["lastFundingRate"]))
                    log.info("funding for %s at %s: no settled rate yet; the current rate %s used",
                             symbol, ts, got)
                cache[(symbol, ts)] = got
            except Exception as e:  # noqa: BLE001 - logged, the candle is still traded
                log.warning("funding rate for %s at %s not booked: %s", symbol, ts, e)
                cache[(symbol, ts)] = None
        return cache[(symbol, ts)]

    return rate
