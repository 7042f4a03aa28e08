"""DataFrame strategies end to end: a plugin from a file outside the package and each new
built-in trade live (replay exchange, websocket with drops, REST backfill, the feed) exactly
as the backtest does; the plugin's proposals and its /chart indicators; /strategy through
the local Bot API (refusals, the look-ahead check, the audit, a restart keeps the choice)."""

from __future__ import annotations

import random
import re

import pytest

from sim.binance import ReplayExchange, load_csv
from storage.audit import AuditLog
from storage.db import open_db
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import PEEKS, PLUGIN, write_plugin
from tests.test_parity import Watch, trade_tuples
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.charts.data import candle_chart
from trading.core.portfolio import Portfolio
from trading.live.service import Engine

WARMUP = 300
CANDLES = 700  # fewer than ema_cross's year: populate runs once per live candle
CHUNK = 100


def live_vs_backtest(db_path: str, strategy: str, seed: int, **extra: str):
    """Replay the first CANDLES candles through the live bot with drops; return (engine,
    live trades, backtest)."""
    path = shared_file(PERP_15M)
    rows, candles = load_csv(path)[:CANDLES], load_csv_candles(path)[:CANDLES]
    drops = sorted(random.Random(seed).sample(range(WARMUP + 20, CANDLES - 20), 4))
    with ReplayExchange(rows, start_index=WARMUP, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        ex.faults.drop_at_candles(drops)
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), STRATEGY=strategy,
                                   CONFIRM_ORDERS="off", **extra)
        engine = Engine(settings, RecordingNotifier())
        watch = observe(engine, lambda: Watch(candles[-1].open_time))
        filters = engine.symbol_filters()
        assert engine.start()
        assert watch.warmed.wait(10)
        for end in range(WARMUP + CHUNK, CANDLES + CHUNK, CHUNK):
            last = candles[min(end, CANDLES) - 1].open_time
            ex.advance(min(end, CANDLES) - ex.current_index, timeout=30)
            assert watch.wait_for(last), f"live run stalled at {len(watch.seen)} candles"
        engine.stop()
    assert watch.seen == [c.open_time for c in candles[WARMUP:]]
    assert watch.backfilled > 0, "the drops must have sent some candles through REST backfill"
    expected = run_backtest(candles, BacktestOptions(strategy=strategy, warmup=WARMUP, filters=filters))
    booked = Portfolio.replay(settings.paper_balance, engine.fills())
    return engine, booked, expected, candles


@pytest.mark.parametrize("name", ["rsi_reversion", "bb_breakout"])
def test_builtin_dataframe_strategies_trade_live_as_in_the_backtest(db_path, name) -> None:
    _, booked, expected, _ = live_vs_backtest(db_path, name, seed=len(name))
    assert len(expected.trades) >= 5
    assert trade_tuples(booked.trades) == trade_tuples(expected.trades)
    assert booked.balance == expected.trader.portfolio.balance


def test_plugin_from_a_file_trades_live_as_in_the_backtest_and_charts_its_indicators(db_path, tmp_path) -> None:
    spec = write_plugin(tmp_path, PLUGIN) + ":Mine"
    engine, booked, expected, candles = live_vs_backtest(db_path, spec, seed=7)
    assert len(expected.trades) >= 5
    assert trade_tuples(booked.trades) == trade_tuples(expected.trades)

    # /chart's data: the plugin's declared columns, each in its panel.
    schema, values = engine.params()
    chart = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles[-400:], n=100,
                         strategy=engine.strategy, values=values)
    assert set(chart.lines) == {"ema_fast", "ema_slow"} and set(chart.oscillators) == {"rsi"}
    assert engine.chart(100)[:8] == b"\x89PNG\r\n\x1a\n"

    # A switch keeps the open position and says so.
    held = engine.snapshot().positions
    switched = engine.switch_strategy("rsi_reversion", {"low": "25"}, ADMIN)
    assert switched.old == spec and switched.new == "rsi_reversion" and switched.values["low"] == 25
    assert switched.positions == list(held)  # the positions themselves (the chat words them)


def test_plugin_decisions_become_proposals(db_path, tmp_path) -> None:
    spec = write_plugin(tmp_path, PLUGIN) + ":Mine"
    path = shared_file(PERP_15M)
    rows, candles = load_csv(path)[:600], load_csv_candles(path)[:600]
    with ReplayExchange(rows, start_index=WARMUP, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        notifier = RecordingNotifier()
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), STRATEGY=spec, CONFIRM_ORDERS="on")
        engine = Engine(settings, notifier)
        watch = observe(engine, lambda: Watch(candles[-1].open_time))
        assert engine.start()
        assert watch.warmed.wait(10)
        ex.advance(len(candles) - WARMUP, timeout=30)
        assert watch.wait_for(candles[-1].open_time)
        engine.stop()
    made = [n.proposal for n in notifier.notices if n.kind == "proposal"]
    assert made and all(p.source == "strategy" and p.reason.startswith(f"{spec}: enter_") or
                        p.reason.startswith(f"{spec}: exit_") for p in made)
    assert not engine.closed_trades()  # nothing placed without a Confirm


def test_strategy_command_switches_audited_refuses_and_survives_a_restart(source, tmp_path) -> None:  # noqa: F811
    write_plugin(tmp_path, PEEKS, "peeks.py")
    peeks = "peeks.py:Peeks"  # from the chat: a file in STRATEGY_DIR (issue 25)
    w = World(source, tmp_path, STRATEGY_DIR=str(tmp_path / "strategies"))
    try:
        msg = w.reply("/strategy", "Available", user=GUEST)["text"]  # anyone may look
        assert "Strategy: ema_cross" in msg and "rsi_reversion" in msg and "bb_breakout" in msg
        w.reply("/strategy rsi_reversion low=25", "Not allowed: only admins can use /strategy.", user=GUEST)
        w.reply("/strategy rsi_reversion low=abc", "low: 'abc' is not a number (plain digits and one point, like 0.01); nothing changed")
        w.reply("/strategy rsi_reversion low=80", "need low < mid < high")
        w.reply("/strategy nope", "unknown strategy 'nope'")
        w.reply(f"/strategy {peeks}", "look-ahead: enter_")
        assert w.engine.strategy == "ema_cross"
        msg = w.reply("/strategy rsi_reversion low=25", "Strategy: ema_cross → rsi_reversion")["text"]
        assert "from the next closed candle" in msg and "No position is open." in msg and "low=25" in msg
        assert re.search(r"low +=.25 ", w.reply("/params", "rsi_reversion")["text"])
        w.reply("/strategy", "Strategy: rsi_reversion", user=GUEST)
    finally:
        w.close()
    audit = [(a["action"], a["user_id"], a["outcome"]) for a in AuditLog(open_db(w.db_path)).recent(50)
             if a["action"] == "/strategy"]
    assert ("/strategy", GUEST, "refused: not admin") in audit
    assert ("/strategy", ADMIN, "switched ema_cross → rsi_reversion low=25") in audit
    assert any(o.startswith("usage: /strategy: check ") and "look-ahead" in o for _, _, o in audit)

    w2 = World(source, tmp_path)  # a restart keeps the choice and its parameters
    try:
        assert w2.engine.strategy == "rsi_reversion" and w2.engine.params()[1]["low"] == 25
        assert w2.engine.snapshot().strategy == "rsi_reversion"
    finally:
        w2.close()


def test_backtest_and_optimize_take_another_strategy(source, tmp_path) -> None:  # noqa: F811
    from tests.test_backtest_e2e import photo_after

    w = World(source, tmp_path)
    try:
        w.reply("/backtest 2 strategy=nope", "unknown strategy 'nope'")
        w.reply("/backtest 2 strategy=rsi_reversion fast=9", "unknown parameter 'fast'")
        mark = w.say("/backtest 2 strategy=rsi_reversion low=25")
        photo = photo_after(w, mark)
        assert "reply_markup" not in photo and "/strategy rsi_reversion" in photo["caption"]
        table = [m["text"] for m in w.api.sent(GROUP) if m.get("text", "").startswith("Backtest ·")][-1]
        assert re.search(r"strategy +ema_cross +rsi_reversion", table) and re.search(r"low +— +25", table)
        mark = w.say("/optimize bb_period=10..20:10 2 strategy=bb_breakout")
        photo = photo_after(w, mark)
        assert "reply_markup" not in photo and "/strategy bb_breakout" in photo["caption"]
        assert w.engine.strategy == "ema_cross"  # a what-if changes nothing
    finally:
        w.close()
