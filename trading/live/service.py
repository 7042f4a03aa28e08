"""The engine: the one object the chat calls into.

Its methods are thread-safe and may block (SQLite reads, joining the stream thread), so
the async chat side calls them through asyncio.to_thread. It owns the stream and the
strategy hook and answers the questions /status and /klines ask. Later features
(confirmations, orders, positions) hang off the same object so the chat never reaches
past it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storage.audit import AuditLog
from storage.db import open_db
from storage.events import EventLog
from storage.guard import FileIdentity
from storage.klines import KlineStore
from storage.state import RuntimeState, instance_id
from trading.config import Settings
from trading.core.candles import Candle, ohlcv_line
from trading.core.events import Notice, Notifier
from trading.core.feed import CandleSink
from trading.core.symbols import SymbolFilters
from trading.core.trader import TraderSnapshot
from trading.exchange.account import AccountRefused, check_account, switch_to_one_way
from trading.exchange.exchange_info import symbol_filters, unknown_symbols
from trading.exchange.rest import ExchangeUnavailable, make_client
from trading.exchange.stream import StreamStatus
from trading.exchange.user_stream import user_stream_for
from trading.live.feed import kline_stream
from trading.live.node import LiveTrading, ParamChange
from trading.live.proposals import Outcome
from trading.live.reports import EngineReports
from trading.live.service_guards import EngineGuards, check_integrity
from trading.live.whatif import Comparison, Optimization, WhatIf
from trading.logsafe import register


class StartRefused(ValueError):
    """The stream cannot start with this configuration; the message says why. `switchable`:
    the account is in Hedge Mode and idle, so an admin may let the bot switch it."""

    def __init__(self, line: str, switchable: bool = False) -> None:
        super().__init__(line)
        self.switchable = switchable


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
    trader: TraderSnapshot | None = None
    clock_offset_ms: int | None = None  # Binance's clock minus this host's (exchange modes)
    paused: frozenset[str] = frozenset()


class CandleAnnouncer:
    """NOTIFY_CANDLES=1: the trader, plus a notice for every closed candle."""

    def __init__(
        self, sink: CandleSink, notifier: Notifier, filters: Callable[[str], SymbolFilters | None]
    ) -> None:
        self._sink, self._notifier, self._filters = sink, notifier, filters
        self.cursor, self.warmup, self.warm = sink.cursor, sink.warmup, sink.warm
        self.on_forming = sink.on_forming
        self.caught_up = getattr(sink, "caught_up", lambda: None)

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        self._sink.on_candle(candle, backfilled)
        if backfilled:  # a long outage would otherwise post one message per missed candle
            return
        f = self._filters(candle.symbol)
        line = ohlcv_line(candle, f.fmt_price, f.fmt_qty) if f else ohlcv_line(candle)
        text = f"{candle.symbol} {candle.interval} closed {candle.opened_at:%Y-%m-%d %H:%M} UTC · " + line
        self._notifier.notify(Notice("candle_closed", text, {"candle": candle, "backfilled": backfilled}))


class Engine(EngineGuards, EngineReports):
    def __init__(self, settings: Settings, notifier: Notifier) -> None:
        # Before anything is written or said: every boundary masks these (trading/logsafe.py).
        register([settings.telegram_token, settings.binance_api_key, settings.binance_api_secret])
        check_integrity(settings.db_path, notifier)  # before anything reads the file
        self.settings = settings
        self.notifier = notifier
        self._filters: dict[str, SymbolFilters] = {}
        self._filters_lock = threading.Lock()
        self.live = LiveTrading(settings, notifier, self.symbol_filters)
        if self.live.confirmations is not None:  # proposal deadlines by the market's clock
            self.live.confirmations.market_offset = self.market_offset_ms
        self.whatif = WhatIf(settings, lambda: self._klines(), lambda: self.live.values, self.symbol_filters,
                             strategy=lambda: self.live.strategy)
        self.trader = self.live.trader
        self.live.live_price = self.live_price
        sink = CandleAnnouncer(self.trader, notifier, self.symbol_filters) if settings.notify_candles else self.trader
        self.stream = kline_stream(settings, notifier, sink)
        self.user_stream = user_stream_for(settings, notifier, self.live.follower)  # demo/live: account events
        self._local = threading.local()
        self._born = time.monotonic()  # /health's uptime: since this bot started
        self._symbols_checked = False
        # Create/migrate the schema now, so a bad DB_PATH fails at start, not on /start.
        db = open_db(settings.db_path)
        self._identity = FileIdentity.of(settings.db_path, db)
        self._instance = instance_id(db)  # read once here, never on the chat's event loop
        db.close()
        self.halted: str | None = None  # why trading stopped for good in this run

    # ------------------------------------------------------------- control
    def start(self) -> bool:
        """True if the stream started, False if it was already running.

        Raises StartRefused when the exchange says a configured symbol does not exist
        (checked once; if the exchange cannot be reached the stream starts and retries).
        """
        if self.check_database():
            raise StartRefused(self.halted or "")
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
        self._check_account()
        self._state().set("stream", "on")
        self._reconcile()
        self.user_stream.start()
        return self.stream.start()

    def _check_account(self) -> None:
        """demo/live: the clock measured, Hedge Mode refused, Multi-Assets explained."""
        try:
            if self.live.exchange:
                check_account(self.trader.broker, lambda line: self.notifier.notify(Notice("account_mode", line)))
        except AccountRefused as e:
            raise StartRefused(str(e), e.switchable) from None

    def switch_to_one_way(self, user_id: int | None) -> str:
        """An admin's button: Hedge Mode → One-way (Binance refuses it with positions or
        open orders); audited; the line says what happened."""
        broker = self.trader.broker
        line = switch_to_one_way(broker.client) if self.live.exchange else "paper mode has no account mode"
        self.audit(None, user_id, "position_mode", "one-way", line)
        return line

    def stop(self) -> bool:
        """True if it was running and is now stopped, False if it was not running. The
        market stream only: the account stream (demo/live) keeps following the account, so
        an exit that fills on the exchange meanwhile is booked and told at once (issue 26)."""
        self._state().set("stream", "off")
        return self.stream.stop()

    def resume_stream(self) -> bool:
        """At the bot's start: the account stream (demo/live) always, the market stream
        again if the last request was /start."""
        if self._state().get("stream") != "on":
            self.user_stream.start()  # the account is followed whenever the bot runs
        if self._state().get("stream") == "on":
            try:
                self._check_account()
            except StartRefused as e:
                self.notifier.notify(Notice("account_mode", f"stream not resumed: {e}"))
                return False
            self._reconcile()
            self.user_stream.start()
            return self.stream.start(why="resume")
        return False

    def _reconcile(self) -> None:
        """Exchange modes: the exchange is the truth for positions and for orders a crash
        left unsettled; say what changed. If it cannot be asked, say so and go on streaming
        (placing stays safe: every order is keyed by its client id)."""
        try:
            lines = self.live.reconcile()
        except Exception as e:  # noqa: BLE001 (any failure here is reported, never fatal)
            lines = [f"could not reconcile with the exchange ({type(e).__name__}); check /status before trading"]
        for line in lines:
            self.notifier.notify(Notice("reconciled", f"reconcile: {line}"))

    def pause(self, reason: str, by: int | None) -> bool:
        """No new entries (strategy or manual) while any reason is set; closes, exits and the
        stream go on. True if `reason` was not set before. Kept across restarts; audited."""
        changed = self.live.pause.add(reason)
        self.audit(None, by, "pause", reason, "paused" if changed else "already paused")
        return changed

    def resume(self, reason: str, by: int | None) -> bool:
        """Lift one reason; entries are allowed again once no reason is left. True if it was set."""
        changed = self.live.pause.remove(reason)
        left = self.live.pause.reasons()
        self.audit(None, by, "resume", reason, ("resumed" if not left else f"still paused: {', '.join(sorted(left))}") if changed else "was not paused")
        return changed

    def paused_reasons(self) -> frozenset[str]:
        return self.live.pause.reasons()

    def close(self) -> None:
        """Shutdown: stop the streams (the account stream too) but keep the operator's wish
        for the next start (said as "bot stopping", not as a /stop)."""
        self.user_stream.stop()
        self.user_stream.close_key()
        self.stream.stop(why="shutdown")

    # ------------------------------------------------------------- questions
    def status(self) -> EngineStatus:
        st = self.stream.status()
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        reconnects = self._events().count("reconnect", int(midnight.timestamp() * 1000))
        snap = self.trader.snapshot()
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
            positions=[self._position_line(p) for p in snap.positions],
            pending=[f"{r.side} {r.symbol} ({r.kind}) at the next open" for r in snap.pending]
            + [f"#{p.id} {p.action} {p.symbol} ({p.status})" for p in self.open_proposals()],
            trader=snap,
            paused=self.paused_reasons(),
            clock_offset_ms=self.clock_offset_ms(),
        )

    def clock_offset_ms(self) -> int | None:
        """Binance's clock minus this host's, as last measured (at /start, then before an
        order every 10 minutes); None in paper mode or before the first measurement."""
        return getattr(self.trader.broker, "clock_offset_ms", None)

    def _position_line(self, p: Any) -> str:
        f = self.symbol_filters(p.symbol)
        price = f.fmt_price if f else str
        qty = f.fmt_qty if f else str
        exits = "".join(
            f" · {name} {price(level)}" for name, level in (("SL", p.stop), ("TP", p.take), ("liq", p.liq)) if level is not None
        )
        return (
            f"{p.side} {qty(p.qty)} {p.symbol} @ {price(p.entry)} · mark {price(p.mark)} · "
            f"uPnL {p.unrealized.quantize(Decimal('0.01')):+} USDT · {p.leverage}x{exits}"
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

    # ------------------------------------------------------------- orders and confirmations
    def propose_order(self, action: str, symbol: str | None, qty: Decimal | None, user_id: int | None) -> Any:
        """/long, /short, /close: a Proposal to confirm, or an Outcome (placed at once, or why not)."""
        symbol = (symbol or self.settings.symbols[0]).upper()
        if symbol not in self.settings.symbols:
            raise ValueError(f"{symbol} is not traded (SYMBOLS={','.join(self.settings.symbols)})")
        if self.check_database():
            return Outcome(False, f"Not proposed: {self.halted}")
        return self.live.propose_order(action, symbol, qty, user_id)

    def params(self) -> tuple[Any, dict[str, int | float]]:
        """(schema, current values): what /params shows."""
        return self.live.schema, dict(self.live.values)

    def set_params(self, changes: dict[str, str], user_id: int | None) -> list[ParamChange]:
        """All or none, from the next closed candle; raises ParamError with the reason."""
        return self.live.set_params(changes, user_id)

    @property
    def strategy(self) -> str:
        """The strategy trading now (STRATEGY, or the one chosen with /strategy)."""
        return self.live.strategy

    def switch_strategy(self, name: str, changes: dict[str, str], user_id: int | None) -> Any:
        """/strategy NAME [name=value …]: a Switch, or ParamError with the reason (nothing changed)."""
        return self.live.switch_strategy(name, changes, user_id)

    # ------------------------------------------------------------- what-if (trading/live/whatif.py)
    def backtest(self, days: int, changes: dict[str, str], say: Callable[[str], None],
                 strategy: str | None = None) -> Comparison:
        """Current vs given parameters (of `strategy`, default the current one) over the last
        `days` (missing candles fetched first)."""
        return self.whatif.backtest(days, changes, say, strategy=strategy)

    def optimize(
        self, grid: list[str], days: int, metric: str, say: Callable[[str], None], *, max_cells: int,
        strategy: str | None = None,
    ) -> Optimization:
        """A parameter grid over the last `days`; the best cells re-run through the backtest."""
        return self.whatif.optimize(grid, days, metric, say, max_cells=max_cells, strategy=strategy)

    def apply_candidate(self, key: str, user_id: int | None) -> list[ParamChange]:
        """A set offered behind an Apply button, through /set's validated, audited path;
        KeyError if it is no longer known (the bot restarted since)."""
        changes = self.whatif.candidate(key)
        if changes is None:
            raise KeyError(key)
        return self.set_params(changes, user_id)

    # ------------------------------------------------------------- charts and reports
    # (trading/charts/reports.py; imported on demand so a headless run never loads matplotlib)
    def chart(self, n: int, symbol: str | None = None) -> bytes | None:
        """PNG of the last n candles with indicators, fills and the position; None if none stored."""
        from trading.charts.reports import candle_png

        return candle_png(self, n, symbol)

    def equity_chart(self) -> Any:
        """An EquityReport (PNG and the numbers), or None before the first fill."""
        from trading.charts.reports import equity_png

        return equity_png(self)

    def daily_report(self, day: Any = None) -> Any:
        """A DailyReport for a UTC day (default: yesterday)."""
        from trading.charts.reports import daily_report, previous_utc_day

        return daily_report(self, day or previous_utc_day())

    def events(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._events().recent(limit)

    def audit(self, chat_id: int | None, user_id: int | None, action: str, detail: str, outcome: str) -> None:
        """Every control request and refusal is kept, with who asked (no secrets in detail)."""
        AuditLog(self._conn()).record(chat_id, user_id, action, detail, outcome)

    def audit_log(self, limit: int = 20) -> list[dict[str, Any]]:
        return AuditLog(self._conn()).recent(limit)

    def remembered(self, key: str) -> str | None:
        """A small durable fact the chat side keeps across restarts (runtime_state)."""
        return self._state().get(f"chat.{key}")

    def remember(self, key: str, value: str) -> None:
        self._state().set(f"chat.{key}", value)

    # ------------------------------------------------------------- stream thread side
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
