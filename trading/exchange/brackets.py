"""Binance's leverage brackets: the highest leverage a position of a given size may use.

`GET /fapi/v1/leverageBracket` lists, per symbol, notional ranges and the initial leverage
allowed in each (BTCUSDT: 125x up to 300,000 USDT …; a small coin: 20x up to 5,000 USDT).
A `/set` of leverage or stake is checked here against the position the stake implies
(stake × leverage), so it is refused when set, with the bracket's maximum, instead of
every later order being refused by Binance (-2027).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from trading.core.reasons import Reason, What


class Bracket(NamedTuple):
    leverage: int  # initialLeverage: the highest allowed for notionals in [floor, cap)
    floor: Decimal
    cap: Decimal


def parse_brackets(answer: Any, symbol: str) -> list[Bracket]:
    """python-binance's answer (a list of symbols, or one object) → the symbol's brackets."""
    entries = answer if isinstance(answer, list) else [answer]
    for entry in entries:
        if entry.get("symbol") == symbol:
            rows = entry.get("brackets") or []
            return sorted(
                (Bracket(int(b["initialLeverage"]), Decimal(str(b["notionalFloor"])), Decimal(str(b["notionalCap"]))) for b in rows),
                key=lambda b: b.floor,
            )
    return []


def max_leverage(brackets: Sequence[Bracket], notional: Decimal) -> int:
    """The initial leverage allowed for a position of this notional (the last bracket beyond)."""
    for b in brackets:
        if notional < b.cap:
            return b.leverage
    return brackets[-1].leverage if brackets else 125


def bracket_problem(
    brackets: Mapping[str, Sequence[Bracket]], symbols: Iterable[str], leverage: int, stake: Decimal
) -> str | None:
    """The /set refusal when stake × leverage needs a lower leverage on some symbol, naming
    the highest leverage that fits (checked from `leverage` down), or None."""
    for symbol in symbols:
        table = brackets.get(symbol)
        if not table:
            continue
        if leverage <= max_leverage(table, stake * leverage):
            continue
        best = next((n for n in range(leverage - 1, 0, -1) if n <= max_leverage(table, stake * n)), 1)
        notional = stake * leverage
        return (
            f"leverage: at most {best}x for {symbol} with stake_usdt {stake.normalize():f}: a "
            f"{notional.normalize():f} USDT position is limited to {max_leverage(table, notional)}x "
            "by Binance's leverage brackets"
        )
    return None


class BracketCache:
    """Each symbol's brackets, read once (they change rarely) through the broker's signed,
    clock-synced client."""

    def __init__(self, broker: Any, timeout: float = 10.0) -> None:
        self._broker = broker
        self._timeout = timeout
        self._tables: dict[str, list[Bracket]] = {}

    def problem(self, symbols: Iterable[str], leverage: int, stake: Decimal) -> str | None:
        """bracket_problem over the symbols whose brackets could be read (an unreadable one is
        checked by Binance at order time instead: -2027 has its own line)."""
        symbols = tuple(symbols)
        for symbol in symbols:
            if symbol not in self._tables:
                try:
                    self._broker.keep_clock()
                    answer = self._broker.client.futures_leverage_bracket(
                        symbol=symbol, requests_params={"timeout": self._timeout}
                    )
                except Exception:  # noqa: BLE001 (no brackets: the order-time check remains)
                    continue
                self._tables[symbol] = parse_brackets(answer, symbol)
        return bracket_problem(self._tables, symbols, leverage, stake)

    def order_problem(self, symbol: str, leverage: int, notional: Decimal) -> Reason | None:
        """A manual order whose resulting position is above what `leverage` allows (-2027 at
        Binance): refused when proposed, with the bracket's maximum (bot/texts.py words it)."""
        self.problem((symbol,), 1, Decimal(0))  # reads the symbol's brackets once
        table = self._tables.get(symbol)
        if not table or leverage <= max_leverage(table, notional):
            return None
        numbers = {"notional": notional, "max": Decimal(max_leverage(table, notional)), "leverage": Decimal(leverage)}
        return Reason(What.BRACKET, symbol, numbers=numbers)


def leverage_problem(
    cap: int, brackets: BracketCache | None, changes: Mapping[str, Any], merged: Mapping[str, Any], symbols: Iterable[str]
) -> str | None:
    """/set's leverage rules: MAX_LEVERAGE, then (exchange modes) the symbols' brackets for
    the position stake_usdt × leverage implies; None when the change may be stored."""
    leverage = int(merged.get("leverage", 1))
    if "leverage" in changes and leverage > cap:
        return f"leverage: must be from 1 to {cap} here (MAX_LEVERAGE), got {merged['leverage']}"
    if brackets is None or not {"leverage", "stake_usdt"} & set(changes):
        return None
    return brackets.problem(symbols, leverage, Decimal(repr(float(merged.get("stake_usdt", 0)))))
