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


def test_testnet_urls_and_overrides():
    s = load(TRADING_MODE="testnet", BINANCE_API_KEY="k" * 10, BINANCE_API_SECRET="s" * 10)
    assert s.binance_rest_url == "https://testnet.binancefuture.com"
    assert s.binance_ws_url == "wss://fstream.binancefuture.com/market"
    s = load(BINANCE_REST_URL="http://127.0.0.1:9/", BINANCE_WS_URL="ws://127.0.0.1:9/market")
    assert s.binance_rest_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TRADING_MODE": "yolo"}, "TRADING_MODE"),
        ({"INTERVAL": "7m"}, "INTERVAL"),
        ({"INTERVAL": "1M"}, "INTERVAL"),
        ({"TRADING_MODE": "live"}, "BINANCE_API_KEY"),
        ({"TRADING_MODE": "testnet", "BINANCE_API_KEY": "abc"}, "BINANCE_API_SECRET"),
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


def test_secrets_never_appear_in_repr():
    s = load(TELEGRAM_TOKEN="123:SECRET-TOKEN", TRADING_MODE="live", BINANCE_API_KEY="KEY-abcdef", BINANCE_API_SECRET="SEC-abcdef")
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
    assert main(["--env-file", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TRADING_MODE" in err


def test_cli_refuses_group_without_admins(monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100123")
    monkeypatch.delenv("TELEGRAM_ADMIN_IDS", raising=False)
    assert main(["--env-file", "/nonexistent"]) == 2
    assert "TELEGRAM_ADMIN_IDS" in capsys.readouterr().err
