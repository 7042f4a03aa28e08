"""The backtest's trading loop runs with the cyclic garbage collector paused (issue 31):
safe because the loop makes no reference cycles, and the collector is left as it was found."""

from __future__ import annotations

import gc
from decimal import Decimal as D

import pytest

from tests.conftest import PERP_15M, shared_file
from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.core.futures import FundingRates
from trading.core.futures_model import FuturesModel
from trading.core.protections import ProtectionRules
from trading.core.trader import Trader


@pytest.fixture(scope="module")
def candles():  # type: ignore[no-untyped-def]
    return load_csv_candles(shared_file(PERP_15M))[:8000]


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_the_trading_loop_makes_no_reference_cycles(candles) -> None:  # type: ignore[no-untyped-def]
    """What the collector would look for while the loop runs: nothing, whatever the run books
    (stops, a take-profit ladder, a trailing stop, liquidations, funding, slippage, Hedge Mode,
    the protections); so pausing it there frees nothing later than before."""
    funded = FuturesModel(slippage_bps=D(1), funding=FundingRates({}, D("0.0001")))
    runs = (
        BacktestOptions(model=FuturesModel()),
        BacktestOptions(values={"fast": 9, "slow": 21, "stake_usdt": 100, "leverage": 10, "stop_loss_pct": 2,
                                "take_profit": "1.5:50,3:50", "breakeven_after": 1}, model=funded),
        BacktestOptions(values={"fast": 5, "slow": 30, "stake_usdt": 100, "leverage": 50, "trailing_stop_pct": 1},
                        model=funded, hedge=True),
        BacktestOptions(values={"fast": 9, "slow": 21, "stake_usdt": 100, "leverage": 20, "stop_loss_pct": 1},
                        protections=ProtectionRules(cooldown_candles=4, max_drawdown_pct=D(30), stoploss_guard=(2, 50))),
    )
    reasons: set[str] = set()
    for options in runs:
        gc.collect()  # (the run before's trader is cyclic garbage once dropped: not this run's)
        gc.disable()
        try:
            result = run_backtest(candles, options)
            assert gc.collect() == 0  # nothing unreachable: the run's every object is freed by its count
        finally:
            gc.enable()
        reasons |= {t.exit_reason for t in result.trades}
        del result
    assert {"signal", "stop_loss", "liquidation", "trailing_stop"} <= reasons, reasons


def test_the_collector_is_paused_in_the_loop_and_left_as_found(candles, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[bool] = []
    on_candles = Trader.on_candles

    def watched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return on_candles(self, *args, **kwargs)

    monkeypatch.setattr(Trader, "on_candles", watched)
    assert gc.isenabled()
    run_backtest(candles[:3000])
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that paused it keeps it paused
    try:
        run_backtest(candles[:3000])
        assert not gc.isenabled()
    finally:
        gc.enable()

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(Trader, "on_candles", failing)
    with pytest.raises(RuntimeError):
        run_backtest(candles[:3000])
    assert gc.isenabled()  # on again after a failure
