"""Strategies by name (the STRATEGY setting): each a plain class with a parameter schema.

Built-ins are listed here; `path/to/file.py:ClassName` or `package.module:ClassName` names
a plugin (trading/core/strategies/plugins.py) in STRATEGY; a name from the chat goes through
`chat_strategy` (a built-in, or a file in STRATEGY_DIR). Incremental strategies (`on_candle`) and
DataFrame strategies (`populate`, behind `FrameAdapter`) look the same from here on.
"""

from __future__ import annotations

from trading.core.strategies.base import CLOSE, LONG, SHORT, Decision, NoStrategy, Strategy
from trading.core.strategies.bb_breakout import BbBreakout
from trading.core.strategies.ema_cross import EmaCross
from trading.core.strategies.frame import FrameStrategy, StrategyError, adapter_for
from trading.core.strategies.params import Param, ParamError, Schema, Values
from trading.core.strategies.plugins import chat_spec, is_plugin_spec, load_plugin
from trading.core.strategies.rsi_reversion import RsiReversion

STRATEGIES: dict[str, type] = {
    cls.name: cls
    for cls in (
        EmaCross,
        adapter_for(RsiReversion, RsiReversion.name),
        adapter_for(BbBreakout, BbBreakout.name),
        NoStrategy,
    )
}
DEFAULT_STRATEGY = EmaCross.name


def normalize_name(spec: str) -> str:
    """Built-in names are case-insensitive; a plugin spec (a path) is kept as written."""
    spec = spec.strip()
    return spec if is_plugin_spec(spec) else spec.lower()


def chat_strategy(name: str, strategy_dir: str, operator: tuple[str, ...] = ()) -> str:
    """The spec a name typed in the chat stands for: a built-in name, one of `operator`'s
    (STRATEGY, the strategy trading now) as written, or `file.py:Class` resolved inside
    STRATEGY_DIR; StrategyError (one line) for any other path or module spec."""
    spec = normalize_name(name)
    if not is_plugin_spec(spec) or spec in operator:
        return spec
    return chat_spec(spec, strategy_dir)


def strategy_class(name: str) -> type:
    """The Strategy class for a built-in name or a plugin spec; ValueError (StrategyError
    for plugins) with one line otherwise."""
    if is_plugin_spec(name):
        return load_plugin(name)
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)} (or file.py:ClassName in STRATEGY_DIR)"
        ) from None


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
    "FrameStrategy",
    "NoStrategy",
    "Param",
    "ParamError",
    "Schema",
    "Strategy",
    "StrategyError",
    "Values",
    "chat_strategy",
    "make_strategy",
    "normalize_name",
    "strategy_class",
]
