"""The engine: the one object the chat calls into.

Its methods are thread-safe and may block (SQLite reads, joining the stream thread), so
the async chat side calls them through asyncio.to_thread. It owns the stream and the
strategy hook and answers the questions /status and /klines ask. Later features
(confirmations, orders, positions) hang off the same object so the chat never reaches
past it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.audit import AuditLog
from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from storage.state import RuntimeState
from trading.candles import Candle, ohlcv_line
from trading.config import Settings
from trading.market import ExchangeUnavailable, make_client, symbol_filters, unknown_symbols
from trading.notifier import Notice, Notifier
from trading.strategies import NoStrategy, Strategy
from trading.stream import KlineStream, StreamStatus
from trading.symbols import SymbolFilters


class StartRefused(ValueError):
    """The stream cannot start with this configuration; the message says why."""


@dataclass
class EngineStatus:
    mode: str
    symbols: tuple[str, ...]
    interval: str
    stream: StreamStatus
    reconnects_today: int
    last_closed: dict[str, Candle]
    positions: list[str]
    pending: list[str]


class _StrategySink:
    """The strategy hook on the feed contract until the trader takes over: never decided
    (cursor None), so it warms on the latest candles and decides from the next close."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def cursor(self, symbol: str) -> int | None:
        return None

    def warmup(self, symbol: str) -> int:
        return self._engine.settings.warmup_candles

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        pass

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        self._engine._on_closed_candle(candle, backfilled)

    def on_forming(self, candle: Candle) -> None:
        pass


class Engine:
    def __init__(
        self, settings: Settings, notifier: Notifier, strategy: Strategy | None = None
    ) -> None:
        self.settings = settings
        self.notifier = notifier
        self.strategy: Strategy = strategy or NoStrategy()
        if self.strategy.warmup > settings.warmup_candles:
            settings = settings.with_overrides(warmup_candles=self.strategy.warmup)
            self.settings = settings
        self.stream = KlineStream(settings, notifier, _StrategySink(self))
        self._local = threading.local()
        self._symbols_checked = False
        self._filters: dict[str, SymbolFilters] = {}
        self._filters_lock = threading.Lock()
        # Create/migrate the schema now, so a bad DB_PATH fails at start, not on /start.
        open_db(settings.db_path).close()

    # ------------------------------------------------------------- control
    def start(self) -> bool:
        """True if the stream started, False if it was already running.

        Raises StartRefused when the exchange says a configured symbol does not exist
        (checked once; if the exchange cannot be reached the stream starts and retries).
        """
        if self.stream.running:
            return False
        if not self._symbols_checked:
            try:
                bad = unknown_symbols(make_client(self.settings), self.settings.symbols)
            except ExchangeUnavailable:
                bad = []
            else:
                self._symbols_checked = True
            if bad:
                self._symbols_checked = False
                raise StartRefused(
                    f"SYMBOLS: {', '.join(bad)} not listed as a trading USDⓈ-M contract on "
                    f"{self.settings.binance_rest_url}"
                )
        self._state().set("stream", "on")
        return self.stream.start()

    def stop(self) -> bool:
        """True if it was running and is now stopped, False if it was not running."""
        self._state().set("stream", "off")
        return self.stream.stop()

    def resume(self) -> bool:
        """After a restart: start the stream again if the last request was /start."""
        if self._state().get("stream") == "on":
            return self.stream.start()
        return False

    def close(self) -> None:
        """Shutdown: stop the stream but keep the operator's wish for the next start."""
        self.stream.stop()

    # ------------------------------------------------------------- questions
    def status(self) -> EngineStatus:
        st = self.stream.status()
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        reconnects = self._events().count("reconnect", int(midnight.timestamp() * 1000))
        last_closed = dict(st.last_closed)
        for symbol in self.settings.symbols:
            if symbol not in last_closed:
                rows = self._klines().latest(symbol, self.settings.interval, 1)
                if rows:
                    last_closed[symbol] = Candle.from_row(rows[0])
        return EngineStatus(
            mode=self.settings.trading_mode,
            symbols=self.settings.symbols,
            interval=self.settings.interval,
            stream=st,
            reconnects_today=reconnects,
            last_closed=last_closed,
            positions=[],
            pending=[],
        )

    def klines(self, n: int, symbol: str | None = None) -> list[Candle]:
        """The last n stored closed candles of a symbol (default: the first configured)."""
        symbol = (symbol or self.settings.symbols[0]).upper()
        if symbol not in self.settings.symbols:
            raise ValueError(
                f"{symbol} is not streamed (SYMBOLS={','.join(self.settings.symbols)})"
            )
        rows = self._klines().latest(symbol, self.settings.interval, n)
        return [Candle.from_row(r) for r in rows]

    def symbol_filters(self, symbol: str | None = None) -> SymbolFilters | None:
        """The symbol's exchangeInfo rules (cached after the first answer); None while the
        exchange cannot be reached, so callers fall back to plain number formatting."""
        symbol = (symbol or self.settings.symbols[0]).upper()
        with self._filters_lock:
            if symbol not in self._filters:
                try:
                    self._filters.update(symbol_filters(make_client(self.settings), self.settings.symbols))
                except (ExchangeUnavailable, KeyError):
                    return None
            return self._filters.get(symbol)

    def events(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._events().recent(limit)

    def audit(self, chat_id: int | None, user_id: int | None, action: str, detail: str, outcome: str) -> None:
        """Every control request and refusal is kept, with who asked (no secrets in detail)."""
        AuditLog(self._conn()).record(chat_id, user_id, action, detail, outcome)

    def audit_log(self, limit: int = 20) -> list[dict[str, Any]]:
        return AuditLog(self._conn()).recent(limit)

    # ------------------------------------------------------------- stream thread side
    def _on_closed_candle(self, candle: Candle, backfilled: bool = False) -> None:
        if self.settings.notify_candles and not backfilled:  # a catch-up is one notice, not N
            self.notifier.notify(
                Notice(
                    "candle_closed",
                    f"{candle.symbol} {candle.interval} closed {candle.opened_at:%Y-%m-%d %H:%M} UTC · "
                    + ohlcv_line(candle),
                    {"candle": candle},
                )
            )
        signal = self.strategy.on_candle(candle, self.stream.history(candle.symbol))
        if signal is not None:
            self.notifier.notify(
                Notice(
                    "signal",
                    f"signal {signal.side} {signal.symbol}: {signal.reason}",
                    {"signal": signal},
                )
            )

    # ------------------------------------------------------------- per-thread storage
    def _conn(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.settings.db_path)
        return db

    def _klines(self) -> KlineStore:
        return KlineStore(self._conn())

    def _events(self) -> EventLog:
        return EventLog(self._conn())

    def _state(self) -> RuntimeState:
        return RuntimeState(self._conn())
