"""The trader as the live bot runs it: rebuilt from storage, with parameters traders change.

On every start the portfolio is replayed from the stored fills of the current mode, the
trader's per-symbol state (cursor, orders waiting for the next open, stop and take
levels) is read back, and the parameters are the stored ones: a crash or a redeploy
resumes the same book. A /set is validated whole against the latest values, stored with
who and when in one transaction, and handed to the trader to apply from the next closed
candle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storage.db import open_db
from storage.klines import KlineStore
from storage.params import ParamStore
from storage.state import RuntimeState, instance_id
from storage.trades import TradeJournal
from trading.config import Settings
from trading.core.brokers import OrderRefused, OrderRequest
from trading.core.candles import Candle
from trading.core.events import Notifier
from trading.core.futures_model import FuturesModel
from trading.core.intents import intent_of, legs_now, position_text
from trading.core.limits import check_limits, stake_problem
from trading.core.pause import PAUSED_LINE, STATE_KEY, PauseGate
from trading.core.portfolio import Fill, Portfolio
from trading.core.strategies import ParamError, Schema, Values, strategy_class
from trading.core.strategies.params import check_leverage, fmt_value
from trading.core.symbols import FilterError, SymbolFilters
from trading.core.trader import Trader
from trading.exchange.account_sync import exchange_follower
from trading.exchange.brackets import BracketCache, leverage_problem
from trading.exchange.funding import paper_funding_rate
from trading.exchange.protection import ExchangeExits
from trading.exchange.reconcile import differences, hedged_lines, reconcile
from trading.live.params import Switch, chosen_strategy, refuse_at_start, switch
from trading.live.placing import ExchangeFilters, make_broker, placement_line
from trading.live.proposals import OLDER, PLACING, Confirmations, Outcome, Proposal, four_eyes_line


@dataclass(frozen=True)
class ParamChange:
    name: str
    old: str
    new: str


NO_LIVE_PRICE = "no live price (stream stopped/reconnecting); try again when it is back"


class LiveTrading:
    # A fill's price: the Engine sets it to the stream's price while that is fresh, else one
    # fetched from the exchange at the press, else None (trading/live/service.py).
    live_price: Callable[[str], Decimal | None]

    def __init__(
        self, settings: Settings, notifier: Notifier, filters: Callable[[str], SymbolFilters | None]
    ) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()  # serialises /set and /strategy: validate against the latest
        self.strategy = chosen_strategy(RuntimeState(self._conn()), settings.strategy, settings.strategy_dir)
        self.schema: Schema = strategy_class(self.strategy).schema
        mode = settings.trading_mode
        self.journal = TradeJournal(settings.db_path, mode)
        self.values: Values = self.schema.load(self._params().current(self.strategy))
        refuse_at_start(self.strategy, self.values, self._stored_candles())  # ConfigError: not traded
        paper = mode == "paper"
        # funding booked in this mode: the paper trader's own, or the exchange's (user stream)
        portfolio = Portfolio.replay(settings.paper_balance, self.stored_fills(), self.journal.funding())
        rules = ExchangeFilters(settings.symbols, filters)
        broker = make_broker(settings, rules, portfolio)
        self.confirmations = (
            Confirmations(
                settings.db_path, notifier, ttl_seconds=settings.proposal_ttl, max_drift_pct=settings.max_drift_pct,
                four_eyes_notional=settings.four_eyes_notional, interval_ms=settings.interval_ms,
            )  # its market_offset is the engine's (Engine.market_offset_ms)
            # CONFIRM_ORDERS=off still proposes an order four-eyes must approve (propose_order)
            if (settings.confirm_orders or settings.four_eyes_notional is not None) and broker is not None
            else None
        )
        self.notifier = notifier
        self.live_price = self.price
        self.pause = PauseGate(
            lambda: RuntimeState(self._conn()).get(STATE_KEY), lambda v: RuntimeState(self._conn()).set(STATE_KEY, v)
        )
        # The mode, decided once (TRADING_MODE): demo/live trade on an exchange, whose account the book
        # follows, where the exits rest, client ids carry the instance and /set meets the brackets.
        exchange = self.exchange = mode != "paper"
        self._brackets = BracketCache(broker) if exchange else None
        self.trader = Trader(
            symbols=settings.symbols,
            interval_ms=settings.interval_ms,
            strategy=self.strategy,
            values=self.values,
            filters=rules,  # type: ignore[arg-type]
            portfolio=portfolio,
            broker=broker,
            min_warmup=settings.warmup_candles,
            notifier=notifier,
            journal=self.journal,
            history_loader=self._history,
            mode=mode,
            approver=self.confirmations,
            model=FuturesModel(fee_rate=settings.paper_fee_pct / 100, slippage_bps=settings.paper_slippage_bps,
                               max_leverage=getattr(settings, "max_leverage", None),
                               max_notional=getattr(settings, "max_position_notional", None),
                               funding=paper_funding_rate(settings) if paper else None),  # paper: we are the exchange
            exits=ExchangeExits(broker.exits, instance_id(self._conn()), settings.stop_working_type) if exchange else None,
            instance=instance_id(self._conn()) if exchange else "",
            booked_keys=self.journal.exchange_keys() | {f"funding:{sym}-{ts}" for ts, sym, _ in self.journal.funding()},
            pause=self.pause,
            confirm_all=settings.confirm_orders,
        )
        self.follower = exchange_follower(broker, self.trader, self.journal, settings.symbols, notifier) if exchange else None
        # Proposals a crash left confirmed or being placed: only these are reconciled, never
        # one that a person confirms in this process (it would race its own placement).
        self._leftovers = {
            p.id for p in (self.confirmations.open() if self.confirmations is not None else []) if p.status != "pending"
        }
        self.recover()

    # ------------------------------------------------------------- parameters
    def set_params(self, changes: Mapping[str, Any], user_id: int | None) -> list[ParamChange]:
        """Validate all, store all, schedule all, or raise ParamError and change nothing."""
        with self._lock:
            check_leverage(self.schema, changes, self.settings.max_leverage)
            merged = self.schema.validate(self.values, changes)
            problem = leverage_problem(self.settings.max_leverage, self._brackets, changes, merged, self.settings.symbols)
            problem = problem or stake_problem(merged, self.settings.max_position_notional)
            if problem:
                raise ParamError(problem)
            diff = [
                ParamChange(name, fmt_value(self.values[name]), fmt_value(merged[name]))
                for name in changes
                if merged[name] != self.values[name]
            ]
            if diff:
                self._params().change(self.strategy, {c.name: (c.old, c.new) for c in diff}, user_id)
                self.values = merged
                self.trader.set_values(merged)
            return diff

    def switch_strategy(self, spec: str, changes: Mapping[str, Any], user_id: int | None) -> Switch:
        """/strategy NAME [name=value …] (trading/live/params.py): ParamError, nothing changed."""
        return switch(self, spec, changes, user_id)

    def _stored_candles(self) -> list[Candle]:
        """The first symbol's stored candles (the last 3,000), for the look-ahead and window check."""
        return [Candle.from_row(r) for r in self._klines().latest(self.settings.symbols[0], self.settings.interval, 3000)]

    # ------------------------------------------------------------- orders from the chat
    def propose_order(self, action: str, symbol: str, qty: Decimal | None, user_id: int | None) -> Proposal | Outcome:
        """/long, /short, /close: a proposal (CONFIRM_ORDERS=on) or placed at once (off)."""
        trader = self.trader
        if trader.broker is None:
            return Outcome(False, f"{trader.mode}: no broker places orders in this mode yet")
        want = {"long": 1, "short": -1, "close": 0}[action]
        if want and self.pause.paused():
            return Outcome(False, PAUSED_LINE)
        if want == 0 and not trader.portfolio.side(symbol):
            return Outcome(False, f"No {symbol} position to close.")
        price = self.price(symbol)
        if price is None:
            return Outcome(False, f"No {symbol} price yet: /start the stream first.")
        last = trader.last_open(symbol)
        if last is None:  # right after a restart, before the feed's warm-up: what is stored
            rows = self._klines().latest(symbol, self.settings.interval, 1)
            last = rows[0]["open_time"] if rows else None
        if last is None:
            return Outcome(False, f"No {symbol} candle yet: /start the stream first.")
        asked = qty  # the proposal quotes what was typed, and says when it was rounded
        if qty is not None:  # what will be sent: rounded down to the symbol's step, shown as such
            rules = trader.filters.get(symbol) if hasattr(trader.filters, "get") else None
            if rules is not None:
                stepped = rules.floor_qty(qty)
                if not stepped:
                    return Outcome(False, f"Not proposed: quantity {qty.normalize():f} is below {symbol}'s step {rules.market_step.normalize():f} (LOT_SIZE)")
                qty = stepped
        reason = f"/{action}" + (f" {asked.normalize():f}" if asked is not None else "") + (f" {symbol}" if symbol != self.settings.symbols[0] else "")
        if asked is not None and qty is not None and qty != asked:
            reason += f" (rounded down to the step: {qty:f})"
        # decided at the last candle's open (exchange clock: lookups accept orders after it)
        legs = trader.legs(symbol, want, reason, last, qty, stamp=int(time.time() * 1000))
        if not legs:
            return Outcome(False, f"Already {action} {symbol}; give a quantity to add to it.")
        problem = self._check_now(legs, price)
        if problem:
            return Outcome(False, f"Not proposed: {problem}")
        kind = "reverse" if len(legs) == 2 else action
        if self.confirmations is not None and not self.settings.confirm_orders:
            why = four_eyes_line(self._held(symbol), legs, price, self.settings.four_eyes_notional)
            if why is None:
                placed = trader.place(legs, price)
                return Outcome(placed.error is None, placement_line(placed, trader.filters[symbol]))
            reason += f" · {why}"
        if self.confirmations is not None:
            return self.confirmations.propose(
                symbol=symbol, action=kind, legs=legs, ref_price=price, reason=reason,
                # at least one whole candle to answer in: until the candle after the forming one closes
                source="manual", requested_by=user_id, valid_until_open=last + 2 * self.settings.interval_ms,
                basis=self._held(symbol),
            )
        placed = trader.place(legs, price)
        return Outcome(placed.error is None, placement_line(placed, trader.filters[symbol]))

    def confirm(
        self, proposal_id: int, user_id: int | None, who: str | None = None, message: tuple[int, int] | None = None
    ) -> Outcome:
        """Exactly one of any number of presses places the orders; the others are told why not.
        `message`: the (chat, message id) pressed, which must be the proposal's own."""
        conf = self.confirmations
        if conf is None:
            return Outcome(False, "Confirmations are off (CONFIRM_ORDERS=off).")
        p = conf.get(proposal_id)
        if p is None or not conf.owns(p, message):
            return Outcome(False, OLDER, None, stale_button=True) if message else Outcome(False, "No such proposal.")
        if p.action != "close" and p.status == "pending" and self.pause.paused():  # stays pending
            return Outcome(False, PAUSED_LINE, p)
        price = self.live_price(p.symbol)
        if price is None:  # checked before the claim: a press now changes nothing
            return Outcome(False, NO_LIVE_PRICE, p)
        trader = self.trader
        rules = trader.filters.get(p.symbol) if hasattr(trader.filters, "get") else None
        fmt = rules.fmt_qty if rules is not None else None
        # Under the trader's lock from deriving the legs to booking their fills: the position
        # the legs are derived from is the one they are placed on.
        with trader.lock:
            before = self._held(p.symbol)

            def derive(q: Proposal) -> list[OrderRequest] | str:
                return legs_now(
                    q.intent or intent_of(q.legs), q.basis, before, q.legs, lambda n: conf.name_leg(q.id, n), fmt
                )
            planned = derive(p)  # four-eyes counts the position these orders lead to, at this price
            waiting = None if isinstance(planned, str) else conf.approve(p, user_id, who or f"user {user_id}", before, planned, price)
            if waiting is not None:
                return waiting
            claim = conf.claim(proposal_id, user_id, trader.cursor(p.symbol), price, message, derive)
            if not claim.ok or claim.proposal is None:
                return claim
            p = claim.proposal
            conf.finish(p.id, "confirmed", "placed", PLACING)  # a crash from here on is reconciled, never re-sent
            placed = trader.place(p.legs, price)
            after = self._held(p.symbol)
        line = placement_line(placed, trader.filters[p.symbol])
        line += f" · position: {position_text(before, fmt)} → {position_text(after, fmt)}"
        if placed.unknown:
            return Outcome(False, line, conf.finish(p.id, "placed", "placed", line))
        status = "failed" if placed.error and not placed.fills else "filled"
        return Outcome(status == "filled", line, conf.finish(p.id, "placed", status, line))

    def _held(self, symbol: str) -> Decimal:
        pos = self.trader.portfolio.positions.get(symbol)
        return pos.qty if pos is not None else Decimal(0)

    def _check_now(self, legs: list[OrderRequest], price: Decimal) -> str | None:
        """The symbol's filters and the hard limits, at today's price, before anyone is asked
        to confirm an order that could only fail (a silly size is refused here, in one line)."""
        trader = self.trader
        for leg in legs:
            if leg.reduce_only:
                continue
            try:
                f = trader.filters[leg.symbol]
            except KeyError:
                return None  # no exchange rules yet: Confirm checks again
            qty = leg.qty if leg.qty is not None else f.floor_qty(leg.stake * leg.leverage / price)
            try:
                f.check_order(qty, price)
                check_limits(leg, price, trader.portfolio, f, trader.max_leverage, trader.max_notional)
            except (FilterError, OrderRefused) as e:
                return str(e)
            held = abs(p.qty) if (p := trader.portfolio.positions.get(leg.symbol)) is not None else Decimal(0)
            if self._brackets is not None and (why := self._brackets.order_problem(leg.symbol, leg.leverage, (held + qty) * price)):
                return why
        return None

    def price(self, symbol: str) -> Decimal | None:
        """The latest price the trader saw, else (right after a restart, before the feed's
        warm-up) the last stored close."""
        live = self.trader.current_price(symbol)
        if live is not None:
            return live
        rows = self._klines().latest(symbol, self.settings.interval, 1)
        return Decimal(repr(float(rows[0]["close"]))) if rows else None

    def reject(self, proposal_id: int, user_id: int | None, who: str, message: tuple[int, int] | None = None) -> Outcome:
        if self.confirmations is None:
            return Outcome(False, "Confirmations are off (CONFIRM_ORDERS=off).")
        return self.confirmations.reject(proposal_id, user_id, who, message)

    def recover(self) -> None:
        """Paper, after a crash: a proposal confirmed or being placed is settled from what
        was booked (its legs' client order ids in the fills), never placed again. On an
        exchange the exchange is asked instead, when the stream starts (reconcile)."""
        if self.confirmations is None or self.exchange:
            return
        booked = {f.order_id for f in self.stored_fills()}
        for p in self.confirmations.open():
            if p.status == "pending":
                continue
            done = [leg for leg in p.legs if leg.id in booked]
            line = (
                f"filled before a restart ({len(done)} of {len(p.legs)} orders booked)"
                if done
                else "not placed: the bot restarted before the order was sent"
            )
            self.confirmations.finish(p.id, p.status, "filled" if done else "failed", line, announce=True)

    def reconcile(self) -> list[str]:
        """On an exchange, before streaming: settle every proposal a crash left confirmed or
        placed by asking for its orders' client ids (booking fills found there), then adopt
        the exchange's position wherever the book disagrees. Returns what it changed.

        Holds the trader's lock throughout, so no order is being placed while the book and
        the exchange are compared."""
        broker = self.trader.broker
        if not self.exchange:
            return []
        with self.trader.lock:
            said = self._settle_leftovers(broker)
            if self.follower is not None:  # fills made while the bot was down, by trade id
                said += self.follower.catch_up()
            return said + self._adopt_positions(broker) + self.trader.protect_all(check=True)

    def _settle_leftovers(self, broker: Any) -> list[str]:
        said: list[str] = []
        booked = {f.order_id for f in self.stored_fills()}
        for pid in sorted(self._leftovers):
            p = self.confirmations.get(pid) if self.confirmations is not None else None
            if p is None or p.status not in ("confirmed", "placed"):
                continue
            found = [f for leg in p.legs if leg.id not in booked and (f := broker.lookup(leg)) is not None]
            self.trader.adopt(found)
            line = (
                f"filled (found on the exchange after a restart: {', '.join(f.order_id for f in found)})"
                if found
                else "not placed: the exchange has no order for it (the bot restarted before sending)"
            )
            self.confirmations.finish(p.id, p.status, "filled" if found else "failed", line, announce=True)  # type: ignore[union-attr]
            said.append(f"proposal #{p.id}: {line}")
        self._leftovers.clear()
        return said

    def _adopt_positions(self, broker: Any) -> list[str]:
        state = reconcile(broker, self.settings.symbols)
        book = {s: pos.qty for s, pos in self.trader.portfolio.positions.items()}
        said = [f"{line}; the book now follows the exchange" for line in differences(state, book)] + hedged_lines(state)
        keeper = self.trader.exits
        for symbol, orders in state.orders.items():
            orders = [o for o in orders if keeper is None or not keeper.is_own(o.client_id)]
            if orders:  # resting orders the bot did not place in this run: say so, touch nothing
                listed = ", ".join(f"{o.type} {o.side} {o.client_id}" for o in orders[:5])
                said.append(f"{symbol}: {len(orders)} open order(s) on the exchange ({listed}); left as they are")
        for symbol in self.settings.symbols:
            gap = state.qty(symbol) - book.get(symbol, Decimal(0))
            if gap and symbol not in state.hedged:
                pos = state.positions.get(symbol)
                price = pos.entry if pos is not None else (self.trader.current_price(symbol) or Decimal(0))
                now = int(time.time() * 1000)
                self.trader.adopt([
                    Fill(f"reconcile-{symbol}-{now}", symbol, "BUY" if gap > 0 else "SELL",
                         abs(gap), price, Decimal(0), now, "reconciled with the exchange")
                ])
        return said

    # ------------------------------------------------------------- storage
    def stored_fills(self) -> list[Fill]:
        return [
            Fill(d["order_id"], d["symbol"], d["side"], Decimal(d["qty"]), Decimal(d["price"]),
                 Decimal(d["fee"]), d["time"])
            for d in self.journal.fills()
        ]

    def _history(self, symbol: str, n: int, last_open: int) -> list[Candle]:
        """The n closed candles up to last_open, for a parameter change that needs more."""
        iv = self.settings.interval_ms
        rows = self._klines().between(symbol, self.settings.interval, last_open - (n - 1) * iv, last_open)
        return [Candle.from_row(r) for r in rows][-n:]

    def _conn(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.settings.db_path)
        return db

    def _params(self) -> ParamStore:
        return ParamStore(self._conn())

    def _klines(self) -> KlineStore:
        return KlineStore(self._conn())
