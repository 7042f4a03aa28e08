"""The trader: candle → strategy → order request → broker → fill → portfolio, for every symbol.

It is the feed's one consumer in the live bot *and* in the backtest, so both run this code
and nothing else; a trade that differs between them is a bug in a driver, not a second
set of rules. Per closed candle, in this order (freqtrade's backtesting semantics):

1. funding due at this open is booked on the position held into it, then orders decided
   on the previous candle fill at this open (live, the forming candle's first update did);
2. liquidation (paper), stop-loss, take-profit against this candle's low/high (the first
   reached wins; a stop and a take both touched: the stop; a gap fills at the open);
3. the strategy takes in the candle and may decide; its orders wait for the next open.

A decision on a backfilled candle (one that closed while the socket was down) is handled
the same way by the paper broker with CONFIRM_ORDERS=off, so parity holds through drops;
else it is never proposed or placed, but said once the catch-up is over (trading/core/missed.py).
Modes without a broker only announce what they would do.

The trader decides on closed candles and composes owned parts, each with its own state,
built here once from the constructor's arguments and handed what they use:
the books (one per symbol), the strategy host (strategy_host.py), the exit levels (exits.py),
the paper margin where this process is the exchange (paper_margin.py), the portfolio, and
- `records`: the journal and the notifier (records.py), the one way a fill is committed and told;
- `position_mode`: One-way or Hedge Mode, and a switched account (position_mode.py);
- `guard`: the account protections as applied at each close (account_guard.py);
- `desk`: one order, every path: limits, leverage, broker, portfolio, levels (order_desk.py);
- `paper_exits`: the stop, take and liquidation checked on a candle (paper_exits.py);
- `resting`: the exits resting on the exchange, kept equal to the levels (resting.py);
- `exchange_fills`: fills and funding the exchange reports, booked once by key (exchange_fills.py).
All of them run under the trader's one lock. The file is over 400 lines because what is left
is one responsibility that should read in one place: the closed candle's sequence above (its
order is the parity with the backtest), the decision turned into orders or a proposal, and a
confirmed proposal's legs placed at the forming candle; plus the wiring of the parts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from trading.core.account_guard import AccountGuard
from trading.core.book import Book
from trading.core.brokers.base import Broker, OrderRefused, OrderRequest, OrderUnknown, Placement
from trading.core.candles import Candle
from trading.core.events import AccountModeSwitched, MissedSignals, Notifier, Signal, StrategyFailed
from trading.core.exchange_fills import ExchangeFills
from trading.core.exits import Exits
from trading.core.fill_keys import FillKeys
from trading.core.findings import ExitsResynced
from trading.core.futures_model import DEFAULT_MODEL, FuturesModel
from trading.core.hedge import hedge_legs, legs_of
from trading.core.intervals import utc_minute
from trading.core.missed import MissedDecisions
from trading.core.numbers import dec
from trading.core.order_desk import OrderDesk
from trading.core.paper_exits import PaperExits
from trading.core.paper_margin import Funded, PaperMargin
from trading.core.pause import PauseGate, entries_gated
from trading.core.portfolio import BUY, SELL, ClosedTrade, Fill, Portfolio
from trading.core.position_mode import PositionMode
from trading.core.protections import Protections
from trading.core.records import Journal, Records
from trading.core.resting import RestingExits, RestingKeeper
from trading.core.snapshot import TraderSnapshot, snapshot_of
from trading.core.strategies import CLOSE, LONG, Decision, StrategyError, Values
from trading.core.strategy_host import HistoryLoader, Runner, StrategyHost, failed, rewarm
from trading.core.symbols import SymbolFilters

__all__ = ["Journal", "RestingExits", "Trader", "TraderSnapshot"]

log = logging.getLogger(__name__)

NO_DECISION: tuple[Decision, ...] = ()
NO_FILLS: list[Fill] = []  # shared, never appended to (a candle's fills are added with +)
NO_FUNDING: list[Funded] = []  # shared, never appended to
QUIET = 48  # candles looked at a time for the liquidation price in a quiet stretch (Trader._quiet)


class Trader:
    def __init__(
        self,
        *,
        symbols: Sequence[str],
        interval_ms: int,
        strategy: str,
        values: Values | None,
        filters: Mapping[str, SymbolFilters],
        portfolio: Portfolio,
        broker: Broker | None,
        min_warmup: int = 0,
        notifier: Notifier | None = None,
        journal: Journal | None = None,
        history_loader: HistoryLoader | None = None,
        mode: str = "paper",
        approver: Any = None,
        model: FuturesModel = DEFAULT_MODEL,
        exits: RestingExits | None = None,
        strategy_warmup: int | None = None,
        instance: str = "",
        booked_keys: set[str] | None = None,
        pause: PauseGate | None = None,
        confirm_all: bool = True,
        hedge: bool = False,
        protections: Protections | None = None,
        on_exchange: bool = False,
    ) -> None:
        """model: the caps every mode applies, and the funding and the leverage brackets
        (liquidation) booked here where this process is the exchange; strategy_warmup: replaces the strategy's own warm-up;
        instance: this database's id, carried by client order ids (exchange modes);
        booked_keys: the exchange fills and funding already booked (the journal's);
        hedge: the account trades Hedge Mode legs (exchange modes: hedge.py's rule);
        on_exchange: demo/live trade on an exchange (live/mode.py's Mode.exchange, decided once):
        the exchange books funding and liquidation; else (paper, the backtest) this process does."""
        self.interval_ms = interval_ms
        self.filters = filters
        self.portfolio = portfolio
        self.broker = broker
        self.mode = mode if broker is not None else f"{mode} (signals only)"
        self.market_offset_ms: int | None = None  # the market's clock minus ours, at the last live close
        self.approver = approver  # trading.live.proposals.Confirmations (CONFIRM_ORDERS=on, or four-eyes)
        self.confirm_all = confirm_all  # CONFIRM_ORDERS: False proposes only what four-eyes must approve
        self.instance = instance
        self.model = model
        self.max_leverage = model.max_leverage
        self.max_notional = model.max_notional
        self.funding = model.funding
        self.missed = MissedDecisions()  # decisions on backfilled candles, said at caught_up()
        self.pause = pause  # live only: while paused, no new entries
        self.lock = threading.RLock()  # for whoever must see the book still
        self._levels_changed = False
        # Hedge Mode: given, or what the stored book holds (legs); else it follows the account
        # at /start (follow_mode) while the book is flat.
        held = hedge or any(p.position_side != "BOTH" and p.qty for p in portfolio.positions.values())
        self.position_mode = PositionMode(held, held or any(p.qty for p in portfolio.positions.values()))
        self.levels = Exits(filters, model.fee_rate)  # the same levels in every mode; resting on the exchange in demo/live
        self.on_exchange = broker is not None and on_exchange
        # Paper margin (liquidation, funding) where this process is the exchange: per position,
        # each Hedge Mode leg its own (docs "Hedge Mode"); on an exchange, Binance keeps it.
        self.margin = (
            PaperMargin(portfolio, filters, interval_ms, model.funding, model.brackets)
            if broker is not None and not self.on_exchange else None
        )  # fmt: skip
        self.strategies = StrategyHost(strategy, values, strategy_warmup, min_warmup, history_loader)
        self.books: dict[str, Book] = {}
        for s in symbols:
            st = self.strategies.make()
            self.books[s] = Book(s, st, deque(maxlen=self.strategies.window(st)))
            if journal is not None:
                self.books[s].restore(journal.load_state(s))
        # the parts, each given what it uses
        self.records = Records(journal, notifier)
        self.keys = FillKeys(booked_keys)
        self.guard = AccountGuard(protections, portfolio, self.records, self.lock, self.equity, self._market_now)
        self.protections = self.guard.protections  # None when off
        self.desk = OrderDesk(
            broker=broker, mode=self.mode, portfolio=portfolio, filters=filters, max_leverage=model.max_leverage,
            max_notional=model.max_notional, levels=self.levels, margin=self.margin, keys=self.keys,
            records=self.records, strategies=self.strategies, position_mode=self.position_mode, guard=self.guard,
        )  # fmt: skip
        self.paper_exits = PaperExits(mode=self.mode, portfolio=portfolio, filters=filters, levels=self.levels,
                                      margin=self.margin, desk=self.desk, records=self.records, guard=self.guard)  # fmt: skip
        self.exits = exits  # demo/live: the exits rest on the exchange; the candle check is off
        self.resting = RestingKeeper(exits=exits, mode=self.mode, portfolio=portfolio, filters=filters,
                                     interval_ms=interval_ms, position_mode=self.position_mode, desk=self.desk,
                                     records=self.records, levels=self.levels)  # fmt: skip
        self.exchange_fills = ExchangeFills(
            books=self.books, mode=self.mode, portfolio=portfolio, filters=filters, levels=self.levels,
            strategies=self.strategies, keys=self.keys, records=self.records, resting=self.resting, guard=self.guard,
            lock=self.lock,
        )  # fmt: skip

    @property
    def strategy_name(self) -> str:
        return self.strategies.name

    @property
    def values(self) -> Values:
        return self.strategies.values

    @property
    def hedge(self) -> bool:
        """The book trades Hedge Mode legs (position_mode.py follows the account)."""
        return self.position_mode.hedge

    # ------------------------------------------------------------- the feed's contract
    def cursor(self, symbol: str) -> int | None:
        return self.books[symbol].cursor

    def warmup(self, symbol: str) -> int:
        return self.books[symbol].history.maxlen or 1

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        with self.lock:
            book = self.books[symbol]
            book.history.clear()
            rewarm(book, candles)

    def caught_up(self) -> None:
        """The feed has handed on a whole catch-up: each symbol's missed decisions, one line."""
        with self.lock:
            taken = self.missed.take()
        for symbol, missed in taken.items():
            self.records.say(MissedSignals(symbol, tuple(missed), proposed=self.approver is not None))

    def on_forming(self, candle: Candle) -> None:
        book = self.books.get(candle.symbol)
        if book is None:
            return
        book.last_price, book.forming = candle.close, candle
        if not book.pending or (book.cursor is not None and candle.open_time <= book.cursor):
            return
        with self.lock:
            if self.guard.on:
                self.guard.roll(candle.open_time)
            funded = self._fund(book, candle)
            fills = self._fill_pending(book, candle)
            self.records.commit(book, fills, funded)
            self.resting.protect(book)

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        """One closed candle (the live feed's every close): on_candles' loop with one candle."""
        self.on_candles((candle,), backfilled)

    def on_candles(self, candles: Sequence[Candle], backfilled: bool, curve: list[float] | None = None) -> int:
        """Closed candles of one symbol, in order, each taken exactly as the module docstring
        says (the live feed hands one at a time; the backtest its whole year at once: the same
        loop, so the same code decides every candle). `curve`: the book's mark-to-market equity
        at each candle's close is appended to it (the backtest's equity curve). Returns how many
        candles closed with a position open.

        The loop is every backtest's hot path: its parts' lookups are bound once per call, and
        a candle on which nothing is due (no orders pending, no level, no liquidation reached,
        no decision) costs the strategy's update and a few attribute reads. In a backtest
        (`stretches`: no journal, protections, funding or proposals, the exits checked here) a
        quiet stretch is taken at once (_quiet), and the candle that fills the orders decided on
        the one before starts the next stretch: its fills are all that step 1 does there, and
        nobody is told of them per candle (no journal to commit to, no exits resting)."""
        if not candles:
            return 0
        with self.lock:
            symbol = candles[0].symbol
            book = self.books[symbol]
            strategies, guard, records, position_mode = self.strategies, self.guard, self.records, self.position_mode
            positions, portfolio, approver = self.portfolio.positions, self.portfolio, self.approver
            guarded, funding, paper = guard.on, self.funding is not None, self.exits is None
            journal = records.journal is not None
            interval = self.interval_ms
            exposed = 0
            mark = curve.append if curve is not None else None
            # a quiet stretch can be taken at once where this process is the exchange and nothing
            # else is told or asked per candle (the backtest; paper without a journal)
            stretches = paper and not guarded and not funding and approver is None and not journal
            n, i = len(candles), 0
            while i < n:
                if stretches and not (strategies.due or position_mode.hedge or self._levels_changed) and (
                        book.pending or not (book.stop_f or book.take_f or book.trail is not None)) and (
                        run := strategies.runner(book.strategy)) is not None:  # fmt: skip
                    if book.pending:  # step 1 below, here: the orders fill at this open (there nothing is left)
                        self._fill_pending(book, candles[i])  # (nothing to commit or protect without a journal)
                    if book.stop_f or book.take_f or book.trail is not None:
                        j, held = i, 0  # the fills set a level to watch: the steps below take this candle
                    else:
                        j, held = self._quiet(book, candles, i, run, backfilled, curve)
                    exposed += held
                    if j > i:
                        i = j
                        continue  # else candles[i] reaches the liquidation price: the steps below book it
                candle = candles[i]
                i += 1
                if strategies.due:
                    self._apply_values()
                if guarded:
                    guard.roll(candle.open_time)
                funded = self._fund(book, candle) if funding else NO_FUNDING
                fills = self._fill_pending(book, candle) if book.pending else NO_FILLS  # shared: added to, never appended
                lf = book.liq_f  # the liquidation price is checked inline: it is set on every paper position
                hedge = position_mode.hedge
                if paper and (book.stop_f or book.take_f or book.trail is not None or (
                        lf and (candle.low <= lf if book.liq_long else candle.high >= lf))):
                    fills = fills + self.paper_exits.check(book, candle)
                elif hedge and paper:
                    fills = fills + self.paper_exits.check_legs(book, candle)
                book.history.append(candle)
                book.last_close = book.last_price = candle.close
                if guarded and (close := guard.judge(candle.open_time + interval)) is not None:
                    fills = fills + self._close_all(close, candle)
                if approver is not None:
                    if not backfilled:  # it closed just now: the market's clock minus ours (proposal deadlines)
                        self.market_offset_ms = candle.open_time + interval - int(time.time() * 1000)
                    approver.expire_due(candle.open_time)
                if hedge:
                    pos = None
                    decisions = self._strategy_decides(book, candle)
                else:  # One-way, the backtest's every candle: the strategy asked inline (strategy_host.failed)
                    pos = positions.get(symbol)
                    q = pos.qty_f if pos is not None else 0.0  # qty's float mirror: the same sign
                    try:
                        decision = book.strategy.on_candle(candle, (q > 0) - (q < 0))
                    except StrategyError as e:
                        decision = None
                        if (failed_now := failed(book, candle, e)) is not None:
                            self._strategy_failed(book, candle, failed_now)
                    else:
                        book.failing = None  # one candle decided again ends a failure
                    decisions = NO_DECISION if decision is None else (decision,)
                book.cursor = candle.open_time
                book.decided += 1
                for decision in decisions:
                    self._decide(book, decision, candle, backfilled)
                if journal:
                    records.commit(book, fills, funded)
                if fills or self._levels_changed:
                    self._levels_changed = False
                    self.resting.protect(book)
                if mark is not None:  # the equity at the close (the One-way position's inline)
                    if pos is None:  # (once there, a position is the same object for good)
                        pos = positions.get(symbol)
                    if pos is not None and pos.qty_f:
                        exposed += 1
                        mark(portfolio.balance_f + (candle.close - pos.entry_f) * pos.qty_f)
                    elif position_mode.hedge:  # the legs, marked at the close
                        exposed += bool(portfolio.open_of(symbol))
                        mark(portfolio.equity_f(symbol, candle.close))
                    else:
                        mark(portfolio.balance_f)
            if not backfilled and approver is None:  # they closed just now (set per candle for the proposals)
                self.market_offset_ms = candles[-1].open_time + interval - int(time.time() * 1000)
            return exposed

    def _quiet(self, book: Book, candles: Sequence[Candle], i: int, run: Runner, backfilled: bool,
               curve: list[float] | None) -> tuple[int, int]:  # fmt: skip
        """on_candles' loop over a quiet stretch from candles[i]: no order pending, no stop,
        take or trailing stop, no funding, protections, journal or proposals, One-way. On such
        candles the loop's steps do nothing but take the candle in (history, last close, cursor,
        the strategy's update, the equity mark), so they are taken at once up to the first
        candle that reaches the liquidation price (looked for QUIET candles at a time) or the
        first that decides, whose decision is then made as on any candle. Returns the index to
        go on from and how many of the candles closed with the position open."""
        n = len(candles)
        end = min(n, i + QUIET)
        lf = book.liq_f
        if lf:  # the first candle that reaches it is the loop's (the liquidation fills there)
            if book.liq_long:
                for j in range(i, end):
                    if candles[j].low <= lf:
                        end = j
                        break
            else:
                for j in range(i, end):
                    if candles[j].high >= lf:
                        end = j
                        break
        else:
            end = n  # nothing to look for: up to the first decision
        if end == i:
            return i, 0
        pos = self.portfolio.positions.get(book.symbol)
        q = pos.qty_f if pos is not None else 0.0
        k, decision = run(candles, i, end, (q > 0) - (q < 0))
        stop = k + 1 if decision is not None else k  # the candles taken in: [i, stop)
        taken = candles[i:stop]
        book.history.extend(taken)
        last = taken[-1]
        book.last_close = book.last_price = last.close
        book.cursor = last.open_time
        book.decided += stop - i
        book.failing = None
        held = 0
        if curve is not None:  # the equity at each close, as the loop marks it
            bf = self.portfolio.balance_f
            if q:
                ef = pos.entry_f  # type: ignore[union-attr]
                curve += [bf + (c.close - ef) * q for c in taken]
                held = stop - i
            else:
                curve += [bf] * (stop - i)
        if decision is not None:
            self._decide(book, decision, last, backfilled)
        return stop, held

    # ------------------------------------------------------------- the account's position mode
    def follow_mode(self, hedge: bool, *, running: bool) -> AccountModeSwitched | None:
        """The account's position mode as read (position_mode.py): what to say, or None."""
        with self.lock:
            return self.position_mode.follow(hedge, running=running,
                                             holding=any(p.qty for p in self.portfolio.positions.values()))  # fmt: skip

    # ------------------------------------------------------------- parameters and strategy
    def set_values(self, values: Values) -> None:
        """Validated values, applied from the next closed candle (all symbols at once)."""
        with self.lock:
            self.strategies.set_values(values)

    def set_strategy(self, name: str, values: Values) -> None:
        """Another strategy (checked by the caller) from the next closed candle."""
        with self.lock:
            self.strategies.set_strategy(name, values)

    def _apply_values(self) -> None:
        self.strategies.apply(self.books.values())
        for book in self.books.values():
            for pos in self.portfolio.open_of(book.symbol):  # the net position, or each leg
                self.levels.set(book, pos.entry, pos.side, self.values, pos.position_side, keep=True, qty=abs(pos.qty))
                self._levels_changed = True

    def _strategy_decides(self, book: Book, candle: Candle) -> list[Decision]:
        """Hedge Mode: the legs apart (core/hedge.py; a DataFrame strategy's four columns per leg)."""
        p = self.portfolio
        decisions, failed = self.strategies.decide_legs(
            book, candle, p.held(book.symbol, "LONG") is not None, p.held(book.symbol, "SHORT") is not None)
        if failed is not None:
            self._strategy_failed(book, candle, failed)
        return decisions

    def _strategy_failed(self, book: Book, candle: Candle, failed: str) -> None:
        log.warning("strategy %s failed on %s %s UTC: %s; no order", self.strategy_name, book.symbol,
                    utc_minute(candle.open_time), failed)  # fmt: skip
        self.records.say(StrategyFailed(self.strategy_name, book.symbol, candle.open_time, failed))

    # ------------------------------------------------------------- decisions → orders → fills
    def legs(self, symbol: str, want: int, reason: str, decided_at: int, qty: Decimal | None = None,
             stamp: int | None = None, only: str = "") -> list[OrderRequest]:  # fmt: skip
        """Orders that take the position to `want` (+1 long, -1 short, 0 flat): close what
        points the other way, then open (qty given, or stake × leverage at the fill price).
        Their ids carry `stamp` (default decided_at) and this database's `instance` (if set).
        In Hedge Mode the legs apart (core/hedge.py; `only`: close that leg alone)."""
        stamp = decided_at if stamp is None else stamp
        if self.position_mode.hedge:
            return hedge_legs(self.portfolio, symbol, want, reason, decided_at, qty, stamp, instance=self.instance,
                              values=self.values, strategy=self.strategy_name, only=only)  # fmt: skip
        pos = self.portfolio.positions.get(symbol)
        side = pos.side if pos is not None else 0
        reqs: list[OrderRequest] = []
        if side and side != want:
            reqs.append(
                OrderRequest(
                    OrderRequest.client_id(symbol, stamp, "c", self.instance), symbol, SELL if side > 0 else BUY,
                    "close", reason, decided_at, qty=abs(pos.qty), reduce_only=True,  # type: ignore[union-attr]
                )
            )
        if want and (side != want or qty is not None):
            v = self.values
            if qty is None and "stake_usdt" not in v:
                raise ValueError(f"give a quantity: strategy {self.strategy_name!r} has no stake_usdt to size from")
            reqs.append(
                OrderRequest(
                    OrderRequest.client_id(symbol, stamp, "o", self.instance), symbol, BUY if want > 0 else SELL,
                    "open", reason, decided_at, qty=qty,
                    stake=self.strategies.stake, leverage=int(v.get("leverage", 1)),
                )
            )
        return reqs

    def _decide(self, book: Book, d: Decision, candle: Candle, backfilled: bool) -> None:
        symbol = book.symbol
        want = 0 if d.action == CLOSE else (1 if d.action == LONG else -1)
        legs = self.legs(symbol, want, d.reason, candle.open_time, only=d.leg)
        if self.pause is not None or self.guard.on:  # what a pause or a protection may hold back (logged)
            what = f"strategy {d.action} {symbol}"
            legs = self.guard.gate(entries_gated(self.pause, legs, what), symbol, candle.open_time + self.interval_ms, what)
        reqs = legs
        if not reqs:
            return
        if self.broker is None:
            self.records.say(Signal(self.mode, symbol, d, "announce", candle.open_time, candle.close))
            return
        if backfilled and (self.approver is not None or self.on_exchange):
            # Its moment has passed: no order chases it, nobody is asked about old prices.
            self.missed.add(symbol, d, candle)
            return
        approver = self.approver
        if approver is not None:  # proposed: all (CONFIRM_ORDERS=on), or only what four-eyes must approve
            # the net position, or (Hedge Mode) the leg the first order trades, the other leg apart
            held = self.portfolio.held(symbol, reqs[0].position_side)
            basis = held.qty if held is not None else Decimal(0)
            apart = self.portfolio.exposure(symbol) - abs(basis)
            why = None if self.confirm_all else approver.four_eyes_why(basis, reqs, dec(candle.close), apart)
            if self.confirm_all or why:
                approver.propose(
                    symbol=symbol, action="reverse" if len(reqs) == 2 and not reqs[1].closes else ("close" if reqs[0].closes else d.action), legs=reqs, ref_price=dec(candle.close), reason=d.reason,
                    source="strategy", requested_by=None, valid_until_open=candle.open_time + self.interval_ms, basis=basis,
                    legs_before=legs_of(self.portfolio, symbol) if self.hedge else None, four_eyes=why,
                )
                return
        book.pending = reqs
        if self.records.notifier is not None:  # the backtest tells nobody: no event to build
            self.records.say(Signal(self.mode, symbol, d, "orders", candle.open_time, candle.close, backfilled))

    def _fill_pending(self, book: Book, candle: Candle) -> list[Fill]:
        """The orders decided on the candle before fill at this one's open: those a pause
        (live) or a protection still lets through (the words for the log made only then)."""
        reqs, book.pending = book.pending, []
        guard, execute = self.guard, self.desk.execute
        what = f"{book.symbol} orders decided before the pause" if self.pause is not None or guard.on else ""
        if self.pause is not None:
            reqs = entries_gated(self.pause, reqs, what)
        price = dec(candle.open)
        fills: list[Fill] = []
        for r in reqs:  # one leg at a time: a reversal's close may lock the symbol for its open (cooldown)
            if (not guard.on or guard.gate([r], book.symbol, candle.open_time, what)) and (
                    f := execute(book, r, price, candle.open_time)):
                fills.append(f)
        return fills

    def _fund(self, book: Book, candle: Candle) -> list[Funded]:
        return self.margin.fund(book, candle) if self.margin is not None else []

    def exit_at_end(self, symbol: str, candle: Candle) -> Fill | None:
        """Close what is still open at this (last) candle's close, exit reason `end`, like
        freqtrade's force exit at the end of a backtest (both legs in Hedge Mode: the last fill)."""
        if self.position_mode.hedge:
            fills = [f for req in self.legs(symbol, 0, "end", candle.open_time)
                     if (f := self.desk.execute(self.books[symbol], req.but(id=req.id + "-end"), dec(candle.close),
                                                candle.open_time)) is not None]  # fmt: skip
            return fills[-1] if fills else None
        pos = self.portfolio.positions.get(symbol)
        if pos is None or not pos.qty:
            return None
        req = OrderRequest(OrderRequest.client_id(symbol, candle.open_time, "end"), symbol,
                           SELL if pos.qty > 0 else BUY, "close", "end", candle.open_time,
                           qty=abs(pos.qty), reduce_only=True)  # fmt: skip
        return self.desk.execute(self.books[symbol], req, dec(candle.close), candle.open_time)

    def protect_all(self, *, check: bool = True) -> list[ExitsResynced]:
        """Every symbol's resting exits checked against the exchange (resting.py), under the lock."""
        with self.lock:
            return self.resting.protect_all(self.books.values(), check=check)

    # ------------------------------------------------------------- account protections
    def equity(self) -> Decimal:
        """Wallet + the open positions' unrealized PnL at each book's latest price."""
        marks = {s: dec(b.last_price or b.last_close) for s, b in self.books.items() if b.last_price or b.last_close}
        return self.portfolio.equity(marks)

    def _close_all(self, reason: str, candle: Candle) -> list[Fill]:
        """A protection closes every open position by market now (in Hedge Mode each leg, by
        its own close). The fills of this candle's own book are returned (committed with it),
        the others' booked here."""
        leg = {"drawdown": "dd", "daily_loss": "dl"}[reason]
        mine: list[Fill] = []
        for other in self.books.values():
            if self.position_mode.hedge:
                reqs = self.legs(other.symbol, 0, reason, candle.open_time)
            else:
                pos = self.portfolio.positions.get(other.symbol)
                if pos is None or not pos.qty:
                    continue
                reqs = [OrderRequest(OrderRequest.client_id(other.symbol, candle.open_time, leg, self.instance),
                                     other.symbol, SELL if pos.qty > 0 else BUY, "close", reason, candle.open_time,
                                     qty=abs(pos.qty), reduce_only=True)]  # fmt: skip
            here = other.symbol == candle.symbol
            price = dec(candle.close) if here else (other.price() or dec(other.last_close or 0))
            for req in reqs:
                fill = self.desk.execute(other, req, price, candle.open_time)
                if fill is None:
                    continue
                if here:
                    mine.append(fill)
                else:
                    self.records.book(other, [fill])
                    self.resting.protect(other)
        return mine

    def _market_now(self) -> int:
        """The market's time now: our clock plus the market's offset at the last live close;
        before any (right after a start), the close of the latest candle taken in."""
        if self.market_offset_ms is not None:
            return int(time.time() * 1000) + self.market_offset_ms
        opens = [t for b in self.books.values() if (t := b.last_open()) is not None]
        return max(opens) + self.interval_ms if opens else int(time.time() * 1000)

    # ------------------------------------------------------------- confirmed proposals
    def last_open(self, symbol: str) -> int | None:
        """Open time of the latest closed candle taken in (decided on, or warm-up)."""
        return self.books[symbol].last_open()

    def current_price(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.price() if book is not None else None

    def place(self, legs: Sequence[OrderRequest], price: Decimal) -> Placement:
        """Place a confirmed proposal's legs now, in order; stop at the first refusal.

        A close leg closes what is held *now* (a stop may have closed it since the
        proposal), so it is resized, or skipped when there is nothing left to close."""
        fills: list[Fill] = []
        with self.lock:
            symbol = legs[0].symbol
            book = self.books[symbol]
            time = (self.last_open(symbol) or 0) + self.interval_ms  # the forming candle
            closed: list[ClosedTrade] = []
            if self.margin is not None and book.forming is not None and book.forming.open_time == time:
                funded = self._fund(book, book.forming)  # held into its open: before the fills
                if funded:
                    self.records.commit(book, [], funded)
            for leg in legs:
                if leg.closes:
                    pos = self.portfolio.held(symbol, leg.position_side)
                    if pos is None or (pos.qty > 0) == (leg.side == BUY):
                        continue
                    leg = leg.but(qty=abs(pos.qty))
                try:
                    fill, done = self.desk.place_one(book, leg, price, time)
                except OrderRefused as e:
                    self.records.book(book, fills)
                    self.records.refused(leg, e)
                    self.resting.protect(book)
                    return Placement(fills, closed, e.reason, e.code)
                except OrderUnknown as e:
                    self.records.book(book, fills)
                    return Placement(fills, closed, e.reason, None, unknown=True)
                fills.append(fill)
                closed += done
            self.records.book(book, fills)
            self.resting.protect(book)
            return Placement(fills, closed, None, None)

    # ------------------------------------------------------------- reading
    def snapshot(self) -> TraderSnapshot:
        with self.lock:
            return snapshot_of(self.books, self.portfolio, self.values, self.mode, self.strategy_name)
