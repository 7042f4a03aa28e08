"""The trader with the paper broker: fills at the next open, stops on high/low, refusals,
flips, and a restart from the journal that resumes the same book."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

from bot.texts import text
from storage.trades import TradeJournal
from tests.helpers import RecordingNotifier
from trading.core.brokers import PaperBroker
from trading.core.candles import Candle
from trading.core.feed import replay
from trading.core.portfolio import Fill, Portfolio
from trading.core.strategies import EmaCross
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader

IV = 900_000
F = SymbolFilters.btcusdt()


def candle(i: int, o: float, h: float, low: float, c: float) -> Candle:
    return Candle("BTCUSDT", "15m", i * IV, i * IV + IV - 1, o, h, low, c, 1.0)


def make_trader(values=None, journal=None, notifier=None, balance="10000", fills=()) -> Trader:
    p = Portfolio.replay(D(balance), fills)
    return Trader(
        symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross", values=values,
        filters={"BTCUSDT": F}, portfolio=p, broker=PaperBroker({"BTCUSDT": F}, D("0.0005"), p),
        min_warmup=0, notifier=notifier, journal=journal,
    )


def flat_then(moves: list[tuple[float, float, float, float]], values: dict) -> list[Candle]:
    """Enough flat candles to warm ema_cross up, then the given (o, h, l, c) candles."""
    n = EmaCross(values).warmup + 1
    out = [candle(i, 100_000.0, 100_000.0, 100_000.0, 100_000.0) for i in range(n)]
    return out + [candle(n + i, *m) for i, m in enumerate(moves)]


def test_signal_fills_at_next_open_with_stake_sizing_and_fee() -> None:
    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5}
    candles = flat_then([(100_000, 101_000, 99_900, 101_000), (101_500, 101_600, 101_400, 101_500)], values)
    t = make_trader(values)
    replay(t, candles, warmup=0)
    pos = t.portfolio.positions["BTCUSDT"]
    # 100 × 5 / 101500 = 0.004926 → 0.004 (rounded down to the 0.001 step), at the next open
    assert (pos.qty, pos.entry, pos.opened_at) == (D("0.004"), D("101500"), candles[-1].open_time)
    assert t.portfolio.fees == D("0.004") * D("101500") * D("0.0005")


def test_stop_wins_when_both_levels_are_touched_and_a_gap_fills_at_the_open() -> None:
    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5, "stop_loss_pct": 1, "take_profit_pct": 1}
    up = (100_000, 101_000, 99_900, 101_000)
    entry = (101_000, 101_100, 100_900, 101_000)  # long 0.004 at 101000: SL 99990, TP 102010
    both = (101_000, 103_000, 99_000, 101_000)  # touches both: the stop wins, at the stop
    t = make_trader(values)
    replay(t, flat_then([up, entry, both], values), warmup=0)
    (trade,) = t.portfolio.trades
    assert (trade.entry_price, trade.exit_price) == (D("101000"), D("99990.0"))

    gap = (99_000, 99_500, 98_000, 99_200)  # opens below the stop: filled at the open
    t2 = make_trader(values)
    replay(t2, flat_then([up, entry, gap], values), warmup=0)
    assert t2.portfolio.trades[0].exit_price == D("99000")


def test_below_min_notional_is_refused_with_the_reason() -> None:
    values = {"fast": 2, "slow": 3, "stake_usdt": 10, "leverage": 1}
    n = RecordingNotifier()
    t = make_trader(values, notifier=n)
    replay(t, flat_then([(100_000, 101_000, 99_900, 101_000), (101_500, 101_600, 101_400, 101_500)], values), warmup=0)
    assert t.portfolio.side("BTCUSDT") == 0
    refused = [text(x) for x in n.notices if x.kind == "order_refused"]
    assert refused and "MIN_NOTIONAL" in refused[0] or "LOT_SIZE" in refused[0]


def test_opposite_cross_closes_and_reverses_on_the_same_open() -> None:
    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5}
    moves = [(100_000, 101_000, 99_900, 101_000), (101_500, 101_600, 101_400, 101_500),
             (101_500, 101_500, 95_000, 95_000), (95_100, 95_200, 95_000, 95_100)]
    t = make_trader(values)
    replay(t, flat_then(moves, values), warmup=0)
    (trade,) = t.portfolio.trades
    assert (trade.side, trade.exit_price) == ("long", D("95100"))
    pos = t.portfolio.positions["BTCUSDT"]
    assert pos.side == -1 and pos.entry == D("95100") and pos.opened_at == trade.close_time


def test_a_restart_from_the_journal_resumes_the_same_book(tmp_path) -> None:
    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5, "stop_loss_pct": 2}
    moves = [(100_000, 101_000, 99_900, 101_000), (101_500, 101_600, 101_400, 101_500),
             (101_500, 101_500, 95_000, 95_000), (95_100, 95_200, 95_000, 95_100), (95_000, 95_100, 94_000, 94_500)]
    candles = flat_then(moves, values)
    whole = make_trader(values)
    replay(whole, candles, warmup=0)

    db = str(tmp_path / "bot.sqlite")
    cut = len(candles) - 2  # the first run dies after deciding the reversal, before its fills
    first = make_trader(values, journal=TradeJournal(db, "paper"))
    replay(first, candles[:cut], warmup=0)
    journal = TradeJournal(db, "paper")
    fills = [Fill(f["order_id"], f["symbol"], f["side"], D(f["qty"]), D(f["price"]), D(f["fee"]), f["time"])
             for f in journal.fills()]
    second = make_trader(values, journal=journal, fills=fills)
    assert second.cursor("BTCUSDT") == candles[cut - 1].open_time
    assert second.books["BTCUSDT"].pending, "orders waiting for the next open survive the restart"
    second.warm("BTCUSDT", candles[:cut])
    for c in candles[cut:]:
        second.on_candle(c, True)
    assert second.portfolio.trades == whole.portfolio.trades
    assert second.portfolio.balance == whole.portfolio.balance
    pos, pos2 = whole.portfolio.positions["BTCUSDT"], second.portfolio.positions["BTCUSDT"]
    assert (pos.qty, pos.entry) == (pos2.qty, pos2.entry)
    assert second.books["BTCUSDT"].stop == whole.books["BTCUSDT"].stop is not None


def test_a_parameter_change_that_needs_more_history_loads_it_and_applies_from_the_next_candle() -> None:
    """The history the strategy sees is sized by its warm-up and grows when /set needs more."""
    values = {"fast": 2, "slow": 3}
    closes = [100_000.0 + 50 * ((i * 7) % 13) for i in range(400)]
    candles = [candle(i, c, c, c, c) for i, c in enumerate(closes)]
    asked = []

    def loader(symbol: str, n: int, last_open: int) -> list[Candle]:
        asked.append((symbol, n, last_open))
        upto = [c for c in candles if c.open_time <= last_open]
        return upto[-n:]

    p = Portfolio(D("10000"))
    t = Trader(
        symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross", values=values,
        filters={"BTCUSDT": F}, portfolio=p, broker=PaperBroker({"BTCUSDT": F}, D("0.0005"), p),
        history_loader=loader,
    )
    replay(t, candles[:200], warmup=t.warmup("BTCUSDT"))
    assert t.warmup("BTCUSDT") == EmaCross(values).warmup == 9
    t.set_values(EmaCross.schema.validate(t.values, {"slow": "60"}))
    assert t.books["BTCUSDT"].strategy.slow == 3  # not before the next closed candle
    t.on_candle(candles[200], False)
    assert asked == [("BTCUSDT", 180, candles[199].open_time)]
    book = t.books["BTCUSDT"]
    assert book.strategy.slow == 60 and len(book.history) == 180 and t.warmup("BTCUSDT") == 180
    # The re-warmed EMAs are what a fresh strategy computes over the same 180 candles + the new one.
    fresh = EmaCross(t.values)
    for c in candles[20:201]:
        fresh.on_candle(c, 0)
    assert (book.strategy.ema_fast, book.strategy.ema_slow) == (fresh.ema_fast, fresh.ema_slow)


class Notebook:
    """A journal that keeps nothing (the trader commits to it on every candle)."""

    def load_state(self, symbol: str) -> None:
        return None

    def commit(self, symbol: str, state: dict, fills: object, funding: object = ()) -> None:
        pass

    def record_refusal(self, *args: object) -> None:
        pass


def test_a_run_taken_in_one_call_is_the_same_book_as_each_candle_on_its_own() -> None:
    """Trader.on_candles is the loop every on_candle runs (the backtest hands it a year at once,
    and takes its quiet stretches, Trader._quiet, in one go): over real candles with stops, a
    take-profit, a trailing stop, an RSI filter, with funding and without, liquidations, the
    fills, trades, ledger and levels are those of the candles taken one by one through every
    step, and the equity curve it marks is the wallet plus the open position at each close."""
    from tests.conftest import PERP_15M, shared_file
    from trading.backtest.data import load_csv_candles
    from trading.core.futures import FundingRates
    from trading.core.futures_model import FuturesModel

    candles = load_csv_candles(shared_file(PERP_15M))[:6000]
    funded = FuturesModel(slippage_bps=D(1), funding=FundingRates({}, D("0.0001")))
    seen: set[str] = set()
    cells = ({"fast": 5, "slow": 13, "stake_usdt": 500, "leverage": 40, "stop_loss_pct": 1, "take_profit_pct": 2},
             {"fast": 9, "slow": 21, "stake_usdt": 500, "leverage": 60, "trailing_stop_pct": 0.5},
             {"fast": 9, "slow": 21, "stake_usdt": 200, "leverage": 100},
             {"fast": 9, "slow": 21, "stake_usdt": 1000, "leverage": 1, "rsi_period": 14})
    for model, values in itertools.product((funded, FuturesModel()), cells):
        def make(values: dict = values, journal: object = None, model: FuturesModel = model) -> Trader:
            p = Portfolio(D(10000))
            return Trader(symbols=["BTCUSDT"], interval_ms=IV, strategy="ema_cross", values=values,
                          filters={"BTCUSDT": F}, portfolio=p, model=model, journal=journal,  # type: ignore[arg-type]
                          broker=PaperBroker({"BTCUSDT": F}, model.fee_rate, p, model.slippage_bps))  # fmt: skip
        # one by one through every step (a journal is told each candle: no quiet stretch), and the
        # whole run in one call (its quiet stretches taken at once), with funding and without
        one, whole = make(journal=Notebook()), make()
        one.warm("BTCUSDT", candles[:100])
        whole.warm("BTCUSDT", candles[:100])
        marks, held = [], 0
        for c in candles[100:]:
            one.on_candle(c, False)
            pos = one.portfolio.positions.get("BTCUSDT")
            open_ = pos is not None and bool(pos.qty_f)
            held += open_
            marks.append(one.portfolio.balance_f + (c.close - pos.entry_f) * pos.qty_f if open_ else one.portfolio.balance_f)
        curve: list[float] = []
        exposed = whole.on_candles(candles[100:], False, curve)
        seen |= {t.exit_reason for t in whole.portfolio.trades}
        assert whole.portfolio.ledger.entries == one.portfolio.ledger.entries
        assert whole.portfolio.funding == one.portfolio.funding and bool(whole.portfolio.funding) == (model is funded)
        assert whole.portfolio.trades == one.portfolio.trades and whole.portfolio.balance == one.portfolio.balance
        a, b = whole.books["BTCUSDT"], one.books["BTCUSDT"]
        assert (a.cursor, a.decided, a.stop, a.take, a.liq, a.trail_best, list(a.history)) == (
            b.cursor, b.decided, b.stop, b.take, b.liq, b.trail_best, list(b.history))
        assert curve == marks and exposed == held and 0 < held < len(curve)
    assert {"signal", "liquidation", "stop_loss", "take_profit", "trailing_stop"} <= seen, seen


def test_a_strategy_that_overrides_on_candle_is_asked_on_every_candle() -> None:
    """Quiet stretches run ema_cross's on_candle_run only where it is the on_candle in effect: a
    subclass that overrides on_candle (a plugin's; plugins.py's decimal-context wrapper is one
    too) is asked on every candle, as on_candle says, and trades as the same rules would."""
    from trading.core.strategy_host import StrategyHost

    class Counting(EmaCross):
        def __init__(self, values=None, warmup=None) -> None:  # type: ignore[no-untyped-def]
            super().__init__(values, warmup)
            self.calls = 0

        def on_candle(self, candle: Candle, position: int):  # type: ignore[no-untyped-def]
            self.calls += 1
            return super().on_candle(candle, position)

    values = {"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5}
    assert StrategyHost.runner(EmaCross(values)) is not None and StrategyHost.runner(Counting(values)) is None
    closes = [100_000.0 + 400 * ((i // 7) % 2) + 10 * (i % 7) for i in range(300)]
    candles = [candle(i, c, c + 5, c - 5, c) for i, c in enumerate(closes)]
    plain, counted = make_trader(values), make_trader(values)
    counting = counted.books["BTCUSDT"].strategy = Counting(values)
    plain.on_candles(candles, False)
    counted.on_candles(candles, False)
    assert counting.calls == len(candles)
    assert counted.portfolio.trades == plain.portfolio.trades and len(plain.portfolio.trades) > 5


def test_the_candle_that_fills_a_decision_starts_the_next_quiet_stretch() -> None:
    """In a backtest (no journal, no protections, no funding, no level to watch) the candle at
    whose open a decision's orders fill is taken in by the quiet stretch that follows, not
    candle by candle: the strategy is asked through on_candle_run only (issue 31). With a stop
    the fill sets a level and that candle takes the steps one by one, as before. Either way the
    book is the one the candles make one at a time (a journal's trader)."""

    class Counting(EmaCross):
        """ema_cross, counting the candles it was asked about one at a time."""

        def __init__(self, values=None, warmup=None) -> None:  # type: ignore[no-untyped-def]
            super().__init__(values, warmup)
            self.singles = 0

        def on_candle(self, candle: Candle, position: int):  # type: ignore[no-untyped-def]
            self.singles += 1
            return super().on_candle(candle, position)

        def on_candle_run(self, candles, start, stop, position):  # type: ignore[no-untyped-def]
            return super().on_candle_run(candles, start, stop, position)

    closes = [100_000.0 + 400 * ((i // 7) % 2) + 10 * (i % 7) for i in range(300)]
    candles = [candle(i, c, c + 5, c - 5, c) for i, c in enumerate(closes)]
    for values, singles in (({"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5}, 0),
                            ({"fast": 2, "slow": 3, "stake_usdt": 100, "leverage": 5, "stop_loss_pct": 5}, None)):
        whole, one = make_trader(values), make_trader(values, journal=Notebook())
        counting = whole.books["BTCUSDT"].strategy = Counting(values)
        whole.on_candles(candles, False)
        for c in candles:
            one.on_candle(c, False)
        assert whole.portfolio.ledger.entries == one.portfolio.ledger.entries and len(whole.portfolio.trades) > 5
        assert whole.portfolio.trades == one.portfolio.trades and whole.books["BTCUSDT"].cursor == candles[-1].open_time
        if singles is None:  # each candle with the stop set, one at a time
            assert counting.singles > len(whole.portfolio.trades)
        else:
            assert counting.singles == singles
