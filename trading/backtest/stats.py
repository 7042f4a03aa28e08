"""What a trader reads off a backtest: trades, win rate, net PnL, fees, drawdown, exposure,
and buy-and-hold over the same candles for comparison."""

from __future__ import annotations

from collections.abc import Sequence
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
    net_pnl: Decimal  # closed trades, net of fees, funding included
    fees: Decimal
    final_balance: Decimal
    open_pnl: float  # the position still open at the end, marked at the last close
    max_drawdown: float  # USDT, peak to trough of mark-to-market equity
    max_drawdown_pct: float
    exposure_pct: float
    buy_hold_pct: float
    buy_hold_usdt: float  # the same notional held long from the first to the last close
    return_pct: float
    funding: Decimal = Decimal(0)  # all funding booked, + received, − paid (open position's too)
    liquidations: int = 0

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0

    def rows(self) -> list[tuple[str, str]]:
        win = f"{num(self.win_rate, '.1f')} % ({self.wins:,} won)" if self.trades else "— (no closed trade)"
        return [
            ("candles traded", f"{self.candles:,}"),
            ("trades", f"{self.trades:,}"),
            ("win rate", win),
            ("net PnL", f"{num(self.net_pnl.quantize(CENT), '+,')} USDT ({num(self.return_pct, '+.2f')} %)"),
            ("fees", f"{num(self.fees.quantize(CENT), ',')} USDT"),
            ("funding", f"{num(self.funding.quantize(CENT), '+,')} USDT (+ received, − paid)"),
            ("liquidations", f"{self.liquidations:,}"),
            ("open position PnL", f"{num(self.open_pnl, '+,.2f')} USDT"),
            ("final balance", f"{num(self.final_balance.quantize(CENT), ',')} USDT"),
            ("max drawdown", f"{num(self.max_drawdown, ',.2f')} USDT ({num(self.max_drawdown_pct, '.2f')} %)"),
            ("exposure", f"{num(self.exposure_pct, '.1f')} % of candles"),
            ("buy and hold", f"{num(self.buy_hold_pct, '+.2f')} % "
                             f"({num(self.buy_hold_usdt, '+,.2f')} USDT on the same notional)"),
        ]


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
) -> Stats:
    peak, dd, dd_pct = float("-inf"), 0.0, 0.0
    for e in equity:
        if e > peak:
            peak = e
        drop = peak - e
        if drop > dd:
            dd, dd_pct = drop, 100.0 * drop / peak if peak > 0 else 0.0
    n = len(equity)
    net = sum((t.pnl for t in trades), Decimal(0))
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
    )
