"""The account's income history, as `GET /fapi/v1/income` serves it.

Rows are written as things happen (the deposit, each fill's realized PnL and commission,
funding payments, liquidation clearance) on the market clock, oldest first, and served
with Binance's filters: symbol, incomeType, startTime/endTime (inclusive; with neither,
the last 7 days up to now), page and limit (default 100, max 1000).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal

from sim.binance.errors import BinanceError, illegal_chars
from sim.binance.reports import fixed

INCOME_TYPES = frozenset(
    [
        "TRANSFER",
        "WELCOME_BONUS",
        "REALIZED_PNL",
        "FUNDING_FEE",
        "COMMISSION",
        "INSURANCE_CLEAR",
        "REFERRAL_KICKBACK",
        "COMMISSION_REBATE",
        "API_REBATE",
        "CONTEST_REWARD",
        "CROSS_COLLATERAL_TRANSFER",
        "OPTIONS_PREMIUM_FEE",
        "OPTIONS_SETTLE_PROFIT",
        "INTERNAL_TRANSFER",
        "AUTO_EXCHANGE",
        "DELIVERED_SETTELMENT",
        "COIN_SWAP_DEPOSIT",
        "COIN_SWAP_WITHDRAW",
        "POSITION_LIMIT_INCREASE_FEE",
    ]
)
WEEK_MS = 7 * 24 * 3600 * 1000


class Income:
    def __init__(self, now: Callable[[], int]) -> None:
        self.now = now
        self.rows: list[dict[str, object]] = []
        self._ids = itertools.count(9_689_322_392)

    def add(self, kind: str, amount: Decimal, asset: str, when: int, *, symbol: str = "",
            trade_id: int | str = "", info: str = "") -> None:  # fmt: skip
        self.rows.append(
            {
                "symbol": symbol,
                "incomeType": kind,
                "income": fixed(amount, 8),
                "asset": asset,
                "info": info or kind,
                "time": when,
                "tranId": next(self._ids),
                "tradeId": str(trade_id) if trade_id != "" else "",
            }
        )

    def query(self, params: Mapping[str, str]) -> list[dict[str, object]]:
        def num(name: str) -> int | None:
            raw = params.get(name)
            if not raw:
                return None
            if not raw.isdigit():
                raise illegal_chars(name)
            return int(raw)

        kind = params.get("incomeType")
        if kind and kind not in INCOME_TYPES:
            raise BinanceError(-1100, "Illegal characters found in parameter 'incomeType'.")
        start, end = num("startTime"), num("endTime")
        if start is not None and end is not None and start > end:
            raise BinanceError(-1023, "Start time is greater than end time.")
        if start is None and end is None:
            end = self.now()
            start = end - WEEK_MS
        limit = min(max(num("limit") or 100, 1), 1000)
        page = max(num("page") or 1, 1)
        symbol = params.get("symbol")
        rows = [
            r
            for r in self.rows
            if (not symbol or r["symbol"] == symbol)
            and (not kind or r["incomeType"] == kind)
            and (start is None or int(r["time"]) >= start)  # type: ignore[call-overload]
            and (end is None or int(r["time"]) <= end)  # type: ignore[call-overload]
        ]
        return rows[(page - 1) * limit : page * limit]
