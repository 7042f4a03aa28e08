"""Isolated margin, liquidation, ADL and margin calls on the replay's account.

Margin: `POST /fapi/v1/marginType` (or `margin_type=` on the exchange) makes a symbol
ISOLATED. Its position then has an isolated wallet: each opening fill adds its notional /
leverage, a reducing fill releases the closed share. A CROSSED position is backed by the
wallet less the isolated wallets, plus the other cross positions' PnL less their
maintenance margin.

Liquidation: maintenance margin comes from the brackets `/fapi/v1/leverageBracket` serves
(rules.py). When a replayed update's worst price (the low for a long, the high for a
short) brings the position's margin (isolated wallet, or its cross share, plus unrealized
PnL) down to its maintenance margin, the position is liquidated at its liquidation price
(positionRisk's `liquidationPrice`, clamped into the update's range): the symbol's open
orders are cancelled and its conditional orders EXPIRE, a reduce-only order with client
id `autoclose-<n>` fills the whole position (ORDER_TRADE_UPDATE o=LIQUIDATION, f=IOC,
x=NEW then x=CALCULATED X=FILLED, taker commission), then the insurance clearance fee
(notional × exchangeInfo's liquidationFee 1.25 %, at most what margin is left) leaves the
wallet: ACCOUNT_UPDATE m=INSURANCE_CLEAR with `bc` = -fee and an INSURANCE_CLEAR income
row. An isolated position never loses more than its isolated wallet.

MARGIN_CALL is pushed once when a position's maintenance margin reaches
`margin_call_ratio` (default 0.8) of its margin, again after it has recovered.
Controls: `liquidate` (now, at the last price), `adl` (`adl_autoclose` at the last price,
no fee; `quantity` for part of it), `margin-call` (one now); in Hedge Mode with
`positionSide` LONG/SHORT (needed when both legs are open).

Hedge Mode: every leg is a position of its own here: an isolated leg has its own wallet,
liquidation price and liquidation (its orders cancelled and its conditional orders
expired, the other leg untouched); a cross leg is backed by the wallet, the other
positions' PnL (the symbol's other leg too) less their maintenance margin.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sim.binance.account import Account
from sim.binance.algo import AlgoBook
from sim.binance.clock import Step
from sim.binance.errors import BinanceError
from sim.binance.klines import KlineUpdate
from sim.binance.orders import ZERO, Position, Trade, decimal_param
from sim.binance.reports import fixed
from sim.binance.rules import Bracket, brackets_for, maint_margin
from sim.binance.user_events import AccountWatcher

LIQUIDATION_FEE = Decimal("0.0125")  # exchangeInfo's liquidationFee


def bracket_of(notional: Decimal, symbol: str = "BTCUSDT") -> Bracket:
    table = brackets_for(symbol)
    for b in table:
        if abs(notional) < b.cap:
            return b
    return table[-1]


class Liquidator:
    def __init__(
        self, account: Account, algo: AlgoBook, watcher: AccountWatcher, *, margin_call_ratio: Decimal = Decimal("0.8")
    ) -> None:
        self.account = account
        self.algo = algo
        self.watcher = watcher
        self.margin_call_ratio = margin_call_ratio
        self._amt: dict[tuple[str, str], Decimal] = {}  # per position, what the trades made it
        self._called: set[tuple[str, str]] = set()
        self._ids = itertools.count(1)
        account.liquidation_price = self.liquidation_price
        watcher.on_trade.append(self._on_trade)

    # ---- margin ------------------------------------------------------------------------------

    def isolated(self, sym: str) -> bool:
        return self.account.margin_types[sym] == "ISOLATED"

    def _on_trade(self, t: Trade) -> None:
        """Keep the isolated wallet of the position the trade changed."""
        key = (t.symbol, t.position_side)
        before = self._amt.get(key, ZERO)
        signed = t.qty if t.side == "BUY" else -t.qty
        self._amt[key] = before + signed
        if not self.isolated(t.symbol):
            return
        pos = self.account.position(t.symbol, t.position_side)
        lev = pos.leverage
        if not before or (before > 0) == (signed > 0):
            pos.isolated_wallet += t.qty * t.price / lev
            return
        closing = min(t.qty, abs(before))
        pos.isolated_wallet *= (abs(before) - closing) / abs(before)
        if t.qty > closing:  # flipped: the rest opens the other way
            pos.isolated_wallet += (t.qty - closing) * t.price / lev

    def collateral(self, pos: Position, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """What backs the position besides its own PnL."""
        acc = self.account
        if self.isolated(pos.symbol):
            return pos.isolated_wallet
        total = acc.wallet - acc.isolated_total()
        for other in acc.every_position():
            if other is pos or self.isolated(other.symbol) or not other.amt:
                continue
            mark = (marks or {}).get(other.symbol, acc.mark(other.symbol))
            total += (mark - other.entry) * other.amt - maint_margin(other.amt * mark, other.symbol)
        return total

    def liquidation_price(self, pos: Position) -> Decimal:
        if not pos.amt:
            return ZERO
        sym = pos.symbol
        a, entry = abs(pos.amt), pos.entry
        b = bracket_of(a * entry, sym)
        c = self.collateral(pos)
        if pos.amt > 0:
            price = (a * entry - c - b.cum) / (a * (1 - b.maint_ratio))
        else:
            price = (c + a * entry + b.cum) / (a * (1 + b.maint_ratio))
        return max(price, ZERO)

    def _on_tick(self, pos: Position, price: Decimal) -> Decimal:
        """Fills happen on the tick: the liquidation price rounded toward the entry."""
        tick = self.account.specs[pos.symbol].tick_size
        up = pos.amt > 0
        return (price / tick).quantize(Decimal(1), rounding=ROUND_CEILING if up else ROUND_FLOOR) * tick

    def margin_of(self, pos: Position, price: Decimal) -> tuple[Decimal, Decimal]:
        """(margin, maintenance margin) of the position if the price were `price`."""
        return self.collateral(pos) + (price - pos.entry) * pos.amt, maint_margin(pos.amt * price, pos.symbol)

    # ---- the replayed price --------------------------------------------------------------------

    async def ready(self) -> None:
        return None

    def on_step(self, step: Step) -> None:
        """Runs after the limit-order matching and before the algo book: a liquidation
        reached before a stop's trigger along the path comes first (and expires the stop)."""
        self.watcher.sync()  # fills of this step first: they change the margin
        for item in step.items:
            sym = item.series.symbol
            for pos in self.account.rows(sym):
                self._check(pos, item.update)

    def _check(self, pos: Position, update: KlineUpdate) -> None:
        key = (pos.symbol, pos.side)
        if not pos.amt:
            self._called.discard(key)
            return
        low, high, when = Decimal(update.low), Decimal(update.high), update.event_time
        worst = low if pos.amt > 0 else high
        margin, maint = self.margin_of(pos, worst)
        if margin <= maint:
            price = self._on_tick(pos, min(max(self.liquidation_price(pos), low), high))
            if not self._stop_comes_first(pos, price, low, high):
                self.liquidate(pos, price, when)
            return
        margin, maint = self.margin_of(pos, self.account.mark(pos.symbol))
        if margin > 0 and maint >= margin * self.margin_call_ratio:
            if key not in self._called:
                self._called.add(key)
                self.margin_call(pos, when)
        else:
            self._called.discard(key)

    def _stop_comes_first(self, pos: Position, liq: Decimal, low: Decimal, high: Decimal) -> bool:
        """A resting stop that closes the position and lies between the price and the
        liquidation price fires first on the way down (up, for a short): the algo book,
        the next sink, closes the position and there is nothing to liquidate."""
        long = pos.amt > 0
        for o in self.algo.orders.values():
            if o.symbol != pos.symbol or o.position_side != pos.side or o.status != "NEW":
                continue
            if not (o.close_position or o.reduce_only or pos.side != "BOTH"):
                continue
            if (o.side == "SELL") != long or o.fires_below != long:
                continue
            if (liq <= o.trigger and low <= o.trigger) if long else (o.trigger <= liq and o.trigger <= high):
                return True
        return False

    # ---- liquidation, ADL, margin call ---------------------------------------------------------

    def liquidate(self, pos: Position, price: Decimal, when: int) -> Trade:
        """Close `pos` (one leg in Hedge Mode: only its own orders go)."""
        acc = self.account
        sym = pos.symbol
        if not pos.amt:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        for order in list(acc._open[sym]):
            if order.position_side == pos.side:
                acc._cancel(order)
        for o in self.algo.orders.values():
            if o.symbol == sym and o.position_side == pos.side and o.status == "NEW":
                o.status, o.update_time = "EXPIRED", when
        isolated_wallet = pos.isolated_wallet if self.isolated(sym) else None
        wallet_before = acc.wallet
        side = "SELL" if pos.amt > 0 else "BUY"
        acc.execute_triggered(
            sym, side, abs(pos.amt), client_id=f"autoclose-{next(self._ids)}",
            reduce_only=pos.side == "BOTH", price=price, when=when, position_side=pos.side,
        )  # fmt: skip
        trade = acc.trades[-1]
        self.watcher.sync()
        left = acc.wallet if isolated_wallet is None else isolated_wallet + (acc.wallet - wallet_before)
        if left < 0:  # bankrupt: the insurance fund covers the rest
            acc.wallet -= left
            left = ZERO
        fee = min(trade.qty * trade.price * LIQUIDATION_FEE, left)
        acc.wallet -= fee
        acc.update_time = when
        self.watcher.income.add("INSURANCE_CLEAR", -fee, "USDT", when, symbol=sym)
        self.watcher.publish(self.watcher.account_update("INSURANCE_CLEAR", when, positions=[pos], change=-fee))
        return trade

    def adl(self, pos: Position, qty: Decimal | None, when: int) -> Trade:
        acc = self.account
        sym = pos.symbol
        if not pos.amt:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        qty = min(qty or abs(pos.amt), abs(pos.amt))
        acc.execute_triggered(
            sym, "SELL" if pos.amt > 0 else "BUY", qty, client_id="adl_autoclose",
            reduce_only=pos.side == "BOTH", price=acc.mark(sym), when=when, position_side=pos.side,
        )  # fmt: skip
        trade = acc.trades[-1]
        acc.wallet += trade.commission  # ADL charges no fee
        trade.commission = ZERO
        return trade

    def margin_call(self, pos: Position, when: int) -> None:
        acc = self.account
        sym = pos.symbol
        mark = acc.mark(sym)
        iso = self.isolated(sym)
        event: dict[str, object] = {"e": "MARGIN_CALL", "E": when}
        if not iso:  # "Cross Wallet Balance. Only pushed with crossed position margin call"
            event["cw"] = fixed(acc.wallet - acc.isolated_total(), 8)
        self.watcher.publish(
            {
                **event,
                "p": [
                    {
                        "s": sym,
                        "ps": pos.side,
                        "pa": fixed(pos.amt, acc.specs[sym].quantity_precision),
                        "mt": "ISOLATED" if iso else "CROSSED",
                        "iw": fixed(pos.isolated_wallet if iso else ZERO, 8),
                        "mp": fixed(mark, 8),
                        "up": fixed(acc.unrealized(pos), 8),
                        "mm": fixed(maint_margin(pos.amt * mark, pos.symbol), 8),
                    }
                ],
            }
        )

    # ---- controls --------------------------------------------------------------------------------

    def controls(self, default_symbol: str) -> dict[str, object]:
        acc, now = self.account, self.watcher.now

        def position(p: Mapping[str, str]) -> Position:
            return chosen_position(acc, p, default_symbol)

        def liquidate(p: Mapping[str, str]) -> object:
            pos = position(p)
            return _trade_json(self.liquidate(pos, acc.mark(pos.symbol), now()))

        def adl(p: Mapping[str, str]) -> object:
            return _trade_json(self.adl(position(p), decimal_param(p, "quantity"), now()))

        def margin_call(p: Mapping[str, str]) -> object:
            pos = position(p)
            if not pos.amt:
                raise BinanceError(-2022, "ReduceOnly Order is rejected.")
            self.margin_call(pos, now())
            return {}

        return {"liquidate": liquidate, "adl": adl, "margin-call": margin_call}


def chosen_position(acc: Account, p: Mapping[str, str], default_symbol: str) -> Position:
    """The position a control names: `symbol` (default: the first served) and, in Hedge
    Mode, `positionSide` (the open leg when only one is; both open: it must be said)."""
    sym = acc.require_spec({"symbol": p.get("symbol") or default_symbol}).symbol
    ps = p.get("positionSide") or ""
    if not acc.hedge:
        if ps not in ("", "BOTH"):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        return acc.position(sym)
    if ps in ("LONG", "SHORT"):
        return acc.position(sym, ps)
    if ps:
        raise BinanceError(-4061, "Order's position side does not match user's setting.")
    held = [leg for leg in acc.rows(sym) if leg.amt]
    if len(held) == 1:
        return held[0]
    if not held:
        return acc.position(sym, "LONG")  # empty: the action answers -2022
    raise BinanceError(-1102, "Mandatory parameter 'positionSide' was not sent, was empty/null, or malformed.")


def _trade_json(t: Trade) -> dict[str, object]:
    return {"symbol": t.symbol, "orderId": t.order_id, "id": t.trade_id, "side": t.side, "positionSide": t.position_side,
            "price": str(t.price), "qty": str(t.qty), "realizedPnl": str(t.realized_pnl)}  # fmt: skip
