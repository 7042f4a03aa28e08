"""Parity: the live bot and the backtest make the same trades on the same candles.

A real year of 15m BTCUSDT candles is replayed through the replay exchange, the
websocket, the feed, the trader and the paper broker at max speed, with the connection
dropped at random points (so some candles arrive by REST backfill); the trades booked in
SQLite must equal the backtest's over the same candles, trade for trade: times, side,
quantity, prices and fees. The futures model is on in both: 50x, so positions are
liquidated, and funding every 8 hours (the replay's premiumIndex lastFundingRate, 0.01 %,
live; the same constant in the backtest).
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest

from bot.texts import text
from sim.binance import ReplayExchange, load_csv
from storage.db import open_db
from storage.params import ParamStore
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.core.candles import Candle
from trading.core.futures import FundingRates
from trading.core.futures_model import FuturesModel
from trading.core.portfolio import Portfolio
from trading.live.service import Engine

WARMUP = 500
# The replay runs at full speed in chunks: free-running, a disconnected client would let
# it race through the rest of the year and the socket would hardly be exercised; a chunk
# bounds what one drop sends through REST backfill.
CHUNK = 250
PARAMS = {"STRATEGY": "ema_cross", "CONFIRM_ORDERS": "off", "MAX_LEVERAGE": "50"}  # placed at once, as backtested
VALUES = {"stake_usdt": ("100", "20"), "leverage": ("3", "50")}  # 1,000 USDT notional: MAX_POSITION_NOTIONAL's


class Watch:
    """Watches the engine's candles: counts decided ones, wakes the test when the last one is in."""

    def __init__(self, last_open: int) -> None:
        self.last_open = last_open
        self.seen: list[int] = []
        self.backfilled = 0
        self._cond = threading.Condition()
        self.warmed = threading.Event()

    def warm(self, symbol: str, candles) -> None:
        self.warmed.set()

    def on_candle(self, candle: Candle, backfilled: bool) -> None:
        with self._cond:
            self.seen.append(candle.open_time)
            self.backfilled += backfilled
            self._cond.notify_all()

    def wait_for(self, open_time: int, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.seen) and self.seen[-1] >= open_time, timeout)


def trade_tuples(trades) -> list[tuple]:
    return [(t.open_time, t.close_time, t.side, t.qty, t.entry_price, t.exit_price, t.fees, t.pnl) for t in trades]


@pytest.mark.slow
def test_live_trades_equal_the_backtest_through_random_drops(db_path: str) -> None:
    path = shared_file(PERP_15M)
    source = load_csv(path)
    candles = load_csv_candles(path)
    rng = random.Random(20261124)
    drops = sorted(rng.sample(range(WARMUP + 50, len(source) - 50), 12))
    with ReplayExchange(source, start_index=WARMUP, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        ex.faults.drop_at_candles(drops)
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), **PARAMS)
        ParamStore(open_db(db_path)).change("ema_cross", VALUES, None)
        notes = RecordingNotifier()
        engine = Engine(settings, notes)
        watch = observe(engine, lambda: Watch(candles[-1].open_time))
        filters = engine.symbol_filters()
        assert engine.start()
        # The replay stays paused until the feed's first catch-up has warmed the trader, so
        # the warm-up is exactly the replay's history (candles[:WARMUP]), as in the backtest.
        assert watch.warmed.wait(10)
        for end in range(WARMUP + CHUNK, len(candles) + CHUNK, CHUNK):
            last = candles[min(end, len(candles)) - 1].open_time
            ex.advance(min(end, len(candles)) - ex.current_index, timeout=30)
            assert watch.wait_for(last), f"live run stalled at {len(watch.seen)} candles"
        engine.stop()
    assert watch.seen == [c.open_time for c in candles[WARMUP:]], "every candle decided once, in order"
    assert watch.backfilled > 0, "the drops must have sent some candles through REST backfill"

    values = {k: new for k, (_, new) in VALUES.items()}
    expected = run_backtest(candles, BacktestOptions(values=values, warmup=WARMUP, filters=filters,
                                                   model=FuturesModel(funding=FundingRates({}, Decimal("0.0001")))))
    live = engine.fills()
    booked = Portfolio.replay(settings.paper_balance, live, engine.funding_payments())
    assert len(expected.trades) > 100
    assert expected.stats.liquidations > 5 and expected.stats.funding < 0
    assert trade_tuples(booked.trades) == trade_tuples(expected.trades)
    assert trade_tuples(engine.closed_trades()) == trade_tuples(expected.trades)
    assert booked.balance == expected.trader.portfolio.balance
    assert booked.fees == expected.trader.portfolio.fees > Decimal(0)
    assert booked.funding == engine.funding_booked() == expected.trader.portfolio.funding
    assert [t.exit_reason for t in booked.trades] == [t.exit_reason for t in expected.trades]
    said = [t for n in notes.notices if " liquidated at " in (t := text(n))]  # the chat says it, live
    assert len(said) == expected.stats.liquidations and "USDT lost, clearance fee" in said[0]


HEDGE_VALUES = {"stake_usdt": ("100", "60"), "leverage": ("3", "5"), "stop_loss_pct": ("0", "3"),
                "take_profit_pct": ("0", "3")}  # fmt: skip


@pytest.mark.slow
def test_hedge_mode_live_trades_equal_the_backtest(db_path: str) -> None:
    """Hedge Mode (issue 28): the paper account in Hedge Mode and the backtest's `hedge` run
    the same rule (core/hedge.py), so they trade for trade, with drops, for a strategy that
    holds both legs at times (ema_cross opens the LONG leg on an up-cross and the SHORT leg
    on a down-cross; each leg closes at its own stop or take-profit, and pays funding on its
    own notional)."""
    path = shared_file(PERP_15M)
    source = load_csv(path)
    candles = load_csv_candles(path)[: WARMUP + 6000]
    rng = random.Random(20261207)
    drops = sorted(rng.sample(range(WARMUP + 50, len(candles) - 50), 6))
    with ReplayExchange(source[: len(candles)], start_index=WARMUP, seconds_per_candle=0, updates_per_candle=1,
                        paused=True) as ex:  # fmt: skip
        ex.faults.drop_at_candles(drops)
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), PAPER_HEDGE_MODE="on", **PARAMS)
        ParamStore(open_db(db_path)).change("ema_cross", HEDGE_VALUES, None)
        engine = Engine(settings, RecordingNotifier())
        watch = observe(engine, lambda: Watch(candles[-1].open_time))
        filters = engine.symbol_filters()
        assert engine.start() and watch.warmed.wait(10)
        for end in range(WARMUP + CHUNK, len(candles) + CHUNK, CHUNK):
            last = candles[min(end, len(candles)) - 1].open_time
            ex.advance(min(end, len(candles)) - ex.current_index, timeout=30)
            assert watch.wait_for(last), f"live run stalled at {len(watch.seen)} candles"
        engine.stop()
    assert watch.backfilled > 0
    values = {k: new for k, (_, new) in HEDGE_VALUES.items()}
    expected = run_backtest(candles, BacktestOptions(values=values, warmup=WARMUP, filters=filters, hedge=True,
                                                   model=FuturesModel(funding=FundingRates({}, Decimal("0.0001")))))
    booked = Portfolio.replay(settings.paper_balance, engine.fills(), engine.funding_payments())
    trades = expected.trades
    assert len(trades) > 40 and {t.position_side for t in trades} == {"LONG", "SHORT"}
    # each leg pays funding on its own notional, in both runs alike (paper Hedge Mode had none)
    assert expected.stats.funding != 0 and booked.funding == expected.trader.portfolio.funding
    assert {ps for _, ps, t in booked.ledger.legs() if t.funding} == {"LONG", "SHORT"}
    assert any(a.position_side == "LONG" and b.position_side == "SHORT" and a.open_time < b.close_time
               and b.open_time < a.close_time for a in trades for b in trades), "never held both legs"  # fmt: skip

    def legs(ts):  # noqa: ANN001, ANN202
        return [(t.position_side, *trade_tuples([t])[0], t.exit_reason) for t in ts]

    assert legs(booked.trades) == legs(trades)
    assert legs(engine.closed_trades()) == legs(trades)
    assert booked.balance == expected.trader.portfolio.balance
