"""How the live bot places orders: the broker for the mode, the exchange's symbol rules
fetched on first use, and the line a placement leaves in the proposal's message.

Kept apart from trading/live/node.py (the trader's lifecycle) so each file does one job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from trading.config import Settings
from trading.core.brokers import Broker, PaperBroker
from trading.core.brokers.base import Placement
from trading.core.portfolio import Fill, Portfolio
from trading.core.symbols import SymbolFilters
from trading.exchange.rest import make_client


class ExchangeFilters(Mapping[str, SymbolFilters]):
    """Symbol rules fetched on first use (the exchange may be down when the bot starts)."""

    def __init__(self, symbols: tuple[str, ...], load: Callable[[str], SymbolFilters | None]) -> None:
        self._symbols = symbols
        self._load = load

    def __getitem__(self, symbol: str) -> SymbolFilters:
        f = self._load(symbol) if symbol in self._symbols else None
        if f is None:
            raise KeyError(symbol)
        return f

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)


def make_broker(settings: Settings, rules: Mapping[str, SymbolFilters], portfolio: Portfolio) -> Broker:
    """Paper fills on live prices by default; real orders only in demo or live mode."""
    if settings.trading_mode == "paper":
        return PaperBroker(rules, settings.paper_fee_pct / 100, portfolio, settings.paper_slippage_bps)
    from trading.exchange.broker import (
        BinanceBroker,  # python-binance order calls: exchange modes only
    )

    return BinanceBroker(make_client(settings), rules, settings.trading_mode)


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
