"""The trader seen from outside: one consistent read of every book and the portfolio.

What /status, the reports and the dashboard read; taken under the trader's lock, so a
position is never shown half-updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from trading.core.book import Book, Failing
from trading.core.brokers.base import OrderRequest
from trading.core.numbers import dec
from trading.core.portfolio import Portfolio
from trading.core.strategies import Values


@dataclass(frozen=True)
class PositionView:
    symbol: str
    side: str
    qty: Decimal
    entry: Decimal
    mark: Decimal
    unrealized: Decimal
    leverage: int
    stop: Decimal | None
    take: Decimal | None
    liq: Decimal | None = None  # paper: the isolated liquidation price
    position_side: str = "BOTH"  # LONG / SHORT: a Hedge Mode leg
    trail: Decimal | None = None  # the trailing stop's callback, % (None: none)
    trail_act: Decimal | None = None  # its activation price (None: active from the entry)
    margin: Decimal = Decimal(0)  # its size × entry ÷ leverage (the book's margin used, per position)
    funding: Decimal = Decimal(0)  # + received, − paid on it since it opened (the ledger's)


@dataclass(frozen=True)
class TraderSnapshot:
    mode: str
    strategy: str
    values: Values
    positions: list[PositionView]
    pending: list[OrderRequest]
    balance: Decimal
    equity: Decimal
    realized: Decimal
    fees: Decimal
    trades: int
    indicators: dict[str, dict[str, float]]
    failing: dict[str, Failing] = field(default_factory=dict)  # symbol → its strategy failing on every candle


def snapshot_of(books: Mapping[str, Book], portfolio: Portfolio, values: Values, mode: str,
                strategy: str) -> TraderSnapshot:
    """The caller holds the trader's lock. The mark is the latest price seen (the forming
    candle's, live), else the last close."""
    positions, marks = [], {}
    for s, book in books.items():
        last = book.last_price or book.last_close
        if last:
            marks[s] = dec(last)
        for pos in portfolio.open_of(s):  # the net position, or each Hedge Mode leg
            mark = marks.get(s, pos.entry)
            lv = book.levels(pos.position_side)
            positions.append(
                PositionView(
                    s, pos.side_name, abs(pos.qty), pos.entry, mark, pos.unrealized(mark) + 0,  # a flat SHORT: not -0.00
                    int(values.get("leverage", 1)), lv.stop, lv.take,
                    lv.liq, pos.position_side,
                    lv.trail, lv.trail_act, margin=abs(pos.qty) * pos.entry / max(1, int(values.get("leverage", 1))),
                    funding=pos.funding,
                )
            )
    return TraderSnapshot(
        mode=mode,
        strategy=strategy,
        values=dict(values),
        positions=positions,
        pending=[r for b in books.values() for r in b.pending],
        balance=portfolio.balance,
        equity=portfolio.equity(marks),
        realized=portfolio.realized,
        fees=portfolio.fees,
        trades=len(portfolio.trades),
        indicators={s: b.strategy.indicators() for s, b in books.items()},
        failing={s: b.failing for s, b in books.items() if b.failing is not None},
    )
