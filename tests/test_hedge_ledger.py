"""Hedge Mode accounted per leg (issue 28): the one ledger (trading/core/ledger.py) carries
each entry's leg, so every view's leg lines are the ledger's to the cent and add up to its
totals; the equity curve marks both legs; funding is charged and booked per leg (Binance
charges each leg on its own notional, and its income history names no leg: account_sync's
funding_legs tells each row its leg); a restart replays each leg's funding into it."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from bot.chart_commands import report_caption
from bot.views import leg_lines, pnl_lines, wallet_html
from storage.trades import TradeJournal
from trading.charts.data import day_summary, ledger_of, utc_day
from trading.core.pnl import paper_wallet, pnl_summary
from trading.core.portfolio import Fill, Portfolio
from trading.exchange.account_sync import funding_legs

T = 1_699_920_000_000 + 3_600_000  # 01:00 UTC: the whole book inside one UTC day
H = 3_600_000


def legs_book() -> Portfolio:
    """LONG 0.010 @ 100 000 and SHORT 0.020 @ 101 000; funding on each leg's notional; the
    LONG leg closes at 102 000 (gross +20), the SHORT leg stays open."""
    p = Portfolio(D("10000"))
    p.apply(Fill("l1", "BTCUSDT", "BUY", D("0.010"), D("100000"), D("0.40"), T, position_side="LONG"))
    p.apply(Fill("s1", "BTCUSDT", "SELL", D("0.020"), D("101000"), D("0.80"), T + H, position_side="SHORT"))
    p.apply_funding("BTCUSDT", D("-0.10"), T + 2 * H, "LONG")  # a long pays a positive rate
    p.apply_funding("BTCUSDT", D("0.2020"), T + 2 * H, "SHORT")  # the short receives it, on its own notional
    p.apply(Fill("l2", "BTCUSDT", "SELL", D("0.010"), D("102000"), D("0.41"), T + 3 * H, position_side="LONG"))
    return p


def test_each_leg_is_the_ledgers_to_the_cent_and_the_legs_add_up() -> None:
    p = legs_book()
    legs = {ps: t for _, ps, t in p.ledger.legs()}
    assert set(legs) == {"LONG", "SHORT"}
    assert (legs["LONG"].gross, legs["LONG"].fees, legs["LONG"].funding) == (D("20"), D("0.81"), D("-0.10"))
    assert (legs["SHORT"].gross, legs["SHORT"].fees, legs["SHORT"].funding) == (D(0), D("0.80"), D("0.2020"))
    assert legs["LONG"].net == D("19.09") and legs["LONG"].trades == 1 and legs["SHORT"].trades == 0
    whole = p.ledger.between()
    assert sum((t.net for t in legs.values()), D(0)) == whole.net == p.balance - p.initial
    assert sum((t.funding for t in legs.values()), D(0)) == whole.funding == p.funding
    # the trade the LONG leg closed carries its own funding, the SHORT leg's trade in progress its own
    assert p.trades[-1].position_side == "LONG" and p.trades[-1].funding == D("-0.10")
    assert p.held("BTCUSDT", "SHORT").funding == D("0.2020")


def test_pnl_and_the_daily_report_say_each_leg_in_the_ledgers_words() -> None:
    p = legs_book()
    s = pnl_summary("all", T + 4 * H, p.ledger, D(0))
    lines = pnl_lines(s)
    assert "· BTCUSDT LONG leg: gross +20.00 · fees 0.81 · funding -0.10 · net +19.09 USDT" in lines
    assert "· BTCUSDT SHORT leg: gross +0.00 · fees 0.80 · funding +0.20 · net -0.60 USDT" in lines
    day = day_summary(p.ledger, utc_day(T))
    assert leg_lines(day) == [line for line in lines if line.startswith("· ")]
    report = SimpleNamespace(day=day.day, summary=day, uptime_seconds=3600.0, balance=p.balance, equity_now=p.balance,
                             reconnects=0)  # fmt: skip
    caption = report_caption("demo", report)
    assert all(line in caption for line in leg_lines(day)), caption  # the daily report says each leg too
    # a One-way book says no leg line: its words are unchanged
    one = Portfolio(D("10000"))
    one.apply(Fill("b", "BTCUSDT", "BUY", D("0.010"), D("100000"), D("0.40"), T))
    assert leg_lines(pnl_summary("all", T + H, one.ledger, D(0))) == []


def test_balance_shows_each_open_legs_margin_and_funding_summing_to_the_margin_used() -> None:
    p = Portfolio(D("10000"))
    p.apply(Fill("l1", "BTCUSDT", "BUY", D("0.010"), D("100000"), D(0), T, position_side="LONG"))
    p.apply(Fill("s1", "BTCUSDT", "SELL", D("0.020"), D("101000"), D(0), T, position_side="SHORT"))
    p.apply_funding("BTCUSDT", D("0.2020"), T + H, "SHORT")
    w = paper_wallet(p, {"BTCUSDT": D("100500")}, 5)
    assert [(g.position_side, g.margin, g.funding) for g in w.legs] == [("LONG", D(200), D(0)), ("SHORT", D(404), D("0.2020"))]
    assert sum((g.margin for g in w.legs), D(0)) == w.margin_used
    html = wallet_html(w)
    assert "· BTCUSDT LONG leg: margin 200.00 USDT\n" in html
    assert "· BTCUSDT SHORT leg: margin 404.00 USDT · funding +0.20 USDT" in html


def test_the_equity_curve_marks_both_legs() -> None:
    """Both legs open: equity = wallet + the LONG leg's and the SHORT leg's unrealized (the
    curve kept one position per symbol, the last booked leg's, before)."""
    p = legs_book()
    t = T + 2 * H + 1  # both legs open, funding booked
    mark = 100_500.0
    curve = p.ledger.marked([t], {t: {"BTCUSDT": mark}})
    wallet = float(p.ledger.wallet_at(t + 1))
    expected = wallet + (mark - 100_000) * 0.010 + (mark - 101_000) * -0.020
    assert abs(curve[0] - expected) < 1e-6, (curve[0], expected)


def test_a_restart_replays_each_legs_funding_into_it(tmp_path) -> None:
    """The journal keeps the leg of a funding payment (SQLite funding.position_side, v11):
    the book replayed from it has each leg's funding where it was booked."""
    p = legs_book()
    journal = TradeJournal(str(tmp_path / "bot.sqlite"), "demo")
    fills = [
        Fill("l1", "BTCUSDT", "BUY", D("0.010"), D("100000"), D("0.40"), T, position_side="LONG"),
        Fill("s1", "BTCUSDT", "SELL", D("0.020"), D("101000"), D("0.80"), T + H, position_side="SHORT"),
    ]
    journal.commit("BTCUSDT", {}, fills)
    journal.commit("BTCUSDT", {}, [], funding=[(T + 2 * H, "BTCUSDT", D("-0.10"), D("0.0001"), "LONG"),
                                              (T + 2 * H, "BTCUSDT", D("0.2020"), D("0.0001"), "SHORT")])  # fmt: skip
    journal.commit("BTCUSDT", {}, [Fill("l2", "BTCUSDT", "SELL", D("0.010"), D("102000"), D("0.41"), T + 3 * H,
                                        position_side="LONG")])  # fmt: skip
    paid = journal.funding()
    assert [(leg, amount) for _, _, amount, leg in paid] == [("LONG", D("-0.10")), ("SHORT", D("0.2020"))]
    again = ledger_of(p.initial, fills + [Fill("l2", "BTCUSDT", "SELL", D("0.010"), D("102000"), D("0.41"), T + 3 * H,
                                                position_side="LONG")], paid)  # fmt: skip
    assert again.legs() == p.ledger.legs()


def test_funding_rows_are_told_their_leg() -> None:
    no_rate = lambda: None  # noqa: E731
    # one row, one open leg: that leg (no request)
    asked: list[int] = []
    assert funding_legs([D("-0.1")], {"SHORT": D("0.01")}, lambda: asked.append(1)) == [("SHORT", D("-0.1"))]
    assert not asked
    # the settled rate's sign: a LONG row is −rate's sign (positive rate: the long pays)
    rows = [D("0.2"), D("-0.1")]
    assert funding_legs(rows, {"LONG": D("0.01"), "SHORT": D("0.01")}, lambda: D("0.0001")) == [
        ("LONG", D("-0.1")), ("SHORT", D("0.2"))]  # fmt: skip
    assert funding_legs(rows, {"LONG": D("0.01"), "SHORT": D("0.01")}, lambda: D("-0.0001")) == [
        ("LONG", D("0.2")), ("SHORT", D("-0.1"))]  # fmt: skip
    # no settled rate (a payment off the funding times): the larger row is the larger leg's
    assert funding_legs(rows, {"LONG": D("0.005"), "SHORT": D("0.010")}, no_rate) == [("LONG", D("-0.1")), ("SHORT", D("0.2"))]
    assert funding_legs(rows, {"LONG": D("0.020"), "SHORT": D("0.010")}, no_rate) == [("LONG", D("0.2")), ("SHORT", D("-0.1"))]
    # nothing tells (equal legs, no rate): the symbol's sum, exact, not split
    assert funding_legs(rows, {"LONG": D("0.01"), "SHORT": D("0.01")}, no_rate) == [("BOTH", D("0.1"))]
