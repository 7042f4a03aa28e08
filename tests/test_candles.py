import json

import pytest

from trading.core.candles import MalformedFrame, candle_from_rest, parse_kline_message

FRAME = {
    "stream": "btcusdt@kline_15m",
    "data": {
        "e": "kline",
        "E": 1,
        "s": "BTCUSDT",
        "k": {
            "t": 1729657800000, "T": 1729658699999, "s": "BTCUSDT", "i": "15m", "f": 1, "L": 2,
            "o": "67067.8", "c": "67175.7", "h": "67220", "l": "67033", "v": "1091.014", "n": 7,
            "x": True, "q": "73200000.5", "V": "545.507", "Q": "36600000.25", "B": "0",
        },
    },
}


def test_combined_and_raw_frames_parse_to_the_same_candle():
    c = parse_kline_message(json.dumps(FRAME).encode())
    raw = parse_kline_message(json.dumps(FRAME["data"]))
    assert c == raw
    assert (c.symbol, c.interval, c.open_time, c.close_time) == ("BTCUSDT", "15m", 1729657800000, 1729658699999)
    assert (c.open, c.high, c.low, c.close, c.volume) == (67067.8, 67220.0, 67033.0, 67175.7, 1091.014)
    assert c.closed is True and c.trades == 7


def test_rest_row_matches_frame():
    k = FRAME["data"]["k"]
    row = [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], "0"]
    assert candle_from_rest("BTCUSDT", "15m", row) == parse_kline_message(json.dumps(FRAME))


def test_subscribe_reply_is_not_data():
    assert parse_kline_message('{"result":null,"id":1}') is None


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("{not json", "bad-json"),
        ("[1,2]", "not-an-object"),
        ('{"e":"aggTrade"}', "unknown-event"),
        ('{"foo":1}', "unknown-shape"),
        ('{"data":{"e":"kline","k":{"t":1}}}', "unknown-shape"),
    ],
)
def test_malformed_frames_are_classified(raw, kind):
    with pytest.raises(MalformedFrame) as err:
        parse_kline_message(raw)
    assert err.value.kind == kind
