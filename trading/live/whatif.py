"""What-if from the chat: /backtest and /optimize on the stored candles of the last N days.

Candles the store lacks are fetched over REST first (and kept, so the next question is
local). Candidate parameter sets offered behind an Apply button are kept here, in memory,
under a short random key: Telegram's callback data holds 64 bytes, a parameter set does
not fit, and a key that dies with the process is the safe failure (the button then says
it has expired; applying always goes through the engine's validated, audited /set path).

It lives with the running bot (it reads the store and the exchange), not with the research
code it drives. The file is over 400 lines because it is that one question end to end:
the window, the missing candles, funding, the runs and their comparison.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.funding import FundingStore
from storage.klines import KlineStore
from trading.backtest import BacktestOptions, BacktestResult, run_backtest
from trading.backtest.data import load_stored_candles
from trading.config import Settings
from trading.core.candles import Candle
from trading.core.futures import (
    DEFAULT_BRACKETS,
    FUNDING_PERIOD_MS,
    FundingRates,
    brackets_from_json,
)
from trading.core.futures_model import FuturesModel
from trading.core.intervals import interval_ms
from trading.core.limits import stake_problem
from trading.core.strategies import Schema, Values, chat_strategy, strategy_class
from trading.core.strategies.check import CheckReport, live_check
from trading.core.strategies.params import ParamError, check_leverage
from trading.core.symbols import SymbolFilters
from trading.exchange.klines import closed_candles
from trading.exchange.rest import make_client, server_time_ms, with_retries
from trading.optimize import SweepResult, sweep
from trading.optimize.grid import Grid, cell_values, parse_grid
from trading.optimize.report import fmt_value

if TYPE_CHECKING:
    from trading.charts.data import EquityCurve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """How far a what-if got, for its progress message (bot/texts.step_line words it):
    `stage` candles | funding | check | running | grid; `done` of `total` where counted."""

    stage: str
    done: int | None = None
    total: int = 0


Say = Callable[[Step], None]
DAY_MS = 86_400_000
PAGE = 1500
MAX_CANDIDATES = 500


@dataclass(frozen=True)
class Period:
    """The candles a what-if actually traded, against the days it was asked for."""

    asked_days: int
    first_ms: int  # open time of the first traded candle
    last_ms: int  # open time of the last
    candles: int  # traded (the warm-up before them not counted)
    step_ms: int
    short: bool  # the exchange (or the store) starts later than the days asked for

    @property
    def days(self) -> float:
        return self.candles * self.step_ms / DAY_MS


@dataclass(frozen=True)
class LeftOut:
    """What a what-if ran without (bot/texts.left_out_line words it): `what` "funding" (the
    exchange did not answer GET /fapi/v1/fundingRate: `why`, its HTTP status or error)."""

    what: str
    why: str


@dataclass
class Comparison:
    days: int
    symbol: str
    interval: str
    current: BacktestResult
    candidate: BacktestResult | None
    changes: dict[str, str]
    key: str | None  # the Apply button's candidate id
    curve: EquityCurve | None = None  # the shown column's equity (the given one, else the current)
    period: Period | None = None
    strategy: str | None = None  # the candidate's strategy when it is not the current one
    check: CheckReport | None = None  # that strategy's failed look-ahead/window check: the live bot refuses it
    notes: list[LeftOut] = field(default_factory=list)  # what the run left out (funding not answered, …)


@dataclass
class Optimization:
    days: int
    symbol: str
    interval: str
    result: SweepResult
    strategy: str  # the strategy the grid ran (the current one, or another)
    keys: list[str] = field(default_factory=list)  # one per best cell, best first
    period: Period | None = None
    check: CheckReport | None = None  # another strategy's failed look-ahead/window check
    notes: list[LeftOut] = field(default_factory=list)


class WhatIf:
    def __init__(
        self, settings: Settings, klines: Callable[[], KlineStore], values: Callable[[], Values],
        filters: Callable[[str], SymbolFilters | None], strategy: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self._strategy = strategy or (lambda: settings.strategy)  # the live one (/strategy switches it)
        self._klines = klines
        self._values = values
        self._filters = filters
        self._lock = threading.Lock()
        self._candidates: OrderedDict[str, dict[str, str]] = OrderedDict()

    # ------------------------------------------------------------- candidates behind buttons
    def remember(self, changes: Mapping[str, str]) -> str:
        key = secrets.token_urlsafe(6)
        with self._lock:
            self._candidates[key] = dict(changes)
            while len(self._candidates) > MAX_CANDIDATES:
                self._candidates.popitem(last=False)
        return key

    def candidate(self, key: str) -> dict[str, str] | None:
        with self._lock:
            found = self._candidates.get(key)
            return dict(found) if found is not None else None

    # ------------------------------------------------------------- questions
    def other(self, strategy: str | None) -> str | None:
        """`strategy` (a name from the chat: a built-in or a file in STRATEGY_DIR) when it names
        another strategy than the live one (ValueError if unknown or not allowed)."""
        if strategy is None:
            return None
        live = self._strategy()
        strategy = chat_strategy(strategy, self.settings.strategy_dir, (live, self.settings.strategy))
        strategy_class(strategy)
        return strategy if strategy != live else None

    def check_changes(self, changes: Mapping[str, str], strategy: str | None = None) -> Values | None:
        """The changed parameter set (another strategy: its defaults and the changes), or
        ParamError/ValueError: called before anything is posted or fetched. A leverage above
        MAX_LEVERAGE is refused as the live bot would refuse its orders."""
        other = self.other(strategy)
        schema = strategy_class(other or self._strategy()).schema
        if other is None and not changes:
            return None
        check_leverage(schema, changes, self.settings.max_leverage)
        merged = schema.validate({} if other else dict(self._values()), changes)
        check_leverage(schema, changes, self.settings.max_leverage, merged)
        problem = stake_problem(merged, self.settings.max_position_notional)
        if problem:
            raise ParamError(problem)
        return merged

    def check_grid(self, words: Sequence[str], max_cells: int, strategy: str | None = None) -> Grid:
        """The grid, or GridError/ParamError: called before anything is posted or fetched."""
        return parse_grid(words, strategy_class(self.other(strategy) or self._strategy()).schema, max_cells=max_cells)

    def backtest(self, days: int, changes: Mapping[str, str], say: Say, strategy: str | None = None) -> Comparison:
        """The current parameters and, with changes (or another strategy), the given ones
        over the same candles."""
        current, name = dict(self._values()), self._strategy()
        other = self.other(strategy)
        wanted = self.check_changes(changes, strategy)  # ParamError: nothing ran
        warm = max(self._warmup([current], name), self._warmup([wanted], other or name) if wanted is not None else 0)
        candles, start, notes = self.candles(days, warm, say)
        check = self._check(other, wanted, candles, say) if other is not None else None
        say(Step("running"))
        options = self._options(candles[0].symbol, warm, start, name, funding=not notes)
        ran = run_backtest(candles, options.with_values(current))
        if other is not None:
            options = replace(options, strategy=other)
        given = run_backtest(candles, options.with_values(wanted)) if wanted is not None else None
        key = self.remember({k: str(v) for k, v in changes.items()}) if wanted is not None and other is None else None
        period = self._period(days, candles, start, len(ran.times))
        curve = equity_curve(given or ran, float(self.settings.paper_balance))  # drawn when asked (chart)
        return Comparison(days, candles[0].symbol, candles[0].interval, ran, given,
                          {k: str(v) for k, v in changes.items()}, key, curve, period, other, check, notes)

    @staticmethod
    def chart(cmp: Comparison, title: str, subtitle: str) -> bytes:
        """The equity chart of a what-if's shown column (the given one, else the current), its
        title and subtitle in the chat's words (bot/texts.py: the table's own numbers)."""
        from trading.charts.equity import (
            render_equity,  # matplotlib only when a picture is asked for
        )

        assert cmp.curve is not None
        return render_equity(cmp.curve, title=title, subtitle=subtitle)

    def optimize(self, words: Sequence[str], days: int, metric: str, say: Say, *, max_cells: int,
                 strategy: str | None = None) -> Optimization:
        """A grid over the current strategy (its values as the base) or another (its defaults);
        Apply buttons only for the current one (the other needs /strategy)."""
        other = self.other(strategy)
        name = other or self._strategy()
        schema = strategy_class(name).schema
        grid = self.check_grid(words, max_cells, strategy)  # GridError before any fetching
        current = schema.defaults() if other else dict(self._values())
        warm = self._warmup([current, *_cells(grid, schema, current)], name)
        candles, start, notes = self.candles(days, warm, say)
        check = self._check(other, current, candles, say) if other is not None else None
        say(Step("grid", total=grid.size))
        options = self._options(candles[0].symbol, warm, start, name, funding=not notes).with_values(current)
        result = sweep(candles, grid, options, metric=metric,
                       progress=lambda done, total: say(Step("grid", done, total)))
        keys = [] if other else [self.remember({k: fmt_value(v) for k, v in c.params.items()}) for c in result.ranked[:5]]
        period = self._period(days, candles, start, result.candles)
        return Optimization(days, candles[0].symbol, candles[0].interval, result, name, keys, period, check, notes)

    @staticmethod
    def heatmap(opt: Optimization, title: str, subtitle: str) -> bytes:
        """The PNG of an /optimize grid, its title and subtitle in the chat's words (bot/texts.py)."""
        from trading.optimize.report import (
            heatmap_png,  # matplotlib only when a picture is asked for
        )

        return heatmap_png(opt.result, title=title, subtitle=subtitle)

    @staticmethod
    def _check(name: str, values: Values | None, candles: Sequence[Candle], say: Say) -> CheckReport | None:
        """None, or the failed report of the check a switch to `name` would fail (on these candles)."""
        say(Step("check"))
        report = live_check(strategy_class(name), values, candles)
        return None if report.ok else report

    def _period(self, days: int, candles: Sequence[Candle], start: int, traded: int) -> Period:
        step = interval_ms(candles[0].interval)
        asked = candles[-1].open_time - days * DAY_MS + step
        first = next((c.open_time for c in candles if c.open_time >= start), candles[-1].open_time)
        return Period(days, first, candles[-1].open_time, traded, step, short=first > asked)

    # ------------------------------------------------------------- candles
    def candles(self, days: int, warm: int, say: Say) -> tuple[list[Candle], int, list[LeftOut]]:
        """The stored closed candles of the last `days` (plus `warm` before them), fetching
        what is missing; returns them, the first traded open time and what is left out (the
        funding rates when the exchange does not answer for them: the run goes without)."""
        s = self.settings
        symbol, interval = s.symbols[0], s.interval
        step = interval_ms(interval)
        client = make_client(s)
        now = server_time_ms(client)
        last = now // step * step - step  # the last closed candle's open
        start = last - days * DAY_MS + step
        first = start - warm * step
        store = self._klines()
        have = set(store.open_times(symbol, interval, first, last))
        missing = [t for t in range(first, last + 1, step) if t not in have]
        if missing:  # what the exchange does not have cannot be fetched (a young market, the replay)
            oldest = self._oldest(client, symbol, interval, missing[0])
            missing = [t for t in missing if oldest is not None and t >= oldest]
        if missing:  # fetched in contiguous runs, a page at a time, so progress can be shown
            runs: list[list[int]] = []
            for t in missing:
                if runs and t == runs[-1][1] + step:
                    runs[-1][1] = t
                else:
                    runs.append([t, t])
            total, got = len(missing), 0
            say(Step("candles", total=total))
            for lo, hi in runs:
                cursor = lo
                while cursor <= hi:
                    page_end = min(hi, cursor + (PAGE - 1) * step)
                    store.upsert_many(closed_candles(client, symbol, interval, cursor, page_end, now_ms=now))
                    got += (page_end - cursor) // step + 1
                    say(Step("candles", got, total))
                    cursor = page_end + step
        notes = self._fetch_futures_terms(client, symbol, first, last, say)
        candles = load_stored_candles(store, symbol, interval, first, last)
        if candles and candles[0].open_time > first:  # history starts later: warm up on its first candles
            if len(candles) < warm + 2:
                raise ValueError(f"only {len(candles):,} {symbol} {interval} candles exist, "
                                 f"fewer than the {warm:,}-candle warm-up needs")
            start = max(start, candles[warm].open_time)
        if len([c for c in candles if c.open_time >= start]) < 2:
            raise ValueError(f"not enough {symbol} {interval} candles for the last {days} days")
        return candles, start, notes

    def _fetch_futures_terms(self, client: object, symbol: str, first: int, last: int, say: Say) -> list[LeftOut]:
        """Funding rates (`GET /fapi/v1/fundingRate`, public) for the window, and the leverage
        brackets (`GET /fapi/v1/leverageBracket`, signed: only with an API key), into the store.
        Returns what is left out: funding when the exchange does not answer for it (said)."""
        store = FundingStore(self._klines().db)
        since = max(first, (store.last_rate_time(symbol) or 0) + 1)
        while since <= last:
            try:
                rows = with_retries(lambda s=since: client.futures_funding_rate(  # type: ignore[attr-defined]
                    symbol=symbol, startTime=s, endTime=last, limit=1000), what=f"funding rates {symbol}")
            except Exception as e:  # noqa: BLE001  any refusal or silence of that one route
                status = getattr(e, "status_code", None)
                why = f"HTTP {status}" if status else type(e).__name__
                log.warning("funding rates %s not fetched (%s): the what-if runs without funding", symbol, e)
                return [LeftOut("funding", why)]
            if not rows:
                break
            say(Step("funding", len(rows)))
            store.upsert_rates(symbol, [(int(r["fundingTime"]), str(r["fundingRate"]), r.get("markPrice"))
                                        for r in rows])
            since = int(rows[-1]["fundingTime"]) + 1
            if len(rows) < 1000:
                break
        if self.settings.binance_api_key and store.brackets(symbol) is None:
            try:
                entries = with_retries(lambda: client.futures_leverage_bracket(symbol=symbol),  # type: ignore[attr-defined]
                                       what=f"leverage brackets {symbol}")
            except Exception:  # the default table (or none) stands in; the report says which
                return []
            entry = entries[0] if isinstance(entries, list) and entries else entries
            if isinstance(entry, dict) and entry.get("brackets"):
                store.save_brackets(symbol, entry["brackets"])
        return []

    @staticmethod
    def _oldest(client: object, symbol: str, interval: str, since: int) -> int | None:
        """The open time of the exchange's first candle at or after `since` (None: none)."""
        rows = with_retries(lambda: client.futures_klines(  # type: ignore[attr-defined]
            symbol=symbol, interval=interval, startTime=since, limit=1), what=f"klines {symbol}")
        return int(rows[0][0]) if rows else None

    def _warmup(self, sets: Sequence[Values], name: str) -> int:
        need = max(strategy_class(name)(v).warmup for v in sets)
        return max(self.settings.warmup_candles, need)

    def _options(self, symbol: str, warm: int, start: int, name: str, funding: bool = True) -> BacktestOptions:
        filters = self._filters(symbol) or (SymbolFilters.btcusdt() if symbol == "BTCUSDT" else None)
        if filters is None:
            raise ValueError(f"{symbol}'s trading rules are unknown (exchangeInfo not reachable)")
        store = FundingStore(self._klines().db)
        stored = store.brackets(symbol)
        brackets = brackets_from_json({"brackets": stored}) if stored else DEFAULT_BRACKETS.get(symbol, ())
        rates = store.rates(symbol, start - FUNDING_PERIOD_MS) if funding else []
        model = FuturesModel(fee_rate=self.settings.paper_fee_pct / 100, slippage_bps=self.settings.paper_slippage_bps,
                             max_leverage=self.settings.max_leverage, max_notional=self.settings.max_position_notional,
                             funding=FundingRates.of(rates) if rates else None, brackets={symbol: brackets})
        return BacktestOptions(strategy=name, filters=filters, warmup=warm, start_ms=start,
                               balance=self.settings.paper_balance, model=model)


def _cells(grid: Grid, schema: Schema, base: Values) -> list[Values]:
    """Every valid cell's values: the warm-up must cover the slowest of them."""
    return [v for c in grid.combos() if (v := cell_values(schema, base, c)) is not None]


def equity_curve(result: BacktestResult, initial: float) -> EquityCurve:
    """The backtest's marks as the /equity chart draws them: from the traded window's first
    open (the start, before anything was booked) to its last close, ending on the table's
    equity; the day bars are the run's ledger net per UTC day (they add up to its net PnL)."""
    from trading.charts.data import EquityCurve, daily_net

    step = result.times[1] - result.times[0] if len(result.times) > 1 else 0
    times = [datetime.fromtimestamp((t + step) / 1000, tz=UTC) for t in result.times]
    equity = list(result.equity)
    if result.times:  # the window the text names starts at the first traded candle's open
        times.insert(0, datetime.fromtimestamp(result.times[0] / 1000, tz=UTC))
        equity.insert(0, initial)
    peak, run = [], float("-inf")
    for e in equity:
        run = max(run, e)
        peak.append(run)
    daily = daily_net(result.trader.portfolio.ledger)
    return EquityCurve(times=times, equity=equity, peak=peak, daily=daily, initial=initial)

