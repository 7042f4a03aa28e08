"""Strategies by name (the STRATEGY setting): each a plain class with a parameter schema."""

from __future__ import annotations

from trading.strategies.base import CLOSE, LONG, SHORT, Decision, NoStrategy, Strategy
from trading.strategies.ema_cross import EmaCross
from trading.strategies.params import Param, ParamError, Schema, Values

STRATEGIES: dict[str, type] = {cls.name: cls for cls in (EmaCross, NoStrategy)}
DEFAULT_STRATEGY = EmaCross.name


def strategy_class(name: str) -> type:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def make_strategy(name: str, values: Values | None = None, warmup: int | None = None) -> Strategy:
    """`warmup`: candles before the first decision, instead of the strategy's own default."""
    cls = strategy_class(name)
    if warmup is None:
        return cls(values)  # type: ignore[no-any-return]
    return cls(values, warmup=warmup)  # type: ignore[no-any-return]


__all__ = [
    "CLOSE",
    "DEFAULT_STRATEGY",
    "LONG",
    "SHORT",
    "STRATEGIES",
    "Decision",
    "EmaCross",
    "NoStrategy",
    "Param",
    "ParamError",
    "Schema",
    "Strategy",
    "Values",
    "make_strategy",
    "strategy_class",
]
