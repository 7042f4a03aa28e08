"""Which strategy the live bot runs with which parameters (/set, /strategy), and the checks
before it trades one.

The strategy is STRATEGY from the environment until an admin switches with /strategy; the
choice is stored (runtime_state) with the STRATEGY it replaced, so a restart keeps it,
while an operator who edits STRATEGY afterwards gets what they wrote. Every start and
every switch runs the look-ahead and window check (trading/core/strategies/check.py) on the
stored candles (a synthetic walk when too few are stored): a failing strategy is refused
in one line, never traded. A /set is validated whole against the latest values, stored with
who and when in one transaction, and handed to the trader to apply from the next closed candle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.state import RuntimeState
from trading.config import Settings
from trading.core.candles import Candle
from trading.core.limits import stake_problem
from trading.core.snapshot import PositionView
from trading.core.strategies import (
    STRATEGIES,
    ParamError,
    Schema,
    StrategyError,
    Values,
    chat_strategy,
    strategy_class,
)
from trading.core.strategies.check import CheckReport, live_check
from trading.core.strategies.params import check_leverage, fmt_value
from trading.core.strategies.plugins import chat_plugins
from trading.core.trader import Trader
from trading.exchange.brackets import BracketCache, leverage_problem
from trading.live.store import Db

log = logging.getLogger(__name__)
KEY, ENV_KEY = "strategy", "strategy_env"


@dataclass(frozen=True)
class ParamChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class Switch:
    """What /strategy did: old and new names, the new values, the positions kept (the new
    strategy manages them; bot/strategy_commands.py says which)."""

    old: str
    new: str
    values: Values
    positions: list[PositionView]


def chosen_strategy(state: RuntimeState, env_strategy: str, strategy_dir: str) -> str:
    """The strategy chosen with /strategy if STRATEGY is still what it was then, else STRATEGY.
    A stored plugin is loaded only if it is still a file in STRATEGY_DIR (the chat's rule)."""
    stored, stored_env = state.get(KEY), state.get(ENV_KEY)
    if not stored or stored == env_strategy:
        return env_strategy
    if stored_env != env_strategy:
        log.warning("STRATEGY changed to %s since /strategy chose %s: running %s", env_strategy, stored, env_strategy)
        return env_strategy
    try:
        if chat_strategy(Path(stored.rpartition(":")[0]).name + ":" + stored.rpartition(":")[2]
                         if ":" in stored else stored, strategy_dir) != stored:
            raise StrategyError(f"{stored} is not a file in STRATEGY_DIR ({strategy_dir})")
        strategy_class(stored)
    except ValueError as e:
        log.warning("the strategy chosen with /strategy no longer loads (%s): running STRATEGY=%s", e, env_strategy)
        return env_strategy
    return stored


def remember(state: RuntimeState, strategy: str, env_strategy: str) -> None:
    state.set(KEY, strategy)
    state.set(ENV_KEY, env_strategy)


class CheckRefused(ParamError):
    """/strategy NAME (or applying another strategy's set): NAME fails the look-ahead/window
    check, nothing changed; `report` says why (bot/texts.param_refusal words it)."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(f"{report.strategy} fails the look-ahead/window check: {report}")
        self.report = report


def refusal(name: str, values: Values, stored: Sequence[Candle], warn: bool = True,
            progress: Callable[[int, int], None] | None = None) -> CheckReport | None:  # fmt: skip
    """None if `name` may trade live with `values`; else the failed check's report (logged
    as a warning unless `warn` is off: the caller says it itself)."""
    report = live_check(strategy_class(name), values, stored, progress=progress)
    if report.ok:
        log.info("strategy %s passed the look-ahead/window check (%d end candles)", name, report.ends)
    elif warn:
        log.warning("strategy %s fails the look-ahead/window check: %s", name, report)
    return None if report.ok else report


def available(strategy_dir: str) -> list[tuple[str, bool]]:
    """(name, is a plugin) of each built-in and each plugin class in STRATEGY_DIR, for /strategy
    (bot/texts.strategy_summary says what each one does)."""
    return [(name, False) for name in STRATEGIES] + [(name, True) for name in chat_plugins(strategy_dir)]


def stored_candles(db: Db, settings: Settings) -> list[Candle]:
    """The first symbol's stored candles (the last 3,000), for the look-ahead and window check."""
    return db.latest(settings.symbols[0], settings.interval, 3000)


class Params:
    """The strategy trading now and its values; /set and /strategy change them, serialised by
    one lock so each change is validated against the latest values. `strategy` and `values`
    are the ones the trader was built with (chosen at start: trading/live/node.py)."""

    def __init__(
        self, settings: Settings, db: Db, trader: Trader, strategy: str, values: Values,
        brackets: BracketCache | None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._db = db
        self._trader = trader
        self._brackets = brackets  # demo/live: a /set meets Binance's leverage brackets
        self.strategy = strategy
        self.schema: Schema = strategy_class(strategy).schema
        self.values: Values = values
        self._lock = threading.Lock()

    def set_params(self, changes: Mapping[str, Any], user_id: int | None) -> list[ParamChange]:
        """Validate all, store all, schedule all, or raise ParamError and change nothing."""
        with self._lock:
            check_leverage(self.schema, changes, self.settings.max_leverage)
            merged = self.schema.validate(self.values, changes)
            problem = leverage_problem(self.settings.max_leverage, self._brackets, changes, merged, self.settings.symbols)
            problem = problem or stake_problem(merged, self.settings.max_position_notional)
            if problem:
                raise ParamError(problem)
            diff = [
                ParamChange(name, fmt_value(self.values[name]), fmt_value(merged[name]))
                for name in changes
                if merged[name] != self.values[name]
            ]
            if diff:
                self._db.params().change(self.strategy, {c.name: (c.old, c.new) for c in diff}, user_id)
                self.values = merged
                self._trader.set_values(merged)
            return diff

    def switch_strategy(self, spec: str, changes: Mapping[str, Any], user_id: int | None,
                        progress: Callable[[int, int], None] | None = None) -> Switch:  # fmt: skip
        """/strategy NAME [name=value …]: load, validate all values against the new schema
        (from its stored values), check (`progress(done, planned)` while it compares end
        candles), store (params and the choice), and hand to the trader from the next closed
        candle. ParamError (one line) and nothing changes."""
        settings = self.settings
        try:
            spec = chat_strategy(spec, settings.strategy_dir, (self.strategy, settings.strategy))
            cls = strategy_class(spec)
        except ValueError as e:
            raise ParamError(str(e)) from None
        with self._lock:
            stored = cls.schema.load(self._db.params().current(spec))
            check_leverage(cls.schema, changes, settings.max_leverage)
            values = cls.schema.validate(stored, changes)
            check_leverage(cls.schema, changes, settings.max_leverage, values)
            problem = stake_problem(values, settings.max_position_notional)
            if problem:
                raise ParamError(problem)
            if spec == self.strategy and values == self.values:
                raise ParamError(f"{spec} is already the strategy with these parameters")
            refused = refusal(spec, values, stored_candles(self._db, settings), progress=progress)
            if refused is not None:
                raise CheckRefused(refused)
            diff = {k: (fmt_value(stored[k]), fmt_value(values[k])) for k in changes if values[k] != stored[k]}
            if diff:
                self._db.params().change(spec, diff, user_id)
            remember(self._db.state(), spec, settings.strategy)
            old, self.strategy, self.schema, self.values = self.strategy, spec, cls.schema, values
            self._trader.set_strategy(spec, values)
            held = list(self._trader.snapshot().positions)
            log.info("strategy %s → %s by %s: %s", old, spec, user_id, values)
            return Switch(old, spec, values, held)

    def run_none(self) -> None:
        """No strategy from the next closed candle (the start's check failed late:
        trading/live/strategy_check.py); STRATEGY as written and the stored choice stay for the next start."""
        none = strategy_class("none")
        with self._lock:
            self.strategy, self.schema, self.values = "none", none.schema, {}
            self._trader.set_strategy("none", {})
