import re
from datetime import UTC, datetime

from bot.buttons import BadButton, Signer
from bot.views import MAX_MESSAGE, klines_html, notice_html, num, split_html, status_html
from trading.core.candles import Candle
from trading.core.events import SocketError
from trading.exchange.stream import StreamStatus
from trading.live.service import EngineStatus


def c(t: int) -> Candle:
    return Candle("BTCUSDT", "15m", t, t + 899_999, 67067.8, 67220.0, 67033.0, 67175.7, 1091.014)


def test_numbers_print_like_the_exchange_sends_them():
    assert [num(x) for x in (67220.0, 67067.8, 1091.014, 0.0, 0.00012345)] == ["67220", "67067.8", "1091.014", "0", "0.00012345"]


def test_data_with_html_characters_is_escaped():
    html = notice_html(SocketError("<b>bad_frame*</b> & more"))
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


def test_the_candle_closed_notice_reads_as_the_notices_page_shows_it() -> None:
    """NOTIFY_CANDLES=1: live/feed.py's CandleAnnouncer sends a typed CandleClosed; the words are
    bot/texts.py's (docs/notices.md, the candle_closed row)."""
    from trading.core.events import CandleClosed
    from trading.core.symbols import SymbolFilters

    t = int(datetime(2024, 1, 6, 5, 30, tzinfo=UTC).timestamp() * 1000)
    candle = Candle("BTCUSDT", "15m", t, t + 899_999, 48737.8, 48861.1, 48607.5, 48796.1, 521.622)
    line = "🕯 BTCUSDT 15m closed 2024-01-06 05:30 UTC · O 48737.8  H 48861.1  L 48607.5  C 48796.1  V 521.622"
    assert notice_html(CandleClosed(candle, SymbolFilters.btcusdt())) == line
    from pathlib import Path

    assert f"`{line}`" in (Path(__file__).resolve().parents[1] / "docs" / "notices.md").read_text(encoding="utf-8")


def test_the_candle_announcer_tells_a_typed_event_after_the_trader_took_the_candle() -> None:
    from trading.core.events import CandleClosed
    from trading.live.feed import CandleAnnouncer

    took, told = [], []

    class Trader:  # the feed contract's four names (a test double of the trader's seam)
        cursor = warmup = warm = on_forming = caught_up = None

        def on_candle(self, candle, backfilled):  # noqa: ANN001, ANN202
            took.append(candle)

    class Notes:
        def notify(self, event):  # noqa: ANN001, ANN202
            told.append((len(took), event))

    a = CandleAnnouncer(Trader(), Notes(), lambda symbol: None)  # type: ignore[arg-type]
    c = Candle("BTCUSDT", "15m", 0, 899_999, 1.0, 2.0, 0.5, 1.5, 3.0)
    a.on_candle(c, True)  # backfilled: not posted
    a.on_candle(c, False)
    assert told == [(2, CandleClosed(c, None))]


def test_status_words_the_positions_and_what_waits_from_their_data() -> None:
    """The service hands /status its positions and pending orders as data; bot/texts.py words them."""
    from decimal import Decimal as D

    from trading.core.brokers.base import OrderRequest
    from trading.core.snapshot import PositionView
    from trading.core.symbols import SymbolFilters

    stream = StreamStatus(True, True, datetime.now(UTC), datetime.now(UTC), 0.4, 10, 3, 1, 1, {}, {}, {}, None)
    legs = [PositionView("BTCUSDT", "long", D("0.010"), D("48737.8"), D("48796.12"), D("0.5834"), 3, D("47275.7"), None,
                         None, "LONG"),
            PositionView("BTCUSDT", "short", D("0.005"), D("48800"), D("48796.12"), D("-0.0194"), 3, None, D("46360"),
                         D("64000.1"))]  # fmt: skip
    waiting = [OrderRequest("x", "BTCUSDT", "SELL", "close", "ema", 0, qty=D("0.005"), reduce_only=True)]
    st = EngineStatus("paper", ("BTCUSDT",), "15m", stream, 0, {}, legs, waiting)
    html = status_html(st, {"BTCUSDT": SymbolFilters.btcusdt()})
    assert ("Position: long 0.010 BTCUSDT (LONG leg) @ 48737.8 · mark 48796.1 · uPnL +0.58 USDT · 3x · SL 47275.7; "
            "short 0.005 BTCUSDT @ 48800.0 · mark 48796.1 · uPnL -0.02 USDT · 3x · TP 46360.0 · liq 64000.1") in html
    assert "Pending confirmations: SELL BTCUSDT (close) at the next open" in html
    plain = status_html(st)  # no exchange rules: plain numbers
    assert "Position: long 0.010 BTCUSDT (LONG leg) @ 48737.8 · mark 48796.12 · uPnL +0.58 USDT · 3x · SL 47275.7;" in plain
