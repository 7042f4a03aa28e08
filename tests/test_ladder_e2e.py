"""A two-level take-profit ladder through the replay exchange (demo mode, the real bot, the
local Bot API; issue 29): `take_profit=a:50,b:50 breakeven_after=1` on a long of 0.010 →
two reduce-only TAKE_PROFIT_MARKET algo orders of 0.005 each beside the stop; they fill
where the replayed prices say (the core's reading of the same candles says where), each
part is booked once and told, level 1 moves the stop to the entry plus fees at the
exchange (the stop replaced, level 2 left resting), a restart finds what rests, level 2
closes the rest and nothing is left at the exchange."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from tests.helpers import observe
from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import confirm, demo_world, next_candle, open_algo, wait_text
from tests.test_orders_e2e import Seen
from trading.core.book import Book
from trading.core.candles import Candle
from trading.core.exits import Exits, breakeven
from trading.core.strategies import make_strategy, strategy_class

D = Decimal
SCHEMA = strategy_class("ema_cross").schema


def as_candle(k) -> Candle:  # noqa: ANN001  (the replay's row as the core reads it)
    return Candle("BTCUSDT", "15m", k.open_time, k.open_time + 899_999, float(k.open), float(k.high), float(k.low),
                  float(k.close), 1.0)  # fmt: skip


def model_run(f, rows, entry: D, values) -> list[tuple[int, str, D, D | None]]:  # noqa: ANN001
    """What the core (paper, the backtest) does with a long of 0.010 from `entry` over `rows`:
    (row, exit reason, price, quantity) of each exit, until flat."""
    exits = Exits({"BTCUSDT": f})
    b = Book("BTCUSDT", make_strategy("none"), deque())
    exits.set(b, entry, 1, values, qty=D("0.010"))
    out = []
    for i, row in enumerate(rows):
        for kind, price, qty in exits.hits(b, as_candle(row), True):
            out.append((i, kind, price, qty))
            if qty is None:
                return out
            exits.filled(b, int(kind.rsplit("_", 1)[1]), True)
    return out


def pick_ladder(f, rows, entry: D) -> tuple[str, list[tuple[int, str, D, D | None]]]:  # noqa: ANN001
    """Level distances the replayed candles reach one after the other, on two candles, with the
    breakeven stop never reached in between (the same run, whatever the data's next hours)."""
    fee = D("0.0005")
    be = breakeven(f, entry, 1, fee)
    for a in range(2, 80):
        for b in range(a + 1, 100):
            ladder = f"{D(a) / 20}:50,{D(b) / 20}:50"
            values = SCHEMA.validate({}, {"take_profit": ladder, "breakeven_after": "1", "stop_loss_pct": "3"})
            run = model_run(f, rows, entry, values)
            kinds = [k for _, k, _, _ in run]
            # a few candles before each: a step of the paused market never runs past a level
            if kinds != ["take_profit_1", "take_profit_2"] or not 2 <= run[0][0] <= run[1][0] - 2 <= 40:
                continue
            if all(float(r.low) > float(be) for r in rows[run[0][0] + 1 : run[1][0] + 1]):
                return ladder, run
    raise AssertionError("no ladder the next candles fill level by level")


def has_ladder(f, rows, entry: D) -> bool:  # noqa: ANN001
    try:
        pick_ladder(f, rows, entry)
    except AssertionError:
        return False
    return True


def test_a_two_level_ladder_rests_fills_part_by_part_moves_the_stop_and_matches_the_core(source, tmp_path) -> None:  # noqa: F811
    w = demo_world(source, tmp_path, exchange={"updates_per_candle": 1})
    try:
        assert w.engine.wait_account(lambda u: u.connected, timeout=10)
        f = w.engine.symbol_filters()
        # The market is wherever the start left it: walk it on (no trade yet) to a candle whose
        # next hours rise far enough for some two-level ladder, judged from the price a market
        # order fills at now (the replay's last price: not always the forming candle's open).
        for _ in range(120):
            ahead = w.source[w.ex.current_index + 1 : w.ex.current_index + 43]
            guess = D(w.ex.call(lambda: w.ex.clock.price("BTCUSDT")))
            if max(float(r.high) for r in ahead[2:]) > float(guess) * 1.004 and has_ladder(f, ahead, guess):
                break
            next_candle(w)
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        entry = w.engine.position("BTCUSDT").entry
        assert entry == guess, (entry, guess)  # the walk judged the ladder from this price
        start = w.ex.current_index + 1  # the levels apply when this candle closes; the next one's update can fill them
        ladder, expected = pick_ladder(f, w.source[start : start + 43], entry)
        w.engine.set_params({"take_profit": ladder, "breakeven_after": "1", "stop_loss_pct": "3"}, ADMIN)
        next_candle(w)
        assert w.ex.current_index >= start
        rows = sorted(open_algo(w), key=lambda o: (o["orderType"], o["clientAlgoId"]))
        (d1, s1), (d2, s2) = [(D(x.split(":")[0]), D(x.split(":")[1])) for x in ladder.split(",")]
        t1 = (entry * (1 + d1 / 100) / f.tick_size).to_integral_value(rounding="ROUND_FLOOR") * f.tick_size
        t2 = (entry * (1 + d2 / 100) / f.tick_size).to_integral_value(rounding="ROUND_FLOOR") * f.tick_size
        assert [(o["orderType"], o["side"], D(o["quantity"]), o["reduceOnly"], o["closePosition"], D(o["triggerPrice"]),
                 o["clientAlgoId"][-3:]) for o in rows] == [  # fmt: skip
            ("STOP_MARKET", "SELL", D(0), False, True, D(rows[0]["triggerPrice"]), "-sl"),
            ("TAKE_PROFIT_MARKET", "SELL", D("0.005"), True, False, t1, "-t1"),
            ("TAKE_PROFIT_MARKET", "SELL", D("0.005"), True, False, t2, "-t2"),
        ]
        t2_id = rows[2]["clientAlgoId"]
        w.reply("/status", f"TP {f.fmt_price(t1)}")  # the next level is the take-profit shown

        # level 1 fills where the core says; the stop moves to the entry plus fees at the exchange
        (row1, kind1, price1, qty1), (row2, kind2, price2, _) = expected
        assert (kind1, qty1, kind2) == ("take_profit_1", D("0.005"), "take_profit_2")
        mark = w.api.mark()
        while w.ex.current_index <= start + row1:
            next_candle(w)
        text = wait_text(w, "take-profit 1 filled", start=mark)
        assert f"SELL 0.005 BTCUSDT at {f.fmt_price(price1)}" in text and "part closed" in text and "now long 0.005" in text
        be = breakeven(f, entry, 1, D("0.0005"))
        moved = wait_text(w, "stop moved to breakeven", start=mark)
        assert f"BTCUSDT: take-profit 1 filled; stop moved to breakeven {f.fmt_price(be)} (entry {f.fmt_price(entry)}" in moved
        rest = sorted((o["orderType"], D(o["triggerPrice"]), o["clientAlgoId"]) for o in open_algo(w))
        assert [(k, p) for k, p, _ in rest] == [("STOP_MARKET", be), ("TAKE_PROFIT_MARKET", t2)]
        assert rest[1][2] == t2_id  # level 2 was left resting, not replaced
        assert w.engine.position("BTCUSDT").qty == D("0.005")

        # a restart finds what rests: the ladder's progress is kept, nothing placed twice
        # (the market stays paused: the start's reconciliation checks the exits before streaming)
        posted, mark = dict(w.ex.stats.algo_order_posts), w.api.mark()
        w.bot.stop()
        w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
        w.seen = observe(w.engine, Seen)
        assert w.api.wait_for_text(GROUP, "resumed streaming", timeout=15, start=mark)
        assert w.engine.wait_account(lambda u: u.connected, timeout=15)
        assert sorted((o["orderType"], D(o["triggerPrice"]), o["clientAlgoId"]) for o in open_algo(w)) == rest
        assert dict(w.ex.stats.algo_order_posts) == posted

        # level 2 closes the rest
        mark = w.api.mark()
        while w.ex.current_index <= start + row2:
            next_candle(w)
        text = wait_text(w, "take-profit 2 filled", start=mark)
        assert f"SELL 0.005 BTCUSDT at {f.fmt_price(price2)}" in text and "no position left" in text
        assert w.engine.side("BTCUSDT") == 0
        assert open_algo(w) == []  # the breakeven stop was cancelled
        (trade,) = w.engine.closed_trades()
        assert (trade.exit_reason, trade.qty, trade.exit_price) == ("take_profit_2", D("0.010"), (price1 + price2) / 2)

        # each part booked once: the opening fill and the two parts, in /trades and the ledger
        fills = w.engine.recent_fills(10)
        assert [(x.side, x.qty, x.price) for x in fills] == [
            ("BUY", D("0.010"), entry), ("SELL", D("0.005"), price1), ("SELL", D("0.005"), price2)]  # fmt: skip
        trades = w.reply("/trades", "Last 3 fills")["text"]
        assert trades.count("SELL 0.005 BTCUSDT") == 2, trades
        gross = (price1 - entry) * D("0.005") + (price2 - entry) * D("0.005")
        assert trade.pnl == gross - sum((x.fee for x in fills), D(0)) + trade.funding  # funding if a funding time passed
        pnl = w.reply("/pnl", "PnL")["text"]
        assert f"{trade.pnl.quantize(D('0.01')):+}" in pnl.replace("−", "-"), pnl
    finally:
        w.close()


def test_in_hedge_mode_each_level_names_its_leg_never_reduce_only(source, tmp_path) -> None:  # noqa: F811
    """Hedge Mode: a leg's levels are TAKE_PROFIT_MARKET for their quantities with the leg's
    positionSide and no reduceOnly (Binance refuses it there, -1106); the stop stays
    closePosition for the leg."""
    from tests.test_hedge_e2e import confirmed, hedge_world

    w = hedge_world(source, tmp_path)
    try:
        confirmed(w, "/short 0.015", "filled: SELL 0.015 BTCUSDT")
        # typed in the chat: a bad ladder is one line and changes nothing, a good one is shown by /params
        w.reply("/set take_profit=2:50,4:40", "take_profit: the shares add up to 90 %, not 100 %")
        w.reply("/set take_profit=2:50,4:50 take_profit_pct=1", "take_profit and take_profit_pct: set one")
        w.reply("/set take_profit=2:50,4:50 stop_loss_pct=5", "take_profit")
        assert "take_profit" in w.reply("/params", "2:50,4:50")["text"]
        next_candle(w)
        rows = sorted((o["positionSide"], o["side"], o["orderType"], D(o["quantity"]), o["reduceOnly"],
                       o["closePosition"], o["clientAlgoId"][-3:]) for o in open_algo(w))  # fmt: skip
        assert rows == [
            ("SHORT", "BUY", "STOP_MARKET", D(0), False, True, "-sl"),
            ("SHORT", "BUY", "TAKE_PROFIT_MARKET", D("0.007"), False, False, "-t1"),  # 50 % of 0.015 on the step
            ("SHORT", "BUY", "TAKE_PROFIT_MARKET", D("0.008"), False, False, "-t2"),  # the remainder
        ]
    finally:
        w.close()
