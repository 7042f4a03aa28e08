"""The grid's fast path against the shared backtest: same trades, money to the last decimal.

Random cells over real candles, with and without stop-loss/take-profit, with a start date,
small wallets and leverages; cells the fast path refuses (RSI filter, orders the broker
would refuse) must come from the shared backtest and say why. Plus the grid syntax, the
CLI and the pictures.
"""

from __future__ import annotations

import io
import os
import random
from decimal import Decimal

import pytest
from PIL import Image

from tests.conftest import PERP_15M, shared_file
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.__main__ import main as cli
from trading.backtest.data import load_csv_candles
from trading.backtest.options import DEFAULT_OPTIONS
from trading.core.futures import FundingRates
from trading.core.futures_model import FuturesModel
from trading.core.strategies import strategy_class
from trading.optimize import GridError, compiled, sweep
from trading.optimize.grid import parse_grid
from trading.optimize.report import heatmap_png

SCHEMA = strategy_class("ema_cross").schema
FIELDS = ("trades", "wins", "net_pnl", "fees", "final_balance", "max_drawdown", "max_drawdown_pct",
          "open_pnl", "exposure_pct", "buy_hold_pct", "return_pct", "candles", "funding", "liquidations",
          "charges", "gross", "trips")
# Both engines of the fast path: the compiled simulator (numba, kernel.py) and the numpy
# arrays it falls back to when numba is not installed (fast.py).
ENGINES = [pytest.param("numba", marks=pytest.mark.skipif(not compiled.available(), reason="numba not installed")),
           "numpy"]


@pytest.fixture(scope="module")
def candles():
    return load_csv_candles(shared_file(PERP_15M))


def same(a, b) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in FIELDS)


def check_random_cells(candles, result, n, rng, options=DEFAULT_OPTIONS) -> int:
    cells = [c for c in result.cells if c.stats is not None]
    for cell in rng.sample(cells, min(n, len(cells))):
        shared = run_backtest(candles, options.with_values(cell.values)).stats
        assert same(cell.stats, shared), (cell.params, cell.stats, shared)
    return len(cells)


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_path_equals_the_shared_backtest_on_random_cells(candles, engine):
    rng = random.Random(14)
    data = candles[:12_000]
    grid = parse_grid(["fast=3..20", "slow=21..60:3"], SCHEMA)
    result = sweep(data, grid, verify=2, workers=1, engine=engine)
    assert result.engine == engine
    assert all(c.fast for c in result.cells if c.stats is not None)
    assert check_random_cells(data, result, 6, rng) == grid.size


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_path_with_stops_takes_leverage_and_a_start_date(candles, engine):
    rng = random.Random(7)
    data = candles[5_000:17_000]
    grid = parse_grid(["fast=5,9,14", "slow=21,34", "stop_loss_pct=0..2:0.4", "take_profit_pct=0,0.6,1.3,3"], SCHEMA)
    options = BacktestOptions(values={"leverage": 20, "stake_usdt": 75.5}, start_ms=data[3_000].open_time, warmup=300,
                              balance=Decimal("2500"), model=FuturesModel(fee_rate=Decimal("0.0004")))
    result = sweep(data, grid, options, verify=1, engine=engine)
    fast_cells = [c for c in result.cells if c.stats is not None and c.fast]
    liquidated = [c for c in result.cells if c.stats.liquidations]
    assert liquidated and len(liquidated) <= 6  # at 20x a 4.6 % move liquidates: the cells without a stop
    if engine == "numpy":  # fast.py does not model a liquidation: those cells go through the shared backtest
        assert {c.note for c in result.cells if not c.fast} == {"a position would be liquidated"}
        assert not any(c.fast for c in liquidated)
    else:  # the compiled simulator liquidates as PaperMargin does, the clearance fee an other charge
        assert len(fast_cells) == grid.size
        for c in liquidated:
            assert c.stats.charges > 0
            assert same(c.stats, run_backtest(data, options.with_values(c.values)).stats), c.params
    assert any(c.stats.trades and c.params["stop_loss_pct"] for c in fast_cells)
    check_random_cells(data, result, 8, rng, options)


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_path_models_funding_slippage_the_exit_at_end_and_a_short_warm_up(candles, engine):
    rng = random.Random(11)
    data = candles[2_000:12_000]
    rates = FundingRates.of([(t, Decimal(rng.randint(-30_000, 90_000)).scaleb(-9))
                             for t in range(data[0].open_time - data[0].open_time % 28_800_000, data[-1].open_time,
                                            28_800_000)])
    grid = parse_grid(["fast=5,9,14", "slow=21,34", "stop_loss_pct=0,0.7", "take_profit_pct=0,1.5"], SCHEMA)
    options = BacktestOptions(values={"leverage": 5, "stake_usdt": 200}, warmup=50, balance=Decimal("3000"),
                              exit_at_end=True, strategy_warmup=50,
                              model=FuturesModel(fee_rate=Decimal("0.0004"), funding=rates, slippage_bps=Decimal("2.5")))
    result = sweep(data, grid, options, verify=2, engine=engine)
    assert all(c.fast for c in result.cells), {c.note for c in result.cells}
    assert all(c.stats.funding and c.stats.open_pnl == 0 for c in result.cells)
    check_random_cells(data, result, 6, rng, options)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_the_parallel_sweep_over_a_year_verifies_its_best_cells(candles, engine):
    grid = parse_grid(["fast=5..20", "slow=30..60:2"], SCHEMA)  # enough work for the pool
    result = sweep(candles, grid, verify=3, workers=2, engine=engine)
    assert result.workers == 2 and len(result.verified) == 3
    assert result.parallel == ("threads" if engine == "numba" else "processes")
    best = result.ranked[0]
    assert same(best.stats, run_backtest(candles, BacktestOptions(values=best.values)).stats)


def test_unsupported_cells_run_the_shared_backtest_and_say_why(candles):
    data = candles[:3_000]
    rsi = sweep(data, parse_grid(["fast=8,12"], SCHEMA), BacktestOptions(values={"rsi_period": 14}), verify=0,
                engine="numpy")
    assert {c.note for c in rsi.cells} == {"the RSI filter is on"} and not any(c.fast for c in rsi.cells)
    # 1 USDT × 1x is below MIN_NOTIONAL: every open is refused; only the trader knows that wording
    tiny = sweep(data, parse_grid(["fast=8,12"], SCHEMA), BacktestOptions(values={"stake_usdt": 1, "leverage": 1}),
                 verify=0, engine="numpy")
    assert all(not c.fast and "refuse" in c.note for c in tiny.cells)
    for c in tiny.cells:
        assert same(c.stats, run_backtest(data, BacktestOptions(values=c.values)).stats) and c.stats.trades == 0


@pytest.mark.skipif(not compiled.available(), reason="numba not installed")
def test_the_compiled_simulator_models_the_rsi_filter_refused_orders_and_liquidations(candles):
    """What sends a cell of the numpy path to the shared backtest, the compiled one models:
    the RSI filter, an order the broker refuses (MIN_NOTIONAL, then a wallet too small for
    the stake after losses), and liquidations at up to 125x with their clearance fees."""
    rng = random.Random(3)
    data = candles[:9_000]
    rsi = sweep(data, parse_grid(["fast=8,12", "rsi_period=0,7,14", "rsi_overbought=55,70"], SCHEMA),
                BacktestOptions(values={"rsi_oversold": 45}), verify=0, engine="numba")
    assert all(c.fast for c in rsi.cells) and len({c.stats.trades for c in rsi.cells}) > 3
    check_random_cells(data, rsi, 5, rng)
    tiny = sweep(data, parse_grid(["fast=8,12"], SCHEMA), BacktestOptions(values={"stake_usdt": 1, "leverage": 1}),
                 verify=0, engine="numba")
    assert all(c.fast and c.stats.trades == 0 for c in tiny.cells)
    check_random_cells(data, tiny, 2, rng)
    options = BacktestOptions(values={"stake_usdt": 300}, balance=Decimal("700"))
    wild = sweep(data, parse_grid(["fast=4,9", "slow=21,40", "leverage=25,60,125", "stop_loss_pct=0,0.9"], SCHEMA),
                 options, verify=0, engine="numba")
    assert all(c.fast for c in wild.cells), {c.note for c in wild.cells}
    liquidated = [c for c in wild.cells if c.stats.liquidations]
    assert len(liquidated) >= 6 and any(c.stats.liquidations > 1 for c in liquidated)
    for c in rng.sample(liquidated, 4):
        assert same(c.stats, run_backtest(data, options.with_values(c.values)).stats), c.params


@pytest.mark.parametrize("engine", ENGINES)
def test_protections_hedge_mode_and_trailing_stops_are_the_shared_backtests_and_said(candles, engine):
    """Neither engine models the account protections, Hedge Mode's two legs or a trailing
    stop's walk along the candle: their cells
    run the shared backtest and the sweep says why (before, a Hedge Mode grid took the fast
    path and showed one-way trades)."""
    from trading.core.protections import ProtectionRules

    data = candles[:3_000]
    grid = parse_grid(["fast=8,12"], SCHEMA)
    guarded = BacktestOptions(protections=ProtectionRules(cooldown_candles=4))
    hedged = BacktestOptions(hedge=True, values={"stop_loss_pct": 0.5})
    trailing = BacktestOptions(values={"trailing_stop_pct": 0.8})
    for options, why in ((guarded, "the account protections are on"), (hedged, "Hedge Mode"),
                         (trailing, "the trailing stop is on")):
        result = sweep(data, grid, options, verify=0, engine=engine)
        assert result.fallbacks == {why: 2}
        for c in result.cells:
            assert same(c.stats, run_backtest(data, options.with_values(c.values)).stats)


def test_without_numba_the_grid_takes_the_numpy_path(tmp_path):
    """numba is optional: when it cannot be imported the sweep runs fast.py's numpy path."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['numba'] = None\n"
            "from tests.conftest import PERP_15M, shared_file\n"
            "from trading.backtest.data import load_csv_candles\n"
            "from trading.optimize import compiled, sweep\n"
            "from trading.optimize.grid import parse_grid\n"
            "from trading.core.strategies import strategy_class\n"
            "assert not compiled.available()\n"
            "r = sweep(load_csv_candles(shared_file(PERP_15M))[:3000], "
            "parse_grid(['fast=8,12'], strategy_class('ema_cross').schema), verify=2)\n"
            "assert r.engine == 'numpy' and all(c.fast for c in r.cells) and len(r.verified) == 2\n"
            "print('numpy path ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0 and "numpy path ok" in out.stdout, out.stderr[-2000:]


def test_metric_direction_and_rule_breaking_cells(candles):
    result = sweep(candles[:4_000], parse_grid(["fast=10..30:10", "slow=20,40"], SCHEMA),
                   metric="max_drawdown", verify=0)
    skipped = [c.params for c in result.cells if c.values is None]
    assert skipped == [{"fast": 20, "slow": 20}, {"fast": 30, "slow": 20}]
    dds = [c.stats.max_drawdown for c in result.ranked]
    assert dds == sorted(dds)


@pytest.mark.parametrize(
    "words, message",
    [
        (["fast=5.."], "is not a number"),
        (["fast=9..5"], "ends before it starts"),
        (["fast=5..9:0"], "step must be above 0"),
        (["fast=5:2"], "a step needs a range"),
        (["fast=5..9:0.5"], "is not a whole number"),
        (["speed=1..3"], "unknown parameter 'speed'"),
        (["fast=1..3"], "fast: must be from 2 to 200"),
        (["fast"], "expected name=a..b"),
        (["fast=5,5"], "repeated"),
        (["fast=5..9", "fast=6"], "given twice"),
    ],
)
def test_grid_syntax_errors_are_one_line(words, message):
    with pytest.raises(GridError, match=message.replace("(", r"\(")):
        parse_grid(words, SCHEMA)


def test_grid_values_are_stepped_exactly():
    g = parse_grid(["stop_loss_pct=0..3:0.1", "fast=5..7", "slow=20,30"], SCHEMA)
    assert g.axes[0][-1] == 3.0 and len(g.axes[0]) == 31 and g.axes[1] == (5, 6, 7) and g.size == 186
    with pytest.raises(GridError, match="at most 100"):
        parse_grid(["fast=2..200"], SCHEMA, max_cells=100)


def test_cli_grid_prints_best_cells_and_writes_the_heatmap(tmp_path, capsys, perp_csv):
    out = tmp_path / "h.png"
    code = cli(["--csv", str(perp_csv), "--env-file", os.devnull, "--end", "2025-01-15",
                "--grid", "fast=6..12:2", "--grid", "slow=20..40:5", "--top", "4", "--heatmap", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "1✓" in text and "fast=" in text and "net PnL USDT" in text and "win %" in text and "max DD USDT" in text
    assert text.count("✓") >= 3 and out.stat().st_size > 5_000
    assert cli(["--csv", str(perp_csv), "--grid", "fast=5..", "--env-file", os.devnull]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("backtest: grid 'fast=5..'")


@pytest.mark.parametrize("words", [["fast=6..9"], ["fast=6..9", "slow=20..30:5"],
                                   ["fast=6..9", "slow=20..30:5", "take_profit_pct=0,1"]])
def test_heatmaps_for_one_two_and_three_parameters(candles, words):
    result = sweep(candles[:3_000], parse_grid(words, SCHEMA), verify=0)
    png = heatmap_png(result, title="t", subtitle="s")
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size[0] == 1280


@pytest.mark.parametrize("flags, message", [
    (["--start", "2030-01-01"], "backtest: no candles to trade from 2030-01-01: the data ends 2025-10-23 04:00"),
    (["--warmup", "999999"], "backtest: --warmup 999999 leaves no candle to trade (35,039 in the file)"),
    (["--fee-pct", "200"], "backtest: --fee-pct must be from 0 to 5"),
    (["--balance", "0"], "backtest: --balance must be more than 0"),
])
@pytest.mark.parametrize("grid", [[], ["--grid", "fast=6..8"]])
def test_cli_refuses_impossible_input_in_one_line(tmp_path, capsys, perp_csv, flags, message, grid):
    code = cli(["--csv", str(perp_csv), "--env-file", os.devnull, *flags, *grid])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.strip().splitlines() == [message] and captured.out == ""


def test_cli_plain_and_grid_describe_the_same_traded_span(tmp_path, capsys, perp_csv):
    common = ["--csv", str(perp_csv), "--env-file", os.devnull, "--end", "2024-11-10"]
    span = "2024-10-28 09:30 → 2024-11-10 00:00 UTC · 1,211 candles traded (after 500 warm-up)"
    assert cli(common) == 0
    plain = capsys.readouterr().out.splitlines()
    assert plain[0] == f"ema_cross on BTCUSDT 15m · {span}"
    assert cli([*common, "--grid", "fast=6..8", "--verify", "1"]) == 0
    grid = capsys.readouterr().out.splitlines()
    assert grid[0] == f"ema_cross on BTCUSDT 15m · {span}"
    assert "1,211 candles (after 500 warm-up)" in grid[-1]


def test_stats_words_no_negative_zero_plurals_and_no_win_rate_without_trades():
    from bot.chart_commands import equity_caption
    from trading.backtest.stats import Stats
    from trading.core.numbers import plural
    from trading.optimize.report import best_table

    flat = Stats(candles=1, trades=0, wins=0, net_pnl=Decimal("-0.001"), fees=Decimal(0),
                 final_balance=Decimal(10000), open_pnl=-0.001, max_drawdown=0.0, max_drawdown_pct=-0.0,
                 exposure_pct=0.0, buy_hold_pct=-0.001, buy_hold_usdt=-0.001, return_pct=-0.0)
    rows = dict(flat.rows())
    assert rows["win rate"] == "— (no closed trade)"
    assert not any("-0.0" in v for v in rows.values()), rows
    assert (plural(1, "trade"), plural(2, "trade"), plural(1_000, "candle")) == ("1 trade", "2 trades",
                                                                                 "1,000 candles")

    class Report:
        balance = equity = Decimal(10000)
        realized = fees = Decimal(0)
        trades, max_drawdown_pct = 1, -0.01

    from trading.core.pnl import PnlSummary

    zero = Decimal(0)
    caption = equity_caption("paper", Report(), PnlSummary("all", None, zero, zero, zero, 1, 0, Decimal("-0.001")))
    assert "Realized: gross +0.00 · fees 0.00 · net +0.00 USDT" in caption, caption
    assert "Unrealized (open position): +0.00 USDT" in caption, caption  # never "-0.00"
    assert "1 closed trade ·" in caption and "max drawdown 0.0%" in caption, caption
    cell = type("C", (), {"stats": flat, "params": {"fast": 5}})()
    result = type("R", (), {"ranked": [cell], "verified": []})()
    assert best_table(result).splitlines()[1].split()[-2] == "—"


PLUGIN = '''
from trading.core.strategies.frame import MONEY, FrameStrategy
from trading.core.strategies.params import Param, Schema


class SmaCross(FrameStrategy):
    schema = Schema((Param("n", int, 20, 2, 200, "SMA length"), *MONEY))
    startup_candles = 200

    def populate(self, df, params):
        sma = df["Close"].rolling(int(params["n"])).mean()
        above = df["Close"] > sma
        df["enter_long"], df["exit_long"] = above & ~above.shift(1, fill_value=False), ~above
        df["enter_short"], df["exit_short"] = ~above & above.shift(1, fill_value=False), above
        return df
'''


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "words"), [
    ("rsi_reversion", ["rsi_period=7,14,21", "low=25,30", "high=70,75", "leverage=2,3"]),
    ("bb_breakout", ["bb_period=10,20,40", "bb_std=1.5,2,2.5", "stake_usdt=150,400"]),
    ("plugin", ["n=10,30,60", "leverage=3,4"]),
])
def test_dataframe_strategies_take_the_fast_path_and_equal_the_shared_backtest(candles, tmp_path, name, words,
                                                                               engine):
    """issue 31: one populate per set of signal values, the decisions walked in numpy; every
    stat of every sampled cell identical to the shared Decimal backtest, with the futures
    model on (funding, slippage, a start date, the exit at the end)."""
    if name == "plugin":
        (tmp_path / "sma.py").write_text(PLUGIN)
        name = f"{tmp_path}/sma.py:SmaCross"
    rng = random.Random(len(words))
    data = candles[6_000:18_000]
    rates = FundingRates.of([(t, Decimal(rng.randint(-20_000, 60_000)).scaleb(-9))
                             for t in range(data[0].open_time - data[0].open_time % 28_800_000, data[-1].open_time,
                                            28_800_000)])
    options = BacktestOptions(strategy=name, start_ms=data[2_000].open_time, warmup=400, exit_at_end=True,
                              model=FuturesModel(funding=rates, slippage_bps=Decimal("1.5")))
    grid = parse_grid(words, strategy_class(name).schema)
    result = sweep(data, grid, options, verify=2, engine=engine)
    assert all(c.fast for c in result.cells), {c.note for c in result.cells}
    assert sum(c.stats.trades for c in result.cells) > 50 * grid.size
    check_random_cells(data, result, 5, rng, options)


def test_a_dataframe_strategy_with_a_stop_runs_the_shared_backtest_and_says_why(candles):
    data = candles[:3_000]
    grid = parse_grid(["rsi_period=10,14", "stop_loss_pct=0,1"], strategy_class("rsi_reversion").schema)
    result = sweep(data, grid, BacktestOptions(strategy="rsi_reversion", warmup=300), verify=0, engine="numpy")
    assert [c.fast for c in result.cells] == [True, False, True, False]
    assert result.fallbacks == {"a stop-loss or take-profit with a DataFrame strategy": 2}
    for c in result.cells:
        assert same(c.stats, run_backtest(data, BacktestOptions(strategy="rsi_reversion", warmup=300,
                                                                 values=c.values)).stats)


@pytest.mark.skipif(not compiled.available(), reason="numba not installed")
def test_the_compiled_simulator_reads_a_dataframe_strategy_against_its_stops(candles, tmp_path):
    """A stop or a take moves the position the next rows are read against: the compiled
    simulator applies frame.py's `decide` row by row with the position after the exits."""
    (tmp_path / "sma.py").write_text(PLUGIN)
    rng = random.Random(5)
    data = candles[:9_000]
    for name, words in (("rsi_reversion", ["rsi_period=10,14", "stop_loss_pct=0,0.8", "take_profit_pct=0,1.2",
                                           "leverage=3,30"]),
                        (f"{tmp_path}/sma.py:SmaCross", ["n=20,50", "stop_loss_pct=0.5,1", "take_profit_pct=0,2"])):
        options = BacktestOptions(strategy=name, warmup=300, model=FuturesModel(slippage_bps=Decimal(1)))
        result = sweep(data, parse_grid(words, strategy_class(name).schema), options, verify=1, engine="numba")
        assert all(c.fast for c in result.cells), {c.note for c in result.cells}
        assert any(c.stats.trades for c in result.cells)
        check_random_cells(data, result, 4, rng, options)


@pytest.mark.slow
@pytest.mark.skipif(not compiled.available() or os.geteuid() != 0, reason="numba, and root to run as another user")
def test_the_compiled_simulator_caches_on_a_read_only_install():
    """A read-only copy of the package run by a user without a home: numba cannot cache
    beside kernel.py nor in ~/.cache, so the temp directory holds the cache; the second
    process loads it instead of compiling."""
    import pathlib
    import shutil
    import subprocess
    import sys
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="tgtrader-ro-", dir="/tmp"))  # outside pytest's 0700 tree
    ro = tmp_path / "ro"
    shutil.copytree(os.path.join(root, "trading"), ro / "trading",
                    ignore=shutil.ignore_patterns("__pycache__"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o777)
    os.chmod(tmp_path, 0o755)
    for d, _, files in os.walk(ro):
        os.chmod(d, 0o555)
        for f in files:
            os.chmod(os.path.join(d, f), 0o444)
    code = ("import sys, time; sys.path.insert(0, sys.argv[1])\n"
            "from trading.core.candles import Candle\n"
            "from trading.optimize import sweep\n"
            "from trading.optimize.grid import parse_grid\n"
            "from trading.core.strategies import strategy_class\n"
            "cs = [Candle('BTCUSDT', '15m', t * 900_000, t * 900_000 + 899_999, 100.0 + t % 7, 108.0 + t % 7, "
            "95.0 + t % 7, 101.0 + t % 5, 1.0) for t in range(400)]\n"
            "r = sweep(cs, parse_grid(['fast=3,4'], strategy_class('ema_cross').schema), verify=1, workers=1)\n"
            "from trading.optimize import kernel\n"
            "print(r.engine, kernel.__file__.startswith(sys.argv[1]))\n")
    env = dict(os.environ, HOME="/nonexistent", TMPDIR=str(tmp))
    env.pop("NUMBA_CACHE_DIR", None)
    try:
        for _ in range(2):
            out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                                  code, str(ro)], capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp))
            assert out.returncode == 0 and out.stdout.strip() == "numba True", out.stderr[-2000:]
        cached = [f for _, _, fs in os.walk(tmp) for f in fs if f.endswith(".nbi")]
        assert cached, "nothing cached"
    finally:
        for d, _, _ in os.walk(ro):
            os.chmod(d, 0o755)
        shutil.rmtree(tmp_path, ignore_errors=True)
