"""The trader as the live bot runs it: rebuilt from storage, with parameters traders change.

On every start the portfolio is replayed from the stored fills of the current mode, the
trader's per-symbol state (cursor, orders waiting for the next open, stop and take
levels) is read back, and the parameters are the stored ones: a crash or a redeploy
resumes the same book. A /set is validated whole against the latest values, stored with
who and when in one transaction, and handed to the trader to apply from the next closed
candle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storage.db import open_db
from storage.klines import KlineStore
from storage.params import ParamStore
from storage.trades import TradeJournal
from trading.brokers import PaperBroker
from trading.candles import Candle
from trading.config import Settings
from trading.notifier import Notifier
from trading.portfolio import Fill, Portfolio
from trading.strategies import Schema, Values, strategy_class
from trading.strategies.params import fmt_value
from trading.symbols import SymbolFilters
from trading.trader import Trader


@dataclass(frozen=True)
class ParamChange:
    name: str
    old: str
    new: str


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


class LiveTrading:
    def __init__(
        self, settings: Settings, notifier: Notifier, filters: Callable[[str], SymbolFilters | None]
    ) -> None:
        self.settings = settings
        self.schema: Schema = strategy_class(settings.strategy).schema
        self._local = threading.local()
        self._lock = threading.Lock()  # serialises /set: validate against the latest values
        mode = settings.trading_mode
        self.journal = TradeJournal(settings.db_path, mode)
        self.values: Values = self.schema.load(self._params().current(settings.strategy))
        portfolio = Portfolio.replay(settings.paper_balance, self.stored_fills())
        rules = ExchangeFilters(settings.symbols, filters)
        broker = PaperBroker(rules, settings.paper_fee_pct / 100, portfolio) if mode == "paper" else None
        self.trader = Trader(
            symbols=settings.symbols,
            interval_ms=settings.interval_ms,
            strategy=settings.strategy,
            values=self.values,
            filters=rules,  # type: ignore[arg-type]
            portfolio=portfolio,
            broker=broker,
            min_warmup=settings.warmup_candles,
            notifier=notifier,
            journal=self.journal,
            history_loader=self._history,
            mode=mode,
        )

    # ------------------------------------------------------------- parameters
    def set_params(self, changes: Mapping[str, Any], user_id: int | None) -> list[ParamChange]:
        """Validate all, store all, schedule all, or raise ParamError and change nothing."""
        with self._lock:
            merged = self.schema.validate(self.values, changes)
            diff = [
                ParamChange(name, fmt_value(self.values[name]), fmt_value(merged[name]))
                for name in changes
                if merged[name] != self.values[name]
            ]
            if diff:
                self._params().change(
                    self.settings.strategy, {c.name: (c.old, c.new) for c in diff}, user_id
                )
                self.values = merged
                self.trader.set_values(merged)
            return diff

    def param_history(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._params().history(self.settings.strategy, limit)

    # ------------------------------------------------------------- storage
    def stored_fills(self) -> list[Fill]:
        return [
            Fill(d["order_id"], d["symbol"], d["side"], Decimal(d["qty"]), Decimal(d["price"]),
                 Decimal(d["fee"]), d["time"])
            for d in self.journal.fills()
        ]

    def _history(self, symbol: str, n: int, last_open: int) -> list[Candle]:
        """The n closed candles up to last_open, for a parameter change that needs more."""
        iv = self.settings.interval_ms
        rows = self._klines().between(symbol, self.settings.interval, last_open - (n - 1) * iv, last_open)
        return [Candle.from_row(r) for r in rows][-n:]

    def _conn(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.settings.db_path)
        return db

    def _params(self) -> ParamStore:
        return ParamStore(self._conn())

    def _klines(self) -> KlineStore:
        return KlineStore(self._conn())
