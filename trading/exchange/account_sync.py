"""What the user data stream's events (and the REST catch-up after a gap) do to the book.

- Order trade updates (x=TRADE, or x=CALCULATED for a liquidation or an auto-deleverage):
  one fill per trade, keyed `<symbol>:t<trade id>`, booked once through the sink (a no-op when
  the order's REST answer or an earlier arrival booked it). Who placed it is read from the
  client order id: the bot's exits (`tgx-<instance>-…-sl`/`-tp`), Binance itself (BINANCE_IDS:
  a liquidation `autoclose-…`, an auto-deleverage `adl_autoclose`, a delisting or delivery
  settlement `settlement_autoclose-…`), the bot's own orders (`tg…`), or anyone else (a
  trade by hand in Binance's app or website). A Hedge Mode fill (`ps` LONG/SHORT) is booked
  into its leg when the bot trades Hedge Mode; one whose mode is not the book's (`ps`
  LONG/SHORT on a One-way book, BOTH on a Hedge Mode book: the account was switched in
  Binance's app) is never booked into the wrong model: said once per symbol.
- TRADE_LITE (Binance's fast subset of a fill, sent before its ORDER_TRADE_UPDATE) and
  x=AMENDMENT (an order modified, nothing traded) book nothing: the fill is booked once,
  from the order update with x=TRADE (or CALCULATED).
- ALGO_UPDATE, informational (the fill itself arrives as an ORDER_TRADE_UPDATE); a FINISHED
  exit of the bot's is logged.
- ACCOUNT_CONFIG_UPDATE, with `ai` (the account's configuration changed; Binance sends no
  position mode in it, and has been seen to send nothing at all for a position-mode
  change): the mode is read again (GET positionSide/dual), as after every reconnect; one
  unlike the book's stops every order, said once (trader.follow_mode, core/position_mode.py).
- MARGIN_CALL: a chat warning with each position and the margin ratio (maintenance margin
  over margin balance).
- After every (re)connect, `on_connected`: account trades since the last booked trade id
  (per symbol, `fromId`; without one, since the last booked fill), booked the same way,
  then every position's exits checked against the exchange's open algo orders.

This module only speaks Binance: it decodes the venue's messages into core values (a Fill, a
funding payment, a charge) and hands each to its sink (trading/live/follow.py), which books it
once through the trader; it never reads or changes the trader itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol

from trading.core.events import (
    AccountModeSwitched,
    Event,
    MarginCall,
    MarginPosition,
    Notifier,
    OtherModeFill,
    Reconciled,
)
from trading.core.findings import ExitsResynced, FillsCaughtUp, FundingCaughtUp, TradesUnreadable
from trading.core.portfolio import Fill
from trading.exchange.fees import asset_price
from trading.exchange.orders import ANY_ERROR, _what, dec
from trading.exchange.protection import ExchangeExits

log = logging.getLogger(__name__)
ZERO = Decimal(0)
OWN_PREFIXES = ("tg-", "tgp-")
# Orders Binance places itself, by client id prefix (the USDⓈ-M user data stream docs'
# "special client order id"; nautilus_trader reads the same three): the one table.
BINANCE_IDS = (("autoclose-", "liquidation"), ("adl_autoclose", "adl"), ("settlement_autoclose-", "settlement"))


class AccountSink(Protocol):
    """Where the decoded account events go (trading/live/follow.py books them)."""

    def fill(self, fill: Fill, what: str, order_key: str) -> bool:
        """Book one fill unless it (or its order, `order_key`, booked whole) was; True if booked now."""

    def funding(self, symbol: str, amount: Decimal, ts: int, position_side: str = "BOTH") -> bool:
        """Book one funding payment (+ received, − paid) once, into its Hedge Mode leg
        (LONG/SHORT) or the symbol's position (BOTH); True if booked now."""

    def legs(self, symbol: str) -> dict[str, Decimal]:
        """The book's open Hedge Mode legs of a symbol now (LONG/SHORT → size)."""

    def hedge(self) -> bool:
        """The book trades Hedge Mode legs (positionSide LONG/SHORT), else One-way Mode."""

    def account_mode(self, hedge: bool) -> AccountModeSwitched | None:
        """The account's position mode as read while running; what to say once when it is
        not the book's (no order is sent then) or is again, else None."""

    def charge(self, symbol: str, amount: Decimal, ts: int, key: str, what: str) -> bool:
        """Book a charge with no trade (an insurance clearance fee) once; True if booked now."""

    def held(self) -> AbstractContextManager[object]:
        """The book held still for a whole catch-up (no order placed meanwhile)."""

    def synced(self) -> list[ExitsResynced]:
        """After a catch-up: the resting exits checked against the exchange; what it changed."""

    def last_trade(self, symbol: str) -> tuple[int | None, int | None]:
        """(the last booked trade id, the last booked fill's time) of a symbol."""

    def first_fill_time(self) -> int | None:
        """The time of the first fill booked in this mode (None: none yet)."""

    def last_funding_time(self) -> int | None:
        """The time of the last funding payment booked (None: none yet)."""


def funding_legs(
    amounts: Sequence[Decimal], legs: Mapping[str, Decimal], settled_rate: Callable[[], Decimal | None],
) -> list[tuple[str, Decimal]]:  # fmt: skip
    """Hedge Mode: the leg each FUNDING_FEE row of one symbol and time was charged on.
    Binance's income history names no leg, so: with one row and one open leg, that leg;
    else by the settled rate's sign (a long pays a positive rate, a short receives it: a
    LONG row is −rate's sign); without that rate, two rows apart by their sizes (each leg
    pays on its own notional at the same mark, so the larger row is the larger leg's). When
    none of these tells (two equal legs, no rate), the sum is the symbol's (BOTH): the money
    is booked exact, only not split."""
    if len(amounts) == 1 and len(legs) == 1:
        return [(next(iter(legs)), amounts[0])]
    rate = settled_rate()
    if rate:
        out: dict[str, Decimal] = {}
        for a in amounts:
            ps = "LONG" if (a < 0) == (rate > 0) else "SHORT"
            out[ps] = out.get(ps, ZERO) + a
        return sorted(out.items())
    if len(amounts) == 2 and len(legs) == 2 and legs.get("LONG") != legs.get("SHORT") and (amounts[0] < 0) != (amounts[1] < 0):
        small, large = sorted(amounts, key=abs)
        bigger = "LONG" if legs["LONG"] > legs["SHORT"] else "SHORT"
        return sorted([(bigger, large), ("SHORT" if bigger == "LONG" else "LONG", small)])
    return [("BOTH", sum(amounts, ZERO))]


class AccountFollower:
    def __init__(
        self,
        sink: AccountSink,
        client: Any,
        symbols: Sequence[str],
        notifier: Notifier,
        exits: ExchangeExits | None = None,
        call: Callable[..., Any] | None = None,
        keep_clock: Callable[[], None] | None = None,
    ) -> None:
        self.sink = sink
        self.exits = exits  # the bot's resting exits: which client ids are its stop and take
        self._keep_clock = keep_clock  # the broker's: signed calls need Binance's clock
        self.client = client
        self.symbols = tuple(symbols)
        self.notifier = notifier
        self._call = call or (lambda fn, **kw: fn(**kw))
        self._client_ids: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()  # one catch-up at a time (start, reconnect)
        self._hedge_told: set[str] = set()  # symbols whose fills of the other position mode were said
        self.booked = 0  # fills this follower booked (a catch-up counts its own)

    # ------------------------------------------------------------------ who placed it
    def what(self, client_id: str) -> str:
        keeper = self.exits
        kind = keeper.kind_of(client_id) if keeper is not None else None
        if kind is not None:
            return kind
        for prefix, what in BINANCE_IDS:
            if client_id.startswith(prefix):
                return what
        iid = keeper.prefix[len("tgx-") : -1] if keeper is not None else ""
        if iid and client_id.startswith(tuple(f"{p}{iid}-" for p in OWN_PREFIXES)):
            return "own"  # this bot's own order (client ids carry the database's instance id)
        return "outside"

    # ------------------------------------------------------------------ stream events
    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            self._order_update(event.get("o") or {})
        elif kind == "ACCOUNT_UPDATE" and (event.get("a") or {}).get("m") == "FUNDING_FEE":
            # A cross position's FUNDING_FEE update names no symbol: the income history does.
            self.catch_up_funding()
        elif kind == "ACCOUNT_UPDATE" and (event.get("a") or {}).get("m") == "INSURANCE_CLEAR":
            self.catch_up_charges()
        elif kind == "MARGIN_CALL":
            self._margin_call(event)
        elif kind == "ACCOUNT_CONFIG_UPDATE" and "ai" in event:
            self.check_mode()
        elif kind == "ALGO_UPDATE":
            o = event.get("o") or {}
            log.info("algo order %s %s: %s", o.get("caid"), o.get("o"), o.get("X"))

    def _order_update(self, o: Mapping[str, Any]) -> None:
        if o.get("x") not in ("TRADE", "CALCULATED") or o.get("s") not in self.symbols:
            return
        symbol, trade_id, order_id = o["s"], int(o.get("t") or 0), int(o.get("i") or 0)
        qty, price, when = dec(o.get("l")), dec(o.get("L")), int(o.get("T") or 0)
        if not qty:
            return
        ps = str(o.get("ps") or "BOTH")
        if self._other_mode(symbol, ps, o.get("S", ""), qty, price):
            return
        client_id = str(o.get("c") or f"order-{order_id}")
        self._client_ids[(symbol, order_id)] = client_id
        fill = self._fill(symbol, client_id, o.get("S", ""), qty, price, when, trade_id, order_id,
                          dec(o.get("n")), o.get("N") or "USDT", position_side=ps)  # fmt: skip
        self._book(fill, self.what(client_id), order_id)

    def _fill(
        self, symbol: str, client_id: str, side: str, qty: Decimal, price: Decimal, when: int,
        trade_id: int, order_id: int, commission: Decimal, asset: str, recent: bool = True, position_side: str = "BOTH",
    ) -> Fill:  # fmt: skip
        fee, amount = commission, None
        if asset != "USDT":
            amount = commission
            rate = asset_price(self.client, asset, when, self._call, recent=recent) if commission else ZERO
            fee = (commission * rate).quantize(Decimal("0.00000001")) if rate is not None else ZERO
        keys = (f"{symbol}:t{trade_id}",) if trade_id else (f"{symbol}:o{order_id}",)
        return Fill(client_id, symbol, side, qty, price, fee, when, "exchange", keys, asset, amount, position_side)

    def _book(self, fill: Fill, what: str, order_id: int) -> None:
        # `<symbol>:o<order id>`: its order was booked whole when its trades were unreadable
        if self.sink.fill(fill, what, f"{fill.symbol}:o{order_id}"):
            self.booked += 1

    def _other_mode(self, symbol: str, side: str, order_side: str, qty: Decimal, price: Decimal) -> bool:
        """True for a fill of the other position mode than the book's: kept out of it, said
        once per symbol (the account was switched in Binance's app; entries stop until the
        book and the account agree again)."""
        hedge = self.sink.hedge()
        if (side != "BOTH") == hedge:
            return False
        if symbol not in self._hedge_told:
            self._hedge_told.add(symbol)
            self._notify(OtherModeFill(symbol, side, order_side, qty, price, hedge))
        return True

    def _margin_call(self, event: Mapping[str, Any]) -> None:
        rows = [p for p in event.get("p") or [] if p.get("s") in self.symbols] or list(event.get("p") or [])
        # Binance sends cw (the cross wallet) only for a cross position's margin call; an
        # isolated position's margin balance is its own wallet iw plus its uPnL.
        isolated = [p for p in rows if p.get("mt") == "ISOLATED"]
        cross = [p for p in rows if p.get("mt") != "ISOLATED"]
        balance = sum((dec(p.get("iw")) + dec(p.get("up")) for p in isolated), ZERO)
        if cross:
            balance += dec(event.get("cw")) + sum((dec(p.get("up")) for p in cross), ZERO)
        maint = sum((dec(p.get("mm")) for p in rows), ZERO)
        ratio = maint / balance * 100 if balance > 0 else None
        positions = tuple(MarginPosition(str(p.get("s")), dec(p.get("pa")), dec(p.get("mp")), dec(p.get("up"))) for p in rows)
        self._notify(MarginCall(ratio, maint, balance, positions))

    # ------------------------------------------------------------------ after a (re)connect
    def check_mode(self) -> None:
        """The account's position mode against the book's; a change is said once."""
        try:
            hedge = bool(self._call(self.client.futures_get_position_mode).get("dualSidePosition"))
        except ANY_ERROR as e:
            log.warning("position mode unreadable: %s", _what(e))
            return
        switched = self.sink.account_mode(hedge)
        if switched is not None:
            self._notify(switched)

    def on_connected(self) -> None:
        if self._keep_clock is not None:  # the account stream may connect before any /start measured it
            self._keep_clock()
        self.check_mode()
        for found in self.catch_up():
            self._notify(Reconciled(found))

    def catch_up(self) -> list[FillsCaughtUp | FundingCaughtUp | ExitsResynced]:
        """Book every account trade of the traded symbols since the last one booked; what it did."""
        said: list[FillsCaughtUp | FundingCaughtUp | ExitsResynced] = []
        with self.sink.held(), self._lock:  # the book's lock first, as the reconciliation takes it
            for symbol in self.symbols:
                n = self._catch_up_symbol(symbol)
                if n:
                    said.append(FillsCaughtUp(symbol, n))
            self.catch_up_charges()
            n = self.catch_up_funding()
            if n:
                said.append(FundingCaughtUp(n))
            said += self.sink.synced()
        return said

    def catch_up_charges(self) -> int:
        """INSURANCE_CLEAR rows of the income history (the clearance fee of a liquidation),
        each booked once as a fee (keyed by symbol and time)."""
        first = self.sink.first_fill_time()
        if first is None:
            return 0
        try:
            rows = self._call(self.client.futures_income_history, incomeType="INSURANCE_CLEAR",
                              startTime=first, limit=1000)  # fmt: skip
        except ANY_ERROR as e:
            log.warning("income history unreadable: %s", _what(e))
            return 0
        n = 0
        for r in rows:
            symbol, ts = r.get("symbol"), int(r.get("time") or 0)
            if symbol in self.symbols and r.get("asset", "USDT") == "USDT":
                key = f"{symbol}:insurance{ts}"
                n += self.sink.charge(symbol, -dec(r.get("income")), ts, key, "insurance-clear")
        return n

    def catch_up_funding(self) -> int:
        """FUNDING_FEE rows of the income history since the last one booked (or since the
        first fill booked in this mode), each booked once per symbol and funding time."""
        last = self.sink.last_funding_time()
        if last is not None:
            start = last + 1
        else:
            first = self.sink.first_fill_time()
            if first is None:
                return 0
            start = first
        try:
            rows = self._call(self.client.futures_income_history, incomeType="FUNDING_FEE", startTime=start, limit=1000)
        except ANY_ERROR as e:
            log.warning("income history unreadable: %s", _what(e))
            return 0
        # One payment per symbol and funding time in One-way Mode. In Hedge Mode each leg pays
        # on its own notional: a row per leg, which names no leg (nor does the account update of a
        # cross position), so each row is told its leg here (funding_legs) and booked into it.
        due: dict[tuple[int, str], list[Decimal]] = {}
        for r in rows:
            if r.get("symbol") in self.symbols and r.get("asset", "USDT") == "USDT":
                due.setdefault((int(r.get("time") or 0), str(r["symbol"])), []).append(dec(r.get("income")))
        n = 0
        for (ts, symbol), amounts in sorted(due.items()):
            if not self.sink.hedge():
                n += self.sink.funding(symbol, sum(amounts, ZERO), ts)
                continue
            for ps, amount in funding_legs(amounts, self.sink.legs(symbol), lambda s=symbol, t=ts: self._settled_rate(s, t)):
                n += self.sink.funding(symbol, amount, ts, ps)
        return n

    def _settled_rate(self, symbol: str, ts: int) -> Decimal | None:
        """The rate Binance settled at the funding time `ts` (GET /fapi/v1/fundingRate; its
        fundingTime can be a few ms off the income row's), None when there is no such row."""
        try:
            rows = self._call(self.client.futures_funding_rate, symbol=symbol, startTime=ts - 60_000,
                              endTime=ts + 60_000, limit=5)  # fmt: skip
        except ANY_ERROR as e:
            log.warning("funding rate of %s at %s unreadable: %s", symbol, ts, _what(e))
            return None
        near = [r for r in rows or [] if abs(int(r.get("fundingTime") or 0) - ts) < 60_000]
        return dec(near[0].get("fundingRate")) if near else None

    def _catch_up_symbol(self, symbol: str) -> int:
        last_id, last_ts = self.sink.last_trade(symbol)
        if last_id is None and last_ts is None:
            return 0  # nothing booked yet: the position reconciliation at /start covers it
        params: dict[str, Any] = {"symbol": symbol, "limit": 1000}
        if last_id is not None:
            params["fromId"] = last_id + 1
        else:
            params["startTime"] = int(last_ts) + 1
        try:
            rows = self._call(self.client.futures_account_trades, **params)
        except ANY_ERROR as e:
            log.warning("account trades of %s unreadable: %s", symbol, _what(e))
            self._notify(Reconciled(TradesUnreadable(symbol, _what(e))))
            return 0
        before = self.booked
        for t in sorted(rows, key=lambda r: (int(r.get("time") or 0), int(r.get("id") or 0))):
            order_id = int(t.get("orderId") or 0)
            ps = str(t.get("positionSide") or "BOTH")
            if self._other_mode(symbol, ps, t.get("side", ""), dec(t.get("qty")), dec(t.get("price"))):
                continue
            client_id = self._client_id(symbol, order_id)
            fill = self._fill(symbol, client_id, t.get("side", ""), dec(t.get("qty")), dec(t.get("price")),
                              int(t.get("time") or 0), int(t.get("id") or 0), order_id, dec(t.get("commission")),
                              t.get("commissionAsset") or "USDT", recent=False, position_side=ps)  # fmt: skip
            self._book(fill, self.what(client_id), order_id)
        return self.booked - before

    def _client_id(self, symbol: str, order_id: int) -> str:
        """A trade's client order id (userTrades does not carry it): from the order."""
        key = (symbol, order_id)
        if key not in self._client_ids:
            try:
                order = self._call(self.client.futures_get_order, symbol=symbol, orderId=order_id)
                self._client_ids[key] = str(order.get("clientOrderId") or f"order-{order_id}")
            except ANY_ERROR as e:
                log.warning("order %s of %s unreadable: %s", order_id, symbol, _what(e))
                return f"order-{order_id}"
        return self._client_ids[key]

    def _notify(self, event: Event) -> None:
        try:
            self.notifier.notify(event)
        except Exception:
            log.exception("notifier failed on %s", event.kind)
