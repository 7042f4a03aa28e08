"""Decisions on candles the bot did not see live: collected during a catch-up, said once.

A candle that reaches the trader by REST (the catch-up after a /start, a reconnect, a
restart) closed some time ago: its moment has passed. With a person in the loop
(CONFIRM_ORDERS=on) or on a real exchange, a decision on it is never proposed and never
placed; the trader hands it here instead, and when the feed has delivered the whole
catch-up (`caught_up`), each symbol's decisions are one summary (events.MissedSignals, which
bot/texts.py words: how many, on which candles, the last one with its close). (The paper broker with CONFIRM_ORDERS=off fills such
a decision at the next open like the backtest does, so parity holds through drops.)
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.core.candles import Candle
from trading.core.strategies import Decision


@dataclass(frozen=True)
class Missed:
    decision: Decision
    candle: Candle


class MissedDecisions:
    """Per symbol, the decisions on backfilled candles since the last summary (the
    trader's lock guards it)."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, list[Missed]] = {}

    def add(self, symbol: str, decision: Decision, candle: Candle) -> None:
        self._by_symbol.setdefault(symbol, []).append(Missed(decision, candle))

    def take(self) -> dict[str, list[Missed]]:
        taken, self._by_symbol = self._by_symbol, {}
        return taken
