"""The trailing stop through the replay exchange (demo mode, the real bot, the local Bot API;
issue 29): after an opening fill a TRAILING_STOP_MARKET rests on the exchange with the
position's quantity, callbackRate = trailing_stop_pct and activationPrice from
trailing_activation_pct; it fires where the replayed prices say, the chat says so, the close
is booked once, and the paper model (trading/core/exits.py) reads the same candles the same way."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from tests.test_bot_e2e import GROUP, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import confirm, demo_world, next_candle, open_algo
from trading.core.book import Book
from trading.core.candles import Candle
from trading.core.exits import Exits
from trading.core.strategies import make_strategy
from trading.core.symbols import SymbolFilters


def test_a_trailing_stop_rests_fires_and_matches_the_paper_model(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path, exchange={"updates_per_candle": 1})
    try:
        w.reply("/set trailing_stop_pct=0.3 trailing_activation_pct=0.1", "trailing_stop_pct")
        next_candle(w)
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        entry = w.engine.position("BTCUSDT").entry
        f = SymbolFilters.btcusdt()
        act = f.round_price(entry * Decimal("1.001"))
        (ts,) = [o for o in open_algo(w) if o["orderType"] == "TRAILING_STOP_MARKET"]
        assert (ts["side"], Decimal(ts["quantity"]), ts["reduceOnly"], ts["callbackRate"], Decimal(ts["activatePrice"]),
                ts["workingType"], ts["closePosition"]) == ("SELL", Decimal("0.010"), True, "0.3", act, "MARK_PRICE", False)  # fmt: skip
        assert ts["clientAlgoId"].startswith("tgx-") and ts["clientAlgoId"].endswith("-ts")

        # the paper model over the candles the replay will play from here
        exits = Exits({"BTCUSDT": f})
        model = Book("BTCUSDT", make_strategy("none"), deque())
        exits.set(model, entry, 1, {"trailing_stop_pct": 0.3, "trailing_activation_pct": 0.1})
        def candle(k):  # the replay's row as the core reads it
            return Candle("BTCUSDT", "15m", k.open_time, k.open_time + 899_999, float(k.open), float(k.high),
                          float(k.low), float(k.close), 1.0)  # fmt: skip

        i = w.ex.current_index  # the entry filled at this candle's open; its one update is still to come
        while (hit := exits.touched(model, candle(w.source[i]), True)) is None:
            i += 1
        kind, level = hit
        assert kind == "trailing_stop"
        mark = w.api.mark()
        while w.ex.current_index <= i:
            next_candle(w)
        msg = w.api.wait_for_text(GROUP, "trailing stop filled", timeout=10, start=mark)
        assert msg is not None
        assert f"SELL 0.010 BTCUSDT at {f.fmt_price(level)}" in msg["text"] and "no position left" in msg["text"]
        assert w.engine.side("BTCUSDT") == 0
        (trade,) = w.engine.closed_trades()
        assert trade.exit_reason == "trailing_stop" and trade.exit_price == level
        fills = w.engine.recent_fills(10)
        assert len(fills) == 2 and fills[-1].price == level  # booked once (stream and REST agree on its keys)
        assert open_algo(w) == []
    finally:
        w.close()


def test_in_hedge_mode_each_leg_has_its_own_trailing_stop_by_position_side(source, tmp_path) -> None:  # noqa: F811
    """Hedge Mode (issue 28's legs): the LONG and the SHORT leg each get a TRAILING_STOP_MARKET
    naming its positionSide, never reduceOnly (Binance refuses it there, -1106), for the leg's
    quantity; closing one leg cancels its trailing stop only."""
    from tests.test_bot_e2e import ADMIN
    from tests.test_hedge_e2e import confirmed, hedge_world

    w = hedge_world(source, tmp_path)
    try:
        confirmed(w, "/long 0.01", "filled: BUY 0.010 BTCUSDT")
        confirmed(w, "/short 0.015", "filled: SELL 0.015 BTCUSDT")
        w.engine.set_params({"trailing_stop_pct": "5", "trailing_activation_pct": "4"}, ADMIN)
        next_candle(w)  # the levels apply from the next closed candle
        f = SymbolFilters.btcusdt()
        acts = {ps: f.round_price(w.engine.position("BTCUSDT", ps).entry * Decimal(m)) for ps, m in
                (("LONG", "1.04"), ("SHORT", "0.96"))}  # fmt: skip
        rows = sorted((o["positionSide"], o["side"], o["orderType"], Decimal(o["quantity"]), o["reduceOnly"],
                       o["callbackRate"], Decimal(o["activatePrice"])) for o in open_algo(w))  # fmt: skip
        assert rows == [
            ("LONG", "SELL", "TRAILING_STOP_MARKET", Decimal("0.010"), False, "5", acts["LONG"]),
            ("SHORT", "BUY", "TRAILING_STOP_MARKET", Decimal("0.015"), False, "5", acts["SHORT"]),
        ]
        legs = {p.position_side: p for p in w.engine.snapshot().positions}  # the book's own levels
        assert (legs["LONG"].trail_act, legs["SHORT"].trail_act) == (acts["LONG"], acts["SHORT"])
        confirmed(w, "/close long", "filled: SELL 0.010 BTCUSDT")
        assert [(o["positionSide"], o["orderType"]) for o in open_algo(w)] == [("SHORT", "TRAILING_STOP_MARKET")]
    finally:
        w.close()
