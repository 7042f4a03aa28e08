"""The paper broker: fills a MARKET order at the price it is given, with the taker fee,
made `slippage_bps` worse (PAPER_SLIPPAGE_BPS, the backtest's --slippage-bps): a buy
higher, a sell lower, rounded to the tick away from the trader. A liquidation is not a
market order of the trader's and is never slipped (it fills at the liquidation price).

It applies the same symbol filters the exchange would (quantity rounded down to the step,
MIN_NOTIONAL, size limits) and refuses an opening order the paper wallet cannot margin,
so a paper run fails where a real one would, with the exchange's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from trading.core.brokers.base import OrderRefused, OrderRequest
from trading.core.portfolio import Fill, Portfolio
from trading.core.reasons import Reason, What
from trading.core.symbols import FilterError, SymbolFilters

FEE_QUANTUM = Decimal("0.00000001")  # Binance reports commissions to 8 decimals


class PaperBroker:
    mode = "paper"

    def __init__(
        self, filters: Mapping[str, SymbolFilters], fee_rate: Decimal, portfolio: Portfolio,
        slippage_bps: Decimal = Decimal(0),
    ) -> None:
        self.filters = filters
        self.fee_rate = fee_rate
        self.portfolio = portfolio
        self.slippage_bps = slippage_bps

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Nothing to tell: a paper fill's margin is its order's stake ÷ its own leverage."""

    def slipped(self, request: OrderRequest, price: Decimal) -> Decimal:
        """The price made slippage_bps worse for the trader, on the tick."""
        if not self.slippage_bps or request.kind == "liquidation":
            return price
        tick = self.filters[request.symbol].tick_size
        buy = request.side == "BUY"
        raw = price * (1 + (self.slippage_bps if buy else -self.slippage_bps) / Decimal(10_000))
        return (raw / tick).to_integral_value(ROUND_CEILING if buy else ROUND_FLOOR) * tick

    def size(self, request: OrderRequest, price: Decimal) -> Decimal:
        if request.qty is not None:
            return request.qty
        return self.filters[request.symbol].floor_qty(request.stake * request.leverage / price)

    def execute(self, request: OrderRequest, price: Decimal, time: int) -> Fill:
        try:
            f = self.filters[request.symbol]
        except KeyError:
            raise OrderRefused(Reason(What.RULES_UNKNOWN, request.symbol)) from None
        qty = self.size(request, price)  # at the price the trader saw
        if self.slippage_bps:  # the fill may slip
            price = self.slipped(request, price)
        closes = request.closes
        try:
            f.check_order(qty, price, reduce_only=closes)
        except FilterError as e:
            raise OrderRefused(e.reason) from None
        if not closes:
            portfolio = self.portfolio
            free = portfolio.balance - portfolio.used_margin(request.leverage)
            if request.stake > free:
                raise OrderRefused(Reason(What.PAPER_MARGIN, request.symbol,
                                          numbers={"needed": request.stake, "free": max(free, Decimal(0))}))  # fmt: skip
        fee = (qty * price * self.fee_rate).quantize(FEE_QUANTUM, ROUND_HALF_UP)
        return Fill(request.id, request.symbol, request.side, qty, price, fee, time, request.reason, (), "USDT", None,
                    request.position_side)  # keys, fee_asset, fee_amount, position_side: Fill's field order
