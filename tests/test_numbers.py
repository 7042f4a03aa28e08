"""Numbers mean what they look like (issue 17): one parser of plain ASCII decimals for every
command, values shown as people write them.

Seen: `/long 0_01` was read as 1 BTC (Python accepts underscores), full-width digits were
accepted by /long and /set but not /klines, `-0` and `1e-400` were stored, `1e+06` shown.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.test_bot_e2e import GROUP, World, source, world  # noqa: F401  (fixtures)
from trading.core.numbers import NumberError, parse_decimal, parse_whole, plain

REFUSED = ["0_01", "０.０１", "-0", "-0.0", "1e-400", "1e+06", "1E6", "nan", "NaN", "inf", "-Infinity", "0x10", "1,5", " ", "1.2.3"]


@pytest.mark.parametrize("text", REFUSED)
def test_the_parser_refuses_anything_but_a_plain_decimal(text: str) -> None:
    with pytest.raises(NumberError):
        parse_decimal(text)


def test_the_parser_reads_plain_decimals_exactly_and_plain_shows_them_as_written() -> None:
    assert [parse_decimal(t) for t in ("0.01", "12", "-3.5", ".5", "1000000")] == [
        Decimal("0.01"), Decimal(12), Decimal("-3.5"), Decimal("0.5"), Decimal(1000000)
    ]
    assert parse_whole("42") == 42
    with pytest.raises(NumberError):
        parse_whole("4.2")
    assert [plain(x) for x in (1e6, 1000000.0, Decimal("1E+6"), Decimal("0.010"), 2.5, -0.0, 7)] == [
        "1000000", "1000000", "1000000", "0.01", "2.5", "0", "7"
    ]


def test_every_command_refuses_them_in_one_line_and_changes_nothing(world) -> None:  # noqa: F811
    w: World = world
    for text in ("/long 0_01", "/long ０.０１", "/short 1e-3", "/long nan", "/long inf", "/long 0.01 1e+06"):
        msg = w.reply(text, "is not a number (plain digits")
        assert "\n" not in msg["text"], msg["text"]
    w.reply("/long -0", "write 0 without a sign")
    for text in ("/set fast=１２", "/set stake_usdt=1e+06", "/set stop_loss_pct=1e-400", "/set stop_loss_pct=nan",
                 "/set take_profit_pct=0_5", "/backtest 5 fast=1e1"):
        msg = w.reply(text, "is not a number (plain digits")
        assert "nothing changed" in msg["text"] or text.startswith("/backtest"), msg["text"]
    w.reply("/set stop_loss_pct=-0", "write 0 without a sign")
    w.reply("/optimize fast=5..1e1", "is not a number (plain digits")
    w.reply("/trades ５", "n must be from 1 to 50")
    w.reply("/klines ５", "n must be a whole number from 1 to 50")  # refused as before
    assert w.engine.open_proposals() == []
    schema, values = w.engine.params()
    assert values == schema.defaults()


def test_values_are_shown_as_people_write_them(source, tmp_path) -> None:  # noqa: F811
    # a 3,000,000 USDT position must be allowed for /set to take the stake
    w = World(source, tmp_path, MAX_POSITION_NOTIONAL="5000000")
    try:
        _shown_as_written(w)
    finally:
        w.close()


def _shown_as_written(w: World) -> None:
    msg = w.reply("/set stake_usdt=1000000", "stake_usdt: 100 → 1000000")
    assert "e+" not in msg["text"].lower()
    msg = w.reply("/params", "stake_usdt")
    assert "1000000" in msg["text"] and "e+06" not in msg["text"]
    w.reply("/set stop_loss_pct=.5", "stop_loss_pct: 0 → 0.5")
