"""The trader: candle → strategy → order request → broker → fill → portfolio, for every symbol.

The feed's one consumer in the live bot *and* the backtest: a trade that differs between
them is a bug in a driver. Per closed candle (freqtrade's backtesting semantics): funding
due at this open on the position held into it, then the orders decided on the previous
candle fill at this open; liquidation (paper), stop-loss, take-profit against the low/high
(the stop first; a gap fills at the open); then the strategy may decide for the next open.
A decision on a backfilled candle is placed by the paper broker with CONFIRM_ORDERS=off
(parity through drops); else never proposed or placed, said once after the catch-up
(trading/missed.py). Modes without a broker only announce what they would do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from trading.book import Book, Placement, TraderSnapshot, dec, fill_text, snapshot_of, utc_minute
from trading.brokers.base import Broker, OrderRefused, OrderRequest, OrderUnknown
from trading.candles import Candle
from trading.futures import Bracket, FundingRate
from trading.limits import check_limits
from trading.missed import MissedDecisions, missed_line
from trading.notifier import Notice, Notifier
from trading.pause import PauseGate, entries_gated
from trading.portfolio import BUY, SELL, ClosedTrade, Fill, Portfolio
from trading.strategies import CLOSE, LONG, Decision, Values, make_strategy
from trading.symbols import SymbolFilters
from trading.trader_exits import TraderExits
from trading.trader_follow import TraderFollow
from trading.trader_futures import FuturesRules
from trading.trader_strategy import StrategySeam, warm_strategy

log = logging.getLogger(__name__)
HistoryLoader = Callable[[str, int, int], list[Candle]]  # (symbol, n, last open time) → candles


class Journal(Protocol):
    """Where the live trader keeps its state (storage/trades.py); the backtest has none."""

    def load_state(self, symbol: str) -> dict[str, Any] | None: ...

    def commit(self, symbol: str, state: dict[str, Any], fills: Sequence[Fill]) -> None:
        """Fills and the new state in one transaction, so a crash never half-books a candle."""


class Trader(TraderExits, FuturesRules, StrategySeam, TraderFollow):
    def __init__(
        self,
        *,
        symbols: Sequence[str],
        interval_ms: int,
        strategy: str,
        values: Values | None,
        filters: dict[str, SymbolFilters],
        portfolio: Portfolio,
        broker: Broker | None,
        min_warmup: int = 0,
        notifier: Notifier | None = None,
        journal: Journal | None = None,
        history_loader: HistoryLoader | None = None,
        mode: str = "paper",
        approver: Any = None,
        max_leverage: int | None = None,
        max_notional: Decimal | None = None,
        exits: Any = None,
        funding: FundingRate | None = None,
        brackets: Mapping[str, Sequence[Bracket]] | None = None,
        strategy_warmup: int | None = None,
    ) -> None:
        """funding: the rate at a funding time (None: off); brackets: leverage brackets per
        symbol (none: no liquidation); strategy_warmup: replaces the strategy's own warm-up."""
        self.strategy_name = strategy
        self.interval_ms = interval_ms
        self.filters = filters
        self.portfolio = portfolio
        self.broker = broker
        self.mode = mode if broker is not None else f"{mode} (signals only)"
        self.min_warmup = min_warmup
        self.notifier = notifier
        self.journal = journal
        self.history_loader = history_loader
        self.market_offset_ms: int | None = None  # the market's clock minus ours, at the last live close
        self.approver = approver  # trading.confirmations.Confirmations (CONFIRM_ORDERS=on, or four-eyes)
        self.confirm_all = True  # CONFIRM_ORDERS: False proposes only what four-eyes must approve
        self.instance = ""  # the database's instance id in exchange modes (client order ids)
        self.max_leverage = max_leverage
        self.max_notional = max_notional
        # demo/live: trading.exchange.protection.ExchangeExits keeps the stop-loss and the
        # take-profit resting on the exchange; the candle check below is then not used.
        self.exits = exits
        self.funding, self.brackets, self.strategy_warmup = funding, dict(brackets or {}), strategy_warmup
        self.known_keys: set[str] = set()  # exchange fills booked (trading/trader_follow.py)
        self.missed = MissedDecisions()  # decisions on backfilled candles, said at caught_up()
        self._leverage: dict[str, int] = {}  # what the exchange was last told, per symbol
        self.pause: PauseGate | None = None  # live only: while paused, no new entries
        self._lock = self.lock = threading.RLock()  # `lock`: for whoever must see the book still
        self._next_values: Values | None = None
        self._levels_changed = False
        probe = make_strategy(strategy, values, strategy_warmup)
        self.values: Values = dict(probe.values)
        self.books: dict[str, Book] = {}
        for s in symbols:
            st = probe if not self.books else make_strategy(strategy, self.values, strategy_warmup)
            self.books[s] = Book(s, st, deque(maxlen=max(min_warmup, st.warmup, 1)))
            if journal is not None:
                self.books[s].restore(journal.load_state(s))

    # ------------------------------------------------------------- the feed's contract
    def cursor(self, symbol: str) -> int | None:
        return self.books[symbol].cursor

    def warmup(self, symbol: str) -> int:
        return self.books[symbol].history.maxlen or 1

    def warm(self, symbol: str, candles: Sequence[Candle]) -> None:
        with self._lock:
            book = self.books[symbol]
            book.history.clear()
            self._rewarm(book, candles)

    def caught_up(self) -> None:
        """The feed has handed on a whole catch-up: each symbol's missed decisions, one line."""
        with self._lock:
            taken = self.missed.take()
        for symbol, missed in taken.items():
            self._say("signal", missed_line(symbol, missed, proposed=self.approver is not None), missed=len(missed))

    def on_forming(self, candle: Candle) -> None:
        book = self.books.get(candle.symbol)
        if book is None:
            return
        book.last_price, book.forming = candle.close, candle
        if not book.pending or (book.cursor is not None and candle.open_time <= book.cursor):
            return
        with self._lock:
            funded = self._fund(book, candle)
            fills = self._fill_pending(book, candle)
            if self.journal is not None:
                self._commit(book, fills, funded)
            self._protect(book)

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        with self._lock:
            if self._next_values is not None:
                self._apply_values()
            book = self.books[candle.symbol]
            funded = self._fund(book, candle) if self.funding is not None else []
            fills = self._fill_pending(book, candle) if book.pending else []
            lf = book.liq_f  # the liquidation price is checked inline: it is set on every paper position
            if self.exits is None and (book.stop_f or book.take_f or (
                    lf and (candle.low <= lf if book.liq_long else candle.high >= lf))):
                fills += self._check_exits(book, candle)
            book.history.append(candle)
            book.last_close = book.last_price = candle.close
            if not backfilled:  # it closed just now: the market's clock minus ours (proposal deadlines)
                self.market_offset_ms = candle.open_time + self.interval_ms - int(time.time() * 1000)
            if self.approver is not None:
                self.approver.expire_due(candle.open_time)
            decision = self._strategy_decides(book, candle)
            book.cursor = candle.open_time
            book.decided += 1
            if decision is not None:
                self._decide(book, decision, candle, backfilled)
            if self.journal is not None:
                self._commit(book, fills, funded)
            if fills or self._levels_changed:
                self._levels_changed = False
                self._protect(book)

    # ------------------------------------------------------------- parameters
    def set_values(self, values: Values) -> None:
        """Validated values, applied from the next closed candle (all symbols at once)."""
        with self._lock:
            self._next_values = dict(values)

    def _apply_values(self) -> None:
        values, self._next_values = self._next_values or {}, None
        self._take_next_strategy()
        self.values = values
        for book in self.books.values():
            strategy = make_strategy(self.strategy_name, values, self.strategy_warmup)
            need = max(self.min_warmup, strategy.warmup, 1)
            history = list(book.history)
            if need > len(history) and self.history_loader is not None and book.cursor is not None:
                history = self.history_loader(book.symbol, need, book.cursor)
            book.strategy = strategy
            book.history = deque(maxlen=max(need, book.history.maxlen or 1))
            self._rewarm(book, history)
            pos = self.portfolio.positions.get(book.symbol)
            if pos is not None and pos.qty:
                self._set_exits(book, pos.entry, pos.side)
                self._levels_changed = True

    def _rewarm(self, book: Book, candles: Sequence[Candle]) -> None:
        book.history.extend(candles)
        warm_strategy(book.strategy, candles)
        if candles:
            book.last_close = book.last_price = candles[-1].close

    # ------------------------------------------------------------- decisions → orders → fills
    def legs(self, symbol: str, want: int, reason: str, decided_at: int, qty: Decimal | None = None, stamp: int | None = None) -> list[OrderRequest]:
        """Orders that take the position to `want` (+1 long, -1 short, 0 flat): close what
        points the other way, then open (qty given, or stake × leverage at the fill price).
        Their ids carry `stamp` (default decided_at) and this database's `instance` (if set)."""
        stamp = decided_at if stamp is None else stamp
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
        reqs = entries_gated(self.pause, self.legs(symbol, want, d.reason, candle.open_time), f"strategy {d.action} {symbol}")
        if not reqs:
            return
        if self.broker is None:
            self._say("signal", f"{self.mode}: would {d.action} {symbol} at the next open · {d.reason}", decision=d)
            return
        if backfilled and (self.approver is not None or self.broker.mode != "paper"):
            # Its moment has passed: no order chases it, nobody is asked about old prices.
            self.missed.add(symbol, d, candle)
            return
        basis = self.portfolio.positions[symbol].qty if symbol in self.portfolio.positions else Decimal(0)
        why = None if self.approver is None or self.confirm_all else self.approver.four_eyes_why(basis, reqs, dec(candle.close))
        if self.approver is not None and (self.confirm_all or why):  # off: only what four-eyes must approve
            self.approver.propose(
                symbol=symbol, action="reverse" if len(reqs) == 2 else ("close" if reqs[0].reduce_only else d.action), legs=reqs, ref_price=dec(candle.close), reason=d.reason + (f" · {why}" if why else ""),
                source="strategy", requested_by=None, valid_until_open=candle.open_time + self.interval_ms, basis=basis,
            )
            return
        book.pending = reqs
        if self.notifier is not None:
            late = f" (decided on a backfilled candle, {utc_minute(candle.open_time)} UTC)" if backfilled else ""
            self._say("signal", f"signal {d.action} {symbol}: {d.reason}; orders at the next open{late}", decision=d)

    def _fill_pending(self, book: Book, candle: Candle) -> list[Fill]:
        reqs, book.pending = entries_gated(self.pause, book.pending, f"{book.symbol} orders decided before the pause"), []
        price = dec(candle.open)
        return [f for r in reqs if (f := self._execute(book, r, price, candle.open_time)) is not None]

    def _execute(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> Fill | None:
        try:
            fill, closed = self._place_one(book, req, price, time)
        except OrderRefused as e:
            self._refused(req, e)
            self._say("order_refused", f"{self.mode} order refused: {req.side} {req.symbol} ({req.kind}): {e}")
            return None
        if self.notifier is not None:
            self._say("order_filled", fill_text(fill, req, closed, self.filters[fill.symbol], self.mode), fill=fill)
        return fill

    def _place_one(self, book: Book, req: OrderRequest, price: Decimal, time: int) -> tuple[Fill, list[ClosedTrade]]:
        """Limits, the broker, the portfolio, the stop/take levels: one order, every path."""
        assert self.broker is not None
        if not req.reduce_only:
            self._check_limits(req, price)
            self._ensure_leverage(req)
        fill = self.broker.execute(req, price, time)
        if fill.keys and self.seen(fill):  # already booked from the user data stream
            return fill, []
        closed = self.portfolio.apply(fill)
        self.known_keys.update(fill.keys)
        pos = self.portfolio.positions[book.symbol]
        if closed:
            self._flat(book)
        if pos.qty and req.kind == "open":
            self._set_exits(book, fill.price, pos.side)
            self._margin_on_open(book, fill, req.leverage)
        return fill, closed

    def _ensure_leverage(self, req: OrderRequest) -> None:
        """An exchange sizes margin by its own leverage setting: set it before opening."""
        set_leverage = getattr(self.broker, "set_leverage", None)
        if set_leverage is not None and self._leverage.get(req.symbol) != req.leverage:
            set_leverage(req.symbol, req.leverage)
            self._leverage[req.symbol] = req.leverage

    def _check_limits(self, req: OrderRequest, price: Decimal) -> None:
        check_limits(req, price, self.portfolio, self.filters[req.symbol], self.max_leverage, self.max_notional)

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
        with self._lock:
            symbol = legs[0].symbol
            book = self.books[symbol]
            time = (self.last_open(symbol) or 0) + self.interval_ms  # the forming candle
            closed: list[ClosedTrade] = []
            if self.funding is not None and book.forming is not None and book.forming.open_time == time:
                self._commit_funding(book, self._fund(book, book.forming))  # held into its open: before the fills
            for leg in legs:
                if leg.reduce_only:
                    pos = self.portfolio.positions.get(symbol)
                    if pos is None or not pos.qty or (pos.qty > 0) == (leg.side == BUY):
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

    def adopt(self, fills: Sequence[Fill]) -> None:
        """Book fills that happened outside this process's view (found on the exchange after
        a restart, or a reconciliation): into the portfolio and the journal, once."""
        with self._lock:
            for fill in fills:
                self.portfolio.apply(fill)
                book = self.books[fill.symbol]
                pos = self.portfolio.positions[fill.symbol]
                if pos.qty:  # the position as it is now gets the exits of its entry
                    self._set_exits(book, pos.entry, pos.side)
                else:
                    book.stop = book.take = None
                    book.stop_f = book.take_f = 0.0
                self._book(book, [fill])

    def _refused(self, req: OrderRequest, e: Exception) -> None:
        record = getattr(self.journal, "record_refusal", None)
        if record is not None:
            record(req.id, req.symbol, req.side, None if req.qty is None else str(req.qty), req.reduce_only, str(e))

    def _book(self, book: Book, fills: list[Fill]) -> None:
        if self.journal is not None and fills:
            self.journal.commit(book.symbol, book.state(), fills)

    def _commit(self, book: Book, fills: list[Fill], funded: list[tuple[int, str, Decimal, Decimal]]) -> None:
        """Fills, funding and state in one transaction (a journal without funding: paper funding off)."""
        assert self.journal is not None
        if funded:
            self.journal.commit(book.symbol, book.state(), fills, funding=funded)  # type: ignore[call-arg]
        else:
            self.journal.commit(book.symbol, book.state(), fills)

    # ------------------------------------------------------------- reading
    def snapshot(self) -> TraderSnapshot:
        with self._lock:
            return snapshot_of(self)

    # ------------------------------------------------------------- notices
    def _say(self, kind: str, text: str, **data: Any) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(Notice(kind, text, data))
        except Exception:  # a notifier must not stop trading; say so in the log
            log.exception("notifier failed on %s", kind)


