"""Fees paid in another asset than USDT (BNB with Binance's fee discount), in USDT.

The book's money is USDT; a fee in BNB is converted at BNB's price at the fill time (the
ticker of `<asset>USDT` for a fill that just happened, the close of the 1-minute candle
that holds it for one found later by the catch-up), and the asset and amount are kept beside the USDT value. When no price can be
had the fee is booked as 0 USDT with its asset and amount, and the caller says so in the
chat: never a wrong number booked silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from trading.exchange.orders import ANY_ERROR, _what, dec

log = logging.getLogger(__name__)
ZERO = Decimal(0)
QUOTE = "USDT"


def asset_price(
    client: Any, asset: str, at_ms: int, call: Callable[..., Any] | None = None, *, recent: bool = True
) -> Decimal | None:
    """`asset` in USDT at `at_ms` (futures market data): the ticker for a fill that just
    happened (`recent`), else the close of the 1-minute candle holding `at_ms`; None if
    Binance cannot tell."""
    call = call or (lambda fn, **kw: fn(**kw))
    symbol = f"{asset}{QUOTE}"
    try:
        if recent:
            return dec(call(client.futures_symbol_ticker, symbol=symbol)["price"]) or None
        rows = call(client.futures_klines, symbol=symbol, interval="1m", startTime=at_ms - 60_000, limit=2)
        row = next((r for r in rows if int(r[0]) <= at_ms < int(r[0]) + 60_000), None)
        return dec(row[4]) if row is not None else None
    except (*ANY_ERROR, KeyError, IndexError, ValueError) as e:
        log.warning("no %s price for a fee at %d: %s", asset, at_ms, _what(e) if isinstance(e, ANY_ERROR) else e)
        return None


def fee_in_usdt(
    client: Any, trades: Iterable[Mapping[str, Any]], call: Callable[..., Any] | None = None, *, recent: bool = True
) -> tuple[Decimal, str, Decimal | None]:
    """(USDT value, asset, amount in that asset or None when it was USDT) of trades' commissions."""
    usdt, other, asset = ZERO, ZERO, QUOTE
    for t in trades:
        amount = dec(t.get("commission"))
        a = t.get("commissionAsset") or QUOTE
        if a == QUOTE:
            usdt += amount
            continue
        asset, other = a, other + amount
        price = asset_price(client, a, int(t.get("time") or 0), call, recent=recent)
        if price is not None:
            usdt += amount * price
    if asset == QUOTE:
        return usdt, QUOTE, None
    return usdt.quantize(Decimal("0.00000001")), asset, other
