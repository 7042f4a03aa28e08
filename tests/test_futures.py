"""The futures model (trading/core/futures.py) through the trader and the backtest: isolated
liquidation at Binance's price in two bracket tiers, funding across 0, 1 and 3 funding
times, slippage on entries and stops, MAX_LEVERAGE, and freqtrade's year reproduced trade
for trade (its warm-up and its force exit at the end)."""

from __future__ import annotations

import csv
import re
from decimal import Decimal as D

import pytest

from tests.conftest import PERP_15M, shared_file
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.__main__ import main as cli
from trading.core.candles import Candle
from trading.core.futures import BTCUSDT_BRACKETS, FundingRates, liquidation_price
from trading.core.futures_model import FuturesModel
from trading.core.strategies import strategy_class
from trading.core.symbols import SymbolFilters
from trading.optimize import sweep
from trading.optimize.grid import parse_grid
from trading.optimize.report import summary_line

IV = 900_000  # 15m; a funding time every 32 candles
FEE = D("0.0005")
TICK = SymbolFilters.btcusdt().tick_size


def candle(i: int, o: float, h: float, low: float, c: float) -> Candle:
    return Candle("BTCUSDT", "15m", i * IV, i * IV + IV - 1, o, max(h, o, c), min(low, o, c), c, 1.0)


def entered(side: int, decide_at: int = 11) -> list[Candle]:
    """Flat 100,000 candles; a cross on candle `decide_at` (fast=2, slow=3) opens `side` at
    the next open, 100,000."""
    out = [candle(i, 100_000, 100_000, 100_000, 100_000) for i in range(decide_at)]
    move = 1_000 * side
    out.append(candle(decide_at, 100_000, 100_000 + move, 100_000, 100_000 + move))
    out.append(candle(decide_at + 1, 100_000, 100_000, 100_000, 100_000 + 2 * move))  # the entry, at its open
    return out


def run(candles, stake, leverage, exit_at_end=False, **model):
    values = {"fast": 2, "slow": 3, "stake_usdt": stake, "leverage": leverage}
    return run_backtest(candles, BacktestOptions(values=values, warmup=0, exit_at_end=exit_at_end,
                                                 model=FuturesModel(fee_rate=FEE, **model)))


@pytest.mark.parametrize(
    ("side", "stake", "leverage", "qty", "lp", "tier"),
    [
        # margin 100 on 5,000: tier 1 (MMR 0.4 %, cum 0): (100 + 0 − 5000) / (0.05 × 0.004 − 0.05) = 98,393.57…
        (1, 100, 50, D("0.05"), D("98393.6"), 1),
        # margin 3,000 on 375,000: tier 2 (MMR 0.5 %, cum 300): (3000 + 300 − 375000) / (3.75 × 0.005 − 3.75) = 99,618.09…
        (1, 3000, 125, D("3.75"), D("99618.1"), 2),
        # short: (100 + 0 + 5000) / (0.05 × 0.004 + 0.05) = 101,593.62…
        (-1, 100, 50, D("0.05"), D("101593.6"), 1),
        # short, tier 2: (3000 + 300 + 375000) / (3.75 × 1.005) = 100,378.10…
        (-1, 3000, 125, D("3.75"), D("100378.1"), 2),
    ],
)
def test_liquidation_at_binances_price_loses_the_margin_and_its_fees(side, stake, leverage, qty, lp, tier):
    margin = qty * D(100_000) / leverage
    assert liquidation_price(side, qty, D(100_000), margin, BTCUSDT_BRACKETS, TICK) == lp
    assert BTCUSDT_BRACKETS[tier - 1].floor <= qty * lp < BTCUSDT_BRACKETS[tier - 1].cap
    candles = entered(side)
    far = 100_000 - side * 3_000  # the adverse extreme goes well past the liquidation price
    candles.append(candle(len(candles), 100_000 + side * 2_000, 100_000 + side * 2_000, far, far))
    r = run(candles, stake, leverage)
    (trade,) = r.trades
    entry_fee = qty * D(100_000) * FEE
    assert (trade.exit_reason, trade.exit_price, trade.qty) == ("liquidation", lp, qty)
    gross = (lp - D(100_000)) * qty * side
    assert trade.fees == entry_fee + (margin + gross)  # the rest of the margin is the clearance fee
    # issue 26: in the run's words the clearance fee is an other charge, not a trading fee
    assert (r.stats.fees, r.stats.charges) == (entry_fee, margin + gross)
    assert [e.kind for e in r.trader.portfolio.ledger.entries if e.closed or e.charges][-2:] == ["fill", "charge"]
    assert trade.pnl == -(margin + entry_fee)
    assert r.trader.portfolio.balance == D(10_000) - margin - entry_fee
    assert r.stats.liquidations == 1


def test_a_liquidation_leaves_the_wallet_at_zero_never_below(tmp_path, capsys):
    """The issue's case: 125x on a 150 USDT wallet booked −470.33 and a wallet of −320.33."""
    env = tmp_path / ".env"
    env.write_text("MAX_LEVERAGE=125\nMAX_POSITION_NOTIONAL=20000\n")  # 100 × 125: the bot must allow it
    out = tmp_path / "t.csv"
    args = ["--csv", str(shared_file(PERP_15M)), "--param", "leverage=125", "--balance", "150",
            "--start", "2025-03-10 09:00", "--end", "2025-03-10 15:00", "--env-file", str(env), "--trades-out", str(out)]
    assert cli(args) == 0
    rows = list(csv.DictReader(out.open()))
    liquidated = [r for r in rows if r["exit_reason"] == "liquidation"]
    assert liquidated and all(D(r["pnl"]) >= -(D(100) + D(r["fees"])) for r in rows)
    text = capsys.readouterr().out
    assert re.search(r"^  liquidations +[1-9]", text, re.M), text
    final = D(text.split("final balance")[1].split("USDT")[0].replace(",", "").strip())
    assert D(0) <= final < D(150)


def test_max_leverage_is_one_line_and_exit_2(tmp_path, capsys):
    env = tmp_path / ".env"
    env.write_text("MAX_LEVERAGE=20\n")
    csvf = tmp_path / "c.csv"
    csvf.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(
        f"{i * IV},100,100,100,100,1\n" for i in range(50)))
    assert cli(["--csv", str(csvf), "--param", "leverage=125", "--env-file", str(env), "--warmup", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MAX_LEVERAGE 20" in err[0] and "leverage 125" in err[0]


def held(until: int) -> list[Candle]:
    """A long opened exactly at the funding time 08:00 (candle 32), held to candle `until`'s
    close (--exit-at-end); each candle's open differs, so the funding price is visibly the open."""
    out = entered(1, decide_at=31)
    out += [candle(i, 100_000 + i, 103_000, 99_000, 102_000) for i in range(33, until + 1)]
    return out


@pytest.mark.parametrize(("until", "times"), [(40, []), (70, [64]), (130, [64, 96, 128])])
def test_funding_on_a_position_held_across_0_1_and_3_funding_times(until, times):
    """Opened at 08:00's open exactly: not held at 08:00, so nothing then; each later
    funding time charges quantity × that candle's open × rate (a long pays a positive rate)."""
    rates = FundingRates.of([(64 * IV + 3, D("0.0001")), (96 * IV, D("-0.0003"))], constant=D("0.0002"))
    r = run(held(until), 100, 5, funding=rates, exit_at_end=True)
    (trade,) = r.trades
    assert trade.open_time == 32 * IV and trade.qty == D("0.005")  # 100 × 5 / 100,000
    rate = {64: D("0.0001"), 96: D("-0.0003"), 128: D("0.0002")}
    expected = sum((-D("0.005") * D(100_000 + i) * rate[i] for i in times), D(0))
    assert trade.funding == expected == r.stats.funding
    gross = (D(102_000) - D(100_000)) * D("0.005")
    assert trade.pnl == gross - trade.fees + expected and trade.exit_reason == "end"
    assert r.trader.portfolio.balance == D(10_000) + trade.pnl


def test_a_short_receives_a_positive_rate_and_a_position_closed_at_the_funding_open_pays():
    candles = entered(-1, decide_at=30)  # short opened at candle 31's open, 15 min before 08:00
    candles.append(candle(32, 99_000, 99_000, 98_000, 98_500))
    r = run(candles, 100, 5, funding=FundingRates({}, D("0.0001")), exit_at_end=True)
    (trade,) = r.trades
    assert trade.funding == D("0.005") * D(99_000) * D("0.0001")  # received at 08:00, at that open


def test_slippage_on_entries_stops_and_gaps():
    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5, "stop_loss_pct": 1}
    # long at 100,000 + 10 bps = 100,100.0; stop 1 % below the fill: 99,099.0
    stop_candle = candle(13, 100_500, 100_500, 98_000, 98_500)  # opens above the stop, reaches it
    gap_candle = candle(13, 98_500, 98_600, 98_000, 98_500)  # opens below the stop
    for c, trigger in ((stop_candle, D("99099.0")), (gap_candle, D("98500"))):
        r = run_backtest(entered(1) + [c], BacktestOptions(values=values, warmup=0,
                                                            model=FuturesModel(fee_rate=FEE, slippage_bps=D(10))))
        (trade,) = r.trades
        assert trade.entry_price == D("100100.0") and trade.exit_reason == "stop_loss"
        # the worse of the trigger and the open, then 10 bps lower (a sell), floored to the tick
        assert trade.exit_price == (trigger * D("0.999") / TICK).to_integral_value(rounding="ROUND_FLOOR") * TICK
    short = run(entered(-1), 100, 5, slippage_bps=D(25))
    assert short.trader.portfolio.positions["BTCUSDT"].entry == D("99750.0")  # a sell 25 bps lower
    (view,) = short.trader.snapshot().positions  # /status shows it: "· liq 119223.1"
    assert view.liq == liquidation_price(-1, D("0.005"), D("99750.0"), D("0.005") * D("99750.0") / 5,
                                         BTCUSDT_BRACKETS, TICK)


def test_freqtrades_year_trade_for_trade(tmp_path, capsys):
    """freqtrade 2026.9 on the shared perp year: 1,660 trades (830 long, 830 short, 410
    wins), −1,251.14 USDT; its first trade (the strategy decides after --warmup 50, not
    3 × slow) and its last (force-exited at the end) included."""
    out, env = tmp_path / "trades.csv", tmp_path / ".env"
    env.write_text("")
    args = ["--csv", str(shared_file(PERP_15M)), "--param", "fast=9", "--param", "slow=21", "--param",
            "stake_usdt=1000", "--param", "leverage=1", "--fee-pct", "0.05", "--warmup", "50", "--end",
            "2025-10-22 23:45", "--exit-at-end", "--trades-out", str(out), "--env-file", str(env)]
    assert cli(args) == 0
    text = capsys.readouterr().out
    assert "fewer than ema_cross's own 63: it decides from candle 51" in text
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1660
    assert sum(r["side"] == "long" for r in rows) == 830 == sum(r["side"] == "short" for r in rows)
    assert sum(D(r["pnl"]) > 0 for r in rows) == 410
    assert sum(D(r["pnl"]) for r in rows).quantize(D("0.01")) == D("-1251.14")
    first, last = rows[0], rows[-1]
    assert (first["side"], first["open_time_ms"], first["entry_price"]) == ("long", "1729713600000", "66465.3")
    assert D(first["pnl"]).quantize(D("0.01")) == D("10.02") and first["exit_reason"] == "signal"
    assert (last["side"], last["open_time_ms"], last["entry_price"]) == ("short", "1761155100000", "107824.5")
    # freqtrade exits at 107,532.1 (the next candle's open); the last candle's close is 107,532.0
    assert (last["exit_price"], last["exit_reason"]) == ("107532.0", "end")
    assert D(last["pnl"]).quantize(D("0.01")) == D("1.66")
    assert {r["exit_reason"] for r in rows[:-1]} == {"signal"} and {r["funding"] for r in rows} == {"0"}


def test_grid_cells_above_max_leverage_are_skipped_and_counted():
    candles = entered(1) + [candle(i, 100_000, 100_500, 99_500, 100_000) for i in range(13, 40)]
    grid = parse_grid(["leverage=5,10,20,50", "fast=2,5"], strategy_class("ema_cross").schema)
    result = sweep(candles, grid, BacktestOptions(values={"fast": 2, "slow": 6}, warmup=0,
                                          model=FuturesModel(max_leverage=10)), verify=0)
    assert sorted({c.params["leverage"] for c in result.cells if c.stats is not None}) == [5, 10]
    assert "4 skipped (leverage above MAX_LEVERAGE 10)" in summary_line(result)


def test_db_backtest_takes_funding_and_brackets_from_the_store(tmp_path, capsys):
    """--db: the funding history and leverage brackets fetched with the klines are used;
    --funding FILE comes first; a bad file is one line, exit 2."""
    from storage.db import open_db
    from storage.funding import FundingStore
    from storage.klines import KlineStore

    db_path = str(tmp_path / "bot.sqlite")
    db = open_db(db_path)
    candles = held(70)
    KlineStore(db).upsert_many(candles)
    store = FundingStore(db)
    store.upsert_rates("BTCUSDT", [(64 * IV + 1, "0.00050000", None)])
    # a one-bracket table (10 % maintenance): only to see that the stored one is read
    store.save_brackets("BTCUSDT", [{"bracket": 1, "initialLeverage": 20, "notionalCap": 10**9, "notionalFloor": 0,
                                     "maintMarginRatio": 0.1, "cum": 0.0}])
    env = tmp_path / ".env"
    env.write_text("")
    base = ["--db", db_path, "--param", "fast=2", "--param", "slow=3", "--param", "leverage=5", "--warmup", "0",
            "--exit-at-end", "--env-file", str(env), "--trades-out", str(tmp_path / "t.csv")]
    assert cli(base) == 0
    text = capsys.readouterr().out
    assert "model: funding the store (1 rates, fetched with the klines) · liquidation the store's leverage brackets" in text
    (row,) = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert D(row["funding"]) == -D("0.005") * D(100_064) * D("0.0005")
    rates = tmp_path / "rates.csv"
    rates.write_text("funding_time_ms,rate\n" + f"{64 * IV},-0.001\n")
    assert cli(base + ["--funding", str(rates)]) == 0
    (row,) = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert D(row["funding"]) == D("0.005") * D(100_064) * D("0.001")
    assert "model: funding " + str(rates) + " (1 rates)" in capsys.readouterr().out
    rates.write_text("funding_time_ms,rate\n1,abc\n")
    assert cli(base + ["--funding", str(rates)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2: expected funding_time_ms,rate" in err[0]


def test_pnl_shows_funding_apart_from_fees_and_a_replay_books_it_before_fills_at_the_same_time():
    from trading.core.pnl import pnl_summary
    from trading.core.portfolio import Fill, Portfolio

    fills = [Fill("tg-BTCUSDT-0-o", "BTCUSDT", "BUY", D("0.01"), D(100_000), D("0.5"), 0),
             Fill("tg-BTCUSDT-1-c", "BTCUSDT", "SELL", D("0.01"), D(101_000), D("0.505"), 8 * 3_600_000)]
    p = Portfolio.replay(D(1000), fills, [(8 * 3_600_000, "BTCUSDT", D("-0.1"))])  # paid at the closing open
    (t,) = p.trades
    assert (t.funding, t.pnl, p.balance) == (D("-0.1"), D(10) - D("1.005") - D("0.1"), D(1000) + t.pnl)
    s = pnl_summary("all", 9 * 3_600_000, p.ledger, D(0))
    assert (s.gross, s.fees, s.funding, s.realized) == (D(10), D("1.005"), D("-0.1"), t.pnl)


def test_live_a_confirmed_order_placed_after_the_funding_open_does_not_pay_it_a_close_does():
    """Live (paper) with confirmations, orders fill mid-candle: a position opened at 08:05
    was not held at 08:00; one closed at 16:05 was held at 16:00 and pays, once."""
    from trading.core.brokers import PaperBroker
    from trading.core.portfolio import Portfolio
    from trading.core.trader import Trader

    f = SymbolFilters.btcusdt()
    p = Portfolio(D(10_000))
    t = Trader(symbols=["BTCUSDT"], interval_ms=IV, strategy="none", values=None, filters={"BTCUSDT": f},
               portfolio=p, broker=PaperBroker({"BTCUSDT": f}, FEE, p),
               model=FuturesModel(funding=FundingRates({}, D("0.0001")), brackets={"BTCUSDT": BTCUSDT_BRACKETS}))
    bars = [candle(i, 100_000 + i, 100_100, 99_900, 100_000) for i in range(70)]
    for c in bars[:32]:
        t.on_candle(c, False)
    t.on_forming(bars[32])  # 08:00 is forming
    t.place(t.legs("BTCUSDT", 1, "/long", bars[32].open_time, qty=D("0.01")), D(100_050))
    for c in bars[32:64]:
        t.on_candle(c, False)
    assert p.funding == 0
    t.on_forming(bars[64])  # 16:00 is forming: the position was held at its open
    t.place(t.legs("BTCUSDT", 0, "/close", bars[64].open_time), D(100_070))
    t.on_candle(bars[64], False)
    (trade,) = p.trades
    assert trade.funding == p.funding == -D("0.01") * D(100_064) * D("0.0001")


# ------------------------------------------------------------------ paper Hedge Mode (issue 28)
def paper_hedge_trader(values: dict | None = None):  # noqa: ANN201
    from trading.core.brokers import PaperBroker
    from trading.core.portfolio import Portfolio
    from trading.core.trader import Trader

    f = SymbolFilters.btcusdt()
    p = Portfolio(D(10_000))
    t = Trader(symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross" if values else "none", values=values,
               filters={"BTCUSDT": f},
               portfolio=p, broker=PaperBroker({"BTCUSDT": f}, FEE, p), hedge=True,
               model=FuturesModel(funding=FundingRates({}, D("0.0001")), brackets={"BTCUSDT": BTCUSDT_BRACKETS}))  # fmt: skip
    return t, p


def test_paper_hedge_mode_charges_funding_on_each_legs_own_notional():
    """PAPER_HEDGE_MODE: each leg pays (or receives) on its own notional at the funding
    time, booked into that leg (a paper Hedge Mode book had no funding at all)."""
    t, p = paper_hedge_trader()
    bars = [candle(i, 100_000 + i, 100_100, 99_900, 100_000) for i in range(70)]
    for c in bars[:32]:
        t.on_candle(c, False)
    t.on_forming(bars[32])
    t.place(t.legs("BTCUSDT", 1, "/long", bars[32].open_time, qty=D("0.01")), D(100_050))
    t.place(t.legs("BTCUSDT", -1, "/short", bars[32].open_time, qty=D("0.03")), D(100_050))
    for c in bars[32:65]:
        t.on_candle(c, False)
    long_leg, short_leg = p.held("BTCUSDT", "LONG"), p.held("BTCUSDT", "SHORT")
    assert long_leg.funding == -D("0.01") * D(100_064) * D("0.0001")  # a long pays a positive rate
    assert short_leg.funding == D("0.03") * D(100_064) * D("0.0001")  # the short receives it
    assert p.funding == long_leg.funding + short_leg.funding
    legs = {ps: tot.funding for _, ps, tot in p.ledger.legs()}
    assert legs == {"LONG": long_leg.funding, "SHORT": short_leg.funding}


def test_paper_hedge_mode_liquidates_a_leg_on_its_own_isolated_margin():
    """Each leg has its own isolated margin and liquidation price (One-way's formula, leg by
    leg): a fall through the LONG leg's liquidation price closes that leg only, at that
    price, and what is left of its margin is the clearance fee; the SHORT leg stays."""
    t, p = paper_hedge_trader({"fast": 2, "slow": 3, "leverage": 50, "stake_usdt": 100})
    bars = [candle(i, 100_000, 100_000, 100_000, 100_000) for i in range(12)]
    for c in bars[:10]:
        t.on_candle(c, False)
    t.on_forming(bars[10])
    t.place(t.legs("BTCUSDT", 1, "/long", bars[10].open_time, qty=D("0.05")), D(100_000))
    t.place(t.legs("BTCUSDT", -1, "/short", bars[10].open_time, qty=D("0.05")), D(100_000))
    entry = p.held("BTCUSDT", "LONG").entry
    margin = D("0.05") * entry / 50
    lp = liquidation_price(1, D("0.05"), entry, margin, BTCUSDT_BRACKETS, TICK)
    book = t.books["BTCUSDT"]
    assert book.legs["LONG"].liq == lp and book.legs["LONG"].margin == margin
    assert book.legs["SHORT"].liq == liquidation_price(-1, D("0.05"), p.held("BTCUSDT", "SHORT").entry, margin,
                                                       BTCUSDT_BRACKETS, TICK)  # fmt: skip
    assert t.snapshot().positions[0].liq == lp  # /status shows each leg's liquidation price
    t.on_candle(bars[10], False)
    t.on_candle(candle(11, 99_500, 99_600, 97_000, 97_500), False)  # through the LONG leg's price only
    assert p.held("BTCUSDT", "LONG") is None and p.held("BTCUSDT", "SHORT").qty == D("-0.05")
    (trade,) = p.trades
    assert (trade.position_side, trade.exit_reason, trade.exit_price) == ("LONG", "liquidation", lp)
    gross = (lp - entry) * D("0.05")
    assert trade.fees - D("0.05") * entry * FEE == margin + gross  # the rest of its margin: the clearance fee
    assert book.legs["LONG"].liq is None and book.legs["SHORT"].liq is not None
