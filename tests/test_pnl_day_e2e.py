"""issue 26: /pnl's "today" is the market's day (a replay's turns every ~48 s in the demo):
after the market's midnight, a trade just closed is still shown, with where to see it."""

from __future__ import annotations

from bot.views import utc
from tests.test_bot_e2e import ADMIN, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started


def test_pnl_after_the_markets_midnight_still_shows_the_trade_just_closed(source, tmp_path) -> None:  # noqa: F811
    """In the demo a replayed day lasts ~48 s: /long, Confirm, /close, Confirm, /pnl usually
    crossed the market's midnight and said only 'no trade closed yet'."""
    w: World = started(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY 0.010 BTCUSDT")
        mark = w.api.mark()
        w.say("/close")
        assert press(w, ADMIN, proposal_message(w, mark, 2), 0).startswith("filled: SELL 0.010 BTCUSDT")
        closed = w.engine.recent_fills(1)[0].time
        midnight = closed - closed % 86_400_000 + 86_400_000
        seen = w.seen
        first = next(i for i, c in enumerate(source) if c.open_time >= midnight)
        assert w.ex.advance(first + 1 - w.ex.current_index, timeout=30)  # the market's day turns
        assert seen.wait(source[first].open_time)
        text = w.reply("/pnl", "PnL · today")["text"]
        assert f"Trades closed: 0 · none closed since {utc(midnight)} UTC, the market's midnight" in text, text
        assert f"the last closed {utc(closed)} UTC (/pnl 7d: 1 closed, net " in text, text
    finally:
        w.close()
