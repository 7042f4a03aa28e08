"""issue 26: a strategy whose populate raises on every candle is said once in the chat, and
shown while it lasts in /status, /health and /strategy (since which candle, how many
candles): afterwards nothing else said it, a trader saw a bot that looked well and
traded nothing. Once populate works again, the line goes."""

from __future__ import annotations

import re

from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import write_plugin
from tests.test_single_instance import wait_until

# populate raises while the flag file exists (a model that breaks on live data, say)
BREAKS = '''
import os
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY

FLAG = {flag!r}


class Breaks(FrameStrategy):
    schema = Schema(MONEY)
    startup_candles = 5

    def populate(self, df, params):
        if os.path.exists(FLAG):
            raise ZeroDivisionError("my model divided by zero")
        df["enter_long"] = False
        df["exit_long"] = False
        df["enter_short"] = False
        df["exit_short"] = False
        return df
'''

FAILING = re.compile(r"⚠️ Strategy \S+ failing on BTCUSDT since (\d{4}-\d\d-\d\d \d\d:\d\d) UTC "
                     r"\((\d+) candles?, no order\): populate raised ZeroDivisionError: my model divided by zero")


def failing(w) -> object:
    return w.engine.snapshot().failing.get("BTCUSDT")


def test_a_strategy_failing_on_every_candle_is_said_once_and_shown_while_it_lasts(source, tmp_path) -> None:  # noqa: F811
    flag = tmp_path / "broken"
    spec = write_plugin(tmp_path, BREAKS.format(flag=str(flag)), "breaks.py") + ":Breaks"
    w = World(source, tmp_path, STRATEGY=spec)
    try:
        w.reply("/start", "socket started", timeout=30)
        assert "⚠️ Strategy" not in w.reply("/status", "Status")["text"]
        mark = w.api.mark()
        flag.write_text("")
        said = w.api.wait_for_text(GROUP, "failed on BTCUSDT", timeout=30, start=mark)
        assert said is not None and "populate raised ZeroDivisionError: my model divided by zero; no order" in said["text"]
        assert wait_until(lambda: (f := failing(w)) is not None and f.candles >= 3)

        status = w.reply("/status", "Status")["text"]
        m = FAILING.search(status)
        assert m, status
        first = said["text"].split("failed on BTCUSDT ")[1][:16]
        assert m.group(1) == first  # since the candle the notice named
        assert int(m.group(2)) >= 3
        health = FAILING.search(w.reply("/health", "Health")["text"])
        assert health and health.group(1) == first
        shown = FAILING.search(w.reply("/strategy", "Available")["text"])
        assert shown and shown.group(1) == first and int(shown.group(2)) >= int(m.group(2))
        # said once: however many candles it failed on, one notice
        assert wait_until(lambda: (f := failing(w)) is not None and f.candles >= int(m.group(2)) + 3)
        notices = [c for c in w.api.sent(GROUP) if "failed on BTCUSDT" in c.get("text", "")]
        assert len(notices) == 1, [n["text"] for n in notices]

        flag.unlink()  # it works again: the line goes
        assert wait_until(lambda: failing(w) is None)
        assert "⚠️ Strategy" not in w.reply("/status", "Status")["text"]
        assert "⚠️ Strategy" not in w.reply("/health", "Health")["text"]
        assert "⚠️ Strategy" not in w.reply("/strategy", "Available")["text"]
    finally:
        w.close()
