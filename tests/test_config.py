import os
from decimal import Decimal

import pytest

from trading.config import ConfigError, load_settings, read_env_file


def load(**env: str):
    return load_settings(environ=env, env_file=None)


def test_defaults_are_paper_mainnet_btcusdt_15m():
    s = load()
    assert s.trading_mode == "paper"
    assert s.binance_rest_url == "https://fapi.binance.com"
    assert s.binance_ws_url == "wss://fstream.binance.com/market"
    assert s.telegram_base_url == "https://api.telegram.org/bot"
    assert s.symbols == ("BTCUSDT",) and s.interval == "15m"
    assert s.db_path == "data/bot.sqlite"


KEYS = {"BINANCE_API_KEY": "k" * 10, "BINANCE_API_SECRET": "s" * 10}


@pytest.mark.parametrize("word", ["demo", "testnet", "Demo", "TESTNET"])
def test_demo_trading_urls_and_the_testnet_alias(word):
    s = load(TRADING_MODE=word, **KEYS)
    assert s.trading_mode == "demo"  # one word for the code to branch on
    assert s.binance_rest_url == "https://demo-fapi.binance.com"
    assert s.binance_ws_url == "wss://fstream.binancefuture.com/market"


def test_url_overrides():
    s = load(BINANCE_REST_URL="http://127.0.0.1:9/", BINANCE_WS_URL="ws://127.0.0.1:9/market")
    assert s.binance_rest_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TRADING_MODE": "yolo"}, "TRADING_MODE"),
        ({"INTERVAL": "7m"}, "INTERVAL"),
        ({"INTERVAL": "1M"}, "INTERVAL"),
        ({"TRADING_MODE": "live", "LIVE_TRADING_CONFIRMED": "yes"}, "BINANCE_API_KEY"),
        ({"TRADING_MODE": "demo"}, "BINANCE_API_KEY"),
        ({"TRADING_MODE": "testnet", "BINANCE_API_KEY": "abc"}, "BINANCE_API_SECRET"),
        ({"TRADING_MODE": "live"}, "LIVE_TRADING_CONFIRMED"),
        ({"TRADING_MODE": "live", "LIVE_TRADING_CONFIRMED": "1"}, "LIVE_TRADING_CONFIRMED"),
        ({"MAX_POSITION_NOTIONAL": "lots"}, "MAX_POSITION_NOTIONAL"),
        ({"MAX_POSITION_NOTIONAL": "0"}, "MAX_POSITION_NOTIONAL"),
        ({"MAX_LEVERAGE": "0"}, "MAX_LEVERAGE"),
        ({"MAX_LEVERAGE": "126"}, "MAX_LEVERAGE"),
        ({"MAX_LEVERAGE": "2.5"}, "MAX_LEVERAGE"),
        ({"TELEGRAM_CHAT_ID": "-100x"}, "TELEGRAM_CHAT_ID"),
        ({"TELEGRAM_ADMIN_IDS": "12,bob"}, "TELEGRAM_ADMIN_IDS"),
        ({"BINANCE_WS_URL": "http://x"}, "BINANCE_WS_URL"),
        ({"SYMBOLS": "BTC-USDT"}, "SYMBOLS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"STREAM_STALE_SECONDS": "soon"}, "STREAM_STALE_SECONDS"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(env, variable):
    with pytest.raises(ConfigError) as err:
        load(**env)
    message = str(err.value)
    assert message.startswith(variable + ":")
    assert "\n" not in message


def test_live_needs_the_confirmation_and_says_so_in_one_line():
    with pytest.raises(ConfigError) as err:
        load(TRADING_MODE="live", **KEYS)
    assert str(err.value) == (
        "LIVE_TRADING_CONFIRMED: set it to yes to trade real money with TRADING_MODE=live"
    )
    s = load(TRADING_MODE="live", LIVE_TRADING_CONFIRMED="YES", **KEYS)
    assert s.trading_mode == "live" and s.binance_rest_url == "https://fapi.binance.com"


def test_hard_limits_default_and_parse():
    s = load()
    assert s.max_position_notional == Decimal("1000") and s.max_leverage == 10
    s = load(MAX_POSITION_NOTIONAL="250.5", MAX_LEVERAGE="3")
    assert s.max_position_notional == Decimal("250.5") and s.max_leverage == 3


def test_secrets_never_appear_in_repr():
    s = load(TELEGRAM_TOKEN="123:SECRET-TOKEN", TRADING_MODE="live", LIVE_TRADING_CONFIRMED="yes", BINANCE_API_KEY="KEY-abcdef", BINANCE_API_SECRET="SEC-abcdef")
    text = repr(s)
    assert "SECRET-TOKEN" not in text and "KEY-abcdef" not in text and "SEC-abcdef" not in text


def test_env_file_is_read_and_environment_wins(tmp_path):
    f = tmp_path / ".env"
    f.write_text('# comment\nexport SYMBOLS="ethusdt, btcusdt"\nINTERVAL=1h # hourly\nTRADING_MODE=paper\n')
    assert read_env_file(f)["INTERVAL"] == "1h"
    s = load_settings(environ={"INTERVAL": "5m"}, env_file=f)
    assert s.symbols == ("ETHUSDT", "BTCUSDT") and s.interval == "5m"


def test_cli_prints_one_line_naming_the_variable(monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("TRADING_MODE", "margin")
    assert main(["--env-file", os.devnull]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TRADING_MODE" in err


def test_cli_refuses_group_without_admins(monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100123")
    monkeypatch.delenv("TELEGRAM_ADMIN_IDS", raising=False)
    assert main(["--env-file", os.devnull]) == 2
    assert "TELEGRAM_ADMIN_IDS" in capsys.readouterr().err


def test_cli_refuses_unconfirmed_live_with_the_exact_line(monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("TRADING_MODE", "live")
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 10)
    monkeypatch.setenv("BINANCE_API_SECRET", "s" * 10)
    monkeypatch.delenv("LIVE_TRADING_CONFIRMED", raising=False)
    assert main(["--env-file", os.devnull]) == 2
    assert capsys.readouterr().err.strip() == (
        "config error: LIVE_TRADING_CONFIRMED: set it to yes to trade real money with TRADING_MODE=live"
    )


def test_an_env_file_named_on_the_command_line_must_exist(tmp_path) -> None:
    from trading.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="--env-file: .*missing.env does not exist"):
        load_settings(environ={}, env_file=tmp_path / "missing.env")
    load_settings(environ={}, env_file=".env")  # the default may be absent


@pytest.mark.parametrize(
    "url",
    ["wss://fstream.binance.com", "wss://fstream.binance.com/", "wss://fstream.binance.com/ws",
     "wss://fstream.binance.com/public", "wss://fstream.binancefuture.com", "wss://fstream.binance.com:443/private"],
)
def test_a_binance_stream_host_without_market_is_one_config_line(url, monkeypatch, capsys):
    """Since 2026-04-23 an unrouted (or /public, /private) connection carries no klines."""
    from bot.__main__ import main

    with pytest.raises(ConfigError) as err:
        load(BINANCE_WS_URL=url)
    assert str(err.value).startswith("BINANCE_WS_URL:") and "/market" in str(err.value)
    monkeypatch.setenv("BINANCE_WS_URL", url)
    assert main(["--env-file", os.devnull]) == 2
    out = capsys.readouterr().err.strip()
    assert out.count("\n") == 0 and "/market" in out and "BINANCE_WS_URL" in out


def test_routed_and_non_binance_stream_urls_are_accepted():
    assert load(BINANCE_WS_URL="wss://fstream.binance.com/market/").binance_ws_url == "wss://fstream.binance.com/market"
    assert load(BINANCE_WS_URL="ws://127.0.0.1:9").binance_ws_url == "ws://127.0.0.1:9"  # not Binance: as given


def test_paper_slippage_bps_is_checked_and_reaches_the_paper_broker(tmp_path):
    from trading.core.portfolio import Portfolio
    from trading.live.mode import Mode
    from trading.live.node import make_broker

    assert load().paper_slippage_bps == 0
    s = load(PAPER_SLIPPAGE_BPS="2.5")
    assert make_broker(s, Mode("paper"), {}, Portfolio(s.paper_balance)).slippage_bps == Decimal("2.5")
    for bad in ("-1", "1001", "abc"):
        with pytest.raises(ConfigError, match="PAPER_SLIPPAGE_BPS"):
            load(PAPER_SLIPPAGE_BPS=bad)
