"""Research starts at once (issue 31): a CSV backtest or grid imports only what it needs.

Each case runs in a fresh interpreter (this process has imported everything already) and
reports which heavy modules the run loaded: never python-binance or sqlite-utils (a CSV run
needs neither the exchange client nor the store), TA-Lib only for a strategy that uses it,
numpy and pandas only where a grid or a DataFrame strategy computes with them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_backtest_cli import env_file, walk_csv

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("binance", "sqlite_utils", "talib", "pandas", "numpy", "dateparser", "requests", "matplotlib")


def loaded(code: str) -> list[str]:
    probe = code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_backtest_and_its_cli_loads_nothing_heavy() -> None:
    assert loaded("import trading.backtest, trading.backtest.__main__, trading.optimize, trading.optimize.cli") == []


def run_cli(tmp_path: Path, *args: str) -> str:
    argv = ["--csv", str(walk_csv(tmp_path)), "--warmup", "100", "--start", "2023-11-20",
            "--env-file", env_file(tmp_path), *args]
    return f"from trading.backtest.__main__ import main\nassert main({argv!r}) == 0"


@pytest.mark.parametrize(("args", "allowed"), [
    ((), set()),  # ema_cross: the trader, in plain Python
    (("--grid", "fast=5..8", "--grid", "slow=20..22", "--verify", "1"), {"numpy"}),  # the fast path
    (("--strategy", "rsi_reversion"), {"numpy", "pandas", "talib"}),  # a DataFrame strategy and its TA-Lib
])
def test_a_csv_run_loads_only_what_it_computes_with(tmp_path, args, allowed) -> None:
    got = set(loaded(run_cli(tmp_path, *args)))
    assert got <= allowed, got - allowed
    assert not got & {"binance", "sqlite_utils", "requests", "dateparser"}
