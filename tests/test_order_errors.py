"""Each exchange error on a confirmed proposal: its own chat line, a stored refused order,
a failed proposal, and never a second POST of the order (demo mode, replay exchange)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.texts import outcome_line
from tests.helpers import leg_id
from tests.test_bot_e2e import ADMIN, GROUP, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import proposal_message, started

CASES = [
    (-2019, "margin is insufficient (-2019)"),
    (-1111, "more decimals than btcusdt allows (-1111)"),
    (-4164, "(-4164)"),
    (-1021, "(-1021)"),
    (-2022, "(-2022)"),
    (-4131, "outside btcusdt's percent_price band; try again when the market is calmer (-4131)"),
    (-4003, "the quantity must be above zero (-4003)"),
    (-1013, "btcusdt's trading rules (filter failure) (-1013)"),
    (-2020, "could not fill it (no liquidity within its limits) (-2020)"),
    (-4400, "restricted to reducing positions by binance's quantitative rules (-4400)"),
    (429, "rate-limited"),
    (418, "418"),
]


@pytest.fixture
def demo(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, TRADING_MODE="demo", BINANCE_API_KEY="replay-key", BINANCE_API_SECRET="replay-secret")
    yield w
    w.close()


def test_each_exchange_error_gives_its_line_a_stored_refusal_and_no_second_order(demo) -> None:
    w = demo
    lines: list[str] = []
    for n, (code, words) in enumerate(CASES, 1):
        proposal = w.engine.propose_order("long", None, Decimal("0.01"), ADMIN)
        assert proposal.id == n
        w.ex.faults.order_errors(code, retry_after=2 if code in (429, 418) else None)
        outcome = w.engine.confirm(proposal.id, ADMIN)
        assert not outcome.ok
        assert words in outcome_line(outcome).lower(), (code, outcome_line(outcome))
        lines.append(outcome_line(outcome))
        assert w.engine.proposal(proposal.id).status == "failed"
        assert w.ex.stats.order_posts.get(leg_id(w.db_path, n)) == 1, (code, w.ex.stats.order_posts)
        stored = {o["client_order_id"]: o for o in w.engine.stored_orders()}
        assert stored[leg_id(w.db_path, n)]["status"] == "REJECTED" and stored[leg_id(w.db_path, n)]["error"]
    assert w.ex.orders() == []  # nothing reached the book
    assert w.engine.side("BTCUSDT") == 0


def test_an_unclear_answer_is_settled_by_the_client_id_not_by_sending_again(demo) -> None:
    w = demo
    proposal = w.engine.propose_order("long", None, Decimal("0.01"), ADMIN)
    w.ex.faults.order_errors(503, placed=True)  # Binance: "execution status unknown"
    outcome = w.engine.confirm(proposal.id, ADMIN)
    assert outcome.ok and outcome_line(outcome).startswith("filled: BUY 0.010 BTCUSDT"), outcome_line(outcome)
    assert w.ex.stats.order_posts == {leg_id(w.db_path, 1): 1}
    assert len(w.ex.orders()) == 1


def test_the_chat_shows_the_refusal_in_the_proposal_message(demo) -> None:
    w = demo
    mark = w.api.mark()
    w.say("/long 0.01")
    msg = proposal_message(w, mark, 1)
    w.ex.faults.order_errors(-2019)
    data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    mark = w.api.mark()
    w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
    edited = w.api.wait_for(lambda c: c.method == "editMessageText" and c.ok, start=mark)
    assert edited is not None and "failed" in edited.params["text"] and "-2019" in edited.params["text"]
