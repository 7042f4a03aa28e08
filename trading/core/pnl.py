"""PnL for a period, the latest fills and the wallet: what /pnl, /trades and /balance say.

Periods are measured back from the market's latest candle, not from the wall clock: for
a live bot the two agree, and a replay of history (the demo) still has a "today".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.core.portfolio import ClosedTrade, Fill, Portfolio

DAY_MS = 86_400_000
PERIODS = {"today": 1, "7d": 7, "30d": 30, "all": None}


@dataclass(frozen=True)
class PnlSummary:
    period: str
    since_ms: int | None
    realized: Decimal  # closed trades in the period, net of their fees, funding included
    gross: Decimal  # the same trades before fees and funding
    fees: Decimal  # the fees of those trades (the /equity chart's "fees")
    trades: int
    wins: int
    unrealized: Decimal  # the open positions now
    funding: Decimal = Decimal(0)  # funding of those trades, + received, − paid

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0


def period_start(period: str, now_ms: int) -> int | None:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    days = PERIODS[period]
    if days is None:
        return None
    midnight = now_ms - now_ms % DAY_MS
    return midnight - (days - 1) * DAY_MS


def pnl_summary(period: str, now_ms: int, trades: Sequence[ClosedTrade], unrealized: Decimal) -> PnlSummary:
    since = period_start(period, now_ms)
    chosen = [t for t in trades if since is None or t.close_time >= since]
    return PnlSummary(
        period=period,
        since_ms=since,
        realized=sum((t.pnl for t in chosen), Decimal(0)),
        gross=sum((t.pnl + t.fees - t.funding for t in chosen), Decimal(0)),
        fees=sum((t.fees for t in chosen), Decimal(0)),
        trades=len(chosen),
        wins=sum(1 for t in chosen if t.pnl > 0),
        unrealized=unrealized,
        funding=sum((t.funding for t in chosen), Decimal(0)),
    )


@dataclass(frozen=True)
class Wallet:
    mode: str
    balance: Decimal  # wallet: initial + realized − fees
    equity: Decimal  # balance + unrealized
    margin_used: Decimal
    available: Decimal
    funding: Decimal = Decimal(0)  # booked funding, + received, − paid
    unrealized: Decimal = Decimal(0)
    exchange: Wallet | None = None  # demo/live: what Binance says (futures account)
    other_fees: Decimal = Decimal(0)  # fees paid in BNB (their USDT value): not from the USDT wallet


def paper_wallet(portfolio: Portfolio, marks: dict[str, Decimal], leverage: int, mode: str = "paper") -> Wallet:
    """The bot's book as a wallet, titled by the mode it trades in (paper, demo, live)."""
    used = portfolio.used_margin(leverage)
    equity = portfolio.equity(marks)
    return Wallet(mode, portfolio.balance, equity, used, equity - used, portfolio.funding, equity - portfolio.balance)


def fill_legs(fills: Sequence[Fill]) -> list[str]:
    """What each fill did to its symbol's position, in order: `open`, `add`, `reduce`,
    `close`, or `reverse` (closed and opened the other side): /trades labels its rows so."""
    held: dict[str, Decimal] = {}
    out = []
    for f in fills:
        before = held.get(f.symbol, Decimal(0))
        after = before + f.signed_qty
        held[f.symbol] = after
        if not before:
            out.append("open")
        elif (before > 0) == (f.signed_qty > 0):
            out.append("add")
        elif not after:
            out.append("close")
        elif (after > 0) == (before > 0):
            out.append("reduce")
        else:
            out.append("reverse")
    return out


# ---------------------------------------------------------------- /daily, /weekly, /monthly, /performance
PERIOD_UNITS = {"daily": (7, 90), "weekly": (4, 52), "monthly": (6, 24)}  # default n, max n


@dataclass(frozen=True)
class PeriodRow:
    """One UTC day, ISO week (from Monday) or calendar month of closed trades."""

    start_ms: int
    gross: Decimal
    fees: Decimal
    net: Decimal
    trades: int
    start_balance: Decimal  # the wallet at the period's start (initial + net of earlier trades)

    @property
    def return_pct(self) -> Decimal:
        return self.net / self.start_balance * 100 if self.start_balance else Decimal(0)


def _period_starts(unit: str, now_ms: int, n: int) -> list[int]:
    """The starts of the last n periods, oldest first, the current (unfinished) one last."""
    from datetime import UTC, datetime, timedelta

    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "daily":
        starts = [now - timedelta(days=i) for i in range(n)]
    elif unit == "weekly":
        monday = now - timedelta(days=now.weekday())
        starts = [monday - timedelta(weeks=i) for i in range(n)]
    elif unit == "monthly":
        starts, month = [], now.replace(day=1)
        for _ in range(n):
            starts.append(month)
            month = (month - timedelta(days=1)).replace(day=1)
    else:
        raise ValueError(f"unit must be one of {', '.join(PERIOD_UNITS)}")
    return [int(s.timestamp() * 1000) for s in reversed(starts)]


def period_table(unit: str, n: int, now_ms: int, trades: Sequence[ClosedTrade], initial: Decimal) -> list[PeriodRow]:
    """Closed trades by the UTC period they closed in, newest first; periods without a
    trade are listed too (with 0), so a quiet day reads as quiet, not as missing."""
    starts = _period_starts(unit, now_ms, n)
    ends = starts[1:] + [2**63]
    rows = []
    for start, end in zip(starts, ends, strict=True):
        chosen = [t for t in trades if start <= t.close_time < end]
        before = sum((t.pnl for t in trades if t.close_time < start), Decimal(0))
        fees = sum((t.fees for t in chosen), Decimal(0))
        net = sum((t.pnl for t in chosen), Decimal(0))
        rows.append(PeriodRow(start, net + fees, fees, net, len(chosen), initial + before))
    return rows[::-1]


@dataclass(frozen=True)
class SymbolPerformance:
    symbol: str
    trades: int
    wins: int
    gross: Decimal
    fees: Decimal
    net: Decimal


def performance(trades: Sequence[ClosedTrade]) -> list[SymbolPerformance]:
    """All closed trades per symbol, best net first (freqtrade's /performance)."""
    out = []
    for symbol in sorted({t.symbol for t in trades}):
        mine = [t for t in trades if t.symbol == symbol]
        fees = sum((t.fees for t in mine), Decimal(0))
        net = sum((t.pnl for t in mine), Decimal(0))
        out.append(SymbolPerformance(symbol, len(mine), sum(1 for t in mine if t.pnl > 0), net + fees, fees, net))
    return sorted(out, key=lambda p: p.net, reverse=True)
