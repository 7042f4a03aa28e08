"""GET /fapi/v1/exchangeInfo: which symbols trade, and each one's price and quantity rules."""

from __future__ import annotations

from collections.abc import Iterable

from binance.client import Client

from trading.core.symbols import SymbolFilters
from trading.exchange.rest import with_retries


def unknown_symbols(client: Client, symbols: Iterable[str]) -> list[str]:
    """Symbols the exchange does not list as trading USDⓈ-M contracts."""
    info = with_retries(client.futures_exchange_info, attempts=2, what="GET /fapi/v1/exchangeInfo")
    listed = {s["symbol"] for s in info.get("symbols", []) if s.get("status", "TRADING") == "TRADING"}
    return [s for s in symbols if s not in listed]


def symbol_filters(client: Client, symbols: Iterable[str]) -> dict[str, SymbolFilters]:
    """Each symbol's price and quantity rules from one exchangeInfo call."""
    info = with_retries(client.futures_exchange_info, attempts=3, what="GET /fapi/v1/exchangeInfo")
    return {s: SymbolFilters.from_exchange_info(info, s) for s in symbols}
