"""Orders from the chat: /long, /short, /close proposed (or placed at once with
CONFIRM_ORDERS=off), Confirm and Reject, the price a Confirm fills at, and the market's clock
that turns a proposal's candle close into a wall-clock deadline.

Exactly one of any number of presses places a proposal's orders (the state machine is
trading/live/proposals.py); from deriving the legs to booking their fills the trader's lock is
held, so the position the legs are derived from is the one they are placed on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from trading.config import Settings
from trading.core.brokers import Broker, OrderRefused, OrderRequest
from trading.core.brokers.base import Placement
from trading.core.hedge import Refusal, legs_of, order_blocked, position_sizes, press_legs
from trading.core.intents import intent_of
from trading.core.limits import check_limits
from trading.core.pause import PauseGate
from trading.core.reasons import Reason
from trading.core.symbols import FilterError, SymbolFilters
from trading.core.trader import Trader
from trading.exchange.brackets import BracketCache
from trading.exchange.rest import make_client
from trading.exchange.stream import KlineStream
from trading.live.answers import Answer, Kind, Placed
from trading.live.four_eyes import four_eyes_over
from trading.live.guard import DatabaseGuard
from trading.live.mode import Mode
from trading.live.proposals import Confirmations, Outcome, Proposal, refused, stale
from trading.live.store import Db

log = logging.getLogger("trading.live.service")

OFFSET_RETRY_SECONDS = 60.0  # /time asked again at most this often while it does not answer


def placed_now(placed: Placement, symbol: str, rules: SymbolFilters) -> Outcome:
    """An order placed at once (CONFIRM_ORDERS=off): what filled, or why not."""
    return Outcome(placed.error is None, Answer(Kind.PLACED, symbol=symbol, placed=Placed(placed, rules=rules)))


class MarketClock:
    """The market's clock minus ours (ms), so a proposal's candle close (market time) becomes
    a wall-clock deadline: from the last candle that closed live (`sampled`, the trader's),
    else the exchange broker's measured offset, else Binance's /time asked once (paper mode
    right after a start: the replay's clock is not the wall clock); None if none answers."""

    def __init__(self, settings: Settings, mode: Mode, broker: Broker, sampled: Callable[[], int | None]) -> None:
        self._settings = settings
        self._broker = broker if mode.exchange else None  # a BinanceBroker measures Binance's clock
        self._sampled = sampled
        self._asked: tuple[int | None, float] = (None, -OFFSET_RETRY_SECONDS - 1.0)

    def broker_offset(self) -> int | None:
        """Binance's clock minus this host's, as the broker last measured it (exchange modes)."""
        return self._broker.clock_offset_ms if self._broker is not None else None  # type: ignore[attr-defined]

    def offset_ms(self) -> int | None:
        sampled = self._sampled()
        if sampled is not None:
            return sampled
        measured = self.broker_offset()
        if measured is not None:
            return measured
        asked, at = self._asked
        if asked is None and time.monotonic() - at > OFFSET_RETRY_SECONDS:
            try:
                server = int(make_client(self._settings, timeout=5).futures_time()["serverTime"])
                asked = server - int(time.time() * 1000)
            except Exception as e:  # noqa: BLE001 (no answer: the wall clock is taken as the market's)
                log.info("no exchange time for proposal deadlines: %s", type(e).__name__)
            self._asked = (asked, time.monotonic())
        return asked


class Orders:
    def __init__(
        self, settings: Settings, db: Db, trader: Trader, confirmations: Confirmations | None, pause: PauseGate,
        stream: KlineStream, guard: DatabaseGuard, brackets: BracketCache | None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._db = db
        self._trader = trader
        self.confirmations = confirmations  # None: CONFIRM_ORDERS=off and no four-eyes limit
        self._pause = pause
        self._stream = stream  # the market stream: is its price fresh enough for a Confirm?
        self._guard = guard
        self._brackets = brackets

    # ------------------------------------------------------------- /long, /short, /close
    def propose_order(self, action: str, symbol: str | None, qty: Decimal | None, user_id: int | None,
                      typed: str | None = None) -> Proposal | Outcome:  # fmt: skip
        """A Proposal to confirm (CONFIRM_ORDERS=on), or an Outcome (placed at once, or why not:
        a typed answer, worded by bot/texts.answer_line).
        `action`: long, short, close, or (Hedge Mode) `close long` / `close short`: one leg;
        it quotes `typed` when that is what the person typed instead of this order's own (/close all)."""
        symbol = (symbol or self.settings.symbols[0]).upper()
        if symbol not in self.settings.symbols:
            raise ValueError(f"{symbol} is not traded (SYMBOLS={','.join(self.settings.symbols)})")
        if self._guard.check():
            return refused(Kind.NOT_PROPOSED, why=self._guard.halted.reason)
        trader = self._trader
        if trader.broker is None:
            return refused(Kind.NO_BROKER, mode=trader.mode)
        action, only = action.partition(" ")[0], action.partition(" ")[2].upper()
        want = {"long": 1, "short": -1, "close": 0}[action]
        if want and self._pause.paused():
            return refused(Kind.PAUSED)
        if want and (why := trader.guard.entry_blocked(symbol)) is not None:
            return refused(Kind.BLOCKED, quoted=why, symbol=symbol)
        mismatch = trader.position_mode.mismatch  # the account's mode switched under the book: said as it was noticed
        blocked = order_blocked(trader.portfolio, trader.hedge, bool(mismatch), symbol, want, only)
        if blocked is Refusal.MODE_MISMATCH:
            return refused(Kind.NOT_PROPOSED, why=mismatch)
        if blocked is not None:
            kind = Kind.LEG_IN_ONE_WAY if blocked is Refusal.LEG_IN_ONE_WAY else Kind.NOTHING_TO_CLOSE
            return refused(kind, symbol=symbol, leg=only)
        price = self.price(symbol)
        if price is None:
            return refused(Kind.NO_PRICE, symbol=symbol)
        last = trader.last_open(symbol)
        if last is None:  # right after a restart, before the feed's warm-up: what is stored
            stored = self._db.latest(symbol, self.settings.interval, 1)
            last = stored[0].open_time if stored else None
        if last is None:
            return refused(Kind.NO_CANDLE, symbol=symbol)
        asked = qty  # the proposal quotes what was typed, and says when it was rounded
        if qty is not None:  # what will be sent: rounded down to the symbol's step, shown as such
            rules = trader.filters.get(symbol)
            if rules is not None:
                stepped = rules.floor_qty(qty)
                if not stepped:
                    return refused(Kind.BELOW_STEP, symbol=symbol, numbers={"qty": qty, "step": rules.market_step})
                qty = stepped
        reason = typed or f"/{action}" + (f" {only.lower()}" if only else "") + (f" {asked.normalize():f}" if asked is not None else "") + (f" {symbol}" if symbol != self.settings.symbols[0] else "")
        if asked is not None and qty is not None and qty != asked:
            reason += f" (rounded down to the step: {qty:f})"
        # decided at the last candle's open (exchange clock: lookups accept orders after it)
        legs = trader.legs(symbol, want, reason, last, qty, stamp=int(time.time() * 1000), only=only)
        if not legs:
            return refused(Kind.ALREADY, action=action, symbol=symbol)
        problem = self._check_now(legs, price)
        if problem:
            return refused(Kind.NOT_PROPOSED, why=problem)
        kind = "reverse" if len(legs) == 2 and not legs[1].closes else action
        held = self.held(symbol, legs[0].position_side)  # the net position, or the leg traded
        apart = trader.portfolio.exposure(symbol) - abs(held)  # Hedge Mode: the other leg counts too
        if self.confirmations is not None and not self.settings.confirm_orders:
            why = four_eyes_over(held, legs, price, self.settings.four_eyes_notional, apart)
            if why is None:
                return placed_now(trader.place(legs, price), symbol, trader.filters[symbol])
        else:
            why = None
        if self.confirmations is not None:
            return self.confirmations.propose(
                symbol=symbol, action=kind, legs=legs, ref_price=price, reason=reason,
                # at least one whole candle to answer in: until the candle after the forming one closes
                source="manual", requested_by=user_id, valid_until_open=last + 2 * self.settings.interval_ms,
                basis=held, legs_before=legs_of(trader.portfolio, symbol) if trader.hedge else None, four_eyes=why,
            )
        return placed_now(trader.place(legs, price), symbol, trader.filters[symbol])

    # ------------------------------------------------------------- Confirm and Reject
    def confirm(
        self, proposal_id: int, user_id: int | None, who: str | None = None, message: tuple[int, int] | None = None
    ) -> Outcome:
        """Exactly one of any number of presses places the orders; the others are told why not.
        `message`: the (chat, message id) pressed, which must be the proposal's own."""
        if self._guard.check():
            return refused(Kind.NOT_PLACED, why=self._guard.halted.reason)
        conf = self.confirmations
        if conf is None:
            return refused(Kind.CONFIRMATIONS_OFF)
        p = conf.get(proposal_id)
        if p is None or not conf.owns(p, message):
            return stale(message)
        if p.action != "close" and p.status == "pending" and self._pause.paused():  # stays pending
            return refused(Kind.PAUSED, p)
        if p.action != "close" and p.status == "pending" and (why := self._trader.guard.entry_blocked(p.symbol)) is not None:
            return refused(Kind.BLOCKED, p, quoted=why, symbol=p.symbol)  # stays pending, like a pause
        price = self.live_price(p.symbol)
        if price is None:  # checked before the claim: a press now changes nothing
            return refused(Kind.NO_LIVE_PRICE, p)
        trader = self._trader
        # Under the trader's lock from deriving the legs to booking their fills: the position
        # the legs are derived from is the one they are placed on.
        with trader.lock:
            ps = p.legs[0].position_side  # a Hedge Mode leg, or BOTH
            before, sizes = self.held(p.symbol, ps), [position_sizes(trader.portfolio, p.symbol, ps)]

            def derive(q: Proposal) -> list[OrderRequest] | Reason:
                return press_legs(q.intent or intent_of(q.legs), q.basis, q.legs, trader.portfolio, before,
                                  lambda n: conf.name_leg(q.id, n))  # fmt: skip
            planned = derive(p)  # four-eyes counts the position these orders lead to, at this price
            apart = trader.portfolio.exposure(p.symbol) - abs(before)  # Hedge Mode: the other leg counts too
            waiting = None if isinstance(planned, Reason) else conf.approve(p, user_id, who or f"user {user_id}", before, planned,
                                                                          price, apart)  # fmt: skip
            if waiting is not None:
                return waiting
            claim = conf.claim(proposal_id, user_id, trader.cursor(p.symbol), price, message, derive)
            if not claim.ok or claim.proposal is None:
                return claim
            p = claim.proposal
            # a crash from here on is reconciled, never re-sent
            conf.finish(p.id, "confirmed", "placed", Answer(Kind.PLACING))
            placed = trader.place(p.legs, price)
            sizes.append(position_sizes(trader.portfolio, p.symbol, ps))
        answer = Answer(Kind.PLACED, symbol=p.symbol,
                        placed=Placed(placed, (), ps != "BOTH", trader.filters[p.symbol], tuple(sizes)))  # fmt: skip
        if placed.unknown:
            return Outcome(False, answer, conf.finish(p.id, "placed", "placed", answer))
        status = "failed" if placed.error and not placed.fills else "filled"
        return Outcome(status == "filled", answer, conf.finish(p.id, "placed", status, answer))

    def reject(self, proposal_id: int, user_id: int | None, who: str, message: tuple[int, int] | None = None) -> Outcome:
        if self.confirmations is None:
            return refused(Kind.CONFIRMATIONS_OFF)
        return self.confirmations.reject(proposal_id, user_id, who, message)

    def reject_all(self, up_to: int, user_id: int | None, who: str) -> list[Proposal]:
        """Reject every proposal up to `up_to` that is still pending (the ones /pending listed)."""
        c = self.confirmations
        return c.reject_all(up_to, user_id, who) if c is not None else []

    def proposal(self, proposal_id: int) -> Proposal | None:
        c = self.confirmations
        return c.get(proposal_id) if c is not None else None

    def approvals(self, proposal_id: int) -> list[str]:
        """Four-eyes: the admins who confirmed a pending proposal so far."""
        c = self.confirmations
        return c.approvals(proposal_id) if c is not None else []

    def open_proposals(self) -> list[Proposal]:
        c = self.confirmations
        return c.open() if c is not None else []

    def set_proposal_message(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        c = self.confirmations
        if c is not None:
            c.set_message(proposal_id, chat_id, message_id)

    def expire_proposals(self) -> int:
        """PROPOSAL_TTL expiry by the wall clock, whether or not candles are closing (a
        JobQueue job calls it), so a stopped stream never leaves stale live buttons."""
        c = self.confirmations
        return len(c.expire_due(-1)) if c is not None else 0

    # ------------------------------------------------------------- prices and checks
    def price(self, symbol: str) -> Decimal | None:
        """The latest price the trader saw, else (right after a restart, before the feed's
        warm-up) the last stored close."""
        live = self._trader.current_price(symbol)
        if live is not None:
            return live
        stored = self._db.latest(symbol, self.settings.interval, 1)
        return Decimal(repr(float(stored[0].close))) if stored else None

    def live_price(self, symbol: str) -> Decimal | None:
        """The price a Confirm may fill at: the stream's latest while it is connected and its
        last message is no older than STREAM_STALE_SECONDS; else the exchange's price asked
        now (one quick request); else None (stopped, reconnecting and the exchange silent).
        A price from before /stop or a drop is never used: it could be hours old."""
        st = self._stream.status()
        age = st.last_message_age
        if st.running and st.connected and age is not None and age <= self.settings.stream_stale_seconds:
            price = self._trader.current_price(symbol)
            if price is not None:
                return price
        try:
            answer = make_client(self.settings, timeout=5).futures_symbol_ticker(symbol=symbol)
            return Decimal(str(answer["price"]))
        except Exception as e:  # noqa: BLE001 (any failure means: no live price)
            log.info("no live price for %s from the exchange: %s", symbol, type(e).__name__)
            return None

    def held(self, symbol: str, position_side: str = "BOTH") -> Decimal:
        """The signed size of the symbol's net position, or of its Hedge Mode leg."""
        pos = self._trader.portfolio.held(symbol, position_side)
        return pos.qty if pos is not None else Decimal(0)

    def _check_now(self, legs: list[OrderRequest], price: Decimal) -> Reason | None:
        """The symbol's filters and the hard limits, at today's price, before anyone is asked
        to confirm an order that could only fail (a silly size is refused here, in one line)."""
        trader = self._trader
        for leg in legs:
            if leg.closes:
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
                return e.reason
            held = abs(p.qty) if (p := trader.portfolio.held(leg.symbol, leg.position_side)) is not None else Decimal(0)
            if self._brackets is not None and (why := self._brackets.order_problem(leg.symbol, leg.leverage, (held + qty) * price)):
                return why
        return None
