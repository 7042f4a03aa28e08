"""Chart data is the bot's own data (strategy indicators, stored fills, the portfolio's
equity), and the renders are valid PNGs that leave no figure behind."""

from __future__ import annotations

import gc
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import matplotlib.image as mpimg
import pytest

from trading.backtest import BacktestOptions, run_backtest
from trading.backtest.data import load_csv_candles
from trading.charts import style
from trading.charts.candles import render_candles, time_ticks
from trading.charts.data import (
    Levels,
    candle_chart,
    candles_frame,
    daily_net,
    day_summary,
    equity_curve,
    fill_markers,
    indicator_series,
    ledger_of,
)
from trading.charts.equity import render_equity
from trading.charts.reports import connected_seconds
from trading.config import ConfigError, load_settings
from trading.core.brokers import PaperBroker
from trading.core.candles import Candle
from trading.core.feed import replay
from trading.core.portfolio import Fill, Portfolio
from trading.core.strategies import make_strategy
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader

VALUES = {"fast": 5, "slow": 13, "rsi_period": 14, "stop_loss_pct": 1.0, "take_profit_pct": 2.0}


@pytest.fixture(scope="module")
def candles(perp_csv_module):
    return load_csv_candles(perp_csv_module)[:1500]


@pytest.fixture(scope="module")
def perp_csv_module():
    from tests.conftest import PERP_15M, shared_file

    return shared_file(PERP_15M)


class Recorder:
    """A journal that keeps the fills, as storage would."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []

    def record_refusal(self, *args: object) -> None:
        pass

    def load_state(self, symbol: str) -> None:
        return None

    def commit(self, symbol, state, fills) -> None:  # noqa: ANN001
        self.fills.extend(fills)


def traded(candles: list[Candle], values: dict) -> tuple[Trader, list[Fill]]:
    f = SymbolFilters.btcusdt()
    p = Portfolio(Decimal(10000))
    j = Recorder()
    t = Trader(symbols=["BTCUSDT"], interval_ms=900_000, strategy="ema_cross", values=values,
               filters={"BTCUSDT": f}, portfolio=p, broker=PaperBroker({"BTCUSDT": f}, Decimal("0.0005"), p),
               min_warmup=100, journal=j)
    replay(t, candles, warmup=100)
    return t, j.fills


def test_indicator_series_equal_the_strategys_own_values(candles):
    st = make_strategy("ema_cross", VALUES)
    seen = []
    for c in candles:
        st.on_candle(c, 0)
        seen.append(st.indicators())
    series = indicator_series("ema_cross", VALUES, candles, 200)
    assert set(series) == {"ema5", "ema13", "rsi14"}
    for name, values in series.items():
        assert values == [row[name] for row in seen[-200:]]


def test_indicators_are_warmed_by_the_history_before_the_window(candles):
    warm = indicator_series("ema_cross", VALUES, candles[-300:], 100)["ema13"]
    cold = indicator_series("ema_cross", VALUES, candles[-100:], 100)["ema13"]
    assert warm != cold  # the window's first values depend on what came before
    assert abs(warm[-1] - cold[-1]) < abs(warm[0] - cold[0])


def test_markers_sit_on_the_fill_candles_at_the_fill_price(candles):
    _, fills = traded(candles, VALUES)
    window = candles[-400:]
    markers = fill_markers(fills, window, "BTCUSDT")
    inside = [f for f in fills if f.time >= window[0].open_time]
    assert markers and len(markers) == len(inside)
    for m, f in zip(markers, inside, strict=True):
        assert window[m.index].open_time == f.time
        assert (m.side, m.price) == (f.side, float(f.price))
    assert fill_markers(fills, window, "ETHUSDT") == []


def test_candle_chart_data_and_render(candles):
    trader, fills = traded(candles, VALUES)
    chart = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles, n=200,
                         strategy="ema_cross", values=trader.values, fills=fills,
                         levels=Levels("long", candles[-1].close, candles[-1].close * 0.99, candles[-1].close * 1.5))
    assert len(chart.frame) == 200 and chart.last_price == candles[-1].close
    assert list(chart.frame["Close"]) == [c.close for c in candles[-200:]]
    assert set(chart.lines) == {"ema5", "ema13"} and set(chart.oscillators) == {"rsi14"}
    assert chart.bands == (30.0, 70.0)
    png = render_candles(chart)
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.shape[1] == 1280 and 700 <= image.shape[0] <= 900
    assert 20_000 < len(png) < 400_000


def test_renders_leave_no_figures_behind(candles):
    import matplotlib.pyplot as plt

    chart = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles[-150:], n=50,
                         strategy="ema_cross", values=None)
    render_candles(chart)
    gc.collect()
    before = plt.get_fignums()
    from matplotlib.figure import Figure

    alive = sum(isinstance(o, Figure) for o in gc.get_objects())
    for _ in range(3):
        render_candles(chart)
    gc.collect()
    assert plt.get_fignums() == before == []
    assert sum(isinstance(o, Figure) for o in gc.get_objects()) <= alive


def test_equity_curve_equals_the_backtests_mark_to_market(candles):
    result = run_backtest(candles, BacktestOptions(values=VALUES, warmup=100))
    _, fills = traded(candles, VALUES)
    curve = equity_curve(ledger_of(Decimal(10000), fills), {"BTCUSDT": candles[100:]})
    assert curve.equity == pytest.approx(result.equity, abs=1e-6)
    assert curve.peak == [max(curve.equity[: i + 1]) for i in range(len(curve.equity))]
    assert curve.max_drawdown_pct <= 0
    net = Portfolio.replay(Decimal(10000), fills).balance - Decimal(10000)
    assert sum(curve.daily.values()) == pytest.approx(float(net), abs=1e-6)
    png = render_equity(curve, title="Equity", subtitle="test")
    assert mpimg.imread(io.BytesIO(png), format="png").shape[1] == 1280


def test_flat_equity_curve_renders():
    c = Candle("BTCUSDT", "15m", 0, 899_999, 1, 1, 1, 1, 1)
    curve = equity_curve(ledger_of(Decimal(100), []), {"BTCUSDT": [c]})
    assert curve.equity == [100.0] and curve.daily == {}
    assert render_equity(curve)[:8] == b"\x89PNG\r\n\x1a\n"


def test_day_summary_books_the_days_fills():
    t0 = int(datetime(2025, 1, 1, 23, 45, tzinfo=UTC).timestamp() * 1000)
    fills = [
        Fill("a", "BTCUSDT", "BUY", Decimal("0.01"), Decimal("100000"), Decimal("0.5"), t0),
        Fill("b", "BTCUSDT", "SELL", Decimal("0.01"), Decimal("101000"), Decimal("0.5"), t0 + 900_000),
    ]
    ledger = ledger_of(Decimal(10000), fills)
    d1 = day_summary(ledger, date(2025, 1, 1))
    d2 = day_summary(ledger, date(2025, 1, 2))
    assert (d1.gross, d1.fees, d1.fills, d1.trades) == (0, Decimal("0.5"), 1, 0)
    assert (d2.gross, d2.fees, d2.net, d2.fills, d2.trades) == (Decimal("10.00"), Decimal("0.5"), Decimal("9.50"), 1, 1)
    assert daily_net(ledger) == {date(2025, 1, 1): -0.5, date(2025, 1, 2): 9.5}


def test_connected_seconds_within_the_day():
    day = 86_400_000
    events = [
        {"ts": -3_600_000, "kind": "connect"},  # up since before the day
        {"ts": 3_600_000, "kind": "disconnect"},
        {"ts": 3_610_000, "kind": "reconnect"},
        {"ts": 7_200_000, "kind": "stop"},
        {"ts": day + 5, "kind": "connect"},  # the next day does not count
    ]
    assert connected_seconds(events, 0, day) == 3600 + 3590
    assert connected_seconds([], 0, day) == 0


def test_time_ticks_fall_on_round_times():
    frame = candles_frame([
        Candle("X", "15m", t, t + 899_999, 1, 1, 1, 1, 1)
        for t in range(1_700_000_100_000 - 1_700_000_100_000 % 900_000, 1_700_000_100_000 + 200 * 900_000, 900_000)
    ])
    ticks, labels = time_ticks(list(frame.index))
    assert 3 <= len(ticks) <= 7
    assert all(frame.index[i].minute == 0 for i in ticks)
    assert any("\n" in label or label[0].isdigit() and " " in label for label in labels)


def test_style_is_headless():
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"
    assert style.RC["figure.facecolor"] == style.BG


@pytest.mark.parametrize("raw", ["25:00", "7", "12:60", "noon", "07:5"])
def test_report_time_errors_name_the_variable(raw):
    with pytest.raises(ConfigError, match=r"^REPORT_TIME: .* HH:MM"):
        load_settings(environ={"REPORT_TIME": raw}, env_file=None)


def test_report_settings():
    s = load_settings(environ={"REPORT_TIME": "7:30", "DAILY_REPORT": "off"}, env_file=None)
    assert (s.report_time.hour, s.report_time.minute, s.daily_report) == (7, 30, False)
    d = load_settings(environ={}, env_file=None)
    assert (d.report_time.hour, d.report_time.minute, d.daily_report) == (0, 0, True)
    with pytest.raises(ConfigError, match="^DAILY_REPORT: "):
        load_settings(environ={"DAILY_REPORT": "sometimes"}, env_file=None)


def _tiny_curve(candles):
    """A 2-hour run with one small trade: equity moves by cents, one day of PnL."""
    short = candles[1000:1130]
    _, fills = traded(short, {"fast": 2, "slow": 3, "stake_usdt": 50, "leverage": 3})
    i = next(k for k, c in enumerate(short) if c.open_time == fills[0].time)
    window = short[i - 1 : i + 8]
    return equity_curve(ledger_of(Decimal(10000), [f for f in fills if f.time <= window[-1].open_time][:2]),
                        {"BTCUSDT": window})


def test_equity_labels_differ_on_a_tiny_range_and_day_bars_fit_a_short_run(candles):
    from trading.charts.equity import _draw

    curve = _tiny_curve(candles)
    assert max(curve.equity) - min(curve.equity) < 1 and len(curve.daily) == 1
    with style.styled():
        fig = _draw(curve, "Equity", "")
        fig.canvas.draw()
        eq, pnl = fig.axes[:2]
        labels = [t.get_text() for t in eq.get_yticklabels() if t.get_text()]
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
        pnl_labels = [t.get_text() for t in pnl.get_yticklabels() if t.get_text()]
        assert "-0" not in pnl_labels and len(set(pnl_labels)) == len(pnl_labels), pnl_labels
        lo, hi = pnl.get_xlim()
        (bar,) = pnl.patches
        assert bar.get_width() <= (hi - lo) / 2  # a day's total, not a bar across the whole run
        fig.clear()


def test_chart_lists_only_lines_it_draws_and_prices_keep_the_tick_decimal(candles):
    from trading.charts.candles import _draw

    one = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles[-200:], n=1,
                       strategy="ema_cross", values=VALUES, price_decimals=1)
    assert one.lines == {} and one.oscillators == {}  # one point draws no line: no legend entry either
    assert render_candles(one)[:8] == b"\x89PNG\r\n\x1a\n"
    chart = candle_chart(symbol="BTCUSDT", interval="15m", mode="paper", candles=candles[-300:], n=100,
                         strategy="ema_cross", values=VALUES, price_decimals=1)
    assert set(chart.lines) == {"ema5", "ema13"}
    with style.styled():
        fig = _draw(chart)
        fig.canvas.draw()
        texts = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.texts]
        assert f"{chart.last_price:,.1f}" in texts  # the tag: 48,774.0, not 48,774
        assert any(t.startswith(f"last {chart.last_price:,.1f} · 100 candles") for t in texts)
        fig.clear()


def test_a_long_subtitle_stays_on_the_picture(candles):
    """A /backtest's subtitle (its numbers, then its window) once ran past the right edge of the
    1280 px picture (seen in the demo: the window's end time was cut off)."""
    from trading.charts import equity, style

    _, fills = traded(candles, VALUES)
    curve = equity_curve(ledger_of(Decimal(10000), fills), {"BTCUSDT": candles[100:]})
    words = ("the given parameters · net PnL -1.59 USDT · unrealized -0.69 USDT · equity 9,997.72 USDT")
    with style.styled():
        fig = equity._draw(curve, "Backtest · BTCUSDT 15m · 0.5 days (asked 7)", words)
        renderer = fig.canvas.get_renderer()
        line = next(t for t in fig.texts if t.get_text().startswith(words))
        assert line.get_text().endswith("UTC")  # the window is still said in full
        assert line.get_window_extent(renderer=renderer).x1 <= fig.bbox.width
