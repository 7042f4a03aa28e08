"""issue 25: what an admin can load from the chat. /strategy, /backtest strategy= and
/optimize strategy= take a built-in or `file.py:Class` in STRATEGY_DIR, nothing else (no
path, no `..`, no `.pyc`, no module spec); a file is parsed before it runs, so a missing
class runs none of it; whatever a plugin raises while loading (SystemExit too) is one line
and the bot goes on. Through the local Bot API and the replay exchange."""

from __future__ import annotations

import textwrap

from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)

MARKS = '''
import pathlib
pathlib.Path({marker!r}).write_text("ran")
'''

EXITS = '''
import sys
from trading.core.strategies import FrameStrategy, Schema
sys.exit(3)


class Exits(FrameStrategy):
    schema = Schema(())
'''

INIT_EXITS = '''
from trading.core.strategies import FrameStrategy, Schema


class Quits(FrameStrategy):
    schema = Schema(())

    def __init__(self):
        raise SystemExit("bye")

    def populate(self, df, params):
        return df
'''


def test_the_chat_loads_only_builtins_and_files_in_strategy_dir(source, tmp_path) -> None:  # noqa: F811
    folder, outside = tmp_path / "strategies", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    marker_out, marker_in = tmp_path / "outside-ran", tmp_path / "inside-ran"
    (outside / "evil.py").write_text(textwrap.dedent(MARKS.format(marker=str(marker_out))) + "class X: pass\n")
    (outside / "evil.pyc").write_bytes(b"\x00")
    (folder / "marks.py").write_text(textwrap.dedent(MARKS.format(marker=str(marker_in))))
    (folder / "exits.py").write_text(textwrap.dedent(EXITS))
    (folder / "quits.py").write_text(textwrap.dedent(INIT_EXITS))
    w = World(source, tmp_path, STRATEGY_DIR=str(folder))
    try:
        refused = "from the chat only a built-in or file.py:ClassName in STRATEGY_DIR"
        for name in (f"{outside}/evil.py:X", "../elsewhere/evil.py:X", f"/proc/self/cwd/{outside}/evil.py:X",
                     "evil.pyc:X", "lib2to3.__main__:X", "os.path:X", "strategies/marks.py:X"):
            msg = w.reply(f"/strategy {name}", "nothing changed")["text"]
            assert refused in msg, msg
            w.reply(f"/backtest 2 strategy={name}", refused)
            w.reply(f"/optimize fast=5..6 2 strategy={name}", refused)
        assert not marker_out.exists()
        # In STRATEGY_DIR: a class that is not in the file is said without running the file.
        w.reply("/strategy marks.py:Nope", "has no class Nope; nothing changed")
        w.reply("/backtest 2 strategy=marks:Nope", "has no class Nope")
        assert not marker_in.exists()
        w.reply("/strategy missing.py:X", "no file missing.py in STRATEGY_DIR")
        # sys.exit() at a plugin's top level, SystemExit from its constructor: one line, the bot goes on.
        w.reply("/strategy exits.py:Exits", "raised SystemExit: 3; nothing changed")
        assert "nothing changed" in w.reply("/strategy quits.py:Quits", "Quits() raised SystemExit: bye")["text"]
        w.reply("/status", "Stream")
        assert w.bot.error is None and w.engine.strategy == "ema_cross"
        listed = w.reply("/strategy", "Available")["text"]
        assert "quits.py:Quits" in listed and f"STRATEGY_DIR ({folder})" in listed
    finally:
        w.close()


def test_strategy_in_the_environment_keeps_paths_and_a_systemexit_is_one_config_line(tmp_path) -> None:
    from trading.config import ConfigError, load_settings

    (tmp_path / "exits.py").write_text(textwrap.dedent(EXITS))
    env = {"TELEGRAM_TOKEN": "1:x", "TELEGRAM_CHAT_ID": "-1", "DB_PATH": str(tmp_path / "b.sqlite")}
    try:
        load_settings(environ={**env, "STRATEGY": f"{tmp_path}/exits.py:Exits"}, env_file=None)
    except ConfigError as e:
        assert "raised SystemExit: 3" in str(e)
    else:
        raise AssertionError("a plugin calling sys.exit() must be a config error")
    ok = load_settings(environ={**env, "STRATEGY": "trading.core.strategies.rsi_reversion:RsiReversion"}, env_file=None)
    assert ok.strategy == "trading.core.strategies.rsi_reversion:RsiReversion" and ok.strategy_dir == "strategies"
