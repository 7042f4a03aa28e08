"""issue 26: paper's take-profit (and stop) rounds to the tick toward the entry, as the
exchange path does (trading/core/exits.exit_level): one rule. Paper rounded to the nearest
tick, away from the entry when that was nearer: 0.8 % above 45606.5 is 45971.352, rested at
45971.4 and filled there, beyond the percentage asked for."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import write_plugin
from tests.test_orders_e2e import press, proposal_message, started
from trading.core.exits import exit_level
from trading.core.symbols import SymbolFilters

QUIET = '''
from trading.core.strategies import FrameStrategy, Schema
from trading.core.strategies.frame import MONEY


class Quiet(FrameStrategy):
    schema = Schema(MONEY)

    def populate(self, df, params):
        for col in ("enter_long", "exit_long", "enter_short", "exit_short"):
            df[col] = False
        return df
'''


def away_from_nearest(entry: Decimal, tick: Decimal, sign: int) -> tuple[str, Decimal]:
    """A percentage whose level lies past the middle of a tick, seen from the entry, so the
    nearest tick is the one beyond the percentage: (pct as typed, the raw level)."""
    for hundredths in range(300, 600):  # far enough that the next candle reaches neither level
        pct = Decimal(hundredths) / 100
        raw = entry * (1 + sign * pct / 100)
        frac = (raw / tick) % 1
        if (frac > Decimal("0.6") if sign > 0 else Decimal(0) < frac < Decimal("0.4")):
            return f"{pct:f}", raw
    raise AssertionError("no such percentage")


def test_paper_take_profit_and_stop_round_toward_the_entry_as_on_the_exchange(source, tmp_path) -> None:  # noqa: F811
    spec = write_plugin(tmp_path, QUIET, "quiet.py") + ":Quiet"
    w = started(source, tmp_path, STRATEGY=spec)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY 0.010 BTCUSDT")
        entry = w.engine.position("BTCUSDT").entry
        f: SymbolFilters = w.engine.symbol_filters("BTCUSDT")
        tp, tp_raw = away_from_nearest(entry, f.tick_size, +1)
        sl, sl_raw = away_from_nearest(entry, f.tick_size, -1)
        w.reply(f"/set take_profit_pct={tp} stop_loss_pct={sl}", "take_profit_pct")
        last = w.ex.current_index
        assert w.ex.advance(1, timeout=15)  # the new levels apply from the next closed candle
        assert w.seen.wait(source[last].open_time)

        take = (tp_raw / f.tick_size).to_integral_value(rounding=ROUND_FLOOR) * f.tick_size
        stop = (sl_raw / f.tick_size).to_integral_value(rounding=ROUND_CEILING) * f.tick_size
        assert take < tp_raw < take + f.tick_size and f.round_price(tp_raw) > take  # the cases where they differ
        assert stop > sl_raw and f.round_price(sl_raw) < stop
        assert (take, stop) == (exit_level(f, entry, 1, Decimal(tp), "tp"), exit_level(f, entry, 1, Decimal(sl), "sl"))
        status = w.reply("/status", "long 0.010 BTCUSDT")["text"]
        assert f"SL {f.fmt_price(stop)} · TP {f.fmt_price(take)}" in status, (entry, tp_raw, sl_raw, status)
    finally:
        w.close()
