"""python -m trading as an operator meets it: --help, an unreachable exchange, a replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sim.binance import generate

ROOT = Path(__file__).resolve().parents[1]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BINANCE_", "DB_PATH"))}
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def trading(*args: str, cwd: Path, timeout: float = 30, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trading", *args], cwd=cwd, env=env(**extra), capture_output=True, text=True, timeout=timeout
    )


def test_help_prints_usage_and_touches_nothing(tmp_path):
    proc = trading("--help", cwd=tmp_path, BINANCE_REST_URL="http://127.0.0.1:9")
    assert proc.returncode == 0
    assert "--data" in proc.stdout and "--env-file" in proc.stdout
    assert not list(tmp_path.iterdir())  # no database, no connection attempt


def test_an_unreachable_exchange_ends_the_run_with_one_line(tmp_path):
    proc = trading(
        cwd=tmp_path, BINANCE_REST_URL="http://127.0.0.1:9", BINANCE_WS_URL="ws://127.0.0.1:9/market",
        DB_PATH=str(tmp_path / "db.sqlite"),
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the exchange at http://127.0.0.1:9" in lines[0], proc.stderr
    assert "--data" in lines[0]


def test_a_bad_data_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,price\n1,2\n")
    proc = trading("--data", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("config error: --data") and proc.stderr.count("\n") == 1


def test_data_replays_candles_until_interrupted(tmp_path):
    csv = tmp_path / "candles.csv"
    rows = ["open_time_ms,open,high,low,close,volume"]
    rows += [",".join((str(c.open_time), c.open, c.high, c.low, c.close, c.volume)) for c in generate(560, interval="15m")]
    csv.write_text("\n".join(rows) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading", "--data", str(csv), "--speed", "0.02"],
        cwd=tmp_path, env=env(WARMUP_CANDLES="50", LOG_LEVEL="WARNING"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if sum("closed" in x for x in seen) >= 3:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert any("socket started" in x for x in seen), seen
    assert "bot stopping: socket closed" in out and "socket stopped" not in out  # Ctrl-C is not a /stop
    assert not (tmp_path / "data").exists()  # the replay went to a temporary database


def test_a_symbol_the_exchange_does_not_list_is_one_line_naming_it(tmp_path):
    from sim.binance import ReplayExchange

    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=60) as ex:
        proc = trading(cwd=tmp_path, BINANCE_REST_URL=ex.rest_url, BINANCE_WS_URL=ex.ws_url, SYMBOLS="BTCUSDT,FOOUSDT",
                       DB_PATH=str(tmp_path / "db.sqlite"))  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"SYMBOLS: FOOUSDT not listed as a trading USDⓈ-M contract on {ex.rest_url}"
