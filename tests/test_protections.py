"""Account protections in the core (issue 29), over real candles: each trips on the candle
where the numbers cross (found by a twin trader without protections, fed in lockstep), says
so once with its numbers, refuses entries, and lifts when it should; the backtest applies
the same object; the state survives a restart (load/save)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import PERP_15M, shared_file
from tests.helpers import RecordingNotifier
from trading.backtest import run_backtest
from trading.backtest.data import load_csv_candles
from trading.backtest.options import BacktestOptions
from trading.core.brokers import PaperBroker
from trading.core.events import ProtectionLifted, ProtectionTripped, ProtectionWarning
from trading.core.portfolio import Portfolio
from trading.core.protections import (
    DAY_MS,
    ProtectionRules,
    Protections,
    parse_daily_loss,
    parse_guard,
)
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader

WARM, STEPS = 200, 3000
VALUES = {"fast": 5, "slow": 13, "stake_usdt": 1000, "leverage": 10}
IV = 900_000


@pytest.fixture(scope="module")
def candles():
    return load_csv_candles(shared_file(PERP_15M))[: WARM + STEPS]


def make(rules: ProtectionRules | None, values=VALUES, store: dict | None = None) -> tuple[Trader, RecordingNotifier]:
    f = SymbolFilters.btcusdt()
    portfolio = Portfolio(Decimal(10000))
    notifier = RecordingNotifier()
    prot = None
    if rules is not None:
        box = store if store is not None else {}
        prot = Protections(rules, IV, lambda: box.get("v"), lambda v: box.__setitem__("v", v))
    trader = Trader(symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross", values=values, filters={"BTCUSDT": f},
                    portfolio=portfolio, broker=PaperBroker({"BTCUSDT": f}, Decimal("0.0005"), portfolio),
                    notifier=notifier, protections=prot)  # fmt: skip
    return trader, notifier


def warm(trader: Trader, candles) -> None:
    trader.warm("BTCUSDT", candles[:WARM])


def opens(trader: Trader) -> list[int]:
    return [t.open_time for t in trader.portfolio.trades] + [
        p.opened_at for p in trader.portfolio.positions.values() if p.qty
    ]


def first_daily_crossing(candles, limit: Decimal) -> int:
    """The index of the first candle whose close puts today's net at −limit or below, in
    a run without protections (equal to the protected run up to that candle)."""
    twin, _ = make(None)
    warm(twin, candles)
    day, start = None, Decimal(0)
    for i in range(WARM, len(candles)):
        c = candles[i]
        if c.open_time // DAY_MS != day:
            day, start = c.open_time // DAY_MS, twin.portfolio.balance
        twin.on_candle(c, False)
        equity = twin.portfolio.equity({"BTCUSDT": Decimal(repr(c.close))})
        if equity - start <= -limit:
            return i
    raise AssertionError("the loss never reached the limit")


def feed_until(trader, notifier, candles, kind):
    """Feed candles; return (index, event) of the first event of `kind` type."""
    for i in range(WARM, len(candles)):
        n = len(notifier.notices)
        trader.on_candle(candles[i], False)
        for e in notifier.notices[n:]:
            if isinstance(e, kind):
                return i, e
    raise AssertionError(f"no {kind.__name__}")


def test_daily_loss_trips_on_the_crossing_candle_refuses_entries_and_lifts_the_next_day(candles) -> None:
    limit = Decimal(60)
    expected = first_daily_crossing(candles, limit)
    trader, notifier = make(ProtectionRules(daily_loss=limit))
    warm(trader, candles)
    i, trip = feed_until(trader, notifier, candles, ProtectionTripped)
    assert i == expected
    assert trip.name == "daily_loss" and trip.action == "pause" and trip.limit == limit and trip.value <= -limit
    day_end = (candles[i].open_time // DAY_MS + 1) * DAY_MS
    assert trip.until == day_end
    assert trader.protections.halts() == {"daily_loss"}
    held = trader.portfolio.side("BTCUSDT")  # pause: the position stays, managed
    before = set(opens(trader))
    j = i + 1
    while candles[j].open_time < day_end:
        trader.on_candle(candles[j], False)
        j += 1
    assert set(opens(trader)) - before == set(), "an entry was made during the halted day"
    n = len(notifier.notices)
    trader.on_candle(candles[j], False)  # the next UTC day's first candle
    lifted = [e for e in notifier.notices[n:] if isinstance(e, ProtectionLifted)]
    assert [(e.name, e.why) for e in lifted] == [("daily_loss", "next_day")]
    assert trader.protections.halts() == frozenset()
    for k in range(j + 1, len(candles)):
        trader.on_candle(candles[k], False)
        if set(opens(trader)) - before:
            break
    assert set(opens(trader)) - before, "no entry after the halt was lifted"
    assert min(set(opens(trader)) - before) >= day_end
    assert held in (-1, 0, 1)
    assert sum(1 for e in notifier.notices if isinstance(e, ProtectionTripped)) >= 1


def test_daily_loss_close_closes_at_once_at_the_candles_close(candles) -> None:
    limit = Decimal(60)
    expected = first_daily_crossing(candles, limit)
    trader, notifier = make(ProtectionRules(daily_loss=limit, daily_loss_action="close"))
    warm(trader, candles)
    held_before = None
    for i in range(WARM, expected):
        trader.on_candle(candles[i], False)
        held_before = trader.portfolio.side("BTCUSDT")
    assert held_before, "the crossing candle should find a position open"
    trader.on_candle(candles[expected], False)
    assert trader.portfolio.side("BTCUSDT") == 0
    last = trader.portfolio.trades[-1]
    assert last.exit_reason == "daily_loss" and last.close_time == candles[expected].open_time
    assert last.exit_price == Decimal(repr(candles[expected].close))


def test_drawdown_warns_at_half_and_three_quarters_closes_at_the_limit_and_waits_for_resume(candles) -> None:
    limit = Decimal(3)
    twin, _ = make(None)
    warm(twin, candles)
    peak, crossings = Decimal(0), {}
    for i in range(WARM, len(candles)):  # the oracle: the drawdown at each close, without protections
        twin.on_candle(candles[i], False)
        eq = twin.portfolio.equity({"BTCUSDT": Decimal(repr(candles[i].close))})
        peak = max(peak, eq)
        dd = (peak - eq) / peak * 100
        for level, at in ((50, limit / 2), (75, limit * 3 / 4), (100, limit)):
            if level not in crossings and dd >= at:
                crossings[level] = i
        if 100 in crossings:
            break
    assert crossings[50] < crossings[100]
    trader, notifier = make(ProtectionRules(max_drawdown_pct=limit))
    warm(trader, candles)
    seen: dict[int, int] = {}
    for i in range(WARM, crossings[100] + 1):
        n = len(notifier.notices)
        trader.on_candle(candles[i], False)
        for e in notifier.notices[n:]:
            if isinstance(e, ProtectionWarning):
                seen[e.level] = i
            if isinstance(e, ProtectionTripped):
                seen[100] = i
                assert e.name == "drawdown" and e.value >= limit and e.limit == limit and e.until is None
    assert seen == crossings
    assert trader.portfolio.side("BTCUSDT") == 0
    if trader.portfolio.trades[-1].close_time == candles[crossings[100]].open_time:
        assert trader.portfolio.trades[-1].exit_reason == "drawdown"
    before = set(opens(trader))
    for i in range(crossings[100] + 1, crossings[100] + 400):
        trader.on_candle(candles[i], False)
    assert set(opens(trader)) == before and trader.protections.halts() == {"drawdown"}
    assert trader.guard.resume() == ["drawdown"]
    for i in range(crossings[100] + 400, len(candles)):
        trader.on_candle(candles[i], False)
        if set(opens(trader)) - before:
            break
    assert set(opens(trader)) - before, "no entry after /resume"


def test_cooldown_refuses_an_entry_for_n_candles_after_any_close(candles) -> None:
    n = 6
    free = run_backtest(candles, BacktestOptions(values=VALUES, warmup=WARM))
    trader, notifier = make(ProtectionRules(cooldown_candles=n))
    warm(trader, candles)
    for c in candles[WARM:]:
        trader.on_candle(c, False)
    trades = trader.portfolio.trades
    assert len(trades) < len(free.trades)
    closes = sorted(t.close_time for t in trades)
    for t in trades[1:] + [p for p in trader.portfolio.positions.values() if p.qty]:
        opened = getattr(t, "open_time", None) or t.opened_at
        prior = [c for c in closes if c <= opened]
        if prior:
            assert opened >= prior[-1] + (n + 1) * IV, (opened, prior[-1])
    # and the first re-entry allowed is exactly at the lock's end when the strategy wanted it earlier
    assert any(t.open_time - max(c for c in closes if c < t.open_time) == (n + 1) * IV for t in trades[1:]
               if any(c < t.open_time for c in closes))  # fmt: skip
    locks = [e for e in notifier.notices if isinstance(e, ProtectionTripped)]
    assert locks and all(e.name == "cooldown" and e.symbol == "BTCUSDT" and e.limit == n for e in locks)


def test_stoploss_guard_locks_after_n_stops_in_the_window(candles) -> None:
    values = {**VALUES, "stop_loss_pct": 0.4}
    guard, lock = (2, 40), 30
    trader, notifier = make(ProtectionRules(stoploss_guard=guard, stoploss_guard_lock=lock), values)
    warm(trader, candles)
    for c in candles[WARM:]:
        trader.on_candle(c, False)
    trips = [e for e in notifier.notices if isinstance(e, ProtectionTripped)]
    assert trips and all(e.name == "stoploss_guard" and e.value == 2 and e.limit == 2 for e in trips)
    # the oracle: from the closed trades, where N stop-losses fell within W candles
    stops: list[int] = []
    windows = []
    for t in trader.portfolio.trades:
        if t.exit_reason != "stop_loss":
            continue
        stops = [s for s in stops if s > t.close_time - guard[1] * IV] + [t.close_time]
        if len(stops) >= guard[0]:
            windows.append((t.close_time, t.close_time + (lock + 1) * IV))
            stops = []
    assert [w[1] for w in windows] == [e.until for e in trips]
    for start, end in windows:
        assert not [t for t in trader.portfolio.trades if start < t.open_time < end]
    free = run_backtest(candles, BacktestOptions(values=values, warmup=WARM))
    assert len(trader.portfolio.trades) < len(free.trades)


def test_the_backtest_applies_the_same_object_and_counts_trips(candles) -> None:
    rules = ProtectionRules(cooldown_candles=6)
    trader, _ = make(rules)
    warm(trader, candles)
    for c in candles[WARM:]:
        trader.on_candle(c, False)
    res = run_backtest(candles, BacktestOptions(values=VALUES, warmup=WARM, protections=rules))
    assert [(t.open_time, t.close_time, t.pnl) for t in res.trades] == [
        (t.open_time, t.close_time, t.pnl) for t in trader.portfolio.trades
    ]
    assert res.trader.protections.trips == {"cooldown": len(res.trades)}  # one lock per close


def test_state_survives_a_restart_and_unlock_lifts_locks(candles) -> None:
    store: dict = {}
    rules = ProtectionRules(max_drawdown_pct=Decimal(3), cooldown_candles=10)
    trader, notifier = make(rules, store=store)
    warm(trader, candles)
    i = WARM
    while not trader.protections.halts():
        trader.on_candle(candles[i], False)
        i += 1
    i -= 1
    saved = json.loads(store["v"])
    assert saved["peak"] is not None
    for _ in range(3):
        i += 1
        trader.on_candle(candles[i], False)
    again = Protections(rules, IV, lambda: store["v"], lambda v: store.__setitem__("v", v))  # a restart
    for name in ("day", "day_start", "peak", "halted", "warned", "locks", "stops"):
        assert getattr(again, name) == getattr(trader.protections, name), name
    assert again.peak is not None and again.day_start is not None
    now = candles[i].open_time + IV
    assert again.halts() == {"drawdown"} and again.blocked("BTCUSDT", now) == "drawdown"
    again.resume(again.peak)
    assert again.blocked("BTCUSDT", now) == "cooldown"  # the close the drawdown made
    assert again.unlock("BTCUSDT", now) == ["BTCUSDT"] and again.blocked("BTCUSDT", now) is None
    assert json.loads(store["v"])["locks"] == {}


def test_settings_parse_one_way() -> None:
    assert parse_daily_loss("50") == (Decimal(50), False)
    assert parse_daily_loss("5%") == (Decimal(5), True)
    assert parse_daily_loss("") == (None, False)
    for bad in ("abc", "-3", "100%", "5%%"):
        with pytest.raises(ValueError):
            parse_daily_loss(bad)
    assert parse_guard("3/24") == (3, 24)
    assert parse_guard("") is None
    for bad in ("3", "0/5", "a/b", "3/0"):
        with pytest.raises(ValueError):
            parse_guard(bad)
    assert ProtectionRules(daily_loss=Decimal(5), daily_loss_pct=True).daily_limit(Decimal(2000)) == Decimal(100)


def test_the_report_counts_the_trips_and_how_each_trade_ended(candles) -> None:
    from trading.backtest.stats import exit_counts

    values = {**VALUES, "stop_loss_pct": 0.4, "take_profit_pct": 0.8}
    res = run_backtest(candles, BacktestOptions(values=values, warmup=WARM, protections=ProtectionRules(
        stoploss_guard=(2, 40), cooldown_candles=3)))  # fmt: skip
    rows = dict(res.stats.rows())
    counts = {r: sum(1 for t in res.trades if t.exit_reason == r) for r in {t.exit_reason for t in res.trades}}
    assert {"signal", "stop_loss", "take_profit"} <= set(counts)
    said = [part.rsplit(" ", 1) for part in exit_counts(res.trades).split(" · ")]
    assert {r: int(n.replace(",", "")) for r, n in said} == counts
    assert [int(n.replace(",", "")) for _, n in said] == sorted(counts.values(), reverse=True)  # most first
    trips = res.trader.protections.trips
    assert trips["cooldown"] >= 1 and trips["stoploss_guard"] >= 1
    assert rows["protections tripped"] == f"cooldown {trips['cooldown']:,} · stoploss_guard {trips['stoploss_guard']:,}"
    assert dict(run_backtest(candles, BacktestOptions(values=VALUES, warmup=WARM)).stats.rows())["protections tripped"] == "none"


def test_the_grid_falls_back_to_the_shared_backtest_when_a_protection_is_on(candles) -> None:
    from trading.core.strategies import strategy_class
    from trading.optimize import sweep
    from trading.optimize.grid import parse_grid

    schema = strategy_class("ema_cross").schema
    grid = parse_grid(["fast=5,6", "stop_loss_pct=0,0.5"], schema)
    base = BacktestOptions(values={"slow": 13, "stake_usdt": 1000, "leverage": 10}, warmup=WARM)
    for options, fast_cells in ((base, 4), (BacktestOptions(**{**base.__dict__, "protections": ProtectionRules(cooldown_candles=3)}), 0)):
        res = sweep(candles, grid, options, verify=0, workers=1)
        assert sum(c.fast for c in res.cells) == fast_cells
        for c in res.cells:
            if not c.fast:
                assert c.note == "the account protections are on"
            shared = run_backtest(candles, options.with_values(c.values)).stats
            assert (c.stats.trades, c.stats.net_pnl, c.stats.fees) == (shared.trades, shared.net_pnl, shared.fees)
