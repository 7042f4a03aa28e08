"""What a trader reads off a backtest: trades, win rate, the ledger's gross, fees, funding
and net (trading/core/ledger.py: the same words as /pnl), the open position's unrealized PnL
and the end equity (the equity chart's last point), drawdown, exposure, and buy-and-hold
over the same candles for comparison."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from trading.core.numbers import num
from trading.core.portfolio import ClosedTrade

CENT = Decimal("0.01")


def traded_span(first_ms: int, last_ms: int, traded: int, warm: int) -> str:
    """The same words for a single run and a grid: the traded candles (UTC open times), the warm-up apart."""
    def utc(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")

    return f"{utc(first_ms)} → {utc(last_ms)} UTC · {traded:,} candles traded" + (
        f" (after {warm:,} warm-up)" if warm else "")


@dataclass(frozen=True)
class Stats:
    candles: int
    trades: int
    wins: int
    net_pnl: Decimal  # the ledger's net: gross − fees + funding − charges booked (the wallet's change)
    fees: Decimal
    final_balance: Decimal  # the wallet at the end: the balance + net
    open_pnl: float  # unrealized: the position still open at the end, marked at the last close
    max_drawdown: float  # USDT, peak to trough of mark-to-market equity
    max_drawdown_pct: float
    exposure_pct: float
    buy_hold_pct: float
    buy_hold_usdt: float  # the same notional held long from the first to the last close
    return_pct: float
    funding: Decimal = Decimal(0)  # all funding booked, + received, − paid (open position's too)
    liquidations: int = 0
    trips: tuple[tuple[str, int], ...] = ()  # the account protections that tripped (issue 29): (name, count)
    gross: Decimal = Decimal(0)  # price PnL of what was closed
    charges: Decimal = Decimal(0)  # other charges: the clearance fees of liquidations

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0

    @property
    def end_equity(self) -> float:
        """The final balance plus the open position at the last close: the equity chart's last point."""
        return float(self.final_balance) + self.open_pnl

    def rows(self) -> list[tuple[str, str]]:
        win = f"{num(self.win_rate, '.1f')} % ({self.wins:,} won)" if self.trades else "— (no closed trade)"
        return [
            ("candles traded", f"{self.candles:,}"),
            ("trades", f"{self.trades:,}"),
            ("win rate", win),
            ("gross", f"{num(self.gross.quantize(CENT), '+,')} USDT (price PnL of what was closed)"),
            ("fees", f"{num(self.fees.quantize(CENT), ',')} USDT"),
            ("funding", f"{num(self.funding.quantize(CENT), '+,')} USDT (+ received, − paid)"),
            *([("other charges", f"{num(self.charges.quantize(CENT), ',')} USDT")] if self.charges else []),
            ("net PnL", f"{num(self.net_pnl.quantize(CENT), '+,')} USDT ({num(self.return_pct, '+.2f')} %; "
                        "gross − fees + funding, the wallet's change)"),
            ("unrealized", f"{num(self.open_pnl, '+,.2f')} USDT (the open position at the last close)"),
            ("equity", f"{num(self.end_equity, ',.2f')} USDT (balance + net + unrealized: the chart's end)"),
            ("liquidations", f"{self.liquidations:,}"),
            ("final balance", f"{num(self.final_balance.quantize(CENT), ',')} USDT"),
            ("max drawdown", f"{num(self.max_drawdown, ',.2f')} USDT ({num(self.max_drawdown_pct, '.2f')} %)"),
            ("exposure", f"{num(self.exposure_pct, '.1f')} % of candles"),
            ("buy and hold", f"{num(self.buy_hold_pct, '+.2f')} % "
                             f"({num(self.buy_hold_usdt, '+,.2f')} USDT on the same notional)"),
            ("protections tripped", " · ".join(f"{r} {n:,}" for r, n in self.trips) or "none"),
        ]


def exit_counts(trades: Sequence[ClosedTrade]) -> str:
    """How the trades ended (`signal 12 · stop_loss 3 · drawdown 1`), most first: the report's
    `exits` line (each trade's exit_reason is in --trades-out)."""
    return " · ".join(f"{r} {n:,}" for r, n in Counter(t.exit_reason for t in trades).most_common()) or "—"


def compute_stats(
    *,
    trades: Sequence[ClosedTrade],
    equity: Sequence[float],
    closes: Sequence[float],
    exposed: int,
    balance: Decimal,
    final_balance: Decimal,
    fees: Decimal,
    notional: Decimal,
    funding: Decimal = Decimal(0),
    gross: Decimal | None = None,
    charges: Decimal = Decimal(0),
    trips: Mapping[str, int] | None = None,
) -> Stats:
    """`gross`, `fees`, `funding`, `charges`: the run's ledger totals; net is what they left in
    the wallet (final − balance), the open trade's fees and funding included."""
    peak, dd, dd_pct = float("-inf"), 0.0, 0.0
    for e in equity:
        if e > peak:
            peak = e
        drop = peak - e
        if drop > dd:
            dd, dd_pct = drop, 100.0 * drop / peak if peak > 0 else 0.0
    n = len(equity)
    net = final_balance - balance
    bh = (closes[-1] / closes[0] - 1.0) if n and closes[0] else 0.0
    open_pnl = (equity[-1] - float(final_balance)) if n else 0.0
    return Stats(
        candles=n,
        trades=len(trades),
        wins=sum(1 for t in trades if t.pnl > 0),
        net_pnl=net,
        fees=fees,
        final_balance=final_balance,
        open_pnl=open_pnl,
        max_drawdown=dd,
        max_drawdown_pct=dd_pct,
        exposure_pct=100.0 * exposed / n if n else 0.0,
        buy_hold_pct=100.0 * bh,
        buy_hold_usdt=float(notional) * bh,
        return_pct=float(100 * net / balance) if balance else 0.0,
        funding=funding,
        liquidations=sum(1 for t in trades if t.exit_reason == "liquidation"),
        trips=tuple(sorted((trips or {}).items())),
        gross=net + fees - funding + charges if gross is None else gross,
        charges=charges,
    )
