"""The house rules: the product never imports the offline world, and product files stay small.

Walks every module's imports with ast (including imports inside functions), so a lazy
`from sim...` hidden in a function body is caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "trading", "storage")
# The entry points that start the offline demo are the only product files allowed to reach sim/.
DEMO_ENTRIES = {"bot/__main__.py", "trading/__main__.py"}
MAX_LINES = 400


def _product_files() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_product_never_imports_sim() -> None:
    leaks = []
    for path in _product_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in DEMO_ENTRIES:
            continue
        bad = sorted(m for m in _imported_modules(path) if m == "sim" or m.startswith("sim."))
        if bad:
            leaks.append(f"{rel}: {', '.join(bad)}")
    assert not leaks, "product modules importing sim/: " + "; ".join(leaks)


def test_the_walker_sees_lazy_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from sim.demo import run_demo\n    import sim.binance\n")
    assert {"sim.demo", "sim.binance"} <= _imported_modules(f)


def test_product_files_are_small_or_say_why() -> None:
    big = []
    for path in _product_files():
        text = path.read_text(encoding="utf-8")
        n = text.count("\n")
        if n > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "over 400 lines" not in doc:
                big.append(f"{path.relative_to(ROOT).as_posix()} ({n} lines)")
    assert not big, "product files over 400 lines without a reason in their docstring: " + ", ".join(big)


# The headless CLI (python -m trading) is a presenter too: it prints the chat's own words.
CHAT_WORDS = {"trading/__main__.py": {"bot.texts"}}


def test_trading_and_storage_never_import_the_chat_side() -> None:
    """Telegram types stay in bot/; trading/ talks to people only through its notifier."""
    leaks = []
    for pkg in ("trading", "storage"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            allowed = CHAT_WORDS.get(path.relative_to(ROOT).as_posix(), set())
            bad = sorted(
                m for m in _imported_modules(path)
                if m.split(".")[0] in ("bot", "telegram") and m not in allowed
            )
            if bad:
                leaks.append(f"{path.relative_to(ROOT).as_posix()}: {', '.join(bad)}")
    assert not leaks, "; ".join(leaks)


def test_storage_is_the_only_place_with_sql() -> None:
    """bot/ never runs SQL itself (it asks the engine); trading/ reaches SQL only via storage/."""
    pattern = ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "CREATE TABLE")
    offenders = []
    for pkg in ("bot", "trading"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if any(p in text for p in pattern) or "sqlite3" in _imported_modules(path):
                offenders.append(path.relative_to(ROOT).as_posix())
    assert not offenders, "SQL outside storage/: " + ", ".join(offenders)


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _product_graph() -> dict[str, set[str]]:
    """Module → the product modules it imports (a package import counts as its __init__)."""
    modules = {_module_of(p): p for p in _product_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for m in _imported_modules(path):
            while m and m not in modules:
                m = m.rpartition(".")[0]
            if m and m != name:
                targets.add(m)
        graph[name] = targets
    return graph


def test_the_core_imports_nothing_outside_itself() -> None:
    """trading/core is what the backtest runs: deterministic, no I/O clients, no chat, no
    storage, nothing of exchange/ or live/ (nautilus_trader's kernel, freqtrade's backtesting)."""
    outside = ("trading.exchange", "trading.live", "storage", "bot", "sim", "binance", "sqlite_utils",
               "telegram", "websocket", "aiohttp", "httpx", "requests", "sqlite3")
    leaks = []
    for path in sorted((ROOT / "trading" / "core").rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m.startswith(outside) and not m.startswith("trading.core"))
        bad += sorted(m for m in _imported_modules(path)
                      if m.startswith("trading.") and not m.startswith("trading.core"))
        if bad:
            leaks.append(f"{path.relative_to(ROOT).as_posix()}: {', '.join(sorted(set(bad)))}")
    assert not leaks, "; ".join(leaks)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_in_the_product() -> None:
    """A circle of imports is one concept cut into files (the trader's mixins were one)."""
    assert _cycles(_product_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_class_is_a_slice_of_another() -> None:
    """No mixins: a method annotated `self: OtherClass` lives in a class that is only a
    slice of another one; compose owned parts instead."""
    slices = []
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.args.args:
                first = node.args.args[0]
                ann = first.annotation
                if first.arg == "self" and isinstance(ann, ast.Name) and ann.id[:1].isupper() and ann.id != "object":
                    slices.append(f"{path.relative_to(ROOT).as_posix()}:{node.name}")
    assert not slices, "methods annotated self: (mixins): " + ", ".join(slices)


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "trading" and len(parts) > 1 else parts[0]


def _room_graph() -> dict[str, set[str]]:
    """Room (bot, storage, trading.core, trading.backtest, …) → the rooms it imports. An
    entry point (`__main__`) stands above the rooms it starts and is left out: the backtest
    CLI, `python -m trading.backtest [--grid …]`, serves both research rooms."""
    rooms: dict[str, set[str]] = {}
    for module, targets in _product_graph().items():
        if module.rpartition(".")[2] == "__main__":
            continue
        rooms.setdefault(_room(module), set()).update(_room(t) for t in targets if _room(t) != _room(module))
    return rooms


def test_no_import_cycles_between_rooms() -> None:
    """Research builds one way: optimize/ on backtest/ (never the reverse), charts/ draws
    what it is handed and imports neither (their number formatting is core/numbers.py)."""
    rooms = _room_graph()
    assert _cycles(rooms) == []
    assert not rooms["trading.charts"] & {"trading.backtest", "trading.optimize", "trading.exchange"}
    assert "trading.optimize" not in rooms["trading.backtest"]
