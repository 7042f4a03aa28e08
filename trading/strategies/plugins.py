"""Strategies from outside the package: `STRATEGY=path/to/file.py:ClassName` or
`package.module:ClassName`.

A trader keeps their model in their own file (e.g. `strategies/mine.py` beside `.env`);
the bot imports it once per process and wraps it like a built-in: an incremental class
(with `on_candle`) is used as is, a DataFrame class (with `populate`) goes behind
`FrameAdapter`. Every way a spec can be wrong (no colon, no file, a syntax error, an
import that fails, no such class, no schema) is one StrategyError line naming the spec.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from trading.strategies.frame import StrategyError, adapter_for, is_frame_class
from trading.strategies.params import Schema

_LOADED: dict[str, type] = {}


def is_plugin_spec(spec: str) -> bool:
    return ":" in spec


def load_plugin(spec: str) -> type:
    """The Strategy class for a plugin spec (cached: a file is imported once per process)."""
    found = _LOADED.get(spec)
    if found is not None:
        return found
    where, _, cls_name = spec.rpartition(":")
    if not where or not cls_name.isidentifier():
        raise StrategyError(f"strategy {spec!r}: expected path/to/file.py:ClassName or package.module:ClassName")
    module = _import_file(spec, where) if where.endswith(".py") or "/" in where else _import_module(spec, where)
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise StrategyError(f"strategy {spec!r}: {where} has no class {cls_name}")
    if is_frame_class(cls):
        strategy = adapter_for(cls, spec)
    elif callable(getattr(cls, "on_candle", None)):
        if not isinstance(getattr(cls, "schema", None), Schema):
            raise StrategyError(f"strategy {spec!r}: the class needs a `schema = Schema((...))`")
        strategy = type(cls.__name__, (cls,), {"name": spec, "__init__": _init_without_warmup(cls)})
    else:
        raise StrategyError(f"strategy {spec!r}: {cls_name} has neither populate(df, params) nor on_candle(candle, position)")
    _LOADED[spec] = strategy
    return strategy


def _init_without_warmup(cls: type) -> object:
    """A plugin's own __init__(values) also takes the backtest's `warmup` (and ignores it
    when the plugin does not)."""

    def __init__(self: object, values: object = None, warmup: int | None = None) -> None:
        try:
            cls.__init__(self, values, warmup=warmup)  # type: ignore[misc]
        except TypeError:
            cls.__init__(self, values)  # type: ignore[misc]

    return __init__


def _import_file(spec: str, where: str) -> object:
    path = Path(where).expanduser()
    if not path.is_file():
        raise StrategyError(f"strategy {spec!r}: no file {where} (relative paths start at {Path.cwd()})")
    name = "tg_strategy_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise StrategyError(f"strategy {spec!r}: cannot import {where}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise StrategyError(f"strategy {spec!r}: loading {where} raised {type(e).__name__}: {str(e)[:160]}") from e
    return module


def _import_module(spec: str, where: str) -> object:
    try:
        return importlib.import_module(where)
    except Exception as e:
        raise StrategyError(f"strategy {spec!r}: importing {where} raised {type(e).__name__}: {str(e)[:160]}") from e
