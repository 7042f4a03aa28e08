"""The demo's folder lock and the trading settings it takes from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sim import demo
from sim.demo import DemoError, Market, demo_settings, lock_demo_dir

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k not in demo.PASSED_THROUGH}
ENV["PYTHONPATH"] = str(ROOT)


def settings_for(environ: dict[str, str]):
    ex = SimpleNamespace(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/market")
    api = SimpleNamespace(token="123456:LOCAL-DEMO-TOKEN", base_url="http://127.0.0.1:9/bot")
    market = Market(["BTCUSDT"], "15m")
    return demo_settings(ex, api, Path("demo/demo.sqlite"), market, environ)


# ---------------------------------------------------------------------------------------------
# trading settings from the environment
# ---------------------------------------------------------------------------------------------


def test_demo_defaults_without_environment() -> None:
    s = settings_for({})
    assert s.proposal_ttl == 60 and str(s.max_drift_pct) == "10"
    assert s.trading_mode == "paper" and s.db_path == "demo/demo.sqlite"


def test_demo_honours_trading_settings_from_the_environment() -> None:
    s = settings_for(
        {
            "PROPOSAL_TTL": "120",
            "MAX_DRIFT_PCT": "2",
            "STRATEGY": "none",
            "CONFIRM_ORDERS": "off",
            "PAPER_BALANCE": "500",
            "PAPER_FEE_PCT": "0.1",
            "MAX_LEVERAGE": "3",
            "MAX_POSITION_NOTIONAL": "250",
            "WARMUP_CANDLES": "200",
            "NOTIFY_CANDLES": "on",
            "STATUS_POST_MINUTES": "5",
            "DAILY_REPORT": "off",
            "REPORT_TIME": "07:30",
        }
    )
    assert s.proposal_ttl == 120 and str(s.max_drift_pct) == "2"
    assert s.strategy == "none" and s.confirm_orders is False
    assert str(s.paper_balance) == "500" and str(s.paper_fee_pct) == "0.1"
    assert s.max_leverage == 3 and str(s.max_position_notional) == "250"
    assert s.warmup_candles == 200 and s.notify_candles is True
    assert s.status_post_minutes == 5 and s.daily_report is False
    assert s.report_time.strftime("%H:%M") == "07:30"
    assert settings_for({"PROPOSAL_TTL": "  "}).proposal_ttl == 60  # blank = not set


def test_demo_never_takes_credentials_mode_or_database_from_the_environment() -> None:
    s = settings_for(
        {
            "TELEGRAM_TOKEN": "999:REAL",
            "TELEGRAM_BASE_URL": "https://api.telegram.org/bot",
            "TELEGRAM_CHAT_ID": "-1",
            "TELEGRAM_ADMIN_IDS": "1",
            "BINANCE_REST_URL": "https://fapi.binance.com",
            "BINANCE_WS_URL": "wss://fstream.binance.com",
            "BINANCE_API_KEY": "k",
            "BINANCE_API_SECRET": "s",
            "TRADING_MODE": "live",
            "LIVE_TRADING_CONFIRMED": "yes",
            "DB_PATH": "data/bot.sqlite",
        }
    )
    assert s.trading_mode == "paper" and s.db_path == "demo/demo.sqlite"
    assert s.telegram_chat_ids == (demo.DEMO_CHAT,) and s.telegram_admin_ids == {demo.DEMO_ADMIN}
    assert not s.binance_api_key and not s.binance_api_secret
    assert "127.0.0.1" in s.binance_rest_url and "127.0.0.1" in s.binance_ws_url
    assert s.telegram_token == "123456:LOCAL-DEMO-TOKEN" and "127.0.0.1" in s.telegram_base_url


def test_a_bad_setting_is_one_config_line_and_exit_2(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("/help\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--script", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**ENV, "PROPOSAL_TTL": "soon"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("demo: config error: PROPOSAL_TTL")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "demo").exists()  # refused before touching anything


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_a_missing_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--script", str(tmp_path / "missing.txt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("demo: cannot read --script ")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "demo").exists()


def test_banner_says_how_long_proposals_wait_and_names_buttons() -> None:
    assert "/buttons" in demo.BANNER
    assert "/press" in demo.BANNER
    assert demo._proposal_note(settings_for({})) == "proposals wait 60 s here"
    assert demo._proposal_note(settings_for({"PROPOSAL_TTL": "120"})) == "proposals wait 120 s here"
    assert "without asking" in demo._proposal_note(settings_for({"CONFIRM_ORDERS": "off"}))


# ---------------------------------------------------------------------------------------------
# one demo per folder
# ---------------------------------------------------------------------------------------------


def test_the_demo_folder_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    held = lock_demo_dir(folder)
    try:
        with pytest.raises(DemoError, match=rf"pid {os.getpid()}\b"):
            lock_demo_dir(folder)
    finally:
        held.close()
    lock_demo_dir(folder).close()  # free again once closed


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
def test_a_killed_demo_leaves_no_lock_behind(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from sim.demo import lock_demo_dir; "
            f"h = lock_demo_dir(Path({str(folder)!r})); print('locked', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(DemoError, match=rf"pid {holder.pid}\b"):
            lock_demo_dir(folder)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    lock_demo_dir(folder).close()  # the kernel released the dead demo's lock


@pytest.mark.slow
def test_a_second_demo_in_the_same_folder_refuses_and_leaves_the_first_alone(
    tmp_path: Path,
) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "sim", "--speed", "0.05"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert first.stdout is not None and first.stdin is not None
        seen = []
        for line in first.stdout:  # the banner comes once the database is in use
            seen.append(line)
            if line.startswith("Try:"):
                break
        assert seen and seen[-1].startswith("Try:"), "".join(seen)
        database = tmp_path / "demo" / "demo.sqlite"
        before = os.stat(database).st_ino

        second = subprocess.run(
            [sys.executable, "-m", "sim", "--speed", "0.05"],
            cwd=tmp_path,
            input="/start\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=ENV,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert f"pid {first.pid}" in second.stderr and second.stdout == ""
        assert os.stat(database).st_ino == before  # not deleted under the running demo

        out, err = first.communicate("/start\n/stop\n", timeout=120)
        assert first.returncode == 0, out + err
        assert "socket started" in out and "Stream stopped" in out
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    lock_demo_dir(tmp_path / "demo").close()  # released on exit


CHEAT = '''
from trading.core.strategies import FrameStrategy, Schema


class Cheat(FrameStrategy):
    schema = Schema(())
    startup_candles = 5

    def populate(self, df, params):
        nxt = df["Close"].shift(-1)
        df["enter_long"] = nxt > df["Close"]
        df["exit_long"] = False
        df["enter_short"] = nxt < df["Close"]
        df["exit_short"] = False
        return df


class Raises(Cheat):
    def populate(self, df, params):
        raise KeyError("close")
'''


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
@pytest.mark.parametrize("cls, words", [("Cheat", "look-ahead: "), ("Raises", "populate raised KeyError")])
def test_a_strategy_failing_its_check_is_one_config_line_and_exit_2(tmp_path: Path, cls: str, words: str) -> None:
    """issue 26: STRATEGY=../cheat.py:Cheat make demo printed a traceback and exited 1."""
    (tmp_path / "cheat.py").write_text(CHEAT)
    run_in = tmp_path / "here"
    run_in.mkdir()
    script = tmp_path / "script.txt"
    script.write_text("/help\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--script", str(script)],
        cwd=run_in, capture_output=True, text=True, timeout=120,
        env={**ENV, "STRATEGY": f"../cheat.py:{cls}"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo: config error: STRATEGY: check ../cheat.py:"), proc.stderr
    assert words in lines[0] and "Traceback" not in proc.stdout + proc.stderr
