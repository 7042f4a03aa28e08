"""The ledger: every money movement of the book, at its time, in one vocabulary.

Every `Portfolio` writes one entry per booking (a fill, a funding payment, a charge), so the
live bot, a replay of the stored fills and a backtest have the same ledger by construction,
and every money view (/pnl, /daily…/monthly, /performance, /trades, /balance, /equity and its
caption, the daily report, /backtest and the backtest CLI) sums its entries:

- gross: the price PnL of what was closed, each partial close (by hand, ADL, a reduce) when
  it closes;
- fees: trading fees (a fee paid in BNB at its USDT value when paid; the asset is kept);
- funding: + received, − paid, at the funding time, also while the trade is open;
- charges: other charges that are not fills (Binance's insurance clearance fee after a
  liquidation, booked as a fill without quantity);
- net = gross − fees + funding − charges: the wallet's change.

So wallet = initial + Σ net, and equity = wallet + unrealized (the open positions at a mark),
at any moment. Each entry also carries its position after it (quantity and average entry;
in Hedge Mode the leg it belongs to, LONG or SHORT: fills, funding paid on each leg's own
notional), so an equity curve is the ledger marked at candle closes, with nothing replayed
twice, and every view can say each leg's share (`legs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from trading.core.frozen import quick_init

ZERO = Decimal(0)
FILL, FUNDING, CHARGE = "fill", "funding", "charge"


class Trade(Protocol):
    """A whole trade an entry ended (portfolio.ClosedTrade; the portfolio imports this file)."""

    @property
    def pnl(self) -> Decimal: ...


@quick_init
@dataclass(frozen=True, slots=True)
class Entry:
    time: int  # ms: the fill's time (its candle's open on paper), the funding time, the charge's time
    symbol: str
    kind: str  # fill | funding | charge
    gross: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    charges: Decimal = ZERO
    closed: tuple[Trade, ...] = ()  # the whole trades this entry ended (flat again)
    qty: Decimal = ZERO  # the symbol's signed position after this entry
    entry: Decimal = ZERO  # and its average entry price
    fee_asset: str = "USDT"  # the asset a fill's fee was paid in (`fees` is its USDT value)
    position_side: str = "BOTH"  # the Hedge Mode leg (LONG/SHORT) it belongs to; BOTH in One-way Mode

    @property
    def net(self) -> Decimal:
        return self.gross - self.fees + self.funding - self.charges


@dataclass(frozen=True)
class Totals:
    """The sums of the entries of one period (and the whole trades closed in it)."""

    gross: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    charges: Decimal = ZERO
    trades: int = 0
    wins: int = 0
    fills: int = 0

    @property
    def net(self) -> Decimal:
        return self.gross - self.fees + self.funding - self.charges

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0


def totals(entries: Iterable[Entry]) -> Totals:
    g = f = fu = c = ZERO
    n = wins = fills = 0
    for e in entries:
        g, f, fu, c = g + e.gross, f + e.fees, fu + e.funding, c + e.charges
        if e.closed:
            n += len(e.closed)
            for t in e.closed:
                wins += t.pnl > 0
        fills += e.kind == FILL
    return Totals(g, f, fu, c, n, wins, fills)


@dataclass
class Ledger:
    initial: Decimal
    entries: list[Entry] = field(default_factory=list)

    def add(self, e: Entry) -> None:
        self.entries.append(e)

    def copy(self) -> Ledger:
        """A read of it now (the live trader keeps writing its own)."""
        return Ledger(self.initial, list(self.entries))

    @property
    def wallet(self) -> Decimal:
        return self.initial + sum((e.net for e in self.entries), ZERO)

    def between(self, start_ms: int | None = None, end_ms: int | None = None, symbol: str | None = None,
                position_side: str | None = None) -> Totals:  # fmt: skip
        """The period [start, end) (None: unbounded), of one symbol or all, of one Hedge Mode
        leg (LONG/SHORT) or every position."""
        if start_ms is None and end_ms is None and symbol is None and position_side is None:
            return totals(self.entries)  # all of it (a backtest's run): no entry to pass over
        return totals(
            e for e in self.entries
            if (start_ms is None or e.time >= start_ms) and (end_ms is None or e.time < end_ms)
            and (symbol is None or e.symbol == symbol) and (position_side is None or e.position_side == position_side)
        )  # fmt: skip

    def legs(self, start_ms: int | None = None, end_ms: int | None = None) -> list[tuple[str, str, Totals]]:
        """Hedge Mode: each leg (symbol, LONG|SHORT) with entries in [start, end), its totals;
        LONG before SHORT. Empty for a One-way book. With the symbol's other entries (a
        clearance fee, funding that named no leg) they sum to `between`."""
        keys = sorted({(e.symbol, e.position_side) for e in self.entries if e.position_side != "BOTH"
                       and (start_ms is None or e.time >= start_ms) and (end_ms is None or e.time < end_ms)})  # fmt: skip
        return [(s, ps, self.between(start_ms, end_ms, s, ps)) for s, ps in keys]

    def wallet_at(self, ms: int) -> Decimal:
        """The wallet just before `ms`: initial + the net of every earlier entry."""
        return self.initial + sum((e.net for e in self.entries if e.time < ms), ZERO)

    def symbols(self) -> list[str]:
        return sorted({e.symbol for e in self.entries})

    def marked(self, times: Iterable[int], marks: Mapping[int, Mapping[str, float]]) -> list[float]:
        """Equity (float, for a chart) at each time: the wallet of the entries up to it plus
        every position held then, marked at `marks[time]` (symbol → price; a symbol without
        a price there keeps its last one). Entries at a time are booked before it is marked."""
        out: list[float] = []
        wallet = float(self.initial)
        held: dict[tuple[str, str], tuple[float, float]] = {}  # (symbol, leg) → (qty, entry): both Hedge Mode legs
        last: dict[str, float] = {}
        k, entries = 0, sorted(self.entries, key=lambda e: e.time)  # stable: same-time entries keep their order
        for t in times:
            while k < len(entries) and entries[k].time <= t:
                e = entries[k]
                wallet += float(e.net)
                held[(e.symbol, e.position_side)] = (float(e.qty), float(e.entry))
                k += 1
            last.update(marks.get(t, {}))
            out.append(wallet + sum((last[s] - entry) * qty for (s, _), (qty, entry) in held.items() if qty and s in last))
        return out
