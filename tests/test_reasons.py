"""Refusals are typed reasons (core/reasons.py) worded by bot/texts.reason_line (issue 27): the
words are the ones the core used to write, byte for byte; a reason stored as JSON, or as the
sentence a row held before, reads back to the same line; an unknown outcome is said once."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from bot.texts import answer_line, reason_line, text
from tests.test_trader import F, make_trader
from trading.core.brokers.base import OrderRefused, OrderRequest, OrderUnknown, Placement
from trading.core.events import AccountModeSwitched, OrderRefusedEvent
from trading.core.limits import check_limits
from trading.core.portfolio import Fill, Portfolio
from trading.core.position_mode import PositionMode
from trading.core.reasons import Reason, What
from trading.core.symbols import FilterError
from trading.live.answers import Answer, Kind, Placed

CHANGED = "the position changed since this proposal; propose again"


def _req(**kw: object) -> OrderRequest:
    base = {"qty": D("0.01"), "stake": D(0), "leverage": 1}
    base.update(kw)
    return OrderRequest("tg-BTCUSDT-1-o", "BTCUSDT", "BUY", "open", "/long", 1, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reason", "line"),
    [
        (Reason(What.MAX_LEVERAGE, "BTCUSDT", numbers={"leverage": D(20), "limit": D(10)}),
         "leverage 20x is above MAX_LEVERAGE 10x"),
        (Reason(What.MAX_NOTIONAL, "BTCUSDT", numbers={"notional": D("1234.5678"), "limit": D("1000.0")}),
         "position would be 1234.57 USDT, above MAX_POSITION_NOTIONAL 1000 USDT"),
        (Reason(What.BELOW_MIN_QTY, "BTCUSDT", numbers={"qty": D("0.0001"), "min": D("0.001")}),
         "quantity 0.0001 is below BTCUSDT's minimum 0.001 (LOT_SIZE)"),
        (Reason(What.ABOVE_MAX_QTY, "BTCUSDT", numbers={"qty": D("200"), "max": D("120")}),
         "quantity 200 is above BTCUSDT's maximum 120 (LOT_SIZE)"),
        (Reason(What.BELOW_MIN_NOTIONAL, "BTCUSDT", numbers={"notional": D("68.915"), "min": D("100")}),
         "order value 68.92 USDT is below BTCUSDT's minimum 100 USDT (MIN_NOTIONAL)"),
        (Reason(What.RULES_UNKNOWN, "ETHUSDT"), "ETHUSDT's trading rules are unknown (exchangeInfo not reachable)"),
        (Reason(What.PAPER_MARGIN, "BTCUSDT", numbers={"needed": D("500.0"), "free": D("12.345")}),
         "insufficient margin: 500 USDT needed, 12.34 USDT free in the paper wallet"),
        (Reason(What.FLAT, "BTCUSDT"), "nothing to close: the position is already flat"),
        (Reason(What.CHANGED, "BTCUSDT"), CHANGED),
        (Reason(What.CHANGED, "BTCUSDT", numbers={"was": D("0.01"), "now": D("-0.02")}),
         f"{CHANGED} (it was long 0.01, now short 0.02)"),
        (Reason(What.CHANGED, "BTCUSDT", numbers={"was": D("0"), "now": D("0.010")}), f"{CHANGED} (it was flat, now long 0.01)"),
        (Reason(What.CHANGED, "BTCUSDT", "LONG", {"was": D("0.01"), "now": D("0.030")}),
         f"{CHANGED} (its LONG leg was 0.01, now 0.03)"),
        (Reason(What.MODE_SWITCHED, text="hedge"),
         "the account was switched to Hedge Mode (LONG and SHORT legs) while the bot trades One-way Mode: no order is "
         "sent (Binance would refuse them); /stop and /start to trade the account's mode"),
        (Reason(What.UNLISTED, text="https://fapi.binance.com", names=("BTCUSDX", "FOOUSDT")),
         "SYMBOLS: BTCUSDX, FOOUSDT not listed as a trading USDⓈ-M contract on https://fapi.binance.com"),
        (Reason.said("Binance refused: margin is insufficient (-2019)"), "Binance refused: margin is insufficient (-2019)"),
    ],
)  # fmt: skip
def test_each_reason_has_the_words_the_core_used_to_write(reason: Reason, line: str) -> None:
    assert reason_line(reason) == line
    back = Reason.of(reason.to_json())
    assert back == reason and reason_line(back) == line  # stored with a proposal or an answer: the same line


def test_a_one_way_change_shows_sizes_in_the_symbols_own_format() -> None:
    r = Reason(What.CHANGED, "BTCUSDT", numbers={"was": D("0.01"), "now": D("0.02")})
    assert reason_line(r, F) == f"{CHANGED} (it was long 0.010, now long 0.020)"


def test_a_sentence_stored_before_reasons_were_typed_reads_back_as_it_was() -> None:
    old = "quantity 0.0001 is below BTCUSDT's minimum 0.001 (LOT_SIZE)"
    assert Reason.of(old) == Reason.said(old) and reason_line(Reason.of(old)) == old
    assert Reason.of('{"what": "no such rule"}') == Reason.said('{"what": "no such rule"}')
    # a proposal's final state as a row of before: the placement's error a string, the refusal quoted
    row = json.dumps({"kind": "placed", "symbol": "BTCUSDT", "placed": {"fills": [], "closed": [], "error": old, "code": None}})
    assert answer_line(Answer.from_json(row)) == f"failed: {old}"
    row = json.dumps({"kind": "leg_refused", "quoted": "nothing to close: the position is already flat"})
    assert answer_line(Answer.from_json(row)) == "refused: nothing to close: the position is already flat"


def test_a_typed_answer_stores_its_reason_and_reads_back_to_the_same_line() -> None:
    why = Reason(What.MAX_NOTIONAL, "BTCUSDT", numbers={"notional": D("1500"), "limit": D("1000")})
    for a in (Answer(Kind.NOT_PROPOSED, why=why), Answer(Kind.LEG_REFUSED, why=Reason(What.FLAT, "BTCUSDT")),
              Answer(Kind.PLACED, symbol="BTCUSDT", placed=Placed(Placement([], [], why, None)))):  # fmt: skip
        back = Answer.from_json(a.to_json())
        assert back == a and answer_line(back) == answer_line(a)
    assert answer_line(Answer(Kind.NOT_PROPOSED, why=why)) == (
        "Not proposed: position would be 1500.00 USDT, above MAX_POSITION_NOTIONAL 1000 USDT"
    )


def test_the_rules_refuse_with_typed_reasons() -> None:
    with pytest.raises(FilterError) as filt:
        F.check_order(D("0.0001"), D("100000"))
    assert filt.value.reason == Reason(What.BELOW_MIN_QTY, "BTCUSDT", numbers={"qty": D("0.0001"), "min": F.market_min_qty})
    with pytest.raises(OrderRefused) as lim:
        check_limits(_req(qty=D("1")), D("100000"), Portfolio(D(10_000)), F, 10, D("5000"))
    assert lim.value.reason.what is What.MAX_NOTIONAL and str(lim.value) == "max_notional: BTCUSDT notional=100000 limit=5000"
    assert OrderRefused("as Binance said").reason == Reason.said("as Binance said")


def test_a_paper_refusal_is_told_in_the_old_words() -> None:
    t = make_trader({"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 1}, balance="50")
    req = _req(qty=None, stake=D(100), leverage=1)
    placed = t.place([req], D("100000"))
    assert placed.error == Reason(What.PAPER_MARGIN, "BTCUSDT", numbers={"needed": D(100), "free": D(50)})
    assert text(OrderRefusedEvent("paper", req, placed.error)) == (
        "paper order refused: BUY BTCUSDT (open): insufficient margin: 100 USDT needed, 50.00 USDT free in the paper wallet"
    )


class _Unknown:
    """An exchange broker whose answer never came (exchange/broker.py raises this)."""

    mode = "live"

    def execute(self, request: OrderRequest, price: D, time: int) -> Fill:
        raise OrderUnknown(f"outcome unknown: BUY BTCUSDT sent as {request.id} (timeout); check the position before anything else")

    def set_leverage(self, symbol: str, leverage: int) -> None:
        pass


def test_an_unknown_outcome_is_said_once_not_twice() -> None:
    t = make_trader()
    t.broker = _Unknown()  # type: ignore[assignment]
    t.desk.broker = t.broker  # type: ignore[attr-defined]
    placed = t.place([_req()], D("100000"))
    line = answer_line(Answer(Kind.PLACED, symbol="BTCUSDT", placed=Placed(placed)))
    assert placed.unknown and line == (
        "failed: outcome unknown: BUY BTCUSDT sent as tg-BTCUSDT-1-o (timeout); check the position before anything else"
    )


def test_the_account_back_in_the_books_mode_is_news_not_a_refusal() -> None:
    mode = PositionMode(hedge=False, known=True)
    switched = mode.follow(True, running=True, holding=True)
    assert switched == AccountModeSwitched(True) and mode.mismatch == Reason(What.MODE_SWITCHED, text="hedge")
    assert mode.follow(True, running=True, holding=True) is None  # said once
    again = mode.follow(False, running=False, holding=True)  # /stop, switched back in Binance's app, /start
    assert again == AccountModeSwitched(False, again=True) and mode.mismatch is None
    assert text(again) == "the account is in One-way Mode again, as the bot's book: orders are sent again"


def test_the_database_guards_halt_is_a_reason_worded_as_its_notice() -> None:
    from trading.core.events import StorageFault

    halt = StorageFault("changed", "/data/bot.db", "deleted")
    assert reason_line(halt.reason) == text(halt) and Reason.of(halt.reason.to_json()) == halt.reason
    # an answer stored while the halt was a field of its own reads back to the same line
    row = json.dumps({"kind": "not_placed", "halt": {"what": "changed", "db_path": "/data/bot.db", "detail": "deleted"}})
    assert answer_line(Answer.from_json(row)) == f"Not placed: {text(halt)}"
