"""PnL for a period, the latest fills and the wallet: what /pnl, /trades, /balance,
/daily…/monthly and /performance say, every one read off the one ledger
(trading/core/ledger.py) in its vocabulary: gross, fees, funding, other charges, net.

Periods are measured back from the market's latest candle, not from the wall clock: for
a live bot the two agree, and a replay of history (the demo) still has a "today".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.core.ledger import Ledger, Totals
from trading.core.portfolio import Fill, Portfolio

DAY_MS = 86_400_000
PERIODS = {"today": 1, "7d": 7, "30d": 30, "all": None}


@dataclass(frozen=True)
class PnlSummary:
    """One period of the ledger and the open positions now."""

    period: str
    since_ms: int | None
    realized: Decimal  # net: gross − fees + funding − charges booked in the period (the wallet's change)
    gross: Decimal  # price PnL of what was closed in the period, partial closes included
    fees: Decimal  # trading fees paid in the period
    trades: int  # whole trades closed in the period
    wins: int
    unrealized: Decimal  # the open positions now
    funding: Decimal = Decimal(0)  # + received, − paid, in the period
    charges: Decimal = Decimal(0)  # other charges (the clearance fee after a liquidation)
    legs: tuple[tuple[str, str, Totals], ...] = ()  # Hedge Mode: each leg's share (ledger.legs)

    @property
    def net(self) -> Decimal:
        return self.realized

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


def pnl_summary(period: str, now_ms: int, ledger: Ledger, unrealized: Decimal) -> PnlSummary:
    since = period_start(period, now_ms)
    t = ledger.between(since)
    return PnlSummary(period, since, t.net, t.gross, t.fees, t.trades, t.wins, unrealized, t.funding, t.charges,
                      tuple(ledger.legs(since)))  # fmt: skip


@dataclass(frozen=True)
class Wallet:
    mode: str
    balance: Decimal  # wallet: initial + Σ net of the ledger
    equity: Decimal  # balance + unrealized
    margin_used: Decimal
    available: Decimal
    funding: Decimal = Decimal(0)  # booked funding, + received, − paid
    unrealized: Decimal = Decimal(0)
    exchange: Wallet | None = None  # demo/live: what Binance says (futures account)
    other_fees: Decimal = Decimal(0)  # fees paid in BNB (their USDT value): not from the USDT wallet
    charges: Decimal = Decimal(0)  # other charges booked (the clearance fee after a liquidation)
    legs: tuple[LegMargin, ...] = ()  # Hedge Mode: each open leg's margin and funding
    exchange_account: bool = False  # demo/live: the bot's book of a Binance account (`exchange` beside it, if read)


@dataclass(frozen=True)
class LegMargin:
    """An open Hedge Mode leg in /balance: the margin it holds (its size × entry ÷ leverage,
    the book's margin used, leg by leg) and the funding booked on it since it opened."""

    symbol: str
    position_side: str
    margin: Decimal
    funding: Decimal
    liq: Decimal | None = None  # Binance's liquidation price of the leg (demo/live, its own section)


def paper_wallet(portfolio: Portfolio, marks: dict[str, Decimal], leverage: int, mode: str = "paper") -> Wallet:
    """The bot's book as a wallet, titled by the mode it trades in (paper, demo, live)."""
    used = portfolio.used_margin(leverage)
    equity = portfolio.equity(marks)
    legs = tuple(LegMargin(p.symbol, p.position_side, abs(p.qty) * p.entry / max(1, leverage), p.funding)
                 for p in sorted(portfolio.positions.values(), key=lambda p: p.key)
                 if p.qty and p.position_side != "BOTH")  # fmt: skip
    return Wallet(mode, portfolio.balance, equity, used, equity - used, portfolio.funding, equity - portfolio.balance,
                  charges=portfolio.charges, legs=legs)


def fill_legs(fills: Sequence[Fill]) -> list[str]:
    """What each fill did to its position (the symbol's, or its Hedge Mode leg's), in order: `open`, `add`, `reduce`,
    `close`, or `reverse` (closed and opened the other side), or `charge` for a booking
    without quantity (the clearance fee: an other charge, not a fill): /trades labels its rows so."""
    held: dict[str, Decimal] = {}
    out = []
    for f in fills:
        if not f.qty:
            out.append("charge")
            continue
        before = held.get(f.key, Decimal(0))
        after = before + f.signed_qty
        held[f.key] = after
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
    """One UTC day, ISO week (from Monday) or calendar month of the ledger."""

    start_ms: int
    gross: Decimal
    fees: Decimal
    net: Decimal
    trades: int  # whole trades closed in it
    start_balance: Decimal  # the wallet at the period's start (initial + the net booked before)
    funding: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)

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


def period_table(unit: str, n: int, now_ms: int, ledger: Ledger) -> list[PeriodRow]:
    """The ledger by the UTC period each entry was booked in, newest first; periods without
    an entry are listed too (with 0), so a quiet day reads as quiet, not as missing."""
    starts = _period_starts(unit, now_ms, n)
    ends = starts[1:] + [2**63]
    rows = []
    for start, end in zip(starts, ends, strict=True):
        t = ledger.between(start, end)
        rows.append(PeriodRow(start, t.gross, t.fees, t.net, t.trades, ledger.wallet_at(start), t.funding, t.charges))
    return rows[::-1]


@dataclass(frozen=True)
class SymbolPerformance:
    symbol: str
    trades: int
    wins: int
    gross: Decimal
    fees: Decimal
    net: Decimal
    funding: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)


def performance(ledger: Ledger) -> list[SymbolPerformance]:
    """The whole ledger per symbol, best net first (freqtrade's /performance)."""
    out = []
    for symbol in ledger.symbols():
        t = ledger.between(symbol=symbol)
        out.append(SymbolPerformance(symbol, t.trades, t.wins, t.gross, t.fees, t.net, t.funding, t.charges))
    return sorted(out, key=lambda p: p.net, reverse=True)
