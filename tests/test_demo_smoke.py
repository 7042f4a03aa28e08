"""`python -m bot --demo --script` as CI runs it: the whole product in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.binance import generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_scripted_demo_conversation_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--demo", "--script", str(ROOT / "tests" / "demo_script.txt"), "--speed", "0.05"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for expected in ("Commands", "socket started", "Status", "last 5 closed candles", "Stream stopped", "socket stopped"):
        assert expected in out, f"{expected!r} missing from transcript:\n{out}"
    assert (tmp_path / "demo" / "demo.sqlite").exists()


def run_demo_piped(tmp_path: Path, lines: str, env: dict[str, str] | None = None, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--demo", "--speed", "0.05", *args],
        cwd=tmp_path,
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_piped_input_gets_every_answer_in_order(tmp_path):
    """Each line waits for its answers, and end of input waits for the last ones: a pipe
    reads like a person who waits before typing the next command."""
    out = run_demo_piped(tmp_path, "/start\n/status\n/stop\n")
    lines = out.splitlines()

    def at(text: str) -> int:
        found = [i for i, line in enumerate(lines) if text in line]
        assert found, f"{text!r} missing from:\n{out}"
        return found[0]

    assert at("> /start") < at("socket started") < at("> /status") < at("Status ·") < at("> /stop")
    assert at("> /stop") < at("socket stopped") and at("> /stop") < at("Stream stopped")
    assert "the bot has answered everything" in lines[-1]


@pytest.mark.slow
def test_banner_names_the_bot_and_the_env_chooses_the_market(tmp_path):
    out = run_demo_piped(tmp_path, "/start\n/stop\n", {"SYMBOLS": "ETHUSDT", "INTERVAL": "1h"})
    assert "the bot is @ReplayTradeBot" in out and "/status@ReplayTradeBot" in out
    assert "generated ETHUSDT 1h candles" in out
    assert "streaming ETHUSDT 1h" in out
    assert "Photos are saved" not in out  # nothing sends photos yet; no promise


def test_data_file_says_in_one_line_what_env_it_cannot_honour(tmp_path):
    from sim.demo import choose_market, start_exchange

    csv = tmp_path / "binance_perp_ETHUSDT_15m_sample.csv"
    rows = generate(520, interval="15m", start_price=3000.0)
    header = "open_time_ms,open,high,low,close,volume\n"
    csv.write_text(header + "".join(",".join(map(str, row)) + "\n" for row in rows))
    market = choose_market({"SYMBOLS": "BTCUSDT,SOLUSDT", "INTERVAL": "1h"}, str(csv))
    ex = start_exchange(market, str(csv), speed=0)
    try:
        assert (market.symbols, market.interval) == (["ETHUSDT"], "15m")
        assert market.note == (
            "SYMBOLS=BTCUSDT,SOLUSDT, INTERVAL=1h not honoured: "
            "--data replays one file, which holds only ETHUSDT 15m."
        )
    finally:
        ex.stop()
    plain = choose_market({"SYMBOLS": "ETHUSDT, BNBUSDT", "INTERVAL": "4h"}, None)
    assert (plain.symbols, plain.interval, plain.note) == (["ETHUSDT", "BNBUSDT"], "4h", "")


def test_python_m_sim_is_the_demo_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--script" in proc.stdout and "demo" in proc.stdout
