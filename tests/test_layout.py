"""The house rules: the product never imports the offline world, and product files stay small.

Walks every module's imports with ast (including imports inside functions), so a lazy
`from sim...` hidden in a function body is caught as well.
"""

from __future__ import annotations

import ast
from dataclasses import fields
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
CHAT_WORDS = {"trading/__main__.py": {"bot.texts"},
              # the backtest CLI says the look-ahead check's line as the chat does (bot/texts.check_words),
              # imported only when a check runs (tests/test_startup.py holds the CLI's own imports light)
              "trading/backtest/__main__.py": {"bot.texts"}}


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


# What bot/ may import from trading/: the service (and the names it re-exports in __all__),
# the settings, the core's types, events and numbers, and the log masking. Everything else
# of trading/ is reached through the service (issue 27: one facade).
BOT_MAY_IMPORT = ("trading.live.service", "trading.config", "trading.logsafe")
BOT_MAY_IMPORT_UNDER = ("trading.core.",)


def test_bot_imports_only_the_service_config_core_and_logsafe() -> None:
    leaks = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for m in sorted(_imported_modules(path)):
            if m.split(".")[0] != "trading":
                continue
            if m in BOT_MAY_IMPORT or m.startswith(BOT_MAY_IMPORT_UNDER) or m == "trading.core":
                continue
            leaks.append(f"{path.relative_to(ROOT).as_posix()}: {m}")
    assert not leaks, "bot/ reaching past the service: " + "; ".join(leaks)


def test_bot_imports_from_the_service_only_what_it_exports() -> None:
    """`from trading.live.service import X`: X is the service or a name in its __all__."""
    import trading.live.service as service

    exported = set(service.__all__)
    bad = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "trading.live.service":
                bad += [f"{path.relative_to(ROOT).as_posix()}: {a.name}" for a in node.names if a.name not in exported]
    assert not bad, "names bot/ takes from the service that it does not export: " + "; ".join(bad)


def _mixins(tree: ast.Module) -> list[str]:
    """Classes that read `self.<name>` attributes they never set, define or inherit from a
    base in the same file: slices of another class (a mixin), not parts owning their state.
    Protocols, dataclasses, NamedTuples and exceptions are values, not parts, and skipped."""
    classes = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}

    def own(cls: ast.ClassDef) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(cls):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and getattr(node.value, "id", "") == "self":
                names.add(node.attr)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and (
                node.value is not None or "ClassVar" in ast.unparse(node.annotation)
            ):  # a class attribute (a bare `live: Any` is a promise that another class sets it)
                names.add(node.target.id)
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                names |= own(classes[base.id])
        return names

    out = []
    for cls in classes.values():
        bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
        if cls.decorator_list or bases & {"Protocol", "NamedTuple", "Exception", "ValueError", "RuntimeError", "TypedDict"}:
            continue
        if any(b not in classes for b in bases if b):
            continue  # a subclass of something imported: its attributes come from there
        reads = {
            n.attr for n in ast.walk(cls)
            if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and getattr(n.value, "id", "") == "self"
        }
        missing = reads - own(cls)
        if missing:
            out.append(f"{cls.name} ({', '.join(sorted(missing))})")
    return out


def test_no_mixins_in_the_live_and_exchange_sides() -> None:
    """Engine(EngineGuards, EngineReports) and BinanceBroker(ExitOrders) were classes cut into
    slices that read each other's attributes; each part now owns its state and is composed."""
    found = []
    for pkg in ("trading/live", "trading/exchange", "trading/core"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found += [f"{path.relative_to(ROOT).as_posix()}: {m}" for m in _mixins(ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "classes reading attributes they do not own (mixins): " + "; ".join(found)


def test_the_mixin_finder_finds_a_mixin() -> None:
    tree = ast.parse(
        "class Guards:\n    def confirm(self):\n        return self.live.confirm()\n"
        "class Part:\n    def __init__(self, live):\n        self.live = live\n    def confirm(self):\n        return self.live.confirm()\n"
    )
    assert _mixins(tree) == ["Guards (live)"]


def test_no_probes_of_what_a_part_is() -> None:
    """The mode is decided once (trading/live/mode.py) and handed over: no `hasattr(...)` probes
    on brokers, streams or filters, no `broker.mode != "paper"` guesses in live/ and exchange/."""
    probes = []
    for pkg in ("trading/live", "trading/exchange"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "hasattr":
                    probes.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}")
            if 'broker.mode != "paper"' in text or "broker.mode == \"paper\"" in text:
                probes.append(f"{path.relative_to(ROOT).as_posix()}: broker.mode")
    assert not probes, "probes instead of the Mode: " + ", ".join(probes)


def test_the_exchange_side_never_reaches_into_the_trader_or_the_live_bot() -> None:
    """exchange/ speaks Binance and returns core values; live/follow.py books what it decodes
    (the user-stream fill path goes one way: exchange → live/follow → core → events → chat)."""
    leaks = []
    for path in sorted((ROOT / "trading" / "exchange").rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m.startswith(("trading.live", "trading.core.trader")))
        if bad:
            leaks.append(f"{path.relative_to(ROOT).as_posix()}: {', '.join(bad)}")
    assert not leaks, "; ".join(leaks)


def _reaches_under_the_service(tree: ast.AST) -> list[int]:
    """Lines where `<…>.engine._private` or `.internals()` is read: under the facade."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = node.value
        named = getattr(base, "attr", getattr(base, "id", ""))
        if node.attr == "internals" or (named == "engine" and node.attr.startswith("_")):
            lines.append(node.lineno)
    return lines


def test_tests_and_benches_use_the_service_seams() -> None:
    """issue 27: tests and benches use the public seams of the service the chat uses (and its
    documented read-only ones), not the parts under it (`engine.internals().trader.portfolio`)."""
    found = []
    for pkg in ("tests", "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path.name == "test_layout.py":
                continue
            found += [f"{path.relative_to(ROOT).as_posix()}:{n}" for n in _reaches_under_the_service(ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "tests reaching under the service: " + ", ".join(found)


def test_the_service_reach_finder_finds_one() -> None:
    tree = ast.parse("w.engine.internals().trader.portfolio\nbot.engine._trader.lock\nw.engine.position('X')\n")
    assert sorted(set(_reaches_under_the_service(tree))) == [1, 2]


# getattr with a default in the core: only where a collaborator's member is optional by contract
# (a user's plugin strategy, base.Strategy's docstring), or plain data access (events.describe).
CORE_GETATTR_ALLOWED = {"trading/core/strategy_host.py", "trading/core/events.py"}


def test_the_core_decides_by_what_it_is_given_not_by_probing() -> None:
    """issue 27: the trader's parts call their collaborators' protocols (Broker.set_leverage,
    Journal.record_refusal, CandleSink.caught_up) and are told the mode (on_exchange from
    live/mode.py), not `getattr(broker, "set_leverage", None)` or `mode != "paper"`."""
    probes = []
    for path in sorted((ROOT / "trading" / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("trading/core/strategies/"):
            continue  # loading a user's plugin class is reading what it declares
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            name = getattr(node.func, "id", "") if isinstance(node, ast.Call) else ""
            if name == "hasattr" or (name == "getattr" and len(node.args) == 3 and rel not in CORE_GETATTR_ALLOWED):
                probes.append(f"{rel}:{node.lineno}")
        if 'mode != "paper"' in text or 'mode == "paper"' in text:
            probes.append(f"{rel}: a mode string compared")
    assert not probes, "probes in the core: " + ", ".join(probes)


# The chat's words the order path used to write in trading/ (issue 27: they are bot/texts.py's).
CHAT_WORDS_MOVED = {"placement_line", "fee_words", "blocked_line", "proposal_text", "PAUSED_LINE", "OLDER",
                    "NO_LIVE_PRICE", "BLOCKED",
                    # the core's hedge rules worded a refusal and a Confirm's position (core/hedge.py)
                    "order_refusal", "position_words", "legs_text", "sizes_text",
                    "four_eyes_line",
                    # a what-if's table and the words its chart and caption share (live/whatif.py)
                    "stats_table", "end_words", "UNITS",
                    # the exchange's positions unlike the book's (exchange/reconcile.py)
                    "hedged_lines",
                    # refusals are typed reasons (core/reasons.py) worded by bot/texts.reason_line
                    "position_text", "mode_name", "CHANGED",
                    # a candle's line, /strategy's list (core/candles.py, live/params.py)
                    "ohlcv_line", "SUMMARIES",
                    # a notice worded where it happened, and its kinds (core/events.py): every event is typed now
                    "Notice", "NOTICE_KINDS"}  # fmt: skip

# Sentences (or their telling part) that trading/ wrote for the chat and bot/texts.py writes now:
# no string in trading/ may hold them again.
SENTENCES_MOVED = ("one position per symbol", " to close.", "two admins must confirm", "the given parameters",
                   "the current parameters", "paper mode has no account mode", "stream not resumed",
                   "not switched: ", "switched the account to One-way Mode", "every asset in it (not only USDT)",
                   "could not read the account's position mode",
                   # the market stream's notices and its storage faults (exchange/stream.py, stream_faults.py)
                   "socket error: ", ", forcing reconnect", "stream stale", "resumed streaming",
                   "socket started: streaming", "warm-up fetched", "; backfilled ", "socket stopped",
                   "streaming resumes when the bot starts again", "cannot connect (", "; retrying in ",
                   "backfill failed, ", "retrying, nothing is lost", "nothing is traded: fix the disk",
                   # the account stream, the account follower, the resting exits' check, the exchange's positions
                   "account stream lost", "account stream reconnected", "reconciliation failed (", "MARGIN CALL",
                   "add margin or reduce the position", "is not booked: the bot's book holds",
                   "exit order(s) of the bot with no position", "exits were not all on the exchange",
                   "made while the account stream was down", "funding payment(s) booked", "account trades unreadable",
                   "the exchange holds ", "the bot adopts neither", "reconcile: ",
                   # a rule's refusal: core/limits, symbols, brokers/paper, intents, hedge, position_mode
                   "already flat", "changed since this proposal", "free in the paper wallet", ", above MAX_POSITION_NOTIONAL",
                   "(MIN_NOTIONAL)", "while the bot trades", "as the bot's book", "not listed as a trading",
                   # a what-if's window and what it ran without (live/whatif.py)
                   "the history available leaves", "days (asked", "did not answer GET /fapi/v1/fundingRate",
                   # /balance's heading (live/reports.py), /strategy's list (live/params.py)
                   "(the bot's book)", "a plugin in STRATEGY_DIR", "observe only: the stream runs",
                   # the database guard's halt and quick_check (live/guard.py), a proposal's notices (live/proposals.py)
                   "trading stopped (stream closed", "Restore it and restart the bot", "stored rows may be missing or wrong",
                   "proposal #",
                   # the look-ahead/window check's line (was CheckReport.line, core/strategies/check.py)
                   "with the full history", "startup too short: ", "populate uses later candles", "could not run: ",
                   "; not traded live",
                   # the exchange adapter's refusals (exchange/errors.py, broker.py, exits.py, protection.py,
                   # brackets.py, account.py): Binance's code and message are data, the lines bot/texts.py's
                   "margin is insufficient", "Binance refused: ", "rate-limited by Binance", "IP banned by Binance",
                   "and Binance has no order", "Binance did not fill it", "no order was sent, propose again",
                   "outcome unknown: ", "check the position before anything else", "asking Binance for it failed too",
                   "); asking Binance for it: ",
                   "no fresh client id", "by Binance's leverage brackets; leverage is", "positions apart); with HEDGE_MODE=off",
                   "so an admin can switch it here", "Position Mode), then /stop and /start")  # fmt: skip

ANSWERING = {"Outcome", "Answer", "refused", "stale"}  # an answer to the chat is built by these
# A refusal leaves trading/ as a typed reason (core/reasons.py), never as words: these are given
# a Reason (or a name of one), so a sentence as their argument is one the chat would show.
REFUSING = {"OrderRefused", "OrderUnknown", "AccountRefused", "WouldTrigger", "said"}


def _words(node: ast.AST) -> bool:
    """An expression that is a sentence: an f-string, a non-empty string literal, or one
    joined (`+`), chosen (`a if c else b`) or defaulted (`a or b`) from them."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(node.value)
    if isinstance(node, ast.BinOp):
        return _words(node.left) or _words(node.right)
    if isinstance(node, ast.IfExp):
        return _words(node.body) or _words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(_words(v) for v in node.values)
    return False


def _sentences_built(tree: ast.AST) -> list[str]:
    """Where an answer for the chat is given words instead of a typed value: an Outcome, an
    Answer (or its helpers) built with text, a proposal finished with a text result, or one of
    the moved renderers defined again, or a moved sentence written again (docstrings aside)."""
    found = []
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            args = [*node.args, *(k.value for k in node.keywords)]
            if name == "finish":  # finish(id, from, to, answer): the states are words of the machine
                args = node.args[3:] + [k.value for k in node.keywords if k.arg in ("answer", "line")]
            elif name in REFUSING:
                args = node.args[:1] + [k.value for k in node.keywords if k.arg in ("reason", "line", "text")]
            elif name not in ANSWERING:
                continue
            found += [f"{node.lineno}: {name}(…{ast.unparse(a)[:40]}…)" for a in args if _words(a)]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in CHAT_WORDS_MOVED:
            found.append(f"{node.lineno}: def {node.name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found += [f"{node.lineno}: {said!r}" for said in SENTENCES_MOVED if said in node.value]
    for node in getattr(tree, "body", []):  # a module's own names (an enum member is not one)
        if isinstance(node, ast.Assign):
            found += [f"{node.lineno}: {t.id} =" for t in node.targets if isinstance(t, ast.Name) and t.id in CHAT_WORDS_MOVED]
    return found


def test_the_order_path_answers_with_typed_values_not_words() -> None:
    """issue 27 (freqtrade's rpc/telegram split): /long, a Confirm, a Reject and a proposal's
    final state are typed answers (trading/live/answers.py) that bot/texts.py words; no
    module of trading/ writes those sentences (a new one belongs in bot/texts.answer_line)."""
    from trading.live.proposals import Outcome

    found = []
    for path in sorted((ROOT / "trading").rglob("*.py")):
        found += [f"{path.relative_to(ROOT).as_posix()}:{x}" for x in _sentences_built(ast.parse(path.read_text(encoding="utf-8")))]
    found += [f"Outcome.{f.name}: str" for f in fields(Outcome) if f.type in ("str", str)]
    assert not found, "chat sentences built in trading/: " + "; ".join(found)


def test_the_sentence_finder_finds_one() -> None:
    tree = ast.parse(
        'Outcome(False, f"No {s} price yet")\nrefused(Kind.X, quoted=why)\nconf.finish(1, "placed", "filled", line + "!")\n'
        'conf.finish(1, "placed", "filled", answer)\nOLDER = "x"\ndef fee_words(f): ...\nOutcome(False, Answer(Kind.X, who="me"))\n'
        'x = f"No {s} position to close."\nraise OrderRefused(f"{symbol}: no rules", -1)\nOrderUnknown("lost: " + why)\n'
        'OrderRefused(Reason(What.FLAT, s), code)\nraise AccountRefused(LINE if idle else "in Hedge Mode", idle)\n'
        'Reason.said(f"{x} failed")\nOrderRefused(e.reason)\n'
    )
    assert sorted({x.split(":")[0] for x in _sentences_built(tree)}, key=int) == ["1", "3", "5", "6", "7", "8", "9", "10", "12", "13"]
