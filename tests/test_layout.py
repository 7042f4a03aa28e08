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


def test_trading_and_storage_never_import_the_chat_side() -> None:
    """Telegram types stay in bot/; trading/ talks to people only through its notifier."""
    leaks = []
    for pkg in ("trading", "storage"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad = sorted(
                m for m in _imported_modules(path)
                if m.split(".")[0] in ("bot", "telegram")
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
