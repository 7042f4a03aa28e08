import re
from datetime import UTC, datetime

from bot.buttons import BadButton, Signer
from bot.views import MAX_MESSAGE, klines_html, notice_html, num, split_html, status_html
from trading.core.candles import Candle
from trading.core.events import Notice
from trading.exchange.stream import StreamStatus
from trading.live.service import EngineStatus


def c(t: int) -> Candle:
    return Candle("BTCUSDT", "15m", t, t + 899_999, 67067.8, 67220.0, 67033.0, 67175.7, 1091.014)


def test_numbers_print_like_the_exchange_sends_them():
    assert [num(x) for x in (67220.0, 67067.8, 1091.014, 0.0, 0.00012345)] == ["67220", "67067.8", "1091.014", "0", "0.00012345"]


def test_data_with_html_characters_is_escaped():
    html = notice_html(Notice("socket_error", "socket error: <b>bad_frame*</b> & more"))
    assert "<b>bad" not in html and "&lt;b&gt;bad_frame*&lt;/b&gt; &amp; more" in html


def test_status_shows_state_candle_position_and_pending():
    stream = StreamStatus(True, True, datetime.now(UTC), datetime.now(UTC), 0.4, 10, 3, 1, 1, {}, {}, {}, None)
    st = EngineStatus("paper", ("BTCUSDT",), "15m", stream, 2, {"BTCUSDT": c(1729657800000)}, [], [])
    text = status_html(st)
    assert "paper" in text and "connected" in text and "Reconnects today: 2" in text
    assert "2024-10-23 04:30 UTC" in text
    assert "O 67067.8  H 67220  L 67033  C 67175.7  V 1091.014" in text
    assert "no position" in text and "Pending confirmations: none" in text


def test_klines_table_is_monospace_with_one_row_per_candle():
    text = klines_html("BTCUSDT", "15m", [c(1729657800000 + i * 900_000) for i in range(5)])
    body = re.search(r"<pre>(.*)</pre>", text, re.S).group(1)
    lines = body.splitlines()
    assert len(lines) == 6 and lines[0].startswith("time (UTC)")
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_long_text_splits_on_lines_and_keeps_pre_balanced():
    table = "<pre>" + "\n".join(f"row {i:05d} " + "x" * 60 for i in range(300)) + "</pre>"
    text = "<b>head</b>\n" + table + "\ntail"
    chunks = split_html(text)
    assert len(chunks) > 1
    assert all(len(ch) <= MAX_MESSAGE for ch in chunks)
    assert all(ch.count("<pre>") == ch.count("</pre>") for ch in chunks)
    joined = "\n".join(ch.replace("<pre>", "").replace("</pre>", "") for ch in chunks)
    assert joined == text.replace("<pre>", "").replace("</pre>", "")


def test_enormous_line_is_cut_outside_entities():
    text = ("a&amp;" * 2000)
    chunks = split_html(text)
    assert all(len(ch) <= MAX_MESSAGE for ch in chunks)
    assert "".join(chunks) == text
    assert all(not re.search(r"&[a-z]*$", ch) for ch in chunks[:-1])


def test_buttons_are_signed_per_chat_and_expire():
    s = Signer("123:token")
    data = s.sign(-100, "stream:stop", now=1000)
    assert len(data.encode()) <= 64
    assert s.verify(-100, data, now=1001).action == "stream:stop"
    for forged in (data.replace("stop", "start"), data[:-1] + ("A" if data[-1] != "A" else "B"), "stream:stop", ""):
        try:
            s.verify(-100, forged, now=1001)
            raise AssertionError(f"accepted {forged!r}")
        except BadButton as e:
            assert "not valid" in str(e)
    try:
        s.verify(-200, data, now=1001)  # same data replayed in another chat
        raise AssertionError("accepted in another chat")
    except BadButton:
        pass
    try:
        s.verify(-100, data, now=1000 + 10 * 86400)
        raise AssertionError("accepted a stale button")
    except BadButton as e:
        assert "expired" in str(e)
    assert Signer("other:token").sign(-100, "stream:stop", now=1000) != data


def test_status_says_when_binance_clock_is_far_from_the_hosts():
    from bot.views import clock_gap

    stream = StreamStatus(True, True, datetime.now(UTC), datetime.now(UTC), 0.4, 10, 3, 1, 1, {}, {}, {}, None)
    st = EngineStatus("demo", ("BTCUSDT",), "15m", stream, 0, {}, [], [], clock_offset_ms=800)
    assert "Clock" not in status_html(st)  # within a second: nothing to say
    st = EngineStatus("demo", ("BTCUSDT",), "15m", stream, 0, {}, [], [], clock_offset_ms=3200)
    assert "Clock: Binance is 3.2 s ahead of this host's clock" in status_html(st)
    assert clock_gap(-7_200_000) == "2.0 h behind" and clock_gap(-90_000) == "90.0 s behind"
