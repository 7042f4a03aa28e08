"""Confirm in Hedge Mode derives each leg from the legs at the press (issue 28), as One-way
Mode does from the position (tests/test_confirm_intent.py's table, extended to two legs):
every intent (long q / short q on their leg, close long / close short, close both) × the
traded leg when proposed × the legs at the press, the other leg held or flat, through the
engine's real confirm path against the replay exchange in Hedge Mode. The proposal's
message shows both legs before and after, and so does the Confirm's answer."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from bot.proposals import proposal_html
from bot.texts import outcome_line
from sim.binance import ReplayExchange, load_csv
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from tests.test_bot_e2e import ADMIN
from tests.test_orders_e2e import Seen
from trading.backtest.data import load_csv_candles
from trading.live.proposals import Proposal
from trading.live.service import Engine

START = 600
Q = Decimal("0.002")
L = Decimal("0.010")
REFUSED, NOTHING = "refused", "nothing"


def expected(intent: str, basis: tuple[Decimal, Decimal], press: tuple[Decimal, Decimal]) -> object:
    """The legs (LONG, SHORT: signed) after Confirm, or REFUSED / NOTHING: core/hedge.py's rule.
    long/short add to their leg when it is still what the proposal saw; a close closes what
    its legs hold at the press, the other leg untouched."""
    (bl, bs), (pl, ps) = basis, press
    if intent == "long":
        return REFUSED if bl != pl else (pl + Q, ps)
    if intent == "short":
        return REFUSED if bs != ps else (pl, ps - Q)
    if intent == "close long":
        return NOTHING if not pl else (Decimal(0), ps)
    if intent == "close short":
        return NOTHING if not ps else (pl, Decimal(0))
    # close: the legs it was proposed on (those held then), as they are at the press
    closes = (bool(bl) and bool(pl), bool(bs) and bool(ps))
    return NOTHING if not any(closes) else (Decimal(0) if closes[0] else pl, Decimal(0) if closes[1] else ps)


LONGS, SHORTS = (Decimal(0), L, 2 * L), (Decimal(0), -L, -2 * L)
CASES = [
    (intent, basis, press)
    for intent in ("long", "short", "close long", "close short", "close")
    for basis in itertools.product((Decimal(0), L), (Decimal(0), -L))
    for press in itertools.product(LONGS, SHORTS)
    # a close is proposed only on what is held; the other leg does not move between
    if (intent != "close long" or basis[0]) and (intent != "close short" or basis[1]) and (intent != "close" or any(basis))
    and (press[1] == basis[1] if intent in ("long", "close long") else press[0] == basis[0] if intent in ("short", "close short") else True)
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = shared_file(PERP_15M)
    db_path = str(tmp_path_factory.mktemp("hedge-intent") / "bot.sqlite")
    with ReplayExchange(load_csv(path), start_index=START, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        settings = replay_settings(ex, db_path, STRATEGY="none", PROPOSAL_TTL="600", MAX_DRIFT_PCT="100", PAPER_HEDGE_MODE="on",
                                   MAX_POSITION_NOTIONAL="100000")
        engine = Engine(settings, RecordingNotifier())
        seen = observe(engine, Seen)
        try:
            assert engine.start()
            assert engine.hedge_mode()
            assert seen.wait(load_csv_candles(path)[START - 1].open_time)
            yield engine
        finally:
            engine.stop()


def leg_qty(engine: Engine, ps: str) -> Decimal:
    pos = engine.position("BTCUSDT", ps)
    return pos.qty if pos is not None else Decimal(0)


def hold(engine: Engine, legs: tuple[Decimal, Decimal]) -> None:
    """Move each leg to its target (LONG ≥ 0, SHORT ≤ 0) as other proposals would, confirmed
    meanwhile: the leg closed, then opened to what is wanted (the other leg untouched)."""
    for ps, target in zip(("LONG", "SHORT"), legs, strict=True):
        if leg_qty(engine, ps) and leg_qty(engine, ps) != target:
            other = engine.propose_order(f"close {ps.lower()}", None, None, ADMIN)
            assert isinstance(other, Proposal) and engine.confirm(other.id, ADMIN).ok, other
        if target and leg_qty(engine, ps) != target:
            other = engine.propose_order(ps.lower(), None, abs(Decimal(target)), ADMIN)
            assert isinstance(other, Proposal) and engine.confirm(other.id, ADMIN).ok, other


def legs_now(engine: Engine) -> tuple[Decimal, Decimal]:
    return tuple(p.qty if (p := engine.position("BTCUSDT", ps)) is not None else Decimal(0)  # type: ignore[return-value]
                 for ps in ("LONG", "SHORT"))  # fmt: skip


def words(legs: tuple[Decimal, Decimal]) -> str:
    shown = [f"{ps} {abs(q):.3f}" for ps, q in zip(("LONG", "SHORT"), legs, strict=True) if q]
    return " · ".join(shown) or "flat"


@pytest.mark.parametrize(("intent", "basis", "press"), CASES, ids=str)
def test_confirm_derives_each_leg_from_the_legs_at_the_press(engine, intent, basis, press) -> None:
    hold(engine, basis)
    p = engine.propose_order(intent, None, None if intent.startswith("close") else Q, ADMIN)
    assert isinstance(p, Proposal), p
    # the message: both legs when proposed → once its orders fill
    before = words(basis)
    want_after = expected(intent, basis, basis)
    html = proposal_html(p, engine.symbol_filters("BTCUSDT"))  # as the chat shows it, in the symbol's formats
    assert f"Legs: {before} → {words(want_after)}" in html, html  # type: ignore[arg-type]
    hold(engine, press)
    outcome = engine.confirm(p.id, ADMIN)
    after = legs_now(engine)
    want = expected(intent, basis, press)
    stored = engine.proposal(p.id)
    if want == REFUSED:
        assert not outcome.ok and outcome_line(outcome).startswith("refused: the position changed since this proposal; propose again")
        assert stored.status == "failed" and after == press
    elif want == NOTHING:
        assert not outcome.ok and outcome_line(outcome) == "refused: nothing to close: the position is already flat"
        assert stored.status == "failed" and after == press
    else:
        assert outcome.ok, outcome_line(outcome)
        assert after == want, (outcome_line(outcome), after)
        assert stored.status == "filled"
        assert all(leg.position_side in ("LONG", "SHORT") and not leg.reduce_only for leg in stored.legs)
        assert outcome_line(outcome).endswith(f"legs: {words(press)} → {words(after)}"), outcome_line(outcome)
    assert not engine.confirm(p.id, ADMIN).ok  # decided once
    hold(engine, (Decimal(0), Decimal(0)))
