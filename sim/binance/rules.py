"""The paper account's fixed terms: fees, leverage limits and Binance's notional brackets.

One table serves both the checks the account makes (maximum position at a leverage,
maintenance margin) and what `/fapi/v1/leverageBracket` reports, so a client that reads
the brackets predicts exactly what the replay will accept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

TAKER_FEE = Decimal("0.0005")
MAKER_FEE = Decimal("0.0002")
START_BALANCE = Decimal("10000")
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125


class Bracket(NamedTuple):
    leverage: int  # the highest initial leverage allowed in this bracket
    floor: int  # notional from (inclusive), USDT
    cap: int  # notional up to (exclusive), USDT
    maint_ratio: Decimal
    cum: Decimal  # Binance's "cum": maintenance = notional * ratio - cum, continuous at floors


def _brackets(rows: tuple[tuple[int, int, str], ...]) -> tuple[Bracket, ...]:
    out: list[Bracket] = []
    floor, cum, prev_ratio = 0, Decimal(0), Decimal(0)
    for leverage, cap, ratio_text in rows:
        ratio = Decimal(ratio_text)
        cum += floor * (ratio - prev_ratio)
        out.append(Bracket(leverage, floor, cap, ratio, cum))
        floor, prev_ratio = cap, ratio
    return tuple(out)


# Binance's BTCUSDT brackets (leverage, notional cap, maintenance margin ratio).
BRACKETS = _brackets(
    (
        (125, 300_000, "0.004"), (100, 800_000, "0.005"), (75, 3_000_000, "0.0065"),
        (50, 12_000_000, "0.01"), (25, 70_000_000, "0.02"), (20, 100_000_000, "0.025"),
        (10, 230_000_000, "0.05"), (5, 480_000_000, "0.1"), (4, 600_000_000, "0.125"),
        (3, 800_000_000, "0.15"), (2, 1_200_000_000, "0.25"), (1, 1_800_000_000, "0.5"),
    )
)  # fmt: skip


# A small coin's brackets (Binance gives them far lower leverage): every symbol but BTC
# and ETH uses these, so a replay of several symbols has per-symbol brackets to meet.
ALT_BRACKETS = _brackets(
    (
        (20, 5_000, "0.01"), (10, 25_000, "0.025"), (5, 100_000, "0.05"), (4, 250_000, "0.1"),
        (3, 1_000_000, "0.125"), (2, 5_000_000, "0.25"), (1, 10_000_000, "0.5"),
    )
)  # fmt: skip


def brackets_for(symbol: str) -> tuple[Bracket, ...]:
    return BRACKETS if symbol.startswith(("BTC", "ETH")) else ALT_BRACKETS


def symbol_max_leverage(symbol: str) -> int:
    return brackets_for(symbol)[0].leverage


def max_notional(leverage: int, symbol: str = "BTCUSDT") -> int:
    """The largest position notional a symbol may hold at `leverage`."""
    return max((b.cap for b in brackets_for(symbol) if b.leverage >= leverage), default=0)


def maint_margin(notional: Decimal, symbol: str = "BTCUSDT") -> Decimal:
    """Maintenance margin of a position of this absolute notional."""
    n = abs(notional)
    table = brackets_for(symbol)
    for b in table:
        if n < b.cap:
            return n * b.maint_ratio - b.cum
    last = table[-1]
    return n * last.maint_ratio - last.cum


def brackets_json(symbol: str) -> dict[str, object]:
    """The `/fapi/v1/leverageBracket` entry of one symbol."""
    return {
        "symbol": symbol,
        "brackets": [
            {
                "bracket": i,
                "initialLeverage": b.leverage,
                "notionalCap": b.cap,
                "notionalFloor": b.floor,
                "maintMarginRatio": float(b.maint_ratio),
                "cum": float(b.cum),
            }
            for i, b in enumerate(brackets_for(symbol), start=1)
        ],
    }
