"""How Binance writes numbers in its JSON: fixed places, or trimmed like entryPrice."""

from __future__ import annotations

from decimal import Decimal


def fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def trimmed(value: Decimal) -> str:
    """Up to 8 decimals without trailing zeros, like Binance's entryPrice ("0.0", "61234.5")."""
    text = f"{value:.8f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
