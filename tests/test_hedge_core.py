"""Hedge Mode in the core (issue 28): one model for both modes, a position named by
(symbol, side) in Hedge Mode; the legs' orders, exits, exchange fills, limits and the
strategy rule (trading/core/hedge.py), and the backtest running the same rule."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.texts import reason_line
from trading.backtest import BacktestOptions, run_backtest
from trading.core.brokers.base import OrderRefused, OrderRequest
from trading.core.candles import Candle
from trading.core.futures_model import FuturesModel
from trading.core.portfolio import Fill, Portfolio
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader

IV = 900_000
F = SymbolFilters.btcusdt()


class FillsAtPrice:
    """An exchange-like broker: every order fills at the price, on the leg it names."""

    mode = "demo"

    def __init__(self) -> None:
        self.sent: list[OrderRequest] = []

    def set_leverage(self, symbol: str, leverage: int) -> None:
        pass

    def execute(self, req: OrderRequest, price: D, time: int) -> Fill:
        self.sent.append(req)
        qty = req.qty if req.qty is not None else F.floor_qty(req.stake * req.leverage / price)
        return Fill(req.id, req.symbol, req.side, qty, price, D(0), time, req.reason,
                    (f"{req.symbol}:t{len(self.sent)}",), position_side=req.position_side)  # fmt: skip


class RecordedExits:
    def __init__(self) -> None:
        self.now: dict[str, tuple[int, D | None, D | None]] = {}

    def sync(self, symbol, side, opened, stop, take, *, check=False, position_side="BOTH", **_):  # noqa: ANN001, ANN003
        self.now[position_side] = (side, stop, take)
        return []


def hedge_trader(max_notional: D | None = None) -> tuple[Trader, FillsAtPrice, RecordedExits]:
    broker, exits = FillsAtPrice(), RecordedExits()
    t = Trader(
        symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross",
        values={"stop_loss_pct": 2, "take_profit_pct": 4, "stake_usdt": 100, "leverage": 5},
        filters={"BTCUSDT": F}, portfolio=Portfolio(D("10000")), broker=broker, mode="demo", on_exchange=True, exits=exits,
        model=FuturesModel(max_notional=max_notional), hedge=True,
    )  # fmt: skip
    return t, broker, exits


def test_a_position_is_its_symbol_in_one_way_and_its_leg_in_hedge_mode() -> None:
    fills = [
        Fill("a", "BTCUSDT", "BUY", D("0.010"), D("100000"), D("0.5"), 1, position_side="LONG"),
        Fill("b", "BTCUSDT", "SELL", D("0.020"), D("100000"), D("1"), 2, position_side="SHORT"),
        Fill("c", "BTCUSDT", "SELL", D("0.010"), D("101000"), D("0.5"), 3, position_side="LONG"),
    ]
    p = Portfolio.replay(D("10000"), fills)
    assert p.held("BTCUSDT", "LONG") is None and p.held("BTCUSDT") is None
    assert p.held("BTCUSDT", "SHORT").qty == D("-0.020")  # type: ignore[union-attr]
    (trade,) = p.trades
    assert (trade.side, trade.position_side, trade.pnl) == ("long", "LONG", D("10") - D("1"))  # the short's fee is its own
    assert p.exposure("BTCUSDT") == D("0.020")
    one_way = Portfolio.replay(D("10000"), [Fill(f.order_id, f.symbol, f.side, f.qty, f.price, f.fee, f.time) for f in fills])
    assert one_way.held("BTCUSDT").qty == D("-0.020") and len(one_way.trades) == 1  # type: ignore[union-attr]
    assert one_way.trades[0].side == "long" and one_way.trades[0].position_side == "BOTH"


def test_long_and_short_legs_their_exits_and_one_legs_stop() -> None:
    t, broker, exits = hedge_trader()
    t.books["BTCUSDT"].last_price = 100_000.0
    for want in (1, -1):
        legs = t.legs("BTCUSDT", want, "asked", 0, D("0.010"))
        assert t.place(legs, D("100000")).error is None
    assert [(r.side, r.position_side, r.reduce_only) for r in broker.sent] == [("BUY", "LONG", False), ("SELL", "SHORT", False)]
    assert (t.portfolio.held("BTCUSDT", "LONG").qty, t.portfolio.held("BTCUSDT", "SHORT").qty) == (D("0.010"), D("-0.010"))  # type: ignore[union-attr]
    assert exits.now == {"LONG": (1, D("98000.0"), D("104000.0")), "SHORT": (-1, D("102000.0"), D("96000.0"))}
    # a second /long adds to the LONG leg and closes nothing
    assert [(r.side, r.position_side, r.qty) for r in t.legs("BTCUSDT", 1, "asked", 0, D("0.005"))] == [("BUY", "LONG", D("0.005"))]
    # the LONG stop fills on the exchange: only the LONG leg closes, the SHORT leg keeps its exits
    stop = Fill("tgx-x-sl", "BTCUSDT", "SELL", D("0.010"), D("98000"), D(0), 5, "exchange", ("BTCUSDT:t99",),
                position_side="LONG")  # fmt: skip
    (closed,) = t.exchange_fills.book(stop, "stop_loss")  # type: ignore[misc]
    assert (closed.side, closed.position_side, closed.exit_reason) == ("long", "LONG", "stop_loss")
    assert t.portfolio.held("BTCUSDT", "LONG") is None and t.portfolio.held("BTCUSDT", "SHORT") is not None
    assert exits.now["LONG"] == (0, None, None) and exits.now["SHORT"] == (-1, D("102000.0"), D("96000.0"))
    assert t.exchange_fills.book(stop, "stop_loss") is None  # booked once
    # /close short: BUY SHORT the leg's quantity, never reduce-only
    (close,) = t.legs("BTCUSDT", 0, "asked", 0, only="SHORT")
    assert (close.side, close.position_side, close.qty, close.reduce_only, close.closes) == ("BUY", "SHORT", D("0.010"), False, True)
    assert t.legs("BTCUSDT", 0, "asked", 0, only="LONG") == []  # nothing on that leg
    t.place([close], D("99000"))
    assert t.portfolio.open_of("BTCUSDT") == [] and exits.now["SHORT"] == (0, None, None)


def test_the_strategy_rule_enters_a_flat_leg_and_closes_both() -> None:
    t, _, _ = hedge_trader()
    (long_leg,) = t.legs("BTCUSDT", 1, "ema", 0)  # stake-sized: the LONG leg is flat
    assert (long_leg.side, long_leg.position_side, long_leg.qty, long_leg.stake) == ("BUY", "LONG", None, D("100"))
    t.place([long_leg], D("100000"))
    assert t.legs("BTCUSDT", 1, "ema", 0) == []  # no add while the leg is open
    (short_leg,) = t.legs("BTCUSDT", -1, "ema", 0)  # entering short closes nothing in Hedge Mode
    t.place([short_leg], D("100000"))
    closes = t.legs("BTCUSDT", 0, "ema", 0)
    assert [(r.side, r.position_side) for r in closes] == [("SELL", "LONG"), ("BUY", "SHORT")]
    assert len({r.id for r in closes}) == 2  # two closes of one decision, two client ids


def test_max_position_notional_counts_both_legs() -> None:
    t, _, _ = hedge_trader(max_notional=D("1500"))
    t.place(t.legs("BTCUSDT", 1, "asked", 0, D("0.010")), D("100000"))  # 1,000 USDT
    placed = t.place(t.legs("BTCUSDT", -1, "asked", 0, D("0.006")), D("100000"))  # +600: 1,600 > 1,500
    assert placed.error is not None and "MAX_POSITION_NOTIONAL" in reason_line(placed.error)
    assert t.place(t.legs("BTCUSDT", -1, "asked", 0, D("0.005")), D("100000")).error is None  # 1,500: at the limit


def test_a_leg_levels_survive_a_restart_through_the_book_state() -> None:
    t, _, _ = hedge_trader()
    t.place(t.legs("BTCUSDT", -1, "asked", 0, D("0.010")), D("100000"))
    book = t.books["BTCUSDT"]
    state = book.state()
    book.legs["SHORT"].flat()
    book.restore(state)
    assert (book.legs["SHORT"].stop, book.legs["SHORT"].take) == (D("102000.0"), D("96000.0"))


def _walk(n: int, seed: int = 7) -> list[Candle]:
    import random

    rng, price, out = random.Random(seed), 100_000.0, []
    for i in range(n):
        o = price
        price = max(1_000.0, price * (1 + rng.gauss(0, 0.006)))
        hi, lo = max(o, price) * (1 + abs(rng.gauss(0, 0.002))), min(o, price) * (1 - abs(rng.gauss(0, 0.002)))
        out.append(Candle("BTCUSDT", "15m", i * IV, i * IV + IV - 1, round(o, 1), round(hi, 1), round(lo, 1),
                          round(price, 1), 1.0))  # fmt: skip
    return out


def test_the_backtest_runs_the_hedge_rule_and_holds_both_legs_at_times() -> None:
    candles = _walk(900)
    values = {"fast": 5, "slow": 13, "stake_usdt": 100, "leverage": 3, "stop_loss_pct": 3, "take_profit_pct": 3}
    opts = BacktestOptions(strategy="ema_cross", values=values, warmup=50, model=FuturesModel(funding=None),
                           hedge=True)  # fmt: skip
    hedged = run_backtest(candles, opts)
    trades = hedged.trades
    sides = {t.position_side for t in trades}
    assert sides == {"LONG", "SHORT"}
    both = [(a, b) for a in trades for b in trades
            if a.position_side == "LONG" and b.position_side == "SHORT"
            and a.open_time < b.close_time and b.open_time < a.close_time]  # fmt: skip
    assert both, "never held both legs"
    one_way = run_backtest(candles, BacktestOptions(strategy="ema_cross", values=values, warmup=50,
                                                    model=FuturesModel(funding=None)))  # fmt: skip
    assert {t.position_side for t in one_way.trades} == {"BOTH"}
    assert [(t.open_time, t.side) for t in one_way.trades] != [(t.open_time, t.side) for t in trades]


def test_a_refused_leg_is_said_and_nothing_is_booked() -> None:
    t, broker, _ = hedge_trader()

    def refuse(req: OrderRequest, price: D, time: int) -> Fill:
        raise OrderRefused("Binance: -2019 margin is insufficient", -2019)

    broker.execute = refuse  # type: ignore[method-assign]
    placed = t.place(t.legs("BTCUSDT", 1, "asked", 0, D("0.010")), D("100000"))
    assert placed.code == -2019 and t.portfolio.open_of("BTCUSDT") == []


@pytest.mark.parametrize("ps", ["LONG", "SHORT"])
def test_orders_round_trip_their_leg_through_the_journal_dict(ps: str) -> None:
    req = OrderRequest("id", "BTCUSDT", "BUY", "open", "r", 0, qty=D("0.01"), position_side=ps)
    assert OrderRequest.from_dict(req.to_dict()) == req


def test_a_dataframe_strategys_four_columns_act_on_the_legs_apart() -> None:
    from trading.core.strategies import CLOSE, LONG, SHORT
    from trading.core.strategies.frame import decide_legs

    assert decide_legs([1, 0, 0, 0], False, False) == [(LONG, "LONG", "enter_long")]
    assert decide_legs([0, 0, 1, 0], True, False) == [(SHORT, "SHORT", "enter_short")]  # the LONG leg stays
    assert decide_legs([0, 1, 0, 1], True, True) == [(CLOSE, "LONG", "exit_long"), (CLOSE, "SHORT", "exit_short")]
    assert decide_legs([0, 1, 1, 0], True, False) == [(CLOSE, "LONG", "exit_long"), (SHORT, "SHORT", "enter_short")]
    assert decide_legs([1, 0, 0, 0], True, False) == []  # no add to an open leg
    assert decide_legs([1, 0, 1, 0], False, False) == []  # both entries on one row: neither (as in One-way)
    candles = _walk(1500, seed=3)
    opts = BacktestOptions(strategy="rsi_reversion", values={"stake_usdt": 100, "leverage": 3, "low": 45, "mid": 50, "high": 55}, warmup=60,
                           model=FuturesModel(funding=None), hedge=True, exit_at_end=True)  # fmt: skip
    trades = run_backtest(candles, opts).trades
    assert {t.position_side for t in trades} == {"LONG", "SHORT"}
    assert any(t.exit_reason == "signal" for t in trades)  # closed by its own exit column, leg by leg
    assert any(a.position_side == "LONG" and b.position_side == "SHORT" and a.open_time < b.close_time
               and b.open_time < a.close_time for a in trades for b in trades)  # fmt: skip


class RecordedApprover:
    """The Confirmations seam (CONFIRM_ORDERS=on): what the trader proposes."""

    def __init__(self) -> None:
        self.proposed: list[dict] = []

    def propose(self, **kw) -> None:  # noqa: ANN003
        self.proposed.append(kw)

    def four_eyes_why(self, before, legs, price, apart=D(0)):  # noqa: ANN001, ANN201
        return None

    def expire_due(self, open_time: int) -> None:
        return None


def test_a_strategy_proposal_names_its_leg_and_both_legs_when_made() -> None:
    """The strategy's long decision with the SHORT leg held: its proposal's basis is the
    LONG leg it trades (was the net position, which a Hedge Mode book does not have) and it
    keeps both legs when made, so its message shows them before and after."""
    approver = RecordedApprover()
    t = Trader(
        symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross",
        values={"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5},
        filters={"BTCUSDT": F}, portfolio=Portfolio(D("10000")), broker=FillsAtPrice(), mode="demo",
        exits=RecordedExits(), hedge=True, approver=approver, confirm_all=True,
    )  # fmt: skip
    t.place(t.legs("BTCUSDT", -1, "asked", 0, D("0.010")), D("100000"))
    for i in range(12):  # flat, then an up-move: ema_cross decides long
        price = 100_000.0 if i < 11 else 101_000.0
        t.on_candle(Candle("BTCUSDT", "15m", i * IV, i * IV + IV - 1, 100_000.0, price, 100_000.0, price, 1.0), False)
    (p,) = approver.proposed
    assert [(r.side, r.position_side) for r in p["legs"]] == [("BUY", "LONG")]
    assert p["basis"] == 0 and p["legs_before"] == {"SHORT": D("-0.010")}
