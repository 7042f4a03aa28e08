"""Account protections (issue 29): a daily loss limit, a drawdown hard stop, and per-symbol
locks after stop-losses (STOPLOSS_GUARD) or after any close (COOLDOWN_CANDLES).

One object the trader owns, the same in the backtest, paper and the live bot (parity). It
is judged on closed candles only, in the trader's order: after the candle's fills and
exits, before the strategy decides, so the candle where the numbers cross is the candle
whose decision is refused. Every candle belongs to the UTC day of its open time.

- Daily loss: today's net is the wallet now minus the wallet at the day's start (realized
  PnL, fees and funding booked today) plus the open positions' unrealized PnL at the
  candle's close. When it reaches −MAX_DAILY_LOSS (USDT, or N % of the day-start wallet)
  entries halt (reason `daily_loss`) until the next UTC day or /resume; with
  DAILY_LOSS_ACTION=close the open positions are also closed at once.
- Drawdown: equity (wallet + unrealized at the candle's close) against its peak. Warnings
  at 50 % and 75 % of MAX_DRAWDOWN_PCT (once per peak); at the limit every position is
  closed at once and entries halt (reason `drawdown`) until /resume, which takes the equity
  of that moment as the new peak (else the next candle would stop again).
- STOPLOSS_GUARD=N/W: N stop-losses (fixed or trailing) on a symbol whose closes fell in
  the last W candles lock that symbol's entries for STOPLOSS_GUARD_LOCK candles (default W).
- COOLDOWN_CANDLES=N: after any close, that symbol takes no new entry for N candles.

A lock made by a close in candle k (the candle whose open time the close is booked at, or
in which an exchange fill's time falls) ends at the close of candle k+L: the decisions at
the closes of k … k+L−1 open nothing, the one at the close of k+L may.

The state (day, day-start wallet, peak, halts, locks, recent stop-losses) is a JSON value
saved on every change through `save` (the live bot's runtime_state), so a restart keeps
it; the backtest keeps it in memory. The core returns events; the words are bot/texts.py's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from trading.core.events import Event, ProtectionLifted, ProtectionTripped, ProtectionWarning
from trading.core.numbers import PLAIN

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
HUNDRED = Decimal(100)
STATE_KEY = "protections"
HALTS = ("daily_loss", "drawdown")
ACTIONS = ("pause", "close")
WARN_AT = (50, 75)  # % of MAX_DRAWDOWN_PCT
STOP_REASONS = ("stop_loss", "trailing_stop")


@dataclass(frozen=True)
class ProtectionsView:
    """What /protections shows: the settings, today's net and the drawdown as last measured
    (at the latest closed candle), the halts with their numbers, the active locks."""

    rules: ProtectionRules
    daily_net: Decimal | None
    day_start: Decimal | None  # the wallet at the UTC day's start (or at the first candle this process saw that day)
    daily_limit: Decimal | None
    day_end: int | None
    drawdown: Decimal | None
    peak: Decimal | None
    halted: dict[str, dict[str, str]]
    locks: dict[str, dict[str, Any]]
    measured_at: int | None = None  # ms: the close today's net and the drawdown were measured at


@dataclass(frozen=True)
class ProtectionRules:
    """The settings (all off by default). daily_loss: USDT, or % of the day-start wallet when
    daily_loss_pct; stoploss_guard: (N stop-losses, within W candles)."""

    daily_loss: Decimal | None = None
    daily_loss_pct: bool = False
    daily_loss_action: str = "pause"
    max_drawdown_pct: Decimal | None = None
    stoploss_guard: tuple[int, int] | None = None
    stoploss_guard_lock: int | None = None  # candles; None: the window
    cooldown_candles: int = 0

    @property
    def on(self) -> bool:
        return bool(self.daily_loss or self.max_drawdown_pct or self.stoploss_guard or self.cooldown_candles)

    @property
    def guard_lock(self) -> int:
        if self.stoploss_guard is None:
            return 0
        return self.stoploss_guard_lock if self.stoploss_guard_lock is not None else self.stoploss_guard[1]

    def daily_limit(self, day_start: Decimal) -> Decimal | None:
        """The loss (USDT, > 0) that halts entries today."""
        if not self.daily_loss:
            return None
        return day_start * self.daily_loss / HUNDRED if self.daily_loss_pct else self.daily_loss


def parse_daily_loss(raw: str) -> tuple[Decimal | None, bool]:
    """`50` (USDT) or `5%` (of the day-start wallet); `` or 0: off. ValueError: one line."""
    text = raw.strip()
    pct = text.endswith("%")
    number = text[:-1].strip() if pct else text
    if not number:
        return None, False
    if not PLAIN.fullmatch(number):
        raise ValueError(f"{raw!r} is not a USDT amount (50) or a percentage (5%)")
    value = Decimal(number)
    if value < 0 or (pct and value >= 100):
        raise ValueError(f"{raw!r} must be a positive amount, or a percentage below 100")
    return (value or None), pct


def parse_guard(raw: str) -> tuple[int, int] | None:
    """`N/W`: N stop-losses within W candles (both whole numbers ≥ 1); `` or 0: off."""
    text = raw.strip()
    if text in ("", "0", "off"):
        return None
    n, sep, w = text.partition("/")
    n, w = n.strip(), w.strip()
    if not (sep and n.isascii() and w.isascii() and n.isdigit() and w.isdigit()) or int(n) < 1 or int(w) < 1:
        raise ValueError(f"{raw!r} is not N/W (N stop-losses within W candles, e.g. 3/24)")
    return int(n), int(w)


class Protections:
    """The protections' state and rules; every call comes under the trader's lock."""

    def __init__(self, rules: ProtectionRules, interval_ms: int, load: Callable[[], str | None] | None = None,
                 save: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.rules = rules
        self.interval_ms = interval_ms
        self._save = save
        self.trips: dict[str, int] = {}  # name → times tripped in this process (the backtest's report)
        self.day: int | None = None
        self.day_start: Decimal | None = None
        self.peak: Decimal | None = None
        self.halted: dict[str, dict[str, str]] = {}  # daily_loss | drawdown → the numbers that tripped it
        self.warned: list[int] = []  # drawdown warnings given since the peak
        self.locks: dict[str, dict[str, Any]] = {}  # symbol → {"until": ms, "why": name}
        self.stops: dict[str, list[int]] = {}  # symbol → candle open times of recent stop-loss closes
        self.last: dict[str, str] = {}  # today's net, the drawdown: as last measured (/protections)
        raw = load() if load is not None else None
        if raw:
            try:
                self._restore(json.loads(raw))
            except (ValueError, TypeError, KeyError, InvalidOperation):
                log.error("runtime_state %r unreadable (%r); protections start fresh", STATE_KEY, raw)

    # ------------------------------------------------------------- reading
    def halts(self) -> frozenset[str]:
        return frozenset(self.halted)

    def blocked(self, symbol: str, now: int) -> str | None:
        """Why an entry on `symbol` at market time `now` (ms) is refused, or None."""
        if self.halted:
            return sorted(self.halted)[0]
        lock = self.locks.get(symbol)
        if lock is not None and now < lock["until"]:
            return str(lock["why"])
        return None

    def active_locks(self, now: int) -> dict[str, dict[str, Any]]:
        return {s: dict(lk) for s, lk in sorted(self.locks.items()) if now < lk["until"]}

    def view(self, now: int) -> ProtectionsView:
        net, dd = self.last.get("daily_net"), self.last.get("drawdown")
        return ProtectionsView(
            self.rules, None if net is None else Decimal(net), self.day_start,
            self.rules.daily_limit(self.day_start) if self.day_start is not None else None,
            None if self.day is None else (self.day + 1) * DAY_MS, None if dd is None else Decimal(dd), self.peak,
            {k: dict(v) for k, v in self.halted.items()}, self.active_locks(now),
            int(self.last["at"]) if "at" in self.last else None,
        )  # fmt: skip

    # ------------------------------------------------------------- the candle's check
    def roll(self, open_time: int, wallet: Decimal) -> list[Event]:
        """First call for a candle of a new UTC day: the day-start wallet, and a daily-loss
        halt of an earlier day lifted."""
        day = open_time // DAY_MS
        if self.day is not None and day <= self.day:
            return []
        out: list[Event] = []
        self.day, self.day_start = day, wallet
        if "daily_loss" in self.halted:
            del self.halted["daily_loss"]
            out.append(ProtectionLifted("daily_loss", None, "next_day", day * DAY_MS))
        self._store()
        return out

    def check(self, close_time: int, wallet: Decimal, equity: Decimal) -> tuple[list[Event], str | None]:
        """The account's numbers at a candle's close. Returns the events and, when positions
        must be closed at once, the reason (`daily_loss` | `drawdown`)."""
        r = self.rules
        out: list[Event] = []
        close: str | None = None
        changed = False
        self.last["at"] = str(close_time)
        if r.max_drawdown_pct:
            if self.peak is None or equity > self.peak:
                self.peak, self.warned, changed = equity, [], True
            dd = (self.peak - equity) / self.peak * HUNDRED if self.peak > 0 else Decimal(0)
            self.last["drawdown"] = str(dd)
            if "drawdown" not in self.halted:
                if dd >= r.max_drawdown_pct:
                    self.halted["drawdown"] = {"peak": str(self.peak), "equity": str(equity), "drawdown": str(dd),
                                               "at": str(close_time)}  # fmt: skip
                    self._tripped("drawdown")
                    out.append(ProtectionTripped("drawdown", None, dd, r.max_drawdown_pct, None, "close",
                                                 {"peak": self.peak, "equity": equity}))  # fmt: skip
                    close, changed = "drawdown", True
                else:
                    for level in WARN_AT:
                        if level not in self.warned and dd >= r.max_drawdown_pct * level / HUNDRED:
                            self.warned.append(level)
                            changed = True
                            out.append(ProtectionWarning("drawdown", level, dd, r.max_drawdown_pct,
                                                         {"peak": self.peak, "equity": equity}))  # fmt: skip
        if r.daily_loss and self.day_start is not None:
            net = equity - self.day_start  # the wallet's change today + the unrealized now
            limit = r.daily_limit(self.day_start)
            self.last["daily_net"] = str(net)
            if limit is not None and "daily_loss" not in self.halted and -net >= limit:
                self.halted["daily_loss"] = {"net": str(net), "limit": str(limit), "at": str(close_time)}
                self._tripped("daily_loss")
                action = r.daily_loss_action
                out.append(ProtectionTripped("daily_loss", None, net, limit, (self.day + 1) * DAY_MS if self.day is not None else None,  # type: ignore[operator]
                                             action, {"day_start": self.day_start, "pct": r.daily_loss if r.daily_loss_pct else None}))  # fmt: skip
                close = close or ("daily_loss" if action == "close" else None)
                changed = True
        if changed:
            self._store()
        return out, close

    def on_closed(self, symbol: str, reason: str, at: int) -> list[Event]:
        """A position on `symbol` closed (booked at market time `at`, ms): cooldown and the
        stop-loss guard."""
        r = self.rules
        if not (r.cooldown_candles or r.stoploss_guard):
            return []
        iv = self.interval_ms
        candle = at - at % iv  # the candle the close happened in
        out: list[Event] = []
        lock: tuple[int, str, dict[str, Any]] | None = None
        if r.stoploss_guard and reason in STOP_REASONS:
            n, window = r.stoploss_guard
            recent = [t for t in self.stops.get(symbol, []) if t > candle - window * iv] + [candle]
            self.stops[symbol] = recent
            if len(recent) >= n:
                lock = (candle + (r.guard_lock + 1) * iv, "stoploss_guard", {"stops": len(recent), "window": window})
                self.stops[symbol] = []
        if lock is None and r.cooldown_candles:
            lock = (candle + (r.cooldown_candles + 1) * iv, "cooldown", {"candles": r.cooldown_candles})
        if lock is not None:
            until, why, numbers = lock
            cur = self.locks.get(symbol)
            if cur is None or cur["until"] < until or cur["why"] != why:
                self.locks[symbol] = {"until": max(until, cur["until"]) if cur else until, "why": why}
                self._tripped(why)
                guard = why == "stoploss_guard" and r.stoploss_guard is not None
                value = Decimal(numbers["stops"]) if guard else None
                limit = Decimal(r.stoploss_guard[0] if guard else r.cooldown_candles)  # type: ignore[index]
                out.append(ProtectionTripped(why, symbol, value, limit, self.locks[symbol]["until"], "lock", numbers))
        self._store()
        return out

    # ------------------------------------------------------------- people
    def resume(self, equity: Decimal) -> list[str]:
        """/resume: the halts lifted (a drawdown's peak restarts at `equity`)."""
        lifted = sorted(self.halted)
        if "drawdown" in self.halted:
            self.peak, self.warned = equity, []
        self.halted.clear()
        if lifted:
            self._store()
        return lifted

    def unlock(self, symbol: str | None, now: int) -> list[str]:
        """/unlock SYMBOL or all (None): the symbols whose active lock was lifted."""
        gone = [s for s, lk in self.locks.items() if (symbol is None or s == symbol) and now < lk["until"]]
        for s in list(self.locks):
            if symbol is None or s == symbol:
                del self.locks[s]
                self.stops.pop(s, None)
        self._store()
        return sorted(gone)

    # ------------------------------------------------------------- keeping it
    def _tripped(self, name: str) -> None:
        self.trips[name] = self.trips.get(name, 0) + 1

    def state(self) -> dict[str, Any]:
        return {
            "day": self.day, "day_start": None if self.day_start is None else str(self.day_start),
            "peak": None if self.peak is None else str(self.peak), "halted": self.halted, "warned": self.warned,
            "locks": self.locks, "stops": self.stops,
        }  # fmt: skip

    def _restore(self, s: dict[str, Any]) -> None:
        self.day = s.get("day")
        self.day_start = None if s.get("day_start") is None else Decimal(s["day_start"])
        self.peak = None if s.get("peak") is None else Decimal(s["peak"])
        self.halted = {k: dict(v) for k, v in (s.get("halted") or {}).items() if k in HALTS}
        self.warned = [int(x) for x in s.get("warned") or []]
        self.locks = {k: {"until": int(v["until"]), "why": str(v["why"])} for k, v in (s.get("locks") or {}).items()}
        self.stops = {k: [int(t) for t in v] for k, v in (s.get("stops") or {}).items()}

    def _store(self) -> None:
        if self._save is not None:
            self._save(json.dumps(self.state(), sort_keys=True))
