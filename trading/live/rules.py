"""The exchange's symbol rules (exchangeInfo: tick, step, minimum notional) as the live bot
knows them: fetched on first use and cached, because the exchange may be down when the bot
starts. A Mapping for the trader and the brokers (a symbol without rules is a KeyError: that
order's refusal), and `lookup` for the chat's formatting (None: plain numbers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from trading.config import Settings
from trading.core.symbols import SymbolFilters
from trading.exchange.exchange_info import symbol_filters
from trading.exchange.rest import ExchangeUnavailable, make_client


class SymbolRules(Mapping[str, SymbolFilters]):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._symbols = settings.symbols
        self._known: dict[str, SymbolFilters] = {}
        self._lock = threading.Lock()

    def lookup(self, symbol: str | None = None) -> SymbolFilters | None:
        """The symbol's rules (default: the first configured), cached after the first answer;
        None while the exchange cannot be reached."""
        symbol = (symbol or self._symbols[0]).upper()
        with self._lock:
            if symbol not in self._known:
                try:
                    self._known.update(symbol_filters(make_client(self._settings), self._symbols))
                except (ExchangeUnavailable, KeyError):
                    return None
            return self._known.get(symbol)

    def __getitem__(self, symbol: str) -> SymbolFilters:
        f = self.lookup(symbol) if symbol in self._symbols else None
        if f is None:
            raise KeyError(symbol)
        return f

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)
