"""`python -m sim.binance` runs in the foreground, prints its URLs and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sim.binance.__main__ import parse_args

ROOT = Path(__file__).resolve().parents[1]


def test_cli_serves_and_stops_on_interrupt() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.binance", "--port", "0", "--speed", "0.01", "--report-every", "5",
         "--hedge-mode", "--multi-assets", "--clock-offset-ms", "-3000"],  # fmt: skip
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
        assert proc.stdout.readline().split()[:2] == ["USER", rest.replace("http", "ws") + "/private"]
        assert "control trade close=true" in proc.stdout.readline()
        assert "BTCUSDT 15m" in proc.stdout.readline()
        assert proc.stdout.readline().startswith("closed #")  # progress lines follow
        assert requests.get(rest + "/fapi/v1/ping", timeout=5).json() == {}
        from binance.client import Client
        from binance.exceptions import BinanceAPIException

        client = Client("replay-key", "replay-secret", ping=False)
        client.FUTURES_URL = rest + "/fapi"
        with pytest.raises(BinanceAPIException) as err:  # the exchange's clock is 3 s behind ours
            client.futures_get_position_mode()
        assert err.value.code == -1021
        client.timestamp_offset = -3000
        assert client.futures_get_position_mode() == {"dualSidePosition": True}
        assert client.futures_get_multi_assets_mode() == {"multiAssetsMargin": True}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_help_states_each_default_once(capsys) -> None:
    """A help text that already says its default gets no second "(default: …)" from argparse."""
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "print a line every N closed candles (default: about every 5 s)" in text
    options = re_split_options(text)
    for option, help_text in options.items():
        assert help_text.count("default") <= 1, f"{option}: {help_text}"
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: 8081)" in text and "(default: 0.2)" in text  # real defaults still shown


def re_split_options(text: str) -> dict[str, str]:
    parts = re.split(r"\s(--[a-z-]+)(?: [A-Z_]+)?\s", text.split("options:", 1)[1])
    return dict(zip(parts[1::2], parts[2::2], strict=False))
