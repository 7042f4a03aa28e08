"""The backtest CLI's edges (issue 26): an unreadable date is one line and exit 2, a reader
that leaves early (`| head -1`) ends it quietly, for a single run and the grid alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trading.backtest.__main__ import main as cli
from trading.core.strategies.check import synthetic

ROOT = Path(__file__).resolve().parents[1]


def walk_csv(tmp_path: Path, n: int = 1500) -> Path:
    path = tmp_path / "walk.csv"
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(
        f"{c.open_time},{c.open},{c.high},{c.low},{c.close},{c.volume}\n" for c in synthetic(n)))
    return path


def env_file(tmp_path: Path) -> str:
    env = tmp_path / ".env"
    env.write_text("SYMBOLS=BTCUSDT\n")
    return str(env)


@pytest.mark.parametrize("flag", ["--end", "--start"])
def test_an_unreadable_date_is_one_line_and_exit_2(tmp_path, capsys, flag) -> None:
    args = ["--csv", str(walk_csv(tmp_path)), flag, "2024-13-45", "--env-file", env_file(tmp_path)]
    assert cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"backtest: {flag}: cannot read '2024-13-45'"), err


@pytest.mark.parametrize("extra", [[], ["--grid", "fast=5..8", "--grid", "slow=20..22", "--verify", "0"]])
def test_a_reader_that_leaves_early_ends_it_quietly(tmp_path, extra) -> None:
    args = [sys.executable, "-m", "trading.backtest", "--csv", str(walk_csv(tmp_path)), "--warmup", "100",
            "--env-file", env_file(tmp_path), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: nobody reads what the run prints
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_strategy_failing_the_check_is_marked_in_the_report(tmp_path, capsys) -> None:
    """issue 26: one stderr line above an unmarked `+93.25 %` report."""
    from tests.test_whatif_results_e2e import CHEAT

    (tmp_path / "cheat.py").write_text(CHEAT)
    out = tmp_path / "trades.csv"
    args = ["--csv", str(walk_csv(tmp_path)), "--strategy", f"{tmp_path}/cheat.py:Peeks", "--warmup", "100",
            "--env-file", env_file(tmp_path), "--trades-out", str(out)]
    assert cli(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("⚠️ FAILED CHECK, the live bot refuses this strategy: check ") and "look-ahead" in printed[0]
    assert printed[-1].startswith(f"trades written to {out} (NOT what the live bot would trade: check ")
