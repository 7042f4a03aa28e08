"""`python -m sim.binance` runs in the foreground, prints its URLs and stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def test_cli_serves_and_stops_on_interrupt() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.binance", "--port", "0", "--speed", "0.01", "--report-every", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        rest = proc.stdout.readline().split()[1]
        ws = proc.stdout.readline().split()[1]
        assert rest.startswith("http://127.0.0.1:") and ws == rest.replace("http", "ws") + "/market"
        assert "BTCUSDT 15m" in proc.stdout.readline()
        assert proc.stdout.readline().startswith("closed #")  # progress lines follow
        assert requests.get(rest + "/fapi/v1/ping", timeout=5).json() == {}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
