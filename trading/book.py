"""The trader's per-symbol state and the read-only views of it the chat shows.

Kept apart from the trader so the rules (trader.py) read without the bookkeeping types.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading.brokers.base import OrderRequest
from trading.candles import Candle
from trading.portfolio import ClosedTrade, Fill
from trading.strategies import Strategy, Values
from trading.symbols import SymbolFilters

if TYPE_CHECKING:
    from trading.trader import Trader


@dataclass
class Book:
    """One symbol's trading state."""

    symbol: str
    strategy: Strategy
    history: deque[Candle]
    cursor: int | None = None
    pending: list[OrderRequest] = field(default_factory=list)
    stop: Decimal | None = None
    take: Decimal | None = None
    stop_f: float = 0.0
    take_f: float = 0.0
    last_close: float = 0.0
    last_price: float = 0.0  # the forming candle's latest price (live), else the last close
    decided: int = 0  # candles decided on in this process
    problem: str | None = None  # the strategy's last failure, said once (trader._strategy_decides)
    # isolated margin (paper broker): the position's margin and liquidation price
    margin: Decimal = Decimal(0)
    liq: Decimal | None = None
    liq_f: float = 0.0
    liq_long: bool = True  # the side liq is for: a long is liquidated below it
    forming: Candle | None = None  # live: the forming candle's latest update
    funded_to: int | None = None  # open time of the last candle whose funding times were booked

    def state(self) -> dict[str, Any]:
        """What the journal keeps of a book between restarts (money as exact text)."""
        return {
            "cursor": self.cursor,
            "pending": [r.to_dict() for r in self.pending],
            "stop": None if self.stop is None else str(self.stop),
            "take": None if self.take is None else str(self.take),
            "margin": str(self.margin),
            "liq": None if self.liq is None else str(self.liq),
            "liq_long": self.liq_long,
            "funded_to": self.funded_to,
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        if not state:
            return
        self.cursor = state.get("cursor")
        self.pending = [OrderRequest.from_dict(d) for d in state.get("pending", [])]
        for name in ("stop", "take", "liq"):
            raw = state.get(name)
            setattr(self, name, None if raw is None else Decimal(raw))
            setattr(self, name + "_f", 0.0 if raw is None else float(raw))
        self.margin = Decimal(state.get("margin") or 0)
        self.funded_to = state.get("funded_to")
        self.liq_long = bool(state.get("liq_long", True))


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


def dec(x: float) -> Decimal:
    """A float price from the wire as the decimal it was written as (repr round-trips)."""
    return Decimal(repr(x))


def utc_minute(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Placement:
    """What placing a confirmed proposal did: its fills, the trades they closed, and the
    refusal that stopped it (None if every leg was placed)."""

    fills: list[Fill]
    closed: list[ClosedTrade]
    error: str | None
    code: int | None
    unknown: bool = False


def fill_text(fill: Fill, req: OrderRequest, closed: list[ClosedTrade], f: SymbolFilters, mode: str) -> str:
    """The order_filled notice (README "Notices")."""
    text = (
        f"{mode} {fill.side} {f.fmt_qty(fill.qty)} {fill.symbol} "
        f"at {f.fmt_price(fill.price)} · fee {fee_words(fill)}"
    )
    if closed:
        t = closed[-1]
        text += f" · closed {t.side}: PnL {t.pnl.quantize(Decimal('0.01')):+} USDT net of fees"
    if req.kind == "open":
        text += f" · opened {'long' if fill.side == 'BUY' else 'short'}"
    if req.kind in ("stop_loss", "take_profit"):
        text += f" · {req.reason} hit"
    return text


def snapshot_of(trader: Trader) -> TraderSnapshot:
    """What /status and the engine read; the caller holds the trader's lock. The mark is
    the latest price seen (the forming candle's, live), else the last close."""
    positions, marks = [], {}
    for s, book in trader.books.items():
        last = book.last_price or book.last_close
        if last:
            marks[s] = dec(last)
        pos = trader.portfolio.positions.get(s)
        if pos is None or not pos.qty:
            continue
        mark = marks.get(s, pos.entry)
        positions.append(
            PositionView(
                s, pos.side_name, abs(pos.qty), pos.entry, mark, pos.unrealized(mark),
                int(trader.values.get("leverage", 1)), book.stop, book.take, book.liq,
            )
        )
    p = trader.portfolio
    return TraderSnapshot(
        mode=trader.mode,
        strategy=trader.strategy_name,
        values=dict(trader.values),
        positions=positions,
        pending=[r for b in trader.books.values() for r in b.pending],
        balance=p.balance,
        equity=p.equity(marks),
        realized=p.realized,
        fees=p.fees,
        trades=len(p.trades),
        indicators={s: b.strategy.indicators() for s, b in trader.books.items()},
    )


def fee_words(fill: Fill) -> str:
    """`0.12 USDT`, or `0.00021 BNB = 0.13 USDT` (or `… no BNB price: booked as 0 USDT`)."""
    cent = Decimal("0.01")
    if fill.fee_asset == "USDT" or fill.fee_amount is None:
        return f"{fill.fee.quantize(cent)} USDT"
    amount = f"{fill.fee_amount.normalize():f} {fill.fee_asset}"
    if not fill.fee and fill.fee_amount:
        return f"{amount} (no {fill.fee_asset} price: booked as 0 USDT)"
    return f"{amount} = {fill.fee.quantize(cent)} USDT"
