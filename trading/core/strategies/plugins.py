"""Strategies from outside the package: `STRATEGY=path/to/file.py:ClassName` or
`package.module:ClassName` (the operator's own setting), and from the chat only
`file.py:ClassName` (or `file:ClassName`) inside STRATEGY_DIR (`chat_spec`).

A trader keeps their model in their own file (e.g. `strategies/mine.py` beside `.env`);
the bot imports it once per process and wraps it like a built-in: an incremental class
(with `on_candle`) is used as is, a DataFrame class (with `populate`) goes behind
`FrameAdapter`. Every way a spec can be wrong (no colon, no file, a syntax error, an
import that fails, no such class, no schema) is one StrategyError line naming the spec.

A plugin is Python run with the bot's privileges (beside the Binance keys), so a name
typed in the chat never reaches a path of its choosing: no separators, no `..`, no
`.pyc`, no module spec; only a file the operator put in STRATEGY_DIR. A file is parsed
before it runs: a missing class is said without executing it. Whatever the file or
the class raises while loading, SystemExit and KeyboardInterrupt included (`contained`),
is one StrategyError line: loading a plugin never stops the bot.
"""

from __future__ import annotations

import ast
import decimal
import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trading.core.strategies.contained import StrategyError, contained
from trading.core.strategies.frame import adapter_for, is_frame_class
from trading.core.strategies.params import Schema

_LOADED: dict[str, type] = {}
CHAT_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,63})(\.py)?:([A-Za-z_][A-Za-z0-9_]{0,63})")
DEFAULT_STRATEGY_DIR = "strategies"


def is_plugin_spec(spec: str) -> bool:
    return ":" in spec


def chat_spec(name: str, strategy_dir: str) -> str:
    """The plugin spec for a name typed in the chat: `file.py:Class` or `file:Class`, a file
    directly inside `strategy_dir` (STRATEGY_DIR). StrategyError (one line) for anything
    else: a path, `..`, a `.pyc`, a module spec, a file that is not there or a link out."""
    m = CHAT_NAME.fullmatch(name)
    if m is None:
        raise StrategyError(
            f"strategy {name[:80]!r}: from the chat only a built-in or file.py:ClassName in STRATEGY_DIR "
            f"({strategy_dir}) (no paths, no modules)")
    folder = Path(strategy_dir).expanduser()
    path = folder / f"{m.group(1)}.py"
    try:
        inside = path.is_file() and path.resolve().parent == folder.resolve()
    except OSError:
        inside = False
    if not inside:
        raise StrategyError(f"strategy {name!r}: no file {path.name} in STRATEGY_DIR ({strategy_dir})")
    return f"{path}:{m.group(3)}"


def load_plugin(spec: str) -> type:
    """The Strategy class for a plugin spec (cached: a file is imported once per process)."""
    found = _LOADED.get(spec)
    if found is not None:
        return found
    where, _, cls_name = spec.rpartition(":")
    if not where or not cls_name.isidentifier():
        raise StrategyError(f"strategy {spec!r}: expected path/to/file.py:ClassName or package.module:ClassName")
    is_file = where.endswith((".py", ".pyc")) or "/" in where
    module = _import_file(spec, where, cls_name) if is_file else _import_module(spec, where)
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise StrategyError(f"strategy {spec!r} has no class {cls_name}")
    if is_frame_class(cls):
        strategy = adapter_for(cls, spec)
    elif callable(getattr(cls, "on_candle", None)):
        if not isinstance(getattr(cls, "schema", None), Schema):
            raise StrategyError(f"strategy {spec!r}: the class needs a `schema = Schema((...))`")
        strategy = type(cls.__name__, (cls,), {"name": spec, "__init__": _init_without_warmup(cls),
                                                "on_candle": _in_own_decimal_context(cls.on_candle)})  # fmt: skip
    else:
        raise StrategyError(f"strategy {spec!r}: {cls_name} has neither populate(df, params) nor on_candle(candle, position)")
    _LOADED[spec] = strategy
    return strategy


def _in_own_decimal_context(on_candle: Callable[..., Any]) -> Callable[..., Any]:
    """A plugin's on_candle runs on the trader's thread, between two bookings: whatever it (or
    a library it calls) sets on the decimal context stays inside the call (see contained.py)."""

    def wrapped(self: object, *args: Any, **kwargs: Any) -> Any:
        with decimal.localcontext():
            return on_candle(self, *args, **kwargs)

    return wrapped


def _init_without_warmup(cls: type) -> object:
    """A plugin's own __init__(values) also takes the backtest's `warmup` (and ignores it
    when the plugin does not); whatever it raises is one StrategyError."""

    def __init__(self: object, values: object = None, warmup: int | None = None) -> None:
        def init() -> None:
            try:
                cls.__init__(self, values, warmup=warmup)  # type: ignore[misc]
            except TypeError:
                cls.__init__(self, values)  # type: ignore[misc]

        contained(f"strategy {cls.__name__}: __init__", init)

    return __init__


def _defines(tree: ast.Module, name: str) -> bool:
    """Whether the module's top level binds `name` (a class, an assignment, an import)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, ast.ImportFrom | ast.Import) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def _import_file(spec: str, where: str, cls_name: str) -> object:
    path = Path(where).expanduser()
    if not path.is_file():
        raise StrategyError(f"strategy {spec!r}: no file {where} (relative paths start at {Path.cwd()})")
    if path.suffix == ".py":  # parsed first: nothing runs for a class that is not there
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError) as e:
            raise StrategyError(f"strategy {spec!r}: loading {where} raised {type(e).__name__}: {str(e)[:160]}") from None
        if not _defines(tree, cls_name):
            raise StrategyError(f"strategy {spec!r} has no class {cls_name}")
    name = "tg_strategy_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise StrategyError(f"strategy {spec!r}: cannot import {where}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        contained(f"strategy {spec!r}: loading {where}", lambda: loader_spec.loader.exec_module(module))  # type: ignore[union-attr]
    except StrategyError:
        sys.modules.pop(name, None)
        raise
    return module


def _import_module(spec: str, where: str) -> object:
    return contained(f"strategy {spec!r}: importing {where}", lambda: importlib.import_module(where))


def chat_plugins(strategy_dir: str, limit: int = 20) -> list[str]:
    """`file.py:Class` of the strategy classes (with populate or on_candle) found in
    STRATEGY_DIR, read without running them (for /strategy's list)."""
    folder = Path(strategy_dir).expanduser()
    found: list[str] = []
    try:
        files = sorted(p for p in folder.glob("*.py") if CHAT_NAME.fullmatch(f"{p.name}:X"))
    except OSError:
        return found
    for path in files[:limit]:
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(f, ast.FunctionDef) and f.name in ("populate", "on_candle") for f in node.body
            ):
                found.append(f"{path.name}:{node.name}")
    return found[:limit]
