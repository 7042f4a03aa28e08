"""MAX_POSITION_NOTIONAL holds for stake × leverage wherever parameters are chosen: the live
bot refuses every opening order above it, so /set, /backtest, the backtest CLI and the grid
refuse such parameters up front instead of showing trades the bot would never make."""

from __future__ import annotations

from decimal import Decimal

from tests.test_bot_e2e import World, source  # noqa: F401  (fixture)
from tests.test_futures import IV, candle, entered
from trading.backtest.__main__ import main as cli
from trading.backtest.options import BacktestOptions
from trading.core.futures_model import FuturesModel
from trading.core.limits import stake_problem
from trading.core.strategies import strategy_class
from trading.optimize import sweep
from trading.optimize.grid import parse_grid
from trading.optimize.report import summary_line


def test_stake_problem_names_the_limit() -> None:
    assert stake_problem({"stake_usdt": 100.0, "leverage": 3}, Decimal("1000")) is None
    assert stake_problem({"stake_usdt": 1000.0, "leverage": 1}, Decimal("1000")) is None
    line = stake_problem({"stake_usdt": 500.0, "leverage": 3}, Decimal("1000"))
    assert line is not None and "1500 USDT is above MAX_POSITION_NOTIONAL 1000 USDT" in line
    assert stake_problem({"fast": 9}, Decimal("1000")) is None  # not stake-sized: nothing to say


def test_the_backtest_cli_refuses_a_stake_the_bot_would_refuse(tmp_path, capsys) -> None:
    env = tmp_path / ".env"
    env.write_text("MAX_POSITION_NOTIONAL=1000\n")
    csvf = tmp_path / "c.csv"
    csvf.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(f"{i * IV},100,100,100,100,1\n" for i in range(50)))
    args = ["--csv", str(csvf), "--env-file", str(env), "--warmup", "5", "--param", "stake_usdt=500"]
    assert cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MAX_POSITION_NOTIONAL 1000" in err[0], err


def test_grid_cells_above_the_notional_limit_are_skipped_and_counted() -> None:
    candles = entered(1) + [candle(i, 100_000, 100_500, 99_500, 100_000) for i in range(13, 40)]
    grid = parse_grid(["stake_usdt=100,200,500", "fast=2,5"], strategy_class("ema_cross").schema)
    result = sweep(candles, grid, BacktestOptions(values={"fast": 2, "slow": 6, "leverage": 3}, warmup=0,
                                          model=FuturesModel(max_notional=Decimal("1000"))), verify=0)
    assert sorted({c.params["stake_usdt"] for c in result.cells if c.stats is not None}) == [100, 200]
    assert "2 skipped (stake_usdt × leverage above MAX_POSITION_NOTIONAL 1000)" in summary_line(result)


def test_set_and_backtest_refuse_a_stake_above_the_limit(source, tmp_path) -> None:  # noqa: F811
    w = World(source, tmp_path)
    try:
        w.reply("/set stake_usdt=500", "above MAX_POSITION_NOTIONAL 1000 USDT")
        assert w.engine.params()[1]["stake_usdt"] == 100
        w.reply("/backtest 3 stake_usdt=500", "above MAX_POSITION_NOTIONAL 1000 USDT")
        w.reply("/set stake_usdt=300", "Parameters changed")  # 300 × 3 = 900: inside
    finally:
        w.close()
