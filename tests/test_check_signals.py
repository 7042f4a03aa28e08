"""issue 26: the look-ahead check where it matters. It compared evenly spaced end candles
only (40 in --check), wherever the signals were: a strategy that signals on about 1 % of the
rows and peeks ahead on a good share of them passed with exit 0. Now the candles where the
full history signals are compared too (every one, or an even draw), within a time budget,
and the report says how many of each kind."""

from __future__ import annotations

import re

from bot.texts import check_words
from tests.test_backtest_cli import env_file, walk_csv
from tests.test_frame_strategy import write_plugin
from trading.backtest.__main__ import main as cli
from trading.core.strategies import strategy_class
from trading.core.strategies.check import check_strategy, synthetic

# A rule that fires on the rare big moves (about 1 % of the candles): a long where the next
# close is higher (it peeks), a short on a big volume (it does not).
RARE_PEEK = '''
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class RarePeek(FrameStrategy):
    schema = Schema(MONEY)
    startup_candles = 30

    def populate(self, df, params):
        move = df["Close"].pct_change().abs()
        rare = move > 0.0075                      # ~1 % of a 0.3 %-a-candle walk
        nxt = df["Close"].shift(-1)                # tomorrow's close
        df["enter_long"] = rare & (nxt > df["Close"])
        df["exit_long"] = False
        df["enter_short"] = rare & (df["Volume"] > 480)
        df["exit_short"] = False
        return df
'''

SLOW = '''
import time
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class Slow(FrameStrategy):
    schema = Schema(MONEY)

    def populate(self, df, params):
        time.sleep(0.05)
        for col in ("enter_long", "exit_long", "enter_short", "exit_short"):
            df[col] = False
        return df
'''


def test_a_strategy_peeking_at_its_rare_signals_fails_the_check_and_exit_is_not_zero(tmp_path, capsys) -> None:
    spec = write_plugin(tmp_path, RARE_PEEK, "rare.py") + ":RarePeek"
    path = walk_csv(tmp_path, 4000)
    assert cli(["--csv", str(path), "--strategy", spec, "--check", "--env-file", env_file(tmp_path)]) == 1
    line = capsys.readouterr().out.strip()
    assert "look-ahead: enter_long at " in line and "(populate uses later candles)" in line, line
    report = check_strategy(strategy_class(spec), None, synthetic(4000))  # the same candles as the file
    assert 0.005 < report.signal_rows / 4000 < 0.02  # it signals on about 1 % of the candles
    assert not report.ok and report.difference is not None
    assert report.difference.kind == "look-ahead" and report.difference.column == "enter_long"


def test_the_report_says_how_many_candles_of_each_kind_it_compared(tmp_path, capsys) -> None:
    spec = write_plugin(tmp_path, RARE_PEEK.replace("(nxt > df[\"Close\"])", "(df[\"Open\"] < df[\"Close\"])"),
                        "fair.py") + ":RarePeek"  # the same rule without the peek
    assert cli(["--csv", str(walk_csv(tmp_path, 4000)), "--strategy", spec, "--check",
                "--env-file", env_file(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    m = re.search(r"passed \((\d+) end candles: (\d+) evenly spaced, (\d+) of the (\d+) where it signals;", line)
    assert m, line
    total, even, at_signals, signalling = map(int, m.groups())
    assert total == even + at_signals and even == 40 and 0 < at_signals <= 40 and at_signals <= signalling


def test_the_check_is_bounded_in_time_and_says_how_far_it_got(tmp_path) -> None:
    spec = write_plugin(tmp_path, SLOW, "slow.py") + ":Slow"
    seen: list[tuple[int, int]] = []
    report = check_strategy(strategy_class(spec), None, synthetic(600), samples=40, seconds=0.5,
                            progress=lambda done, planned: seen.append((done, planned)))
    assert report.ok and 2 <= report.ends < report.planned == 40  # cut by the budget, not finished
    assert seen[-1] == (report.ends, 40)
    assert f"time budget reached after {report.ends} of 40" in check_words(report)
