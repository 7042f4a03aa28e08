"""The service: the one object the chat calls into (the only trading module bot/ imports,
with the few names it re-exports for the chat, listed in __all__).

Its methods are thread-safe and may block (SQLite reads, joining the stream thread), so the
async chat side calls them through asyncio.to_thread. The object graph is built once by
trading/live/node.py; this holds the parts and answers for them: control (start, stop,
pause), the questions /status and /klines ask, orders and confirmations (live/orders.py),
parameters (live/params.py), the what-if (live/whatif.py), the money views and /health
(live/reports.py), the audit log and the chat's small durable facts. Tests and benches use the
same seams, plus the read-only ones at the end (`position`, `snapshot`, `funding_payments`,
`wait_stream`, `watch_candles` to wait for a candle, …) and `set_clock`, `catch_up_account`;
nothing reaches under the service (tests/test_layout.py holds it).
It is over 400 lines because it is the one facade: one short method per thing the chat asks,
each handing over to the part that owns the answer (no layer of pass-throughs below it).
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from trading.config import Settings
from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.events import Notifier, Reconciled, StorageFault, StreamNotResumed
from trading.core.portfolio import ClosedTrade, Fill, Position
from trading.core.protections import ProtectionsView
from trading.core.reasons import Reason, What
from trading.core.snapshot import PositionView
from trading.core.symbols import SymbolFilters
from trading.core.trader import TraderSnapshot
from trading.exchange.account import (
    AccountRefused,
    ModeSwitch,
    SwitchResult,
    check_account,
    switch_to_one_way,
)
from trading.exchange.exchange_info import unknown_symbols
from trading.exchange.rest import ExchangeUnavailable, make_client
from trading.exchange.stream import StreamStatus
from trading.live.answers import Answer, Kind, Placed
from trading.live.feed import CandleWatcher
from trading.live.four_eyes import FourEyes
from trading.live.health import Health, UserStreamState, effective_settings, version
from trading.live.node import build
from trading.live.params import CheckRefused, ParamChange, Switch, available
from trading.live.proposals import Outcome, Proposal
from trading.live.recovery import Adopted, ForeignOrders, NotReconciled, Settled
from trading.live.store import stored_fills
from trading.live.strategy_check import CheckReport, CheckState, StrategyRefused
from trading.live.whatif import Comparison, LeftOut, Optimization, Period, Say, Step
from trading.optimize import METRICS, GridError
from trading.optimize.report import best_table, cell_label, fmt_value, summary_line

# What bot/ may import from here besides the service itself (tests/test_layout.py holds it).
__all__ = [
    "METRICS", "Adopted", "Answer", "CheckRefused", "CheckState", "Comparison", "Engine", "EngineStatus", "ForeignOrders", "FourEyes", "GridError", "Kind", "LeftOut", "ModeSwitch",
    "NotReconciled", "Optimization", "Outcome", "ParamChange", "Period", "Placed", "Proposal", "Settled", "StartRefused", "Step", "StrategyRefused", "Switch", "SwitchResult",
    "UserStreamState", "available", "best_table", "cell_label", "effective_settings", "fmt_value",
    "summary_line", "version",
]


@dataclass(frozen=True)
class AccountStatus:
    """The account stream's state, for tests, benches and /health-like checks."""

    running: bool
    connected: bool
    connects: int  # connections opened since the bot started
    events: int  # account events received
    key: str | None  # the listenKey in use (None between keys)
    booked: int = 0  # fills the account follower booked (the stream's and its catch-ups'), each once


class StartRefused(ValueError):
    """The stream cannot start with this configuration; `reason` says why (core/reasons.py,
    worded by bot/texts.reason_line). `switchable`: the account is in Hedge Mode and idle,
    so an admin may let the bot switch it."""

    def __init__(self, reason: Reason | str, switchable: bool = False) -> None:
        self.reason = reason if isinstance(reason, Reason) else Reason.said(reason)
        super().__init__(str(self.reason))
        self.switchable = switchable


@dataclass
class EngineStatus:
    mode: str
    symbols: tuple[str, ...]
    interval: str
    stream: StreamStatus
    reconnects_today: int
    last_closed: dict[str, Candle]
    positions: list[PositionView]  # worded by bot/texts.position_line
    pending: list[OrderRequest]  # orders decided for the next open (bot/texts.pending_lines)
    trader: TraderSnapshot | None = None
    clock_offset_ms: int | None = None  # Binance's clock minus this host's (exchange modes)
    paused: frozenset[str] = frozenset()
    strategy_check: CheckState | None = None  # the start's strategy check while it runs, or its refusal
    locks: dict[str, dict[str, Any]] = field(default_factory=dict)  # symbol → {"until": ms, "why": name} (issue 29)
    proposals: list[Proposal] = field(default_factory=list)  # open proposals, waiting for Confirm
    account_mode: Reason | None = None  # the account's position mode is not the book's (issue 28): no order is sent


class Engine:
    def __init__(self, settings: Settings, notifier: Notifier) -> None:
        node = build(settings, notifier)
        self.settings = settings
        self.notifier = notifier
        self.mode = node.mode
        self._node = node
        self._db = node.db
        self._orders = node.orders
        self._params = node.params
        self._reports = node.reports
        self._whatif = node.whatif
        self._guard = node.guard
        self._pause = node.pause
        self._trader = node.trader
        self._stream = node.stream
        self._user_stream = node.user_stream
        self._start_check = node.start_check
        self._symbols_checked = False

    # ------------------------------------------------------------- control
    def start(self) -> bool:
        """True if the stream started, False if it was already running.

        Raises StartRefused when the exchange says a configured symbol does not exist
        (checked once; if the exchange cannot be reached the stream starts and retries).
        """
        if (halt := self.check_database()) is not None:
            raise StartRefused(halt.reason)
        if self._stream.running:
            return False
        self._start_check.wait()  # the first decision waits for the start's strategy check (bounded)
        if not self._symbols_checked:
            try:
                bad = unknown_symbols(make_client(self.settings), self.settings.symbols)
            except ExchangeUnavailable:
                bad = []
            else:
                self._symbols_checked = True
            if bad:
                self._symbols_checked = False
                raise StartRefused(Reason(What.UNLISTED, text=self.settings.binance_rest_url, names=tuple(bad)))
        self._check_account()
        self._db.state().set("stream", "on")
        self._reconcile()
        self._user_stream.start()
        return self._stream.start()

    def _check_account(self) -> None:
        """demo/live: the clock measured, Hedge Mode refused, Multi-Assets explained."""
        try:
            if self.mode.exchange:
                hedge = check_account(self._node.broker, self.notifier.notify, hedge_mode=self.settings.hedge_mode)
                switched = None if hedge is None else self._node.trader.follow_mode(hedge, running=False)
                if switched is not None and not switched.again:
                    raise StartRefused(switched.reason)
                if switched is not None:  # the account is back in the book's mode: said, and trading goes on
                    self.notifier.notify(switched)
        except AccountRefused as e:
            raise StartRefused(e.reason, e.switchable) from None

    def check_position_mode(self) -> bool:
        """demo/live, while the account stream runs: the account's position mode read again
        (GET positionSide/dual) against the book's, a change said once: the periodic check,
        beside the account stream's config event and every reconnect (Binance has been seen
        to send nothing for a mode switched in its app). True if it was asked."""
        follower = self._node.follower
        if follower is None or not self._user_stream.running:
            return False
        follower.check_mode()
        return True

    def switch_to_one_way(self, user_id: int | None) -> ModeSwitch:
        """An admin's button: Hedge Mode → One-way (Binance refuses it with positions or
        open orders); audited; what happened (bot/texts.switch_line words it)."""
        broker: Any = self._node.broker
        done = switch_to_one_way(broker.client) if self.mode.exchange else ModeSwitch(SwitchResult.PAPER)
        self.audit(None, user_id, "position_mode", "one-way", done.outcome())
        return done

    def stop(self) -> bool:
        """True if it was running and is now stopped, False if it was not running. The
        market stream only: the account stream (demo/live) keeps following the account, so
        an exit that fills on the exchange meanwhile is booked and told at once (issue 26)."""
        self._db.state().set("stream", "off")
        return self._stream.stop()

    def resume_stream(self) -> bool:
        """At the bot's start: the account stream (demo/live) always, the market stream
        again if the last request was /start."""
        if self._db.state().get("stream") != "on":
            self._user_stream.start()  # the account is followed whenever the bot runs
        if self._db.state().get("stream") == "on":
            self._start_check.wait()  # the first decision waits for the start's strategy check (bounded)
            try:
                self._check_account()
            except StartRefused as e:
                self.notifier.notify(StreamNotResumed(e.reason))
                return False
            self._reconcile()
            self._user_stream.start()
            return self._stream.start(why="resume")
        return False

    def _reconcile(self) -> None:
        """Exchange modes: the exchange is the truth for positions and for orders a crash
        left unsettled; say what changed. If it cannot be asked, say so and go on streaming
        (placing stays safe: every order is keyed by its client id)."""
        try:
            said = self._node.recovery.reconcile()
        except Exception as e:  # noqa: BLE001 (any failure here is reported, never fatal)
            said = [NotReconciled(type(e).__name__)]
        for item in said:  # bot/texts.py words each (a log without a chat shows its fields)
            self.notifier.notify(Reconciled(item))

    def pause(self, reason: str, by: int | None) -> bool:
        """No new entries (strategy or manual) while any reason is set; closes, exits and the
        stream go on. True if `reason` was not set before. Kept across restarts; audited."""
        changed = self._pause.add(reason)
        self.audit(None, by, "pause", reason, "paused" if changed else "already paused")
        return changed

    def resume(self, reason: str, by: int | None) -> bool:
        """Lift one reason; entries are allowed again once no reason is left. True if it was set.
        An admin's /resume also lifts the protections' halts (daily_loss, drawdown: issue 29)."""
        lifted = self._trader.guard.resume() if reason == "admin" else []
        for name in lifted:
            self.audit(None, by, "resume", name, "lifted")
        changed = self._pause.remove(reason) or bool(lifted)
        left = self._pause.reasons()
        self.audit(None, by, "resume", reason, ("resumed" if not left else f"still paused: {', '.join(sorted(left))}") if changed else "was not paused")
        return changed

    def paused_reasons(self) -> frozenset[str]:
        """The pause's reasons and the protections' halts (daily_loss, drawdown)."""
        return self._pause.reasons() | self._trader.guard.halts()

    def protections(self) -> ProtectionsView | None:
        """/protections: the settings, today's net and the drawdown against their limits,
        the halts and the active locks; None when every protection is off."""
        return self._trader.guard.view()

    def unlock(self, symbol: str | None, by: int | None) -> list[str]:
        """/unlock SYMBOL or all (None): the symbols whose lock was lifted; audited."""
        lifted = self._trader.guard.unlock(symbol)
        self.audit(None, by, "unlock", symbol or "all", ("unlocked " + ", ".join(lifted)) if lifted else "no active lock")
        return lifted

    def close(self) -> None:
        """Shutdown: stop the streams (the account stream too) but keep the operator's wish
        for the next start (said as "bot stopping", not as a /stop)."""
        self._user_stream.stop()
        self._user_stream.close_key()
        self._stream.stop(why="shutdown")

    # ------------------------------------------------------------- questions
    def status(self) -> EngineStatus:
        st = self._stream.status()
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        reconnects = self._db.events().count("reconnect", int(midnight.timestamp() * 1000))
        snap = self._trader.snapshot()
        last_closed = dict(st.last_closed)
        for symbol, candle in self._reports.last_closed().items():
            last_closed.setdefault(symbol, candle)
        return EngineStatus(
            mode=self.mode.name,
            symbols=self.settings.symbols,
            interval=self.settings.interval,
            stream=st,
            reconnects_today=reconnects,
            last_closed=last_closed,
            positions=list(snap.positions),
            pending=list(snap.pending),
            proposals=self.open_proposals(),
            trader=snap,
            paused=self.paused_reasons(),
            clock_offset_ms=self.clock_offset_ms(),
            strategy_check=self._start_check.state(self._params.strategy),
            locks=view.locks if (view := self.protections()) is not None else {},
            account_mode=self._trader.position_mode.mismatch,
        )

    def clock_offset_ms(self) -> int | None:
        """Binance's clock minus this host's, as last measured (at /start, then before an
        order every 10 minutes); None in paper mode or before the first measurement."""
        return self._node.clock.broker_offset()

    def klines(self, n: int, symbol: str | None = None) -> list[Candle]:
        """The last n stored closed candles of a symbol (default: the first configured)."""
        symbol = (symbol or self.settings.symbols[0]).upper()
        if symbol not in self.settings.symbols:
            raise ValueError(
                f"{symbol} is not streamed (SYMBOLS={','.join(self.settings.symbols)})"
            )
        return self._db.latest(symbol, self.settings.interval, n)

    def symbol_filters(self, symbol: str | None = None) -> SymbolFilters | None:
        """The symbol's exchangeInfo rules (cached after the first answer); None while the
        exchange cannot be reached, so callers fall back to plain number formatting."""
        return self._node.rules.lookup(symbol)

    # ------------------------------------------------------------- orders and confirmations (live/orders.py)
    def propose_order(self, action: str, symbol: str | None, qty: Decimal | None, user_id: int | None,
                      typed: str | None = None) -> Proposal | Outcome:  # fmt: skip
        """/long, /short, /close: a Proposal to confirm, or an Outcome (placed at once, or why not);
        `typed`: the command as typed when it is not this order's own (/close all)."""
        return self._orders.propose_order(action, symbol, qty, user_id, typed)

    def confirm(
        self, proposal_id: int, user_id: int | None, who: str | None = None, message: tuple[int, int] | None = None
    ) -> Outcome:
        return self._orders.confirm(proposal_id, user_id, who, message)

    def reject(self, proposal_id: int, user_id: int | None, who: str, message: tuple[int, int] | None = None) -> Outcome:
        return self._orders.reject(proposal_id, user_id, who, message)

    def reject_all(self, up_to: int, user_id: int | None, who: str) -> list[Proposal]:
        return self._orders.reject_all(up_to, user_id, who)

    def proposal(self, proposal_id: int) -> Proposal | None:
        return self._orders.proposal(proposal_id)

    def approvals(self, proposal_id: int) -> list[str]:
        return self._orders.approvals(proposal_id)

    def open_proposals(self) -> list[Proposal]:
        return self._orders.open_proposals()

    def set_proposal_message(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        self._orders.set_proposal_message(proposal_id, chat_id, message_id)

    def expire_proposals(self) -> int:
        return self._orders.expire_proposals()

    def live_price(self, symbol: str) -> Decimal | None:
        return self._orders.live_price(symbol)

    def market_offset_ms(self) -> int | None:
        return self._node.clock.offset_ms()

    @property
    def instance_id(self) -> str:
        """This database's identity (storage.state.instance_id): carried by proposal buttons,
        so a button made for another database's proposal #7 never acts on this one's #7."""
        return self._node.instance  # read at build, never on the chat's event loop

    def check_database(self) -> StorageFault | None:
        """Why trading stopped once DB_PATH no longer names the file the bot started on
        (live/guard.py); None while it does."""
        return self._guard.check()

    @property
    def halted(self) -> StorageFault | None:
        """Why trading stopped for good in this run."""
        return self._guard.halted

    # ------------------------------------------------------------- strategy parameters (live/params.py)
    def params(self) -> tuple[Any, dict[str, int | float]]:
        """(schema, current values): what /params shows."""
        return self._params.schema, dict(self._params.values)

    def set_params(self, changes: dict[str, str], user_id: int | None) -> list[ParamChange]:
        """All or none, from the next closed candle; raises ParamError with the reason."""
        return self._params.set_params(changes, user_id)

    @property
    def strategy(self) -> str:
        """The strategy trading now (STRATEGY, or the one chosen with /strategy)."""
        return self._params.strategy

    def switch_strategy(self, name: str, changes: dict[str, str], user_id: int | None,
                        progress: Callable[[int, int], None] | None = None) -> Switch:  # fmt: skip
        """/strategy NAME [name=value …]: a Switch, or ParamError with the reason (nothing changed);
        `progress(done, planned)` while its check compares end candles."""
        return self._params.switch_strategy(name, changes, user_id, progress)

    # ------------------------------------------------------------- what-if (trading/live/whatif.py)
    def check_backtest(self, changes: dict[str, str], strategy: str | None = None) -> Any:
        """/backtest's parameters checked before anything is posted or fetched (ParamError/ValueError)."""
        return self._whatif.check_changes(changes, strategy)

    def check_optimize(self, grid: list[str], max_cells: int, strategy: str | None = None) -> Any:
        """/optimize's grid checked before anything is posted or fetched (GridError/ParamError)."""
        return self._whatif.check_grid(grid, max_cells, strategy)

    def backtest(self, days: int, changes: dict[str, str], say: Say,
                 strategy: str | None = None) -> Comparison:
        """Current vs given parameters (of `strategy`, default the current one) over the last
        `days` (missing candles fetched first)."""
        return self._whatif.backtest(days, changes, say, strategy=strategy)

    def backtest_chart(self, cmp: Comparison, title: str, subtitle: str) -> bytes:
        """The PNG of a /backtest's shown column (its equity), titled in the chat's words."""
        return self._whatif.chart(cmp, title, subtitle)

    def optimize_chart(self, opt: Optimization, title: str, subtitle: str) -> bytes:
        """The PNG of an /optimize grid (its heatmap), titled in the chat's words."""
        return self._whatif.heatmap(opt, title, subtitle)

    def optimize(
        self, grid: list[str], days: int, metric: str, say: Say, *, max_cells: int,
        strategy: str | None = None,
    ) -> Optimization:
        """A parameter grid over the last `days`; the best cells re-run through the backtest."""
        return self._whatif.optimize(grid, days, metric, say, max_cells=max_cells, strategy=strategy)

    def apply_candidate(self, key: str, user_id: int | None) -> list[ParamChange]:
        """A set offered behind an Apply button, through /set's validated, audited path;
        KeyError if it is no longer known (the bot restarted since)."""
        changes = self._whatif.candidate(key)
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
        return self._db.events().recent(limit)

    def audit(self, chat_id: int | None, user_id: int | None, action: str, detail: str, outcome: str) -> None:
        """Every control request and refusal is kept, with who asked (no secrets in detail)."""
        self._db.audit().record(chat_id, user_id, action, detail, outcome)

    def audit_log(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._db.audit().recent(limit)

    def remembered(self, key: str) -> str | None:
        """A small durable fact the chat side keeps across restarts (runtime_state)."""
        return self._db.state().get(f"chat.{key}")

    def remember(self, key: str, value: str) -> None:
        self._db.state().set(f"chat.{key}", value)

    # ------------------------------------------------------------- money views and /health (live/reports.py)
    def pnl(self, period: str, moment: Any = None) -> Any:
        """/pnl's summary of a period; `moment` (from `moment()`): of that instant."""
        return self._reports.pnl(period, moment)

    def moment(self) -> tuple[TraderSnapshot, Any]:
        """The book's snapshot and its ledger read together (one instant: a view built of
        both never shows a price or a fill apart)."""
        return self._reports.moment()

    def pnl_periods(self, unit: str, n: int) -> list[Any]:
        """/daily, /weekly, /monthly: closed trades per UTC period, newest first."""
        return self._reports.pnl_periods(unit, n)

    def performance(self) -> list[Any]:
        return self._reports.performance()

    def ledger(self) -> Any:
        """The one ledger every money view reads (trading/core/ledger.py), a copy."""
        return self._reports.ledger()

    def recent_fills(self, n: int) -> list[Any]:
        return self._reports.recent_fills(n)

    def recent_trades(self, n: int) -> list[Any]:
        """/trades: the last n fills, each with what it did (open, add, reduce, close, reverse)."""
        return self._reports.recent_trades(n)

    def wallet(self) -> Any:
        return self._reports.wallet()

    def health(self) -> Health:
        return self._reports.health()

    # ------------------------------------------------------------- read-only seams (charts, tests, benches)
    def snapshot(self) -> TraderSnapshot:
        """The trader's positions, levels and values now (what /status shows)."""
        return self._trader.snapshot()

    def fills(self) -> list[Fill]:
        """Every fill booked in this mode, oldest first."""
        return stored_fills(self._node.journal)

    def position(self, symbol: str, leg: str = "BOTH") -> Position | None:
        """The book's position of a symbol (None before its first fill); a copy to read. In
        Hedge Mode `leg` LONG or SHORT: that leg while it is open (None when flat)."""
        with self._trader.lock:
            p = self._trader.portfolio
            pos = p.positions.get(symbol) if leg == "BOTH" else p.held(symbol, leg)
            return copy(pos) if pos is not None else None

    def hedge_mode(self) -> bool:
        """The book trades Hedge Mode legs (HEDGE_MODE, or the account's mode read at /start)."""
        return self._trader.hedge

    def warmup(self, symbol: str) -> int:
        """Closed candles the symbol's book keeps and warms on (WARMUP_CANDLES, or more when
        the strategy's startup and live window need it)."""
        return self._trader.warmup(symbol)

    def funding_payments(self) -> list[tuple[int, str, Any, str]]:
        """Every funding payment booked in this mode (time, symbol, amount, leg: LONG/SHORT in
        Hedge Mode, BOTH in One-way Mode), oldest first: what Portfolio.replay takes."""
        return self._node.journal.funding()

    def stored_orders(self, limit: int = 50) -> list[dict[str, Any]]:
        """This mode's orders as stored (client order id, status, error …), newest first."""
        return self._node.journal.orders(limit)

    def fee_assets(self) -> list[dict[str, Any]]:
        """Fees paid in another asset than USDT (BNB): the asset, its amount, the USDT booked."""
        return self._node.journal.fee_assets()

    def exchange_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """(the exchange fill and funding keys the book knows in memory, those stored in this
        mode's journal): a key known but not stored would be booked again after a restart."""
        with self._trader.lock:
            known = frozenset(self._trader.keys.keys)
        return known, frozenset(self._node.journal.exchange_keys())

    def side(self, symbol: str) -> int:
        """+1 long, -1 short, 0 flat in the book."""
        return self._trader.portfolio.side(symbol)

    def closed_trades(self) -> list[ClosedTrade]:
        """The trades the book closed in this run's portfolio (replayed from storage at start)."""
        with self._trader.lock:
            return list(self._trader.portfolio.trades)

    def funding_booked(self) -> Decimal:
        """The funding the book has booked in total (+ received, − paid)."""
        return self._trader.portfolio.funding

    def last_price(self, symbol: str) -> Decimal | None:
        """The latest price the trader saw (None before its first candle)."""
        return self._trader.current_price(symbol)

    def cursor(self, symbol: str) -> int | None:
        """Open time of the last closed candle the trader decided on (None before one)."""
        return self._trader.cursor(symbol)

    def last_open(self, symbol: str) -> int | None:
        """Open time of the latest closed candle the trader took in (decided on, or warm-up)."""
        return self._trader.last_open(symbol)

    def account_status(self) -> AccountStatus:
        """The account stream (demo/live) as it is now; paper: never running."""
        u = self._user_stream
        if not self.mode.exchange:
            return AccountStatus(False, False, 0, 0, None)
        booked = self._node.follower.booked if self._node.follower is not None else 0
        return AccountStatus(u.running, u.connected, u.connects, u.events, u.key, booked)  # type: ignore[union-attr]

    def catch_up_account(self) -> list[str]:
        """demo/live: book the account's trades, funding and charges made since the last one
        booked, as after a gap of the account stream (each once); the lines it would say."""
        return self._node.follower.catch_up() if self._node.follower is not None else []

    def wait_account(self, predicate: Callable[[AccountStatus], bool], timeout: float = 10.0) -> bool:
        """Wait (on the account stream's condition) until `predicate(account_status())` holds."""
        if not self.mode.exchange:
            return predicate(self.account_status())
        return self._user_stream.wait_until(lambda _: predicate(self.account_status()), timeout)  # type: ignore[union-attr]

    def stream_status(self) -> StreamStatus:
        return self._stream.status()

    def wait_stream(self, predicate: Callable[[StreamStatus], bool], timeout: float = 10.0) -> bool:
        """Wait (on the stream's condition, never a sleep) until `predicate(status)` holds."""
        return self._stream.wait_until(predicate, timeout)

    def join_stream(self, timeout: float = 10.0) -> bool:
        """Wait until the market stream's thread has ended (after it stopped); True if none is left."""
        return self._stream.join(timeout)

    def watch_candles(self, watcher: CandleWatcher) -> None:
        """Tell `watcher` (warm, on_candle) every candle after the trader took it in: how a test
        or a bench waits until a candle is decided, on a condition, never a sleep."""
        self._stream.feed.watch(watcher)

    def wait_strategy_check(self, timeout: float | None = None) -> CheckReport | None:
        """Wait for the start's look-ahead check (beside the bot); its report, or None while it
        still runs after `timeout` seconds."""
        return self._start_check.report if self._start_check.wait(timeout) else None

    def set_clock(self, clock: Callable[[], float]) -> None:
        """The wall clock (seconds) proposals expire on; time.time unless a replay that runs
        hours ahead (or a test of an expiry) sets its own."""
        if self._node.confirmations is not None:
            self._node.confirmations.clock = clock
