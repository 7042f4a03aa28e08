"""issue 26, "Smaller, each seen": words a new trader met that said something else than what
happened. Through the local Bot API and the replay exchange (the chat), and the demo as a
person runs it (a subprocess: Ctrl-C, /logs, a bad CONFIRM_ORDERS)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bot_e2e import ADMIN, World, source  # noqa: F401  (fixture)
from tests.test_demo_env import ENV
from tests.test_demo_pipes import lines_of, read_until
from tests.test_frame_strategy import write_plugin
from tests.test_orders_e2e import press, proposal_message, started
from tests.test_paper_exit_rounding_e2e import QUIET


def test_proposals_say_what_was_typed_the_turn_of_a_reverse_and_amounts(source, tmp_path) -> None:  # noqa: F811
    w: World = started(source, tmp_path, STRATEGY=write_plugin(tmp_path, QUIET, "quiet.py") + ":Quiet")
    try:
        mark = w.api.mark()
        w.say("/long")  # sized by the strategy: stake_usdt 100 × leverage 3 at the fill price
        text = proposal_message(w, mark, 1)["text"]
        assert re.search(r"\nOrders: BUY ≈0\.\d{3}\n", text), text  # an amount, not "stake × leverage"
        assert "stake × leverage" not in text
        listed = w.reply("/pending", "Open proposals")["text"]  # the same amount, not the formula
        about = re.search(r"\nOrders: BUY (≈0\.\d{3})\n", text).group(1)
        assert f"#1 long BTCUSDT {about} · pending" in listed and "stake × leverage" not in listed, listed
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY")

        mark = w.api.mark()
        w.say("/short 0.01")  # against the long: close it, then open the short
        msg = proposal_message(w, mark, 2)
        assert "Order proposal #2: reverse BTCUSDT, long → short" in msg["text"], msg["text"]
        assert "\nOrders: SELL all reduce-only → SELL 0.010\n" in msg["text"], msg["text"]
        press(w, ADMIN, msg, 1)  # reject

        mark = w.api.mark()
        w.say("/close all")
        msg = proposal_message(w, mark, 3)
        assert f"Asked by user {ADMIN}: /close all\n" in msg["text"], msg["text"]  # as typed, not "/close"
        assert "Order proposal #3: close BTCUSDT" in msg["text"]
    finally:
        w.close()


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_a_bad_confirm_orders_is_answered_with_on_or_off_as_documented(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("/help\n")
    proc = subprocess.run([sys.executable, "-m", "sim", "--script", str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={**ENV, "CONFIRM_ORDERS": "maybe"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "demo: config error: CONFIRM_ORDERS: 'maybe' is neither on nor off (use on or off)"
    documented = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "| `CONFIRM_ORDERS` | `on` | `on`: " in documented and "`off`: placed at once" in documented


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_ctrl_c_in_the_demo_posts_bot_stopping(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "sim", "--speed", "0.05"], cwd=tmp_path, env={**ENV, "STRATEGY": "none"}, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert demo.stdin is not None
        out = lines_of(demo.stdout)
        read_until(out, "Try:", timeout=60)
        demo.stdin.write("/start\n")
        demo.stdin.flush()
        read_until(out, "socket started", timeout=60)
        demo.send_signal(signal.SIGINT)  # Ctrl-C at the prompt
        seen = read_until(out, "⏹ bot stopping: socket closed; streaming resumes when the bot starts again",
                          timeout=60)
        assert seen
        demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for stream in (demo.stdin, demo.stdout, demo.stderr):
            if stream is not None:
                stream.close()


# A plugin that warns while it is checked (at the bot's start, before it serves the chat)
WARNS = '''
import logging
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class Warns(FrameStrategy):
    schema = Schema(MONEY)

    def populate(self, df, params):
        logging.getLogger("mymodel").warning("mymodel: few candles (%d), the model is guessing", len(df))
        for col in ("enter_long", "exit_long", "enter_short", "exit_short"):
            df[col] = False
        return df
'''


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_logs_in_the_demo_shows_the_warnings_it_printed(tmp_path: Path) -> None:
    (tmp_path / "warns.py").write_text(WARNS)
    run_in = tmp_path / "here"
    run_in.mkdir()
    script = tmp_path / "script.txt"
    script.write_text("/logs 10\n")
    proc = subprocess.run([sys.executable, "-m", "sim", "--script", str(script)], cwd=run_in,
                          capture_output=True, text=True, timeout=120, env={**ENV, "STRATEGY": "../warns.py:Warns"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING mymodel: mymodel: few candles" in proc.stderr  # printed on the screen…
    answer = proc.stdout.split("/logs 10", 1)[1]
    assert "No log lines kept yet." not in answer, answer
    assert "mymodel: few candles" in answer, answer  # …and kept for /logs
