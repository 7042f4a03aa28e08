"""Confirm acts on the position as it is at the press (issue 17).

A proposal stores its intent (long q / short q / close) and the position it was made on;
Confirm derives the orders from the position at the press, or refuses with "the position
changed since this proposal; propose again". Every pair flat/long/short (when proposed)
× long/short/close × the position at the press, through the engine's real confirm path
against the replay exchange; then the three cases seen in the chat, end to end through the
local Bot API.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

from bot.texts import outcome_line
from sim.binance import ReplayExchange, load_csv
from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier, observe, replay_settings
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen, press, proposal_message, started
from trading.backtest.data import load_csv_candles
from trading.live.proposals import Proposal
from trading.live.service import Engine

START = 600
Q = Decimal("0.002")
L, S = Decimal("0.010"), Decimal("-0.010")
REFUSED, NOTHING = "refused", "nothing"

# (intent, position when proposed, position at the press) → the position after Confirm,
# or REFUSED ("the position changed …") / NOTHING ("nothing to close"), as docs/orders.md says.
EXPECTED = {
    # long q: from flat or short it ends long q; an add (proposed long) needs that very long
    ("long", 0, 0): Q, ("long", 0, L): REFUSED, ("long", 0, S): Q, ("long", 0, 2 * L): REFUSED,
    ("long", L, 0): REFUSED, ("long", L, L): L + Q, ("long", L, S): REFUSED, ("long", L, 2 * L): REFUSED,
    ("long", S, 0): Q, ("long", S, L): REFUSED, ("long", S, S): Q, ("long", S, 2 * L): REFUSED,
    # short q: the mirror
    ("short", 0, 0): -Q, ("short", 0, L): -Q, ("short", 0, S): REFUSED, ("short", 0, 2 * L): -Q,
    ("short", L, 0): -Q, ("short", L, L): -Q, ("short", L, S): REFUSED, ("short", L, 2 * L): -Q,
    ("short", S, 0): REFUSED, ("short", S, L): REFUSED, ("short", S, S): S - Q, ("short", S, 2 * L): REFUSED,
    # close: whatever is held, reduce-only; flat at the press: nothing to close
    ("close", L, 0): NOTHING, ("close", L, L): 0, ("close", L, S): 0, ("close", L, 2 * L): 0,
    ("close", S, 0): NOTHING, ("close", S, L): 0, ("close", S, S): 0, ("close", S, 2 * L): 0,
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = shared_file(PERP_15M)
    db_path = str(tmp_path_factory.mktemp("intent") / "bot.sqlite")
    with ReplayExchange(load_csv(path), start_index=START, seconds_per_candle=0, updates_per_candle=1, paused=True) as ex:
        settings = replay_settings(ex, db_path, STRATEGY="none", PROPOSAL_TTL="600", MAX_DRIFT_PCT="100",
                                   MAX_POSITION_NOTIONAL="5000")  # hold() moves the book by orders
        engine = Engine(settings, RecordingNotifier())
        seen = observe(engine, Seen)
        try:
            assert engine.start()
            assert seen.wait(load_csv_candles(path)[START - 1].open_time)
            yield engine
        finally:
            engine.stop()


def book_qty(engine: Engine) -> Decimal:
    pos = engine.position("BTCUSDT")
    return pos.qty if pos is not None else Decimal(0)


def hold(engine: Engine, target: Decimal) -> None:
    """Move the book to `target` (signed) as another proposal would, confirmed meanwhile: a
    close, then the open of what is wanted."""
    if book_qty(engine) and book_qty(engine) != target:
        other = engine.propose_order("close", None, None, ADMIN)
        assert isinstance(other, Proposal) and engine.confirm(other.id, ADMIN).ok, other
    if target and book_qty(engine) != target:
        other = engine.propose_order("long" if target > 0 else "short", None, abs(Decimal(target)), ADMIN)
        assert isinstance(other, Proposal) and engine.confirm(other.id, ADMIN).ok, other
    assert book_qty(engine) == target


@pytest.mark.parametrize(("intent", "basis", "held"), sorted(EXPECTED, key=str))
def test_confirm_derives_the_orders_from_the_position_at_the_press(engine, intent, basis, held) -> None:
    hold(engine, basis)
    p = engine.propose_order(intent, None, None if intent == "close" else Q, ADMIN)
    assert isinstance(p, Proposal), p
    hold(engine, held)
    outcome = engine.confirm(p.id, ADMIN)
    after = engine.position("BTCUSDT").qty
    want = EXPECTED[(intent, basis, held)]
    stored = engine.proposal(p.id)
    if want == REFUSED:
        assert not outcome.ok and outcome_line(outcome).startswith("refused: the position changed since this proposal; propose again")
        assert stored.status == "failed" and after == held
    elif want == NOTHING:
        assert not outcome.ok and outcome_line(outcome) == "refused: nothing to close: the position is already flat"
        assert stored.status == "failed" and after == held
    else:
        assert outcome.ok, outcome_line(outcome)
        assert after == want, (outcome_line(outcome), after)
        assert stored.status == "filled"
        # The message states what was placed and the position before and after, truthfully.
        sides = re.findall(r"(BUY|SELL) ([\d.]+) BTCUSDT", outcome_line(outcome))
        assert sum((Decimal(q) if s == "BUY" else -Decimal(q)) for s, q in sides) == after - held
        assert [(leg.side, leg.qty) for leg in stored.legs] == [(s, Decimal(q)) for s, q in sides]
        assert outcome_line(outcome).endswith(f"position: {word(held)} → {word(after)}"), outcome_line(outcome)
    assert not engine.confirm(p.id, ADMIN).ok  # decided once
    hold(engine, 0)


def word(qty: Decimal) -> str:
    if not qty:
        return "flat"
    return f"{'long' if qty > 0 else 'short'} {abs(qty):.3f}"


# ------------------------------------------------------------------ the cases seen, end to end
def test_long_and_short_both_confirmed_end_short_not_flat(source, tmp_path) -> None:  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        long_msg = proposal_message(w, mark, 1)
        mark = w.api.mark()
        w.say("/short 0.01")
        short_msg = proposal_message(w, mark, 2)
        assert press(w, ADMIN, long_msg, 0).startswith("filled: BUY 0.010 BTCUSDT")
        answer = press(w, ADMIN, short_msg, 0)
        assert answer.startswith("filled: SELL 0.010 BTCUSDT") and "; SELL 0.010 BTCUSDT" in answer, answer
        assert w.engine.position("BTCUSDT").qty == Decimal("-0.010")
        edited = w.api.wait_for_text(GROUP, "position: long 0.010 → short 0.010", start=mark)
        assert edited is not None and "Orders: SELL all reduce-only → SELL 0.010" in edited["text"]
        w.reply("/status", "short 0.010 BTCUSDT")
    finally:
        w.close()


def test_a_close_confirmed_after_a_reversal_closes_the_short(source, tmp_path) -> None:  # noqa: F811
    w = started(source, tmp_path, PROPOSAL_TTL="600")
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY 0.010")
        mark = w.api.mark()
        w.say("/close")
        close_msg = proposal_message(w, mark, 2)
        mark = w.api.mark()
        w.say("/short 0.005")
        assert press(w, ADMIN, proposal_message(w, mark, 3), 0).startswith("filled: SELL 0.010")
        assert w.engine.position("BTCUSDT").qty == Decimal("-0.005")
        answer = press(w, ADMIN, close_msg, 0)
        assert answer.startswith("filled: BUY 0.005 BTCUSDT"), answer
        assert w.engine.side("BTCUSDT") == 0
        assert w.api.wait_for_text(GROUP, "position: short 0.005 → flat")
        # A second /long on top of the first, both proposed flat: the second is refused.
        mark = w.api.mark()
        w.say("/long 0.002")
        first = proposal_message(w, mark, 4)
        mark = w.api.mark()
        w.say("/long 0.002")
        second = proposal_message(w, mark, 5)
        assert press(w, ADMIN, first, 0).startswith("filled: BUY 0.002")
        assert press(w, ADMIN, second, 0).startswith("refused: the position changed since this proposal; propose again")
        assert w.engine.position("BTCUSDT").qty == Decimal("0.002")
        # Two adds proposed on that long: the second is refused, the sizes in BTCUSDT's decimals (the alert as the message)
        mark = w.api.mark()
        w.say("/long 0.008")
        first = proposal_message(w, mark, 6)
        mark = w.api.mark()
        w.say("/long 0.008")
        second = proposal_message(w, mark, 7)
        assert press(w, ADMIN, first, 0).startswith("filled: BUY 0.008")
        assert press(w, ADMIN, second, 0) == (
            "refused: the position changed since this proposal; propose again (it was long 0.002, now long 0.010)"
        )
        assert w.api.wait_for_text(GROUP, "(it was long 0.002, now long 0.010)")  # the message, edited
    finally:
        w.close()


# A strategy that shorts, flat, on the candle whose open time the file AT holds (the test writes it).
SHORTS_ONCE = """
import pathlib

from trading.core.strategies import SHORT, Decision, Schema
from trading.core.strategies.frame import MONEY

SCHEMA = Schema(MONEY)


class ShortsOnce:
    name = "shorts_once"
    schema = SCHEMA
    warmup = 0

    def __init__(self, values=None, warmup=None):
        self.values = SCHEMA.validate({}, values or {})

    def on_candle(self, candle, position):
        at = int(pathlib.Path(AT).read_text())
        return Decision(SHORT, "shorts once (test)") if candle.open_time == at and not position else None

    def indicators(self):
        return {}
"""


def test_a_strategy_proposal_confirmed_after_a_manual_trade_ends_on_its_side(source, tmp_path) -> None:  # noqa: F811
    from tests.test_frame_strategy import write_plugin

    # The strategy's own proposal (the trader's approver, on a closed candle), made flat: the
    # market paused, the strategy shorts on the next candle to close.
    at = tmp_path / "at.txt"
    spec = write_plugin(tmp_path, f"AT = {str(at)!r}\n" + SHORTS_ONCE, "shorts_once.py") + ":ShortsOnce"
    at.write_text("-1")
    w = started(source, tmp_path, PROPOSAL_TTL="600", STRATEGY=spec)
    try:
        engine = w.engine
        frozen = time.time()
        engine.set_clock(lambda: frozen)  # its candle's deadline does not pass while people press
        at.write_text(str(w.source[w.ex.current_index].open_time))
        mark = w.api.mark()
        assert w.ex.advance(1, timeout=15) and w.seen.wait(w.source[w.ex.current_index - 1].open_time)
        strategy_msg = proposal_message(w, mark, 1)
        assert "shorts once (test)" in strategy_msg["text"]
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 2), 0).startswith("filled: BUY 0.010")
        answer = press(w, ADMIN, strategy_msg, 0)
        m = re.match(r"filled: SELL 0\.010 BTCUSDT at [\d.]+ \(fee [\d.]+ USDT\); SELL (0\.\d{3}) BTCUSDT", answer)
        assert m, answer
        short = Decimal(m.group(1))
        assert short > 0 and w.engine.position("BTCUSDT").qty == -short, "short, not a smaller long"
        assert w.api.wait_for_text(GROUP, f"position: long 0.010 → short {short}")
    finally:
        w.close()
