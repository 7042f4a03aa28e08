"""issue 26: the look-ahead check runs beside the bot, not in its way. A plugin whose populate
takes 2 s made the bot accept its first command ~85 s after launch (the start's check ran
~41 populates first), and a /strategy switch ran the same check inside the command. Now the
start's check is bounded and runs on its own thread: the chat is served meanwhile (/status
says how far it got), the stream decides nothing until it passes, and a failure found
after the start is refused in one line (no strategy runs). A switch shows the check's
progress in one message while everybody's /status answers."""

from __future__ import annotations

import pytest

from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import write_plugin

SLOW = '''
import time
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class Slow(FrameStrategy):
    schema = Schema(MONEY)
    startup_candles = 5

    def populate(self, df, params):
        time.sleep(SECONDS)
        nxt = df["Close"].shift(PEEK)
        df["enter_long"] = nxt > df["Close"] if PEEK else False
        df["exit_long"] = False
        df["enter_short"] = False
        df["exit_short"] = False
        return df
'''


def slow(tmp_path, seconds: float, peek: int = 0, name: str = "slow.py") -> str:
    src = SLOW.replace("SECONDS", str(seconds)).replace("PEEK", str(peek))
    return write_plugin(tmp_path, src, name) + ":Slow"


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
def test_a_slow_populate_does_not_hold_the_first_command_and_the_stream_waits_for_the_check(source, tmp_path) -> None:  # noqa: F811
    w = World(source, tmp_path, STRATEGY=slow(tmp_path, 2.0))
    try:
        status = w.reply("/status", "Status", timeout=20)["text"]  # answered while the check runs
        assert "🔎 Checking " in status and "slow.py:Slow for look-ahead" in status, status
        assert "the stream decides nothing until it passes" in status
        assert w.engine.wait_strategy_check(0) is None  # (still running when /status answered)
        report = w.engine.wait_strategy_check(120)
        assert report is not None and report.ok and report.ends < report.planned  # bounded: cut by its budget
        assert "Checking" not in w.reply("/status", "Status")["text"]
        w.reply("/start", "socket started", timeout=30)
    finally:
        w.close()


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_a_failure_found_after_the_start_is_refused_in_one_line_and_nothing_trades_it(source, tmp_path) -> None:  # noqa: F811
    w = World(source, tmp_path, STRATEGY=slow(tmp_path, 2.0, peek=-1, name="peeks_slowly.py"))
    try:
        mark = w.api.mark()
        said = w.api.wait_for_text(GROUP, "⛔ STRATEGY: check ", start=mark, timeout=120)
        assert said is not None
        assert "look-ahead: enter_long" in said["text"] and said["text"].endswith(
            "not traded live: no strategy runs until /strategy chooses one"), said["text"]
        assert w.engine.strategy == "none"
        assert "⛔ check " in w.reply("/status", "Status")["text"]
        w.reply("/strategy", "Strategy: none")
    finally:
        w.close()


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_a_switch_shows_its_check_in_one_message_and_status_answers_meanwhile(source, tmp_path) -> None:  # noqa: F811
    spec = slow(tmp_path, 0.05)
    w = World(source, tmp_path, STRATEGY_DIR=str(tmp_path / "strategies"))
    try:
        mark = w.api.mark()
        w.say("/strategy slow.py:Slow")
        step = w.api.wait_for_text(GROUP, "/strategy slow.py:Slow: checking for look-ahead, ", start=mark, timeout=30)
        assert step is not None and "end candles compared" in step["text"]
        status_mark = w.say("/status", user=GUEST)  # another person, while the check runs
        assert w.api.wait_for_text(GROUP, "Status", start=status_mark, timeout=10)
        done = w.api.wait_for_text(GROUP, "Strategy: ema_cross → ", start=mark, timeout=60)
        assert done is not None and "(check passed)" in done["text"]
        assert w.engine.strategy == spec
        steps = [c for c in w.api.calls[mark:] if c.ok and "checking for look-ahead" in str(c.params.get("text", ""))]
        assert steps[0].method == "sendMessage" and all(c.method == "editMessageText" for c in steps[1:])
    finally:
        w.close()
