"""The audit says what was answered, and the chat prints a price one way everywhere."""

from __future__ import annotations

import re

import pytest

from bot.commands import UsageError, parse_klines_args
from tests.test_bot_attacks import source, world  # noqa: F401 - fixtures
from tests.test_bot_e2e import ADMIN, GROUP, GUEST


def outcomes(world) -> list[tuple[str, str]]:  # noqa: F811
    world.reply("/help", "Commands")  # everything before it has been handled and audited
    return [(r["action"], r["outcome"]) for r in reversed(world.engine.audit_log(50))]


def test_the_audit_records_the_outcome_that_was_answered(world):  # noqa: F811
    world.reply("/start", "Starting")
    world.reply("/start", "Already running")
    world.reply("/stop", "Stream stopped")
    world.reply("/stop", "Not running")
    world.reply("/start", "Not allowed", user=GUEST)
    msg = world.reply("/status", "Status")
    refresh = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    mark = world.api.mark()
    world.api.press_button(GROUP, ADMIN, msg["message_id"], refresh)
    assert world.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    # Updates are handled concurrently and a command's row is written after its answer, so
    # the next command's row may come first: the rows, not their order, are the contract.
    assert sorted(outcomes(world)) == sorted([
        ("/start", "started"),
        ("/start", "already_running"),
        ("/stop", "stopped"),
        ("/stop", "not_running"),
        ("/start", "refused: not admin"),
        ("button", "refreshed"),
    ])


def test_status_and_klines_print_a_price_the_same_way(world):  # noqa: F811
    world.reply("/start", "Starting")
    assert world.engine.wait_stream(lambda s: s.closed_candles >= 3, timeout=20)
    world.engine.stop()
    status = world.reply("/status", "Status")["text"]
    close = re.search(r"C (\S+)  V", status).group(1)
    table = world.reply("/klines 1", "last 1 closed candle ")["text"]
    last_row = [line for line in table.splitlines() if re.match(r"\d\d-\d\d \d\d:\d\d", line)][-1]
    assert last_row.split()[-2] == close
    tick = world.engine.symbol_filters("BTCUSDT").tick_size
    assert len(close.split(".")[1]) == max(0, -tick.normalize().as_tuple().exponent)


SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (10, "BTCUSDT")),
        (["5"], (5, "BTCUSDT")),
        (["ethusdt"], (10, "ETHUSDT")),
        (["ethusdt", "5"], (5, "ETHUSDT")),
        (["5", "ethusdt"], (5, "ETHUSDT")),
    ],
)
def test_klines_takes_a_count_and_a_symbol_in_either_order(args, expected):
    assert parse_klines_args(args, SYMBOLS) == expected


@pytest.mark.parametrize("args", [["5", "6"], ["eth", "btc"], ["0"], ["51"], ["1.5"], ["a", "b", "c"], ["<" * 500]])
def test_klines_refuses_the_rest_briefly(args):
    with pytest.raises(UsageError) as e:
        parse_klines_args(args, SYMBOLS)
    assert len(str(e.value)) < 200
