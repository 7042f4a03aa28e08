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
no fee; `quantity` for part of it), `margin-call` (one now).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sim.binance.account import Account
from sim.binance.algo import AlgoBook
from sim.binance.clock import Step
from sim.binance.errors import BinanceError
from sim.binance.orders import ZERO, Trade, decimal_param
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
        self._amt: dict[str, Decimal] = {s: ZERO for s in account.specs}
        self._called: set[str] = set()
        self._ids = itertools.count(1)
        account.liquidation_price = self.liquidation_price
        watcher.on_trade.append(self._on_trade)

    # ---- margin ------------------------------------------------------------------------------

    def isolated(self, sym: str) -> bool:
        return self.account.margin_types[sym] == "ISOLATED"

    def _on_trade(self, t: Trade) -> None:
        """Keep the isolated wallet of the position the trade changed."""
        before = self._amt[t.symbol]
        signed = t.qty if t.side == "BUY" else -t.qty
        self._amt[t.symbol] = before + signed
        if not self.isolated(t.symbol):
            return
        wallets = self.account.isolated_wallets
        lev = self.account.positions[t.symbol].leverage
        if not before or (before > 0) == (signed > 0):
            wallets[t.symbol] += t.qty * t.price / lev
            return
        closing = min(t.qty, abs(before))
        wallets[t.symbol] *= (abs(before) - closing) / abs(before)
        if t.qty > closing:  # flipped: the rest opens the other way
            wallets[t.symbol] += (t.qty - closing) * t.price / lev

    def collateral(self, sym: str, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """What backs the position besides its own PnL."""
        acc = self.account
        if self.isolated(sym):
            return acc.isolated_wallets[sym]
        total = acc.wallet - sum((acc.isolated_wallets[s] for s in acc.specs if self.isolated(s)), ZERO)
        for s, pos in acc.positions.items():
            if s == sym or self.isolated(s) or not pos.amt:
                continue
            mark = (marks or {}).get(s, acc.mark(s))
            total += (mark - pos.entry) * pos.amt - maint_margin(pos.amt * mark, s)
        return total

    def liquidation_price(self, sym: str) -> Decimal:
        pos = self.account.positions[sym]
        if not pos.amt:
            return ZERO
        a, entry = abs(pos.amt), pos.entry
        b = bracket_of(a * entry, sym)
        c = self.collateral(sym)
        if pos.amt > 0:
            price = (a * entry - c - b.cum) / (a * (1 - b.maint_ratio))
        else:
            price = (c + a * entry + b.cum) / (a * (1 + b.maint_ratio))
        return max(price, ZERO)

    def _on_tick(self, sym: str, price: Decimal) -> Decimal:
        """Fills happen on the tick: the liquidation price rounded toward the entry."""
        tick = self.account.specs[sym].tick_size
        up = self.account.positions[sym].amt > 0
        return (price / tick).quantize(Decimal(1), rounding=ROUND_CEILING if up else ROUND_FLOOR) * tick

    def margin_of(self, sym: str, price: Decimal) -> tuple[Decimal, Decimal]:
        """(margin, maintenance margin) of the position if the price were `price`."""
        pos = self.account.positions[sym]
        return self.collateral(sym) + (price - pos.entry) * pos.amt, maint_margin(pos.amt * price, sym)

    # ---- the replayed price --------------------------------------------------------------------

    async def ready(self) -> None:
        return None

    def on_step(self, step: Step) -> None:
        """Runs after the limit-order matching and before the algo book: a liquidation
        reached before a stop's trigger along the path comes first (and expires the stop)."""
        self.watcher.sync()  # fills of this step first: they change the margin
        for item in step.items:
            sym = item.series.symbol
            pos = self.account.positions[sym]
            if not pos.amt:
                self._called.discard(sym)
                continue
            low, high = Decimal(item.update.low), Decimal(item.update.high)
            worst = low if pos.amt > 0 else high
            margin, maint = self.margin_of(sym, worst)
            if margin <= maint:
                price = self._on_tick(sym, min(max(self.liquidation_price(sym), low), high))
                if not self._stop_comes_first(sym, price, low, high):
                    self.liquidate(sym, price, item.update.event_time)
                continue
            margin, maint = self.margin_of(sym, self.account.mark(sym))
            if margin > 0 and maint >= margin * self.margin_call_ratio:
                if sym not in self._called:
                    self._called.add(sym)
                    self.margin_call(sym, item.update.event_time)
            else:
                self._called.discard(sym)

    def _stop_comes_first(self, sym: str, liq: Decimal, low: Decimal, high: Decimal) -> bool:
        """A resting stop that closes the position and lies between the price and the
        liquidation price fires first on the way down (up, for a short): the algo book,
        the next sink, closes the position and there is nothing to liquidate."""
        long = self.account.positions[sym].amt > 0
        for o in self.algo.orders.values():
            if o.symbol != sym or o.status != "NEW" or not (o.close_position or o.reduce_only):
                continue
            if (o.side == "SELL") != long or o.fires_below != long:
                continue
            if (liq <= o.trigger and low <= o.trigger) if long else (o.trigger <= liq and o.trigger <= high):
                return True
        return False

    # ---- liquidation, ADL, margin call ---------------------------------------------------------

    def liquidate(self, sym: str, price: Decimal, when: int) -> Trade:
        acc = self.account
        pos = acc.positions[sym]
        if not pos.amt:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        for order in list(acc._open[sym]):
            acc._cancel(order)
        for o in self.algo.orders.values():
            if o.symbol == sym and o.status == "NEW":
                o.status, o.update_time = "EXPIRED", when
        isolated_wallet = acc.isolated_wallets[sym] if self.isolated(sym) else None
        wallet_before = acc.wallet
        side = "SELL" if pos.amt > 0 else "BUY"
        acc.execute_triggered(
            sym, side, abs(pos.amt), client_id=f"autoclose-{next(self._ids)}",
            reduce_only=True, price=price, when=when,
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
        self.watcher.publish(self.watcher.account_update("INSURANCE_CLEAR", when, symbols=[sym], change=-fee))
        return trade

    def adl(self, sym: str, qty: Decimal | None, when: int) -> Trade:
        acc = self.account
        pos = acc.positions[sym]
        if not pos.amt:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        qty = min(qty or abs(pos.amt), abs(pos.amt))
        acc.execute_triggered(
            sym, "SELL" if pos.amt > 0 else "BUY", qty, client_id="adl_autoclose",
            reduce_only=True, price=acc.mark(sym), when=when,
        )  # fmt: skip
        trade = acc.trades[-1]
        acc.wallet += trade.commission  # ADL charges no fee
        trade.commission = ZERO
        return trade

    def margin_call(self, sym: str, when: int) -> None:
        acc = self.account
        pos = acc.positions[sym]
        mark = acc.mark(sym)
        iso = self.isolated(sym)
        event: dict[str, object] = {"e": "MARGIN_CALL", "E": when}
        if not iso:  # "Cross Wallet Balance. Only pushed with crossed position margin call"
            isolated = sum((acc.isolated_wallets[s] for s in acc.specs if self.isolated(s)), ZERO)
            event["cw"] = fixed(acc.wallet - isolated, 8)
        self.watcher.publish(
            {
                **event,
                "p": [
                    {
                        "s": sym,
                        "ps": "BOTH",
                        "pa": fixed(pos.amt, acc.specs[sym].quantity_precision),
                        "mt": "ISOLATED" if iso else "CROSSED",
                        "iw": fixed(acc.isolated_wallets[sym] if iso else ZERO, 8),
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

        def symbol(p: Mapping[str, str]) -> str:
            return acc.require_spec({"symbol": p.get("symbol") or default_symbol}).symbol

        def liquidate(p: Mapping[str, str]) -> object:
            sym = symbol(p)
            return _trade_json(self.liquidate(sym, acc.mark(sym), now()))

        def adl(p: Mapping[str, str]) -> object:
            return _trade_json(self.adl(symbol(p), decimal_param(p, "quantity"), now()))

        def margin_call(p: Mapping[str, str]) -> object:
            sym = symbol(p)
            if not acc.positions[sym].amt:
                raise BinanceError(-2022, "ReduceOnly Order is rejected.")
            self.margin_call(sym, now())
            return {}

        return {"liquidate": liquidate, "adl": adl, "margin-call": margin_call}


def _trade_json(t: Trade) -> dict[str, object]:
    return {"symbol": t.symbol, "orderId": t.order_id, "id": t.trade_id, "side": t.side,
            "price": str(t.price), "qty": str(t.qty), "realizedPnl": str(t.realized_pnl)}  # fmt: skip
