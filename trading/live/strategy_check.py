"""The look-ahead and window check of the strategy a start trades, run beside the bot rather
than in its way.

The check (trading/core/strategies/check.py) runs `populate` some forty times; a plugin
whose populate takes 2 s held the bot's first command ~85 s. So the start runs it on its
own thread, bounded (LIVE_SECONDS), and waits only START_GRACE for it: a check that is done
by then refuses a failing STRATEGY as before (one config-error line, the bot does not
start). A longer one goes on while the bot serves the chat: /status shows how far it got,
the stream waits for it before the first decision (Engine.start, Engine.resume_stream), and if it fails then,
the strategy is refused in one chat line and no strategy runs until /strategy chooses one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trading.config import ConfigError
from trading.core.candles import Candle
from trading.core.events import Notifier, StrategyCheckFailed
from trading.core.strategies import Values, strategy_class
from trading.core.strategies.check import CheckReport, live_check

if TYPE_CHECKING:
    from trading.live.params import Params

log = logging.getLogger(__name__)

START_GRACE = 3.0  # seconds a start waits for the check before serving the chat


class StrategyRefused(ConfigError):
    """STRATEGY fails the look-ahead/window check at start: the bot does not start; `report`
    says why (bot/texts.config_error words it, as the start's one line)."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(f"STRATEGY={report.strategy} fails the look-ahead/window check: {report}")
        self.report = report


@dataclass(frozen=True)
class CheckState:
    """The start's check as /status shows it (bot/texts.check_line words it): still running
    (`failed` None: `done` of `planned` end candles compared), or failed while no strategy runs."""

    strategy: str
    done: int = 0
    planned: int = 0
    failed: CheckReport | None = None


class StartCheck:
    def __init__(self, name: str, values: Values, stored: Sequence[Candle], grace: float = START_GRACE,
                 check: Callable[..., CheckReport] = live_check) -> None:  # fmt: skip
        self.name = name
        self.report: CheckReport | None = None
        self.progress = (0, 0)  # (end candles compared, planned)
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._on_refused: Callable[[CheckReport], None] | None = None
        self._told = False
        self._thread = threading.Thread(target=self._run, args=(values, list(stored), check),
                                        name="strategy-check", daemon=True)  # fmt: skip
        self._thread.start()
        self._done.wait(grace)

    def _run(self, values: Values, stored: list[Candle], check: Callable[..., CheckReport]) -> None:
        try:
            report = check(strategy_class(self.name), values, stored, progress=self._tick)
        except Exception as e:  # noqa: BLE001 (a check that cannot run refuses, in one line)
            report = CheckReport(self.name, False, 0, 0, 0, 0.0, error=f"{type(e).__name__}: {e}")
        if report.ok:  # a failure is said by whoever acts on it (the start's config error, or refuse_late)
            log.info("strategy %s passed the look-ahead/window check (%d end candles, %.2fs)", self.name, report.ends, report.seconds)
        with self._lock:
            self.report = report
            self._done.set()
        self._tell()

    def _tick(self, done: int, planned: int) -> None:
        self.progress = (done, planned)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def refused(self) -> CheckReport | None:
        """The check's report when it is done and failed, else None."""
        r = self.report
        return None if r is None or r.ok else r

    def or_refuse(self) -> StartCheck:
        """StrategyRefused (a ConfigError: the bot does not start, one line) when it is done
        within its grace and failed."""
        if self.refused is not None:
            raise StrategyRefused(self.refused)
        return self

    def bind(self, on_refused: Callable[[CheckReport], None]) -> None:
        """What to do when it fails after the start stopped waiting (at once if it has)."""
        with self._lock:
            self._on_refused = on_refused
        self._tell()

    def _tell(self) -> None:
        with self._lock:
            report, act = self.report, self._on_refused
            if report is None or report.ok or act is None or self._told:
                return
            self._told = True
        act(report)

    def state(self, current: str) -> CheckState | None:
        """/status while it matters: running (how far), or failed while no strategy was chosen
        since (`current` is what runs now); None once passed."""
        if not self._done.is_set():
            return CheckState(self.name, *self.progress)
        r = self.report
        return CheckState(self.name, failed=r) if r is not None and not r.ok and current == "none" else None


def refuse_late(params: Params, notifier: Notifier, report: CheckReport) -> None:
    """A check that failed after the bot began serving: the trader runs no strategy from the
    next candle (STRATEGY as written is kept for the next start), said once in the chat
    (bot/texts.py words the notice from its report)."""
    log.warning("STRATEGY=%s failed its look-ahead/window check after the start (%s): no strategy runs until /strategy "
                "chooses one", report.strategy, report)
    params.run_none()
    notifier.notify(StrategyCheckFailed(report))
