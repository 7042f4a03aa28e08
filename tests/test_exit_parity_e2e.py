"""Parity for the exits Binance keeps (issue 29): the live bot in paper mode through the
replay exchange (websocket, drops, REST backfill, the feed, the trader, the paper broker)
and the backtest of the same candles make the same trades with a take-profit ladder (and
breakeven_after) and with a trailing stop: every fill, each ladder level's part included
and booked once, and every trade with its exit reason."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from sim.binance import ReplayExchange, load_csv
from storage.db import open_db
from storage.params import ParamStore
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from tests.test_parity import Watch, trade_tuples
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.core.futures import FundingRates
from trading.core.futures_model import FuturesModel
from trading.core.portfolio import Portfolio
from trading.core.strategies import strategy_class
from trading.live.service import Engine

WARMUP = 300
CANDLES = 2300
CHUNK = 250
CASES = {
    "ladder": ({"fast": "5", "slow": "13", "take_profit": "0.8:50,1.5:50", "breakeven_after": "1", "stop_loss_pct": "1"},
               ("take_profit_2", "stop_loss")),
    "trailing": ({"fast": "5", "slow": "13", "trailing_stop_pct": "0.5", "trailing_activation_pct": "0.3",
                  "stop_loss_pct": "1.5"}, ("trailing_stop",)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_paper_live_equals_the_backtest_with_ladders_and_trailing_stops(db_path: str, case: str) -> None:
    changes, reasons = CASES[case]
    path = shared_file(PERP_15M)
    source, candles = load_csv(path)[:CANDLES], load_csv_candles(path)[:CANDLES]
    drops = sorted(random.Random(29).sample(range(WARMUP + 50, CANDLES - 50), 3))
    with ReplayExchange(source, start_index=WARMUP, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        ex.faults.drop_at_candles(drops)
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), STRATEGY="ema_cross", CONFIRM_ORDERS="off")
        ParamStore(open_db(db_path)).change("ema_cross", {k: ("", v) for k, v in changes.items()}, None)
        engine = Engine(settings, RecordingNotifier())
        watch = observe(engine, lambda: Watch(candles[-1].open_time))
        filters = engine.symbol_filters()
        assert engine.start() and watch.warmed.wait(10)
        for end in range(WARMUP + CHUNK, CANDLES + CHUNK, CHUNK):
            last = candles[min(end, CANDLES) - 1].open_time
            ex.advance(min(end, CANDLES) - ex.current_index, timeout=30)
            assert watch.wait_for(last), f"live run stalled at {len(watch.seen)} candles"
        engine.stop()
    assert watch.backfilled > 0
    values = strategy_class("ema_cross").schema.validate({}, changes)
    funding = FuturesModel(funding=FundingRates({}, Decimal("0.0001")))  # the replay's lastFundingRate, live
    expected = run_backtest(candles, BacktestOptions(values=values, warmup=WARMUP, filters=filters, model=funding))
    counted = Counter(t.exit_reason for t in expected.trades)
    assert all(counted[r] >= 3 for r in reasons), counted
    live = engine.fills()
    booked = Portfolio.replay(settings.paper_balance, live, engine.funding_payments())
    assert len(live) == expected.trader.portfolio.fills  # each part of a ladder a fill of its own, once

    def ledger(p: Portfolio) -> list[tuple]:  # every booking: each partial close at its time, with its gross
        return [(e.time, e.kind, e.gross, e.fees, e.funding, e.qty, e.entry) for e in p.ledger.entries]

    assert ledger(booked) == ledger(expected.trader.portfolio)
    assert trade_tuples(booked.trades) == trade_tuples(expected.trades) == trade_tuples(engine.closed_trades())
    assert [t.exit_reason for t in booked.trades] == [t.exit_reason for t in expected.trades]
    assert booked.balance == expected.trader.portfolio.balance
