"""What a trader reads off a backtest: trades, win rate, net PnL, fees, drawdown, exposure,
and buy-and-hold over the same candles for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.portfolio import ClosedTrade

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Stats:
    candles: int
    trades: int
    wins: int
    net_pnl: Decimal  # closed trades, net of fees
    fees: Decimal
    final_balance: Decimal
    open_pnl: float  # the position still open at the end, marked at the last close
    max_drawdown: float  # USDT, peak to trough of mark-to-market equity
    max_drawdown_pct: float
    exposure_pct: float
    buy_hold_pct: float
    buy_hold_usdt: float  # the same notional held long from the first to the last close
    return_pct: float

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("candles traded", f"{self.candles:,}"),
            ("trades", f"{self.trades:,}"),
            ("win rate", f"{self.win_rate:.1f} % ({self.wins} won)"),
            ("net PnL", f"{self.net_pnl.quantize(CENT):+,} USDT ({self.return_pct:+.2f} %)"),
            ("fees", f"{self.fees.quantize(CENT):,} USDT"),
            ("open position PnL", f"{self.open_pnl:+,.2f} USDT"),
            ("final balance", f"{self.final_balance.quantize(CENT):,} USDT"),
            ("max drawdown", f"{self.max_drawdown:,.2f} USDT ({self.max_drawdown_pct:.2f} %)"),
            ("exposure", f"{self.exposure_pct:.1f} % of candles"),
            ("buy and hold", f"{self.buy_hold_pct:+.2f} % ({self.buy_hold_usdt:+,.2f} USDT on the same notional)"),
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
    )
