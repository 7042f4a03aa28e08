"""/chart and /equity through the local Bot API: real PNGs with the bot's own fills, bad input
refused in one line, and the bot answering /status while a chart is being drawn."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import pytest

from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)
from trading.charts import style
from trading.charts.data import fill_markers


def photo(world: World, mark: int, timeout: float = 10.0) -> tuple[dict, bytes]:
    call = world.api.wait_for(lambda c: c.method == "sendPhoto" and c.ok, timeout=timeout, start=mark)
    assert call is not None, f"no photo; calls: {[c.method for c in world.api.calls[mark:]]}"
    msg = next(m for m in world.api.sent(GROUP) if m["message_id"] == call.result["message_id"])
    return msg, msg["photo_bytes"]


def decoded(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 20_000 < len(png) < 400_000
    image = mpimg.imread(io.BytesIO(png), format="png")
    return image.shape[1], image.shape[0]


@pytest.fixture
def trading_world(source, tmp_path):  # noqa: F811
    # Strategy orders placed without a confirmation in the chat, so fills come by themselves.
    w = World(source, tmp_path, seconds_per_candle=0.01, CONFIRM_ORDERS="off")
    w.reply("/set fast=2 slow=3", "Parameters changed")
    w.reply("/start", "Starting")
    assert w.engine.wait_stream(lambda s: len(w.engine.fills()) >= 6, timeout=30)
    w.engine.stop()  # freeze the series and the book
    yield w
    w.close()


def test_chart_and_equity_show_the_fills_made_in_the_test(trading_world):
    w = trading_world
    fills = w.engine.fills()
    window = w.engine.klines(60)
    assert fill_markers(fills, window, "BTCUSDT"), "the chart window holds fills"

    mark = w.say("/chart 60")
    msg, png = photo(w, mark)
    assert decoded(png) == (1280, 768)
    assert "BTCUSDT 15m" in msg["caption"] and "last 60 candles" in msg["caption"]

    mark = w.say("/equity")
    msg, png = photo(w, mark)
    assert decoded(png)[0] == 1280
    snap = w.engine.snapshot()
    assert "Equity · paper" in msg["caption"]
    assert f"{snap.trades} closed trade{'' if snap.trades == 1 else 's'}" in msg["caption"]
    # The same definitions and words as /pnl all: the ledger's gross, fees, net; the open position.
    pnl = w.reply("/pnl all", "PnL · all")["text"]
    for line in pnl.splitlines()[1:3]:
        assert line in msg["caption"], (line, msg["caption"])
    assert pnl.splitlines()[1].startswith("Realized: gross ")
    assert pnl.splitlines()[2].startswith("Unrealized (open position): ")

    mark = w.say("/chart btcusdt 30")  # either order
    assert "last 30 candles" in photo(w, mark)[0]["caption"]


def test_bad_chart_input_gets_one_line(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        w.reply("/chart", "No BTCUSDT candles stored yet")
        w.reply("/equity", "No fills yet")
        w.reply("/chart 501", "⚠️ /chart [n] [symbol]: n must be from 1 to 500, got '501'")
        w.reply("/chart 0", "n must be from 1 to 500")
        msg = w.reply("/chart " + "x" * 200, "is not streamed")
        assert len(msg["text"]) < 160 and "x" * 40 not in msg["text"]
        w.reply("/chart 5 btcusdt more", "at most a count and a symbol")
        w.reply("/chart 1.5", "n must be a whole number from 1 to 500")
        assert not [c for c in w.api.calls if c.method == "sendPhoto"]
    finally:
        w.close()


def test_status_is_answered_while_a_chart_draws(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        w.reply("/start", "Starting")
        assert w.engine.wait_stream(lambda s: s.closed_candles >= 3, timeout=20)
        w.engine.stop()
        with style.RENDER_LOCK:  # the chart's worker thread waits here, mid-command
            mark = w.say("/chart 200")
            w.reply("/status", "Status")
            assert not [c for c in w.api.calls[mark:] if c.method == "sendPhoto"]
        assert decoded(photo(w, mark)[1])[0] == 1280
    finally:
        w.close()
