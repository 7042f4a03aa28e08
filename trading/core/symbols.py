"""A symbol's trading rules from `exchangeInfo`: the one place prices and quantities are rounded.

Money paths must be exact, so the filters are kept as Decimal strings exactly as Binance
sends them, and every rounding of a quantity or a price goes through here: the paper
broker, the real broker and the chat's price format all agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import Any

from trading.core.reasons import Reason, What


class FilterError(ValueError):
    """An order that breaks a symbol filter; `reason` names the filter, as data (bot/texts.py words it)."""

    def __init__(self, reason: Reason) -> None:
        self.reason = reason
        super().__init__(str(reason))


def _plain(x: Decimal) -> str:
    """100, not 1E+2: numbers a trader reads."""
    return f"{x.normalize():f}"


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class SymbolFilters:
    symbol: str
    tick_size: Decimal
    step_size: Decimal  # LOT_SIZE
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal  # MARKET_LOT_SIZE (MARKET orders obey both)
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    base_asset: str = ""
    quote_asset: str = "USDT"

    @classmethod
    def from_exchange_info(cls, info: Mapping[str, Any], symbol: str) -> SymbolFilters:
        """From a whole /fapi/v1/exchangeInfo answer; KeyError if the symbol is not listed."""
        for entry in info.get("symbols", []):
            if entry.get("symbol") == symbol:
                return cls.from_symbol_entry(entry)
        raise KeyError(symbol)

    @classmethod
    def from_symbol_entry(cls, entry: Mapping[str, Any]) -> SymbolFilters:
        f = {x["filterType"]: x for x in entry.get("filters", [])}
        lot = f.get("LOT_SIZE", {})
        market = f.get("MARKET_LOT_SIZE", lot)
        step = _dec(lot.get("stepSize", "0.001"))
        return cls(
            symbol=entry["symbol"],
            tick_size=_dec(f.get("PRICE_FILTER", {}).get("tickSize", "0.01")),
            step_size=step,
            min_qty=_dec(lot.get("minQty", step)),
            max_qty=_dec(lot.get("maxQty", "1e12")),
            market_step_size=_dec(market.get("stepSize", step)),
            market_min_qty=_dec(market.get("minQty", step)),
            market_max_qty=_dec(market.get("maxQty", "1e12")),
            min_notional=_dec(f.get("MIN_NOTIONAL", {}).get("notional", "0")),
            base_asset=entry.get("baseAsset", ""),
            quote_asset=entry.get("quoteAsset", "USDT"),
        )

    @classmethod
    def btcusdt(cls) -> SymbolFilters:
        """Binance's BTCUSDT perpetual rules, for backtests run without an exchange."""
        return cls(
            symbol="BTCUSDT",
            tick_size=Decimal("0.10"),
            step_size=Decimal("0.001"),
            min_qty=Decimal("0.001"),
            max_qty=Decimal("1000"),
            market_step_size=Decimal("0.001"),
            market_min_qty=Decimal("0.001"),
            market_max_qty=Decimal("120"),
            min_notional=Decimal("100"),
            base_asset="BTC",
        )

    # ------------------------------------------------------------- rounding
    @cached_property  # the filters are frozen: worked out once (every opening order asks)
    def market_step(self) -> Decimal:
        """A MARKET quantity must be a multiple of both steps; the coarser one wins."""
        return max(self.step_size, self.market_step_size)

    def floor_qty(self, qty: Decimal | float | str, *, market: bool = True) -> Decimal:
        """Round a quantity down to the step (never buy more than the stake pays for)."""
        step = self.market_step if market else self.step_size
        q = qty if type(qty) is Decimal else _dec(qty)
        return (q / step).to_integral_value(ROUND_DOWN) * step

    def round_price(self, price: Decimal | float | str) -> Decimal:
        """Nearest tick (stop and limit prices)."""
        p = _dec(price)
        return (p / self.tick_size).to_integral_value(ROUND_HALF_EVEN) * self.tick_size

    def check_order(self, qty: Decimal, price: Decimal, *, market: bool = True, reduce_only: bool = False) -> None:
        """Raise FilterError naming the rule an order of qty at ~price breaks."""
        lo = self.market_min_qty if market else self.min_qty
        hi = self.market_max_qty if market else self.max_qty
        if qty <= 0 or qty < lo:
            raise FilterError(Reason(What.BELOW_MIN_QTY, self.symbol, numbers={"qty": qty, "min": lo}))
        if qty > hi:
            raise FilterError(Reason(What.ABOVE_MAX_QTY, self.symbol, numbers={"qty": qty, "max": hi}))
        notional = qty * price
        if not reduce_only and notional < self.min_notional:
            raise FilterError(Reason(What.BELOW_MIN_NOTIONAL, self.symbol,
                                     numbers={"notional": notional, "min": self.min_notional}))  # fmt: skip

    # ------------------------------------------------------------- display
    @property
    def price_decimals(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_decimals(self) -> int:
        return max(0, -self.step_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    def fmt_price(self, price: Decimal | float) -> str:
        """The chat's one price format: the symbol's tick decides the decimals (48825.0 for BTCUSDT)."""
        return f"{_dec(price):.{self.price_decimals}f}"

    def fmt_qty(self, qty: Decimal | float) -> str:
        return f"{_dec(qty):.{self.qty_decimals}f}"
