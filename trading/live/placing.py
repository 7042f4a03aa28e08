"""The words a placement leaves: the proposal message's final line (what was filled, at what
price and fee, or why not) and a fill's fee. Pure formatting of core values, shared by the
order path (trading/live/orders.py, which stores the line with the proposal) and the chat's
renderer (bot/texts.py, through trading.live.service)."""

from __future__ import annotations

from decimal import Decimal

from trading.core.brokers.base import Placement
from trading.core.portfolio import Fill
from trading.core.symbols import SymbolFilters


def placement_line(placed: Placement, f: SymbolFilters) -> str:
    """The proposal message's final line: what was filled, at what price and fee, or why not."""
    parts = [
        f"{x.side} {f.fmt_qty(x.qty)} {x.symbol} at {f.fmt_price(x.price)} (fee {fee_words(x)})"
        for x in placed.fills
    ]
    line = ("filled: " + "; ".join(parts)) if parts else ""
    if placed.closed:
        t = placed.closed[-1]
        line += f" · closed {t.side}: PnL {t.pnl.quantize(Decimal('0.01')):+} USDT net of fees"
    if placed.error:
        why = f"failed: {placed.error}"
        line = f"{line} · then {why}" if line else why
    return line or "nothing to do: the position was already closed"


def fee_words(fill: Fill) -> str:
    """`0.12 USDT`, or `0.00021 BNB = 0.13 USDT` (or `… no BNB price: booked as 0 USDT`)."""
    cent = Decimal("0.01")
    if fill.fee_asset == "USDT" or fill.fee_amount is None:
        return f"{fill.fee.quantize(cent)} USDT"
    amount = f"{fill.fee_amount.normalize():f} {fill.fee_asset}"
    if not fill.fee and fill.fee_amount:
        return f"{amount} (no {fill.fee_asset} price: booked as 0 USDT)"
    return f"{amount} = {fill.fee.quantize(cent)} USDT"
