"""The demo's exchange path: the bot in demo mode against the replay, and trades by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from sim.binance import ReplayExchange, generate
from sim.demo import DemoError, Market, demo_settings
from sim.demo_exchange import choose_broker, console_commands

ROOT = Path(__file__).resolve().parents[1]


def test_exchange_broker_settings_and_choice() -> None:
    ex = SimpleNamespace(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/market",
                         user_ws_url="ws://127.0.0.1:9/private", api_key="k", api_secret="s")  # fmt: skip
    api = SimpleNamespace(token="123456:LOCAL-DEMO-TOKEN", base_url="http://127.0.0.1:9/bot")
    environ = {"BINANCE_API_KEY": "mine", "TRADING_MODE": "live"}  # never taken from the environment
    s = demo_settings(ex, api, Path("demo/demo.sqlite"), Market(["BTCUSDT"], "15m"), environ, broker="exchange")
    assert (s.trading_mode, s.binance_api_key, s.binance_api_secret) == ("demo", "k", "s")
    assert s.binance_rest_url == "http://127.0.0.1:9" and s.binance_user_ws_url == "ws://127.0.0.1:9/private"
    assert demo_settings(ex, api, Path("d.sqlite"), Market(["BTCUSDT"], "15m"), environ).trading_mode == "paper"
    assert choose_broker({}, False) == "paper" and choose_broker({"DEMO_BROKER": "Exchange"}, False) == "exchange"
    assert choose_broker({"DEMO_BROKER": "paper"}, True) == "exchange"
    with pytest.raises(DemoError, match="DEMO_BROKER='broker' is not one of paper, exchange"):
        choose_broker({"DEMO_BROKER": "broker"}, False)


def test_hand_and_exchange_console_commands() -> None:
    with ReplayExchange(generate(1000), start_index=600, paused=True, margin_type="ISOLATED") as ex:
        commands = console_commands(ex)
        hand, exchange = commands["/hand"], commands["/exchange"]
        assert hand("close").startswith("(exchange) refused: -2022")
        assert hand("buy 0.010").startswith("(exchange) web_") and " BUY 0.010 BTCUSDT filled at " in hand("buy 0.010")
        assert "SELL 0.020 BTCUSDT filled" in hand("close BTCUSDT")
        assert hand("sell").startswith("usage: /hand")
        hand("sell 0.010")
        assert exchange("liquidate").startswith("(exchange) liquidate: BUY 0.010 BTCUSDT at ")
        assert exchange("funding rate=0.001") == "(exchange) funding: {'paid': [], 'rate': '0.001'}"
        assert exchange("nope").startswith("(exchange) no control 'nope'; there are: adl, bnb-deposit")
        assert exchange("").startswith("usage: /exchange")


def test_hand_trades_a_hedge_mode_leg() -> None:
    """A Hedge Mode account: a trade by hand names its leg, as Binance's app does (without
    one the exchange answers -4061, which the console said with no way around it)."""
    with ReplayExchange(generate(1000), start_index=600, paused=True) as ex:
        ex.set_account_modes(hedge=True)
        hand = console_commands(ex)["/hand"]
        assert hand("buy 0.010").startswith("(exchange) refused: -4061")
        assert " BUY 0.010 BTCUSDT filled at " in hand("buy 0.010 long")
        assert " SELL 0.005 BTCUSDT filled at " in hand("sell 0.005 short")
        legs = {ps: leg.amt for ps, leg in ex.account.legs["BTCUSDT"].items() if leg.amt}
        assert legs == {"LONG": Decimal("0.010"), "SHORT": Decimal("-0.005")}
        assert "SELL 0.010 BTCUSDT filled" in hand("close long")
        assert hand("buy long").startswith("usage: /hand close [long|short]")


@pytest.mark.slow
def test_demo_runs_on_the_exchange_path_with_a_hand_trade(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--demo", "--exchange", "--speed", "0.05"],
        cwd=tmp_path,
        input="/start\n/hand buy 0.010\n/hand close\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "STRATEGY": "none"},
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Broker: the replay exchange (TRADING_MODE=demo against it)" in out
    assert "/hand close   /hand buy 0.01" in out
    assert "(demo mode)" in out and "(exchange) web_" in out and "SELL 0.010 BTCUSDT filled" in out
