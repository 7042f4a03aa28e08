"""The documentation site holds two contracts against the code (issue 27): the configuration
page names every setting trading/config.py reads, and nothing else, with the defaults the
code uses; the notices page has a row for every notice kind the bot emits, and nothing
else. Adding a setting or a notice kind without its line in docs/ fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from trading.core import events

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PRODUCT = ("bot", "trading", "storage")
CODE = re.compile(r"`([^`]+)`")


def table_rows(page: Path, first_header: str) -> list[list[str]]:
    """The rows of the page's table whose first header cell is `first_header`, as cells."""
    rows: list[list[str]] = []
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if not inside:
            inside = cells[0] == first_header
            continue
        if set(cells[0]) <= set("-: "):
            continue
        rows.append(cells)
    assert rows, f"{page.name}: no table with a '{first_header}' column"
    return rows


# ----------------------------------------------------------------------------- configuration
def settings_read() -> dict[str, str | None]:
    """Every variable load_settings reads (its local `get(NAME, default)`), with the default
    when it is a literal (None when computed, e.g. by the trading mode)."""
    tree = ast.parse((ROOT / "trading" / "config.py").read_text(encoding="utf-8"))
    found: dict[str, str | None] = {}
    for fn in ast.walk(tree):
        if not (isinstance(fn, ast.FunctionDef) and fn.name == "load_settings"):
            continue
        for n in ast.walk(fn):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "get"
                    and n.args and isinstance(n.args[0], ast.Constant)):  # fmt: skip
                default = n.args[1] if len(n.args) > 1 else None
                value = default.value if isinstance(default, ast.Constant) else None
                if found.get(n.args[0].value) is None:
                    found[n.args[0].value] = value
    assert len(found) > 20, found  # the parser still finds load_settings' reads
    return found


def settings_documented() -> dict[str, str]:
    """Variable name → its default cell, from the configuration page's table."""
    documented: dict[str, str] = {}
    for cells in table_rows(DOCS / "configuration.md", "variable"):
        names = CODE.findall(cells[0])
        assert names, f"configuration.md: a row names no variable: {cells[0]!r}"
        for name in names:
            assert name not in documented, f"configuration.md: {name} has two rows"
            documented[name] = cells[1]
    return documented


def test_every_setting_has_its_row_and_no_row_is_invented():
    read, documented = settings_read(), settings_documented()
    missing = sorted(set(read) - set(documented))
    invented = sorted(set(documented) - set(read))
    assert not missing, f"settings trading/config.py reads with no row in docs/configuration.md: {missing}"
    assert not invented, f"docs/configuration.md documents variables trading/config.py never reads: {invented}"


def test_documented_defaults_are_the_code_defaults():
    documented = settings_documented()
    for name, default in settings_read().items():
        if default:  # a literal default: the page's default cell shows it
            assert f"`{default}`" in documented[name], (
                f"docs/configuration.md: {name}'s default is `{default}` in trading/config.py, "
                f"the page says {documented[name]!r}")  # fmt: skip


# ----------------------------------------------------------------------------- notices
def kinds_emitted() -> set[str]:
    """Every notice kind the product emits: EVENT_KINDS as trading/core/events.py lists them,
    every event class's kind there, and the kind of every class anywhere in the product that
    derives from Event (an event defined elsewhere, or left out of EVENT_KINDS, still counts)."""
    kinds: set[str] = set(events.EVENT_KINDS)
    for cls in vars(events).values():
        if isinstance(cls, type) and issubclass(cls, events.Event) and isinstance(cls.__dict__.get("kind"), str):
            kinds.add(cls.__dict__["kind"])
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(n, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", "")) == "Event" for b in n.bases):
                    kinds |= {s.value.value for s in n.body if isinstance(s, ast.AnnAssign | ast.Assign)
                              and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)
                              and "kind" in ast.unparse(s.target if isinstance(s, ast.AnnAssign) else s.targets[0])}  # fmt: skip
    assert {"socket_started", "order_filled", "signal", "proposal"} <= kinds, kinds  # the scan still finds them
    return kinds


def test_event_kinds_lists_every_event_class():
    """EVENT_KINDS is made of the event classes (TYPED): one left out would be emitted but
    counted nowhere, and its kind could lose its row in docs/notices.md unnoticed."""
    classes = {c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event}
    assert classes - set(events.TYPED) == set()
    assert {c.kind for c in classes} == events.EVENT_KINDS


def kinds_documented() -> set[str]:
    kinds: set[str] = set()
    for cells in table_rows(DOCS / "notices.md", "kind"):
        names = [k.strip(" `") for k in re.split(r"[/,]", cells[0]) if k.strip(" `")]
        assert names, f"notices.md: a row names no kind: {cells[0]!r}"
        kinds |= set(names)
    return kinds


def test_every_notice_kind_has_its_row_and_no_row_is_invented():
    emitted, documented = kinds_emitted(), kinds_documented()
    missing = sorted(emitted - documented)
    invented = sorted(documented - emitted)
    assert not missing, f"notice kinds the bot emits with no row in docs/notices.md: {missing}"
    assert not invented, f"docs/notices.md documents notice kinds the bot never emits: {invented}"


def test_every_page_is_in_the_site_and_readme_stays_short():
    """mkdocs --strict (make docs) fails on a page left out of the nav; the README keeps to
    its short form (issue 27: at most ~250 lines) and links the pages."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        assert f" {page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"
        assert page.name == "index.md" or f"(docs/{page.name}" in readme, f"README does not link docs/{page.name}"
    assert len(readme.splitlines()) <= 250
