"""The strategy's own proposals (CONFIRM_ORDERS=on) in a replay of real candles: each appears
on the candle where the backtest decides, a confirmed one fills, an unanswered one expires
when the next candle closes; and Confirm refuses a price that drifted too far."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.texts import outcome_line, reason_words, result_line
from sim.binance import ReplayExchange, load_csv
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from tests.test_orders_e2e import Seen
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.live.service import Engine

START, WARMUP, STEPS = 600, 100, 400
VALUES = {"fast": 5, "slow": 13}
ADMIN = 1001


def proposals(notifier: RecordingNotifier) -> list:
    return [n.proposal for n in notifier.notices if n.kind == "proposal"]


@pytest.fixture
def replay(db_path):
    path = shared_file(PERP_15M)
    source, candles = load_csv(path), load_csv_candles(path)
    with ReplayExchange(source, start_index=START, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        notifier = RecordingNotifier()
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), CONFIRM_ORDERS="on", MAX_DRIFT_PCT="100")
        engine = Engine(settings, notifier)
        engine.set_params({k: str(v) for k, v in VALUES.items()}, ADMIN)
        seen = observe(engine, Seen)
        assert engine.start()
        assert seen.wait(candles[START - 1].open_time)
        yield ex, engine, notifier, seen, candles
        engine.stop()


def test_proposals_appear_where_the_backtest_decides_and_confirmed_ones_fill(replay) -> None:
    ex, engine, notifier, seen, candles = replay
    iv = candles[1].open_time - candles[0].open_time
    confirmed = 0
    for i in range(START, START + STEPS):
        ex.advance(1)
        assert seen.wait(candles[i].open_time)
        for p in proposals(notifier):
            if p.status == "pending" and engine.proposal(p.id).status == "pending":
                outcome = engine.confirm(p.id, ADMIN)
                assert outcome.ok, outcome_line(outcome)
                confirmed += 1
    decided = sorted({p.valid_until_open - iv for p in proposals(notifier)})
    assert confirmed == len(decided) > 5

    expected = run_backtest(candles[START - WARMUP : START + STEPS], BacktestOptions(warmup=WARMUP, values=VALUES))
    decision_candles = sorted({t.open_time - iv for t in expected.trades} | {t.close_time - iv for t in expected.trades})
    last = expected.trader.portfolio.positions.get("BTCUSDT")
    if last is not None and last.qty:
        decision_candles = sorted(set(decision_candles) | {last.opened_at - iv})
    assert decided == decision_candles
    assert engine.side("BTCUSDT") == expected.trader.portfolio.side("BTCUSDT")
    assert len(engine.recent_fills(1000)) == sum(len(p.legs) for p in proposals(notifier))


def test_an_unanswered_strategy_proposal_expires_at_the_next_close(replay) -> None:
    ex, engine, notifier, seen, candles = replay
    i = START
    while not proposals(notifier):
        ex.advance(1)
        assert seen.wait(candles[i].open_time)
        i += 1
        assert i < START + 2_000, "the strategy never proposed"
    p = proposals(notifier)[0]
    assert engine.proposal(p.id).status == "pending"
    ex.advance(1)
    assert seen.wait(candles[i].open_time)
    assert engine.proposal(p.id).status == "expired"
    assert any(n.kind == "proposal_update" and n.proposal.id == p.id for n in notifier.notices)
    assert not engine.confirm(p.id, ADMIN).ok
    assert engine.recent_fills(10) == []


def test_confirm_refuses_a_price_that_drifted_too_far(db_path) -> None:
    path = shared_file(PERP_15M)
    source = load_csv(path)
    with ReplayExchange(source, start_index=START, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        settings = replay_settings(ex, db_path, STRATEGY="none", PROPOSAL_TTL="600", MAX_DRIFT_PCT="0.0001")
        engine = Engine(settings, RecordingNotifier())
        seen = observe(engine, Seen)
        candles = load_csv_candles(path)
        try:
            assert engine.start()
            assert seen.wait(candles[START - 1].open_time)
            p = engine.propose_order("long", None, Decimal("0.01"), ADMIN)
            ex.advance(1)  # the price moves; the proposal (TTL 600 s) stays valid
            assert seen.wait(candles[START].open_time)
            outcome = engine.confirm(p.id, ADMIN)
            assert not outcome.ok and "the price moved" in outcome_line(outcome) and "MAX_DRIFT_PCT" in outcome_line(outcome)
            assert engine.proposal(p.id).status == "failed"
            assert engine.recent_fills(10) == []
        finally:
            engine.stop()


def test_a_newer_strategy_proposal_supersedes_the_older_pending_one(db_path) -> None:
    from storage.db import open_db
    from trading.core.brokers.base import OrderRequest
    from trading.live.proposals import Confirmations

    open_db(db_path).close()
    notifier = RecordingNotifier()
    conf = Confirmations(db_path, notifier, ttl_seconds=600, max_drift_pct=Decimal("1"))
    leg = OrderRequest("x", "BTCUSDT", "BUY", "open", "cross", 0, stake=Decimal("100"), leverage=3)
    kw = {"symbol": "BTCUSDT", "legs": [leg], "ref_price": Decimal("70000"), "reason": "cross", "valid_until_open": None}
    manual = conf.propose(action="long", source="manual", requested_by=ADMIN, **kw)
    first = conf.propose(action="long", source="strategy", requested_by=None, **kw)
    second = conf.propose(action="short", source="strategy", requested_by=None, **kw)
    assert conf.get(first.id).status == "expired" and result_line(conf.get(first.id)) == f"superseded by proposal #{second.id}"
    assert conf.get(second.id).status == "pending" and conf.get(manual.id).status == "pending"
    assert [n.proposal.id for n in notifier.notices if n.kind == "proposal_update"] == [first.id]
    from storage.state import instance_id

    assert [leg.id for leg in second.legs] == [f"tgp-{instance_id(open_db(db_path))}-{second.id}-1"]


def test_confirm_orders_off_proposes_a_strategy_order_four_eyes_must_approve(db_path) -> None:
    """CONFIRM_ORDERS=off places the strategy's orders unattended, except one whose resulting
    position is above FOUR_EYES_NOTIONAL: that one is proposed for two admins (issue 25)."""
    path = shared_file(PERP_15M)
    source, candles = load_csv(path), load_csv_candles(path)
    with ReplayExchange(source, start_index=START, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        notifier = RecordingNotifier()
        settings = replay_settings(ex, db_path, WARMUP_CANDLES=str(WARMUP), CONFIRM_ORDERS="off", FOUR_EYES_NOTIONAL="1")
        engine = Engine(settings, notifier)
        engine.set_params({k: str(v) for k, v in VALUES.items()}, ADMIN)
        seen = observe(engine, Seen)
        assert engine.start()
        try:
            assert seen.wait(candles[START - 1].open_time)
            for i in range(START, START + STEPS):
                ex.advance(1)
                assert seen.wait(candles[i].open_time)
                if proposals(notifier):
                    break
            found = proposals(notifier)
            assert found, "the strategy decided within the replay"
            said = reason_words(found[0])  # the proposal's reason and why it waits for two admins (bot/texts.py)
            assert "two admins must confirm: the position would be" in said, said
            ex.advance(1)  # the next open: nothing placed unattended
            assert seen.wait(candles[i + 1].open_time)
            assert engine.recent_fills(10) == []
        finally:
            engine.stop()
