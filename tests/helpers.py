"""Small test utilities shared by the end-to-end tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from trading.config import Settings, load_settings
from trading.core.events import Event


class RecordingNotifier:
    """Keeps every notice; wait_for blocks on a condition (no sleeps)."""

    def __init__(self) -> None:
        self.notices: list[Event] = []
        self._cond = threading.Condition()

    def notify(self, notice: Event) -> None:
        with self._cond:
            self.notices.append(notice)
            self._cond.notify_all()

    def kinds(self) -> list[str]:
        with self._cond:
            return [n.kind for n in self.notices]

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.notices):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def replay_settings(ex, db_path: str, **extra: str) -> Settings:  # type: ignore[no-untyped-def]
    env = {
        "BINANCE_REST_URL": ex.rest_url,
        "BINANCE_WS_URL": ex.ws_url,
        "DB_PATH": db_path,
        "SYMBOLS": "BTCUSDT",
        "INTERVAL": ex.interval,
        "RECONNECT_DELAY": "0.05",
        "WARMUP_CANDLES": "100",
    }
    env.update(extra)
    return load_settings(environ=env, env_file=None)


def leg_id(db_path: str, proposal: int, n: int = 1) -> str:
    """The client order id a database gives a proposal's leg (it carries the instance id)."""
    from storage.db import open_db
    from storage.state import instance_id
    from trading.live.proposals import leg_id as make

    db = open_db(db_path)
    try:
        return make(instance_id(db), proposal, n)
    finally:
        db.close()


def observe(engine: Any, make: Any) -> Any:
    """A watcher `make()` told every candle after the trader took it in (Engine.watch_candles),
    so a test can wait until a candle is taken in or record each one."""
    watcher = make()
    engine.watch_candles(watcher)
    return watcher


def past_connect(w: Any) -> None:
    """Wait until the trader has taken in a candle that closed after its market socket opened
    (call it once "socket started" is in the chat). A forming candle's updates sent before the
    socket opened never reach the bot (Binance, and the replay, send a new connection the
    next update, not the last one), so until a candle closes on the socket the bot's price
    can be a candle behind the paused replay's: price_taken_in() would wait for an update
    that is never coming (three e2e tests failed so under CI load, 2026-12-07)."""
    assert w.seen.wait(w.source[w.ex.current_index].open_time, timeout=30)


def price_taken_in(w: Any, symbol: str = "BTCUSDT", timeout: float = 10.0) -> bool:
    """Whether the trader's latest price is the paused replay's own (the price a market order
    fills at): the forming candle's update published just before the pause may still be on
    its way to the bot, and a proposal priced before it arrives has drifted by the time it is
    confirmed (MAX_DRIFT_PCT refused a Confirm under load). Before the forming candle's first
    update (k = 0) nothing is on its way: the bot has the last close. Polled: the price has
    no event of its own to wait on."""
    price, k = w.ex.call(lambda: (w.ex.clock.price(symbol), w.ex.clock.k))
    if k == 0:
        return w.engine.last_price(symbol) is not None
    want = Decimal(price)
    deadline = time.monotonic() + timeout
    while w.engine.last_price(symbol) != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def exchange_client(settings: Settings) -> Any:
    """A python-binance client of the test's own on the bot's exchange (its URL and keys), its
    clock aligned with the exchange's as the bot's is: to read or change the account as a
    person would in Binance's app, beside the bot rather than through it."""
    from trading.exchange.rest import make_client

    client = make_client(settings)
    client.timestamp_offset = client.futures_time()["serverTime"] - int(time.time() * 1000)
    return client
