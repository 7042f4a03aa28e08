"""Start-up benchmark: the backtest CLI as a whole process, and what its imports cost.

Runs `python -m trading.backtest --csv <the shared perp year> --param fast=9 --param slow=21
--param stake_usdt=1000 --param leverage=1` (issue 31's command) N times and prints the
median and best wall time, the CPU time and the peak memory, then `python -X importtime -c "import
trading.backtest.__main__"` (the total, and which heavy packages it loaded: none is the goal).
Target: ≤ 0.5 s whole process on this 2-core machine.

    .venv/bin/python bench/startup.py [--runs 5] [--data FILE] [--grid]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
TARGET_S = 0.5
HEAVY = ("binance", "sqlite_utils", "talib", "pandas", "numpy", "requests", "matplotlib")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--grid", action="store_true", help="time the 400-cell ema_cross grid instead")
    args = ap.parse_args()
    if not Path(args.data).is_file():
        if os.environ.get("CI") == "true":
            raise SystemExit(f"{args.data}: missing (CI=true)")
        print(f"skipped: {args.data} is not here")
        return 0
    cmd = [sys.executable, "-m", "trading.backtest", "--csv", args.data, "--env-file", os.devnull]
    cmd += (["--grid", "fast=5..24", "--grid", "slow=21..60:2", "--verify", "3"] if args.grid else
            ["--param", "fast=9", "--param", "slow=21", "--param", "stake_usdt=1000", "--param", "leverage=1"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times, cpu = [], []
    for _ in range(args.runs):
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    probe = f"import trading.backtest.__main__, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    total = max(int(m) for m in re.findall(r"\|\s*(\d+) \|", imp.stderr)) / 1e6
    median = statistics.median(times)
    what = "400-cell ema_cross grid" if args.grid else "one year's ema_cross backtest"
    print(f"{what}, whole process ({args.runs} runs): median {median:.2f} s · best {min(times):.2f} s · "
          f"peak {peak:.0f} MiB · CPU time median {statistics.median(cpu):.2f} s (steadier than wall time when "
          f"other work shares the cores)")
    print(f"import trading.backtest.__main__: {total * 1000:.0f} ms · heavy packages loaded: {imp.stdout.strip()}")
    if not args.grid:
        print(f"target ≤ {TARGET_S} s: {'met' if median <= TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
