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

The trader composes owned parts, each with its own state and rules: the books (one per
symbol), the strategy host (strategy_host.py), the exit levels (exits.py), the paper
margin where this process is the exchange (paper_margin.py), the portfolio. The file is
over 400 lines because it is the one place where those parts meet on the money path: every
fill, from a paper order, a confirmed proposal or the exchange's account stream, is booked
here exactly once (by its keys) under one lock, with its journal commit and its resting
exits, and told as a typed event (core/events.py; the words are the chat's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Protocol

from trading.core.book import Book
from trading.core.brokers.base import (
    Broker,
    OrderRefused,
    OrderRequest,
    OrderUnknown,
    Placement,
    WouldTrigger,
)
from trading.core.candles import Candle
from trading.core.events import (
    ChargeBooked,
    Event,
    ExitFailed,
    ExitWouldTrigger,
    ExternalFill,
    FundingBooked,
    Liquidated,
    Notice,
    Notifier,
    OrderFilled,
    OrderRefusedEvent,
    Signal,
    StrategyFailed,
)
from trading.core.exits import Exits
from trading.core.futures_model import DEFAULT_MODEL, FuturesModel
from trading.core.hedge import hedge_legs
from trading.core.intervals import utc_minute
from trading.core.limits import check_limits
from trading.core.missed import MissedDecisions, missed_line
from trading.core.numbers import dec
from trading.core.paper_margin import Funded, PaperMargin
from trading.core.pause import PauseGate, entries_gated
from trading.core.portfolio import BUY, SELL, ClosedTrade, Fill, Portfolio
from trading.core.protections import Protections, ProtectionsView
from trading.core.snapshot import TraderSnapshot, snapshot_of
from trading.core.strategies import CLOSE, LONG, Decision, Values
from trading.core.strategy_host import HistoryLoader, StrategyHost, rewarm
from trading.core.symbols import SymbolFilters

log = logging.getLogger(__name__)
LEGS = {"stop_loss": "sl", "take_profit": "tp", "trailing_stop": "ts"}  # an exit's client id leg


class Journal(Protocol):
    """Where the live trader keeps its state (storage/trades.py); the backtest has none."""

    def load_state(self, symbol: str) -> dict[str, Any] | None: ...

    def commit(self, symbol: str, state: dict[str, Any], fills: Sequence[Fill]) -> None:
        """Fills and the new state in one transaction, so a crash never half-books a candle."""


class RestingExits(Protocol):
    """demo/live: the stop-loss and take-profit resting on the exchange
    (trading/exchange/protection.py), kept equal to the book's levels."""

    def sync(self, symbol: str, side: int, opened: int, stop: Decimal | None, take: Decimal | None, *,
             check: bool = False, position_side: str = "BOTH", trail: Any = None) -> list[str]: ...  # fmt: skip


NO_DECISION: list[Decision] = []  # shared, never appended to


def mode_name(hedge: bool) -> str:
    return "Hedge Mode (LONG and SHORT legs)" if hedge else "One-way Mode"


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
    ) -> None:
        """model: the caps every mode applies, and the funding and the leverage brackets
        (liquidation) booked here where this process is the exchange; strategy_warmup: replaces the strategy's own warm-up;
        instance: this database's id, carried by client order ids (exchange modes);
        booked_keys: the exchange fills and funding already booked (the journal's);
        hedge: the account trades Hedge Mode legs (exchange modes: hedge.py's rule)."""
        self.interval_ms = interval_ms
        self.filters = filters
        self.portfolio = portfolio
        self.broker = broker
        self.mode = mode if broker is not None else f"{mode} (signals only)"
        self.notifier = notifier
        self.journal = journal
        self.market_offset_ms: int | None = None  # the market's clock minus ours, at the last live close
        self.approver = approver  # trading.live.proposals.Confirmations (CONFIRM_ORDERS=on, or four-eyes)
        self.confirm_all = confirm_all  # CONFIRM_ORDERS: False proposes only what four-eyes must approve
        self.instance = instance
        # Hedge Mode: given, or what the stored book holds (legs); else it follows the account
        # at /start (follow_mode) while the book is flat.
        self.hedge = hedge or any(p.position_side != "BOTH" and p.qty for p in portfolio.positions.values())
        self._mode_known = self.hedge or any(p.qty for p in portfolio.positions.values())
        self.mode_mismatch = ""  # the account's position mode is not the book's: no order is sent
        self.model = model
        self.max_leverage = model.max_leverage
        self.max_notional = model.max_notional
        self.exits = exits  # demo/live: the exits rest on the exchange; the candle check is off
        self.levels = Exits(filters)  # the same levels in every mode; resting on the exchange in demo/live
        # demo/live trade on an exchange; in paper and the backtest this process is the exchange
        # (funding, liquidation): decided once, from the mode.
        self.on_exchange = broker is not None and mode != "paper"
        # Paper margin (liquidation, funding) is per net position: a Hedge Mode book in paper and
        # the backtest has none (README "Hedge Mode"); on an exchange, Binance keeps it per leg.
        self.margin = (
            PaperMargin(portfolio, filters, interval_ms, model.funding, model.brackets)
            if broker is not None and not self.on_exchange and not hedge else None
        )  # fmt: skip
        self.funding = model.funding
        self.known_keys: set[str] = booked_keys if booked_keys is not None else set()
        self.missed = MissedDecisions()  # decisions on backfilled candles, said at caught_up()
        self._leverage: dict[str, int] = {}  # what the exchange was last told, per symbol
        self.pause = pause  # live only: while paused, no new entries
        self.protections = protections if protections is not None and protections.rules.on else None
        self.lock = threading.RLock()  # for whoever must see the book still
        self._levels_changed = False
        self.strategies = StrategyHost(strategy, values, strategy_warmup, min_warmup, history_loader)
        self.books: dict[str, Book] = {}
        for s in symbols:
            st = self.strategies.make()
            self.books[s] = Book(s, st, deque(maxlen=self.strategies.window(st)))
            if journal is not None:
                self.books[s].restore(journal.load_state(s))

    @property
    def strategy_name(self) -> str:
        return self.strategies.name

    @property
    def values(self) -> Values:
        return self.strategies.values

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
            self._say(Notice("signal", missed_line(symbol, missed, proposed=self.approver is not None), {"missed": len(missed)}))

    def on_forming(self, candle: Candle) -> None:
        book = self.books.get(candle.symbol)
        if book is None:
            return
        book.last_price, book.forming = candle.close, candle
        if not book.pending or (book.cursor is not None and candle.open_time <= book.cursor):
            return
        with self.lock:
            if self.protections is not None:
                self._roll(candle)
            funded = self._fund(book, candle)
            fills = self._fill_pending(book, candle)
            if self.journal is not None:
                self._commit(book, fills, funded)
            self._protect(book)

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        with self.lock:
            if self.strategies.due:
                self._apply_values()
            book = self.books[candle.symbol]
            if self.protections is not None:
                self._roll(candle)
            funded = self._fund(book, candle) if self.funding is not None else []
            fills = self._fill_pending(book, candle) if book.pending else []
            lf = book.liq_f  # the liquidation price is checked inline: it is set on every paper position
            if self.exits is None and (book.stop_f or book.take_f or book.trail is not None or (
                    lf and (candle.low <= lf if book.liq_long else candle.high >= lf))):
                fills += self._check_exits(book, candle)
            elif self.exits is None and self.hedge:
                fills += self._check_leg_exits(book, candle)
            book.history.append(candle)
            book.last_close = book.last_price = candle.close
            if self.protections is not None:
                fills += self._guard(book, candle)
            if not backfilled:  # it closed just now: the market's clock minus ours (proposal deadlines)
                self.market_offset_ms = candle.open_time + self.interval_ms - int(time.time() * 1000)
            if self.approver is not None:
                self.approver.expire_due(candle.open_time)
            decisions = self._strategy_decides(book, candle)
            book.cursor = candle.open_time
            book.decided += 1
            for decision in decisions:
                self._decide(book, decision, candle, backfilled)
            if self.journal is not None:
                self._commit(book, fills, funded)
            if fills or self._levels_changed:
                self._levels_changed = False
                self._protect(book)

    # ------------------------------------------------------------- the account's position mode
    def follow_mode(self, hedge: bool, *, running: bool) -> str | None:
        """The account's position mode as read (at /start; while running: its account stream's
        ACCOUNT_CONFIG_UPDATE, a reconnect). Not running, a book with no open position takes
        the account's mode. Otherwise a mode unlike the book's stops every order (Binance
        would refuse them) and returns the line to say, once; the same mode again clears it."""
        with self.lock:
            if hedge == self.hedge:
                self._mode_known = True
                was, self.mode_mismatch = self.mode_mismatch, ""
                return f"the account is in {mode_name(hedge)} again, as the bot's book: orders are sent again" if was else None
            if (not running or not self._mode_known) and not any(p.qty for p in self.portfolio.positions.values()):
                self.hedge, self._mode_known, self.mode_mismatch = hedge, True, ""
                return None
            line = (f"the account was switched to {mode_name(hedge)} while the bot trades {mode_name(self.hedge)}: "
                    "no order is sent (Binance would refuse them); /stop and /start to trade the account's mode")  # fmt: skip
            if line == self.mode_mismatch:
                return None
            self.mode_mismatch = line
            return line

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
                self.levels.set(book, pos.entry, pos.side, self.values, pos.position_side, keep=True)
                self._levels_changed = True

    def _strategy_decides(self, book: Book, candle: Candle) -> list[Decision]:
        if self.hedge:  # the legs apart (core/hedge.py; a DataFrame strategy's four columns per leg)
            p = self.portfolio
            decisions, failed = self.strategies.decide_legs(
                book, candle, p.held(book.symbol, "LONG") is not None, p.held(book.symbol, "SHORT") is not None)
        else:
            decision, failed = self.strategies.decide(book, candle, self.portfolio.side(candle.symbol))
            decisions = NO_DECISION if decision is None else [decision]
        if failed is not None:
            log.warning("strategy %s failed on %s %s UTC: %s; no order", self.strategy_name, book.symbol,
                        utc_minute(candle.open_time), failed)  # fmt: skip
            self._say(StrategyFailed(self.strategy_name, book.symbol, candle.open_time, failed))
        return decisions

    # ------------------------------------------------------------- decisions → orders → fills
    def legs(self, symbol: str, want: int, reason: str, decided_at: int, qty: Decimal | None = None,
             stamp: int | None = None, only: str = "") -> list[OrderRequest]:  # fmt: skip
        """Orders that take the position to `want` (+1 long, -1 short, 0 flat): close what
        points the other way, then open (qty given, or stake × leverage at the fill price).
        Their ids carry `stamp` (default decided_at) and this database's `instance` (if set).
        In Hedge Mode the legs apart (core/hedge.py; `only`: close that leg alone)."""
        stamp = decided_at if stamp is None else stamp
        if self.hedge:
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
                    stake=Decimal(repr(float(v.get("stake_usdt", 0)))), leverage=int(v.get("leverage", 1)),
                )
            )
        return reqs

    def _decide(self, book: Book, d: Decision, candle: Candle, backfilled: bool) -> None:
        symbol = book.symbol
        want = 0 if d.action == CLOSE else (1 if d.action == LONG else -1)
        legs = self.legs(symbol, want, d.reason, candle.open_time, only=d.leg)
        reqs = self._gate(entries_gated(self.pause, legs, f"strategy {d.action} {symbol}"), symbol,
                          candle.open_time + self.interval_ms, f"strategy {d.action} {symbol}")  # fmt: skip
        if not reqs:
            return
        if self.broker is None:
            self._say(Signal(self.mode, symbol, d, "announce", candle.open_time, candle.close))
            return
        if backfilled and (self.approver is not None or self.on_exchange):
            # Its moment has passed: no order chases it, nobody is asked about old prices.
            self.missed.add(symbol, d, candle)
            return
        basis = self.portfolio.positions[symbol].qty if symbol in self.portfolio.positions else Decimal(0)
        why = None if self.approver is None or self.confirm_all else self.approver.four_eyes_why(basis, reqs, dec(candle.close))
        if self.approver is not None and (self.confirm_all or why):  # off: only what four-eyes must approve
            self.approver.propose(
                symbol=symbol, action="reverse" if len(reqs) == 2 and not reqs[1].closes else ("close" if reqs[0].closes else d.action), legs=reqs, ref_price=dec(candle.close), reason=d.reason + (f" · {why}" if why else ""),
                source="strategy", requested_by=None, valid_until_open=candle.open_time + self.interval_ms, basis=basis,
            )
            return
        book.pending = reqs
        self._say(Signal(self.mode, symbol, d, "orders", candle.open_time, candle.close, backfilled))

    def _fill_pending(self, book: Book, candle: Candle) -> list[Fill]:
        what = f"{book.symbol} orders decided before the pause"
        reqs, book.pending = entries_gated(self.pause, book.pending, what), []
        price = dec(candle.open)
        fills: list[Fill] = []
        for r in reqs:  # one leg at a time: a reversal's close may lock the symbol for its open (cooldown)
            if self._gate([r], book.symbol, candle.open_time, what) and (f := self._execute(book, r, price, candle.open_time)):
                fills.append(f)
        return fills

    def _execute(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> Fill | None:
        try:
            fill, closed = self._place_one(book, req, price, time)
        except OrderRefused as e:
            self._refused(req, e)
            self._say(OrderRefusedEvent(self.mode, req, str(e)))
            return None
        self._say(OrderFilled(self.mode, fill, req, tuple(closed), self._rules(fill.symbol)))
        return fill

    def _place_one(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> tuple[Fill, list[ClosedTrade]]:
        """Limits, the broker, the portfolio, the stop/take levels: one order, every path."""
        assert self.broker is not None
        if self.mode_mismatch:  # Binance would refuse it (-4061): nothing is sent
            raise OrderRefused(self.mode_mismatch)
        if not req.closes:
            self._check_limits(req, price)
            self._ensure_leverage(req)
        fill = self.broker.execute(req, price, time)
        if fill.keys and self.seen(fill):  # already booked from the user data stream
            return fill, []
        closed = self.portfolio.apply(fill)
        self.known_keys.update(fill.keys)
        pos = self.portfolio.position(book.symbol, fill.position_side)
        if closed:
            self._flat(book, fill.position_side)
            self._closed(closed)
        if pos.qty and req.kind == "open":
            self.levels.set(book, pos.entry if fill.position_side != "BOTH" else fill.price, pos.side, self.values,
                            fill.position_side)  # fmt: skip
            if self.margin is not None:
                self.margin.on_open(book, fill, req.leverage)
        return fill, closed

    def _ensure_leverage(self, req: OrderRequest) -> None:
        """An exchange sizes margin by its own leverage setting: set it before opening."""
        set_leverage = getattr(self.broker, "set_leverage", None)
        if set_leverage is not None and self._leverage.get(req.symbol) != req.leverage:
            set_leverage(req.symbol, req.leverage)
            self._leverage[req.symbol] = req.leverage

    def _check_limits(self, req: OrderRequest, price: Decimal) -> None:
        check_limits(req, price, self.portfolio, self.filters[req.symbol], self.max_leverage, self.max_notional)

    # ------------------------------------------------------------- exits, liquidation, funding (paper)
    def _check_exits(self, book: Book, c: Candle) -> list[Fill]:
        pos = self.portfolio.positions.get(book.symbol)
        if pos is None or not pos.qty:
            return []
        long = pos.qty > 0
        if self.margin is not None and self.margin.first(book, c, long):
            return self._liquidate(book, c)
        hit = self.levels.touched(book, c, long)
        if hit is None:
            return []
        kind, price = hit
        req = OrderRequest(
            OrderRequest.client_id(book.symbol, c.open_time, LEGS[kind]),
            book.symbol, SELL if long else BUY, kind, kind.replace("_", "-"), c.open_time,
            qty=abs(pos.qty), reduce_only=True,
        )  # fmt: skip
        fill = self._execute(book, req, price, c.open_time)
        return [fill] if fill is not None else []

    def _check_leg_exits(self, book: Book, c: Candle) -> list[Fill]:
        """Hedge Mode, paper and the backtest: each leg's stop and take against the candle
        (the rules of the net position's, leg by leg, LONG first)."""
        out: list[Fill] = []
        for ps, long in (("LONG", True), ("SHORT", False)):
            lv = book.legs[ps]
            pos = self.portfolio.held(book.symbol, ps)
            if pos is None or not (lv.stop_f or lv.take_f or lv.trail is not None):
                continue
            hit = self.levels.touched(book, c, long, ps)
            if hit is None:
                continue
            kind, price = hit
            tag = LEGS[kind] + ("-l" if long else "-s")  # exit_reason reads "-sl-"
            req = OrderRequest(
                OrderRequest.client_id(book.symbol, c.open_time, tag), book.symbol, SELL if long else BUY, kind,
                kind.replace("_", "-"), c.open_time, qty=abs(pos.qty), position_side=ps,
            )  # fmt: skip
            fill = self._execute(book, req, price, c.open_time)
            if fill is not None:
                out.append(fill)
        return out

    def _liquidate(self, book: Book, c: Candle) -> list[Fill]:
        """The liquidation fill (no trading fee) and, as on Binance, what remains of the margin
        as the insurance clearance fee: an other charge (a fill without quantity), not a fee."""
        assert self.margin is not None
        liq = self.margin.liquidation(book, c)
        fill, clearance = replace(liq, fee=Decimal(0)), liq.fee
        side, margin = self.portfolio.positions[book.symbol].side_name, book.margin
        closed = self.portfolio.apply(fill)
        fills = [fill]
        if clearance:
            fills.append(Fill(f"liquidation-{fill.symbol}-{c.open_time}", fill.symbol, fill.side, Decimal(0), Decimal(0),
                              clearance, c.open_time, "liquidation"))  # fmt: skip
            self.portfolio.apply(fills[-1])  # a cost of the trade it ends, too
            closed = self.portfolio.trades[-1:]
        book.flat()
        self._closed(closed)
        self._say(Liquidated(self.mode, fill, side, margin, tuple(closed), self._rules(fill.symbol), clearance))
        return fills

    def _fund(self, book: Book, candle: Candle) -> list[Funded]:
        return self.margin.fund(book, candle) if self.margin is not None else []

    def exit_at_end(self, symbol: str, candle: Candle) -> Fill | None:
        """Close what is still open at this (last) candle's close, exit reason `end`, like
        freqtrade's force exit at the end of a backtest (both legs in Hedge Mode: the last fill)."""
        if self.hedge:
            fills = [f for req in self.legs(symbol, 0, "end", candle.open_time)
                     if (f := self._execute(self.books[symbol], req.but(id=req.id + "-end"), dec(candle.close),
                                            candle.open_time)) is not None]  # fmt: skip
            return fills[-1] if fills else None
        pos = self.portfolio.positions.get(symbol)
        if pos is None or not pos.qty:
            return None
        req = OrderRequest(OrderRequest.client_id(symbol, candle.open_time, "end"), symbol,
                           SELL if pos.qty > 0 else BUY, "close", "end", candle.open_time,
                           qty=abs(pos.qty), reduce_only=True)  # fmt: skip
        return self._execute(self.books[symbol], req, dec(candle.close), candle.open_time)

    # ------------------------------------------------------------- the exits resting on the exchange
    def protect_all(self, *, check: bool = True) -> list[str]:
        """Every symbol's exits as the book says, checked against the exchange (start,
        resume, user-stream reconnect): missing ones placed again, own orphans cancelled."""
        said: list[str] = []
        with self.lock:
            for book in self.books.values():
                said += self._protect(book, check=check)
        return said

    def _protect(self, book: Book, *, check: bool = False) -> list[str]:
        """Exchange modes: make the resting exits match the position and its levels. A
        trigger already crossed (-2021) closes the position by market at once, said so."""
        if self.exits is None:
            return []
        said: list[str] = []
        for ps in ("LONG", "SHORT") if self.hedge else ("BOTH",):
            said += self._protect_one(book, ps, check)
        return said

    def _protect_one(self, book: Book, ps: str, check: bool) -> list[str]:
        assert self.exits is not None
        pos = self.portfolio.held(book.symbol, ps)
        side = pos.side if pos is not None else 0
        opened = pos.opened_at if pos is not None else 0
        lv = book.levels(ps)
        try:
            trail = (lv.trail, lv.trail_act, abs(pos.qty)) if lv.trail is not None and pos is not None else None
            return self.exits.sync(book.symbol, side, opened, lv.stop, lv.take, check=check, position_side=ps,
                                   trail=trail)  # fmt: skip
        except WouldTrigger as e:
            self._close_now(book, e, ps)
        except (OrderRefused, OrderUnknown) as e:
            self._say(ExitFailed(self.mode, book.symbol, "placed", str(e)))
        except Exception as e:  # noqa: BLE001 (a read or a cancel failed: said, the next sync retries)
            log.exception("exits of %s", book.symbol)
            self._say(ExitFailed(self.mode, book.symbol, "checked", str(e)))
        return []

    def _close_now(self, book: Book, e: WouldTrigger, ps: str = "BOTH") -> None:
        pos = self.portfolio.position(book.symbol, ps)
        self._say(ExitWouldTrigger(self.mode, book.symbol, e.kind, e.level, self._rules(book.symbol)))
        time = (self.last_open(book.symbol) or 0) + self.interval_ms
        tag = "sl" if e.kind == "stop_loss" else "tp"
        req = OrderRequest(
            OrderRequest.client_id(book.symbol, time, tag if ps == "BOTH" else f"{tag}-{ps[0].lower()}"),
            book.symbol, SELL if pos.qty > 0 else BUY, e.kind, e.kind.replace("_", "-"), time,
            qty=abs(pos.qty), reduce_only=ps == "BOTH", position_side=ps,
        )  # fmt: skip
        price = self.current_price(book.symbol) or e.level
        try:
            fill = self._execute(book, req, price, time)
        except OrderUnknown as err:
            self._say(ExitFailed(self.mode, book.symbol, "closing", str(err)))
            return
        if fill is not None:
            self._book(book, [fill])
            self._protect(book)

    # ------------------------------------------------------------- account protections
    def _roll(self, candle: Candle) -> None:
        assert self.protections is not None
        for event in self.protections.roll(candle.open_time, self.portfolio.balance):
            self._say(event)

    def equity(self) -> Decimal:
        """Wallet + the open positions' unrealized PnL at each book's latest price."""
        marks = {s: dec(b.last_price or b.last_close) for s, b in self.books.items() if b.last_price or b.last_close}
        return self.portfolio.equity(marks)

    def _guard(self, book: Book, candle: Candle) -> list[Fill]:
        """The account's numbers at this close: trips said, positions closed at once when a
        protection says so (no proposal: nobody is asked to confirm a stop). The fills of
        this candle's own book are returned (committed with it), the others' booked here."""
        assert self.protections is not None
        events, close = self.protections.check(candle.open_time + self.interval_ms, self.portfolio.balance, self.equity())
        for event in events:
            self._say(event)
        return self._close_all(close, candle) if close is not None else []

    def _close_all(self, reason: str, candle: Candle) -> list[Fill]:
        """Every open position closed by market now (in Hedge Mode each leg, by its own close)."""
        leg = {"drawdown": "dd", "daily_loss": "dl"}[reason]
        mine: list[Fill] = []
        for other in self.books.values():
            if self.hedge:
                reqs = self.legs(other.symbol, 0, reason, candle.open_time)
            else:
                pos = self.portfolio.positions.get(other.symbol)
                if pos is None or not pos.qty:
                    continue
                reqs = [OrderRequest(OrderRequest.client_id(other.symbol, candle.open_time, leg, self.instance),
                                     other.symbol, SELL if pos.qty > 0 else BUY, "close", reason, candle.open_time,
                                     qty=abs(pos.qty), reduce_only=True)]  # fmt: skip
            here = other.symbol == candle.symbol
            price = dec(candle.close) if here else (self.current_price(other.symbol) or dec(other.last_close or 0))
            for req in reqs:
                fill = self._execute(other, req, price, candle.open_time)
                if fill is None:
                    continue
                if here:
                    mine.append(fill)
                else:
                    self._book(other, [fill])
                    self._protect(other)
        return mine

    def _closed(self, closed: Sequence[ClosedTrade]) -> None:
        if self.protections is None:
            return
        for trade in closed:
            for event in self.protections.on_closed(trade.symbol, trade.exit_reason, trade.close_time):
                self._say(event)

    def _gate(self, legs: list[OrderRequest], symbol: str, now: int, what: str) -> list[OrderRequest]:
        """The legs a protection lets through at market time `now`: all, or only the closes."""
        why = self.protections.blocked(symbol, now) if self.protections is not None and legs else None
        if why is None:
            return legs
        kept = [leg for leg in legs if leg.reduce_only]
        if len(kept) < len(legs):
            log.info("%s skipped (protection %s): no new entries%s", what, why, "; its close is kept" if kept else "")
        return kept

    def entry_blocked(self, symbol: str) -> str | None:
        """Why a person's entry on `symbol` is refused now by a protection (the market's time), or None."""
        if self.protections is None:
            return None
        with self.lock:
            return self.protections.blocked(symbol, self._market_now())

    def _market_now(self) -> int:
        """The market's time now: our clock plus the market's offset at the last live close;
        before any (right after a start), the close of the latest candle taken in."""
        if self.market_offset_ms is not None:
            return int(time.time() * 1000) + self.market_offset_ms
        opens = [t for s in self.books if (t := self.last_open(s)) is not None]
        return max(opens) + self.interval_ms if opens else int(time.time() * 1000)

    def resume_protections(self) -> list[str]:
        """/resume: the halts lifted (daily_loss, drawdown); the drawdown's peak restarts now."""
        if self.protections is None:
            return []
        with self.lock:
            return self.protections.resume(self.equity())

    def protection_halts(self) -> frozenset[str]:
        return self.protections.halts() if self.protections is not None else frozenset()

    def protections_view(self) -> ProtectionsView | None:
        if self.protections is None:
            return None
        with self.lock:
            return self.protections.view(self._market_now())

    def unlock(self, symbol: str | None) -> list[str]:
        if self.protections is None:
            return []
        with self.lock:
            return self.protections.unlock(symbol, self._market_now())

    # ------------------------------------------------------------- confirmed proposals
    def last_open(self, symbol: str) -> int | None:
        """Open time of the latest closed candle taken in (decided on, or warm-up)."""
        book = self.books[symbol]
        if book.cursor is not None:
            return book.cursor
        return book.history[-1].open_time if book.history else None

    def current_price(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return dec(book.last_price) if book is not None and book.last_price else None

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
                if funded and self.journal is not None:
                    self._commit(book, [], funded)
            for leg in legs:
                if leg.closes:
                    pos = self.portfolio.held(symbol, leg.position_side)
                    if pos is None or (pos.qty > 0) == (leg.side == BUY):
                        continue
                    leg = leg.but(qty=abs(pos.qty))
                try:
                    fill, done = self._place_one(book, leg, price, time)
                except OrderRefused as e:
                    self._book(book, fills)
                    self._refused(leg, e)
                    self._protect(book)
                    return Placement(fills, closed, str(e), e.code)
                except OrderUnknown as e:
                    self._book(book, fills)
                    return Placement(fills, closed, f"outcome unknown: {e}", None, unknown=True)
                fills.append(fill)
                closed += done
            self._book(book, fills)
            self._protect(book)
            return Placement(fills, closed, None, None)

    # ------------------------------------------------------------- fills the exchange reports
    def seen(self, fill: Fill) -> bool:
        return any(k in self.known_keys for k in fill.keys)

    def knows(self, key: str) -> bool:
        """An exchange fill or funding key booked already (`<symbol>:o<order id>`: an order
        booked whole when its trades were unreadable)."""
        return key in self.known_keys

    def adopt(self, fills: Sequence[Fill]) -> None:
        """Book fills that happened outside this process's view (found on the exchange after
        a restart, or a reconciliation): into the portfolio and the journal, once."""
        with self.lock:
            for fill in fills:
                self.portfolio.apply(fill)
                book = self.books[fill.symbol]
                pos = self.portfolio.position(fill.symbol, fill.position_side)
                if pos.qty:  # the position as it is now gets the exits of its entry
                    self.levels.set(book, pos.entry, pos.side, self.values, fill.position_side)
                else:
                    lv = book.levels(fill.position_side)
                    lv.stop = lv.take = lv.trail = lv.trail_act = lv.trail_best = None
                    lv.stop_f = lv.take_f = 0.0
                self._book(book, [fill])

    def book_exchange_fill(self, fill: Fill, what: str) -> list[ClosedTrade] | None:
        """Book one exchange fill unless one of its keys was booked already (then None).
        Every Binance fill carries keys (`<symbol>:t<trade id>`, and `<symbol>:o<order id>`
        for an order booked whole): the first arrival books it (the order's REST answer, the
        user data stream, or the REST reconciliation after a gap), any later one is a no-op.

        `what`: "own" (the bot's order, whose REST answer was lost), "stop_loss",
        "take_profit", "liquidation", "adl" or "outside"."""
        with self.lock:
            book = self.books.get(fill.symbol)
            if book is None or self.seen(fill):
                return None
            ps = fill.position_side
            before = self.portfolio.side(fill.symbol, ps)
            closed = self.portfolio.apply(fill)
            self.known_keys.update(fill.keys)
            pos = self.portfolio.position(fill.symbol, ps)
            if not pos.qty:
                self._flat(book, ps)
                self._closed(closed)
            elif pos.side != before or (fill.signed_qty > 0) == (pos.qty > 0):
                self.levels.set(book, pos.entry, pos.side, self.values, ps)  # a new or larger position: its exits
            if self.journal is not None:
                self.journal.commit(book.symbol, book.state(), [fill])
            self._protect(book)  # flat: the other exit is cancelled before the chat is told
            if what == "own":
                req = OrderRequest(fill.order_id, fill.symbol, fill.side, "open" if not before else "close", "", 0)
                self._say(OrderFilled(self.mode, fill, req, tuple(closed), self._rules(fill.symbol)))
            else:
                gross = self.portfolio.ledger.entries[-1].gross  # what this fill closed, partly or whole
                self._say(ExternalFill(self.mode, fill, what, tuple(closed), before, pos.qty, self._rules(fill.symbol),
                                       gross))  # fmt: skip
            return closed

    def book_funding(self, symbol: str, amount: Decimal, ts: int, rate: Decimal | None = None) -> bool:
        """One funding payment the exchange booked (+ received, − paid), once per symbol and
        funding time (the stream's account update and the income history agree on it)."""
        key = f"funding:{symbol}-{ts}"
        with self.lock:
            book = self.books.get(symbol)
            if book is None or key in self.known_keys:
                return False
            self.portfolio.apply_funding(symbol, amount, ts)
            self.known_keys.add(key)
            if self.journal is not None:
                self.journal.commit(symbol, book.state(), [], funding=[(ts, symbol, amount, rate)])  # type: ignore[call-arg]
            self._say(FundingBooked(self.mode, symbol, amount))
            return True

    def book_charge(self, symbol: str, amount: Decimal, ts: int, key: str, what: str) -> bool:
        """A charge with no trade (the insurance clearance fee a liquidation leaves), once."""
        with self.lock:
            book = self.books.get(symbol)
            if book is None or key in self.known_keys or not amount:
                return False
            fill = Fill(f"{what}-{symbol}-{ts}", symbol, "SELL", Decimal(0), Decimal(0), amount, ts, what, (key,))
            self.portfolio.apply(fill)
            self.known_keys.add(key)
            if self.journal is not None:
                self.journal.commit(symbol, book.state(), [fill])
            self._say(ChargeBooked(self.mode, symbol, amount))
            return True

    @staticmethod
    def _flat(book: Book, ps: str) -> None:
        """The position closed: its levels go (and, One-way, the book's margin)."""
        if ps == "BOTH":
            book.flat()
        else:
            book.legs[ps].flat()

    # ------------------------------------------------------------- the journal
    def _refused(self, req: OrderRequest, e: Exception) -> None:
        record = getattr(self.journal, "record_refusal", None)
        if record is not None:
            record(req.id, req.symbol, req.side, None if req.qty is None else str(req.qty), req.reduce_only, str(e))

    def _book(self, book: Book, fills: list[Fill]) -> None:
        if self.journal is not None and fills:
            self.journal.commit(book.symbol, book.state(), fills)

    def _commit(self, book: Book, fills: list[Fill], funded: list[Funded]) -> None:
        """Fills, funding and state in one transaction (a journal without funding: paper funding off)."""
        assert self.journal is not None
        if funded:
            self.journal.commit(book.symbol, book.state(), fills, funding=funded)  # type: ignore[call-arg]
        else:
            self.journal.commit(book.symbol, book.state(), fills)

    # ------------------------------------------------------------- reading and telling
    def snapshot(self) -> TraderSnapshot:
        with self.lock:
            return snapshot_of(self.books, self.portfolio, self.values, self.mode, self.strategy_name)

    def _rules(self, symbol: str) -> SymbolFilters | None:
        try:
            return self.filters[symbol]
        except KeyError:  # the exchange's rules not fetched yet: the chat prints plain numbers
            return None

    def _say(self, event: Event) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(event)
        except Exception:  # a notifier must not stop trading; say so in the log
            log.exception("notifier failed on %s", event.kind)

