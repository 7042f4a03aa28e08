"""PnL for a period, the latest fills and the wallet: what /pnl, /trades and /balance say.

Periods are measured back from the market's latest candle, not from the wall clock: for
a live bot the two agree, and a replay of history (the demo) still has a "today".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.portfolio import ClosedTrade, Portfolio

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


def paper_wallet(portfolio: Portfolio, marks: dict[str, Decimal], leverage: int) -> Wallet:
    used = portfolio.used_margin(leverage)
    equity = portfolio.equity(marks)
    return Wallet("paper", portfolio.balance, equity, used, equity - used)
