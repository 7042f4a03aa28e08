"""What a person types is read as they meant it, or refused: never another number.

Python's int(), float() and Decimal() read "0_5" as 5 and "０.５" (full-width) as 0.5, so
`/set stop_loss_pct=0_5` (a typo for 0.5) used to set a 5 % stop and `/long 0_01` to
propose 1 BTC. Values are shown with every digit (not 1e+06, not 1234.57), and /config
names every setting as README's table does.
"""

from __future__ import annotations

import pytest

from bot.commands import UsageError
from bot.order_commands import parse_order_args
from tests.test_bot_e2e import source  # noqa: F401  (fixture)
from trading.config import Settings
from trading.core.strategies import EmaCross, ParamError
from trading.core.strategies.params import fmt_value
from trading.live.health import effective_settings
from trading.optimize.grid import GridError, parse_grid
from trading.optimize.report import fmt_value as grid_fmt_value


@pytest.mark.parametrize("raw", ["0_5", "1_0", "０.５", "９", "0x1", "1 0"])
def test_set_refuses_what_is_not_a_plain_number(raw):
    schema = EmaCross.schema
    with pytest.raises(ParamError, match="is not a number"):
        schema.validate({}, {"stop_loss_pct": raw})
    with pytest.raises(ParamError, match="is not a number"):
        schema.validate({}, {"fast": raw})


def test_set_still_reads_plain_numbers():
    v = EmaCross.schema.validate({}, {"stop_loss_pct": "0.5", "fast": "+9", "stake_usdt": "1000", "take_profit_pct": ".5"})
    assert (v["stop_loss_pct"], v["fast"], v["stake_usdt"], v["take_profit_pct"]) == (0.5, 9, 1000.0, 0.5)


@pytest.mark.parametrize("raw", ["0_01", "０.０１", "1_000"])
def test_long_refuses_what_is_not_a_plain_quantity(raw):
    with pytest.raises(UsageError, match="is not a number"):
        parse_order_args([raw], "/long [qty] [symbol]")


def test_long_still_reads_quantity_and_symbol():
    qty, symbol = parse_order_args(["ethusdt", "0.01"], "/long [qty] [symbol]")
    assert (str(qty), symbol) == ("0.01", "ETHUSDT")


def test_grid_refuses_underscored_numbers():
    with pytest.raises(GridError, match="is not a number"):
        parse_grid(["stop_loss_pct=0_5..1"], EmaCross.schema)


@pytest.mark.parametrize("fmt", [fmt_value, grid_fmt_value])
def test_values_show_every_digit(fmt):
    assert fmt(1_000_000.0) == "1000000"
    assert fmt(1234.5678) == "1234.5678"
    assert fmt(100000.5) == "100000.5"
    assert fmt(0.5) == "0.5"
    assert fmt(5.0) == "5"
    assert fmt(12) == "12"


def test_config_shows_off_and_the_derived_user_stream_url():
    shown = dict(effective_settings(Settings()))
    assert shown["FOUR_EYES_NOTIONAL"] == "off"
    assert shown["BINANCE_USER_WS_URL"] == "wss://fstream.binance.com/private (derived)"
    assert "None" not in shown.values()


@pytest.mark.parametrize("raw", ["²", "５", "1_0"])
def test_trades_count_is_ascii_digits_like_klines(raw):
    """`/trades ²` crashed (str.isdigit() is True, int() refuses it); `/trades ５` was read as 5."""
    import asyncio
    from types import SimpleNamespace

    from bot.order_commands import trades

    with pytest.raises(UsageError, match="n must be from 1 to 50"):
        asyncio.run(trades(SimpleNamespace(args=[raw])))


@pytest.mark.parametrize(("name", "raw"), [("PROPOSAL_TTL", "1_0"), ("PAPER_BALANCE", "1_000"),
                                          ("MAX_LEVERAGE", "１０"), ("STREAM_STALE_SECONDS", "nan")])
def test_settings_refuse_what_is_not_a_plain_number(name, raw):
    from trading.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=f"^{name}: .* is not a"):
        load_settings({name: raw}, env_file=None)


def test_a_money_setting_out_of_range_names_its_range_in_plain_digits():
    from trading.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"PAPER_BALANCE: must be from 0 to 1,000,000,000,000, got -5$"):
        load_settings({"PAPER_BALANCE": "-5"}, env_file=None)


@pytest.mark.parametrize("environ", [{"INTERVAL": "7m"}, {"SYMBOLS": "BTC-USDT"}])
def test_the_demos_market_settings_are_config_errors_like_the_others(environ):
    """README: a bad value is one `demo: config error: …` line (the demo prints the `demo: `)."""
    from sim.demo import DemoError, choose_market

    with pytest.raises(DemoError, match=f"^config error: {next(iter(environ))}: "):
        choose_market(environ, None)


def test_health_shows_the_account_stream_in_demo_and_na_in_paper(source, tmp_path):  # noqa: F811
    """/health said `User stream: n/a` in demo mode while the account stream ran."""
    import math

    from bot.texts import user_stream_line
    from tests.test_exits_e2e import demo_world
    from trading.exchange.user_stream import NoUserStream
    from trading.live.health import user_stream_state

    assert user_stream_line(user_stream_state(NoUserStream(), exchange=False)) == "n/a (paper: no account stream)"
    w = demo_world(source, tmp_path)
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        assert user_stream_line(w.engine.health().user_stream).startswith("🟢 connected · ")
        w.ex.call(lambda: w.ex.user_stream.drop(down_seconds=math.inf))
        assert w.engine.wait_account(lambda u: not u.connected, timeout=10)
        assert user_stream_line(w.engine.health().user_stream).startswith("🟡 reconnecting")
    finally:
        w.close()


def test_config_names_the_strategy_chosen_with_strategy(source, tmp_path):  # noqa: F811
    """/config said `STRATEGY none` while /strategy (and the trading) said rsi_reversion."""
    import re

    from tests.test_bot_e2e import ADMIN
    from tests.test_orders_e2e import started

    w = started(source, tmp_path)
    try:
        assert re.search(r"STRATEGY\s+none\n", w.reply("/config", "Settings in effect")["text"])
        w.engine.switch_strategy("rsi_reversion", {}, ADMIN)
        config = w.reply("/config", "Settings in effect")["text"]
        assert re.search(r"STRATEGY\s+none \(trading rsi_reversion, chosen with /strategy\)", config), config
    finally:
        w.close()
