"""What a USDⓈ-M futures account lives through besides fills: isolated-margin liquidation
and funding. One model for the backtest, the optimizer, /backtest, /optimize and the
paper broker (the trader calls it; nothing here knows where candles come from).

Liquidation (isolated margin, one-way mode): a position's margin is its initial margin,
quantity × entry / leverage (the stake, less what the quantity's step floors away). Its
liquidation price is Binance's formula ("How to Calculate Liquidation Price of USDⓈ-M
Futures Contracts") with TMM = UPNL = 0 and WB = that margin:

    LP = (WB + cum − side × qty × entry) / (qty × MMR − side × qty)

with the maintenance margin rate (MMR) and amount (cum) of the symbol's leverage bracket
that holds the position's notional at LP (Binance: recompute with the level at the
liquidation price when it differs from the level at entry). A liquidated position is
closed at LP and what is left of its margin goes as the liquidation clearance fee (as on
Binance, the remainder goes to the insurance fund), so it loses exactly its margin plus
its opening fee: never more, and the wallet never goes below zero because of it.

Funding: at 00:00, 08:00 and 16:00 UTC a position held into that moment is paid or
charged quantity × price × rate (long pays a positive rate, short receives it), the price
being the open of the candle at the funding time. A position opened exactly at a funding
time (its fill is that candle's open) was not held at that moment: it neither pays nor
receives then; one closed at that open was, and does.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

FUNDING_PERIOD_MS = 8 * 3_600_000
MONEY_QUANTUM = Decimal("0.00000001")  # Binance reports funding income to 8 decimals
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Bracket:
    floor: Decimal  # notional from (inclusive), USDT
    cap: Decimal  # notional up to (exclusive)
    mmr: Decimal  # maintenance margin rate
    cum: Decimal  # maintenance amount
    leverage: int = 125  # the highest initial leverage in this bracket


def brackets_from_rows(rows: Iterable[tuple[int, int | str, str]]) -> tuple[Bracket, ...]:
    """(initial leverage, notional cap, MMR) rows → brackets, cum chained as Binance does:
    cum_n = floor_n × (MMR_n − MMR_n−1) + cum_n−1."""
    out: list[Bracket] = []
    floor, cum, prev = Decimal(0), Decimal(0), Decimal(0)
    for lev, cap, mmr_text in rows:
        mmr = Decimal(mmr_text)
        cum += floor * (mmr - prev)
        out.append(Bracket(floor, Decimal(cap), mmr, cum, lev))
        floor, prev = Decimal(cap), mmr
    return tuple(out)


def brackets_from_json(entry: Mapping[str, Any]) -> tuple[Bracket, ...]:
    """One symbol's `GET /fapi/v1/leverageBracket` entry → brackets (exact, from its text)."""
    return tuple(
        Bracket(Decimal(str(b["notionalFloor"])), Decimal(str(b["notionalCap"])),
                Decimal(str(b["maintMarginRatio"])), Decimal(str(b["cum"])), int(b["initialLeverage"]))
        for b in sorted(entry["brackets"], key=lambda b: float(b["notionalFloor"]))
    )


# The default for a CSV backtest of BTCUSDT: Binance's BTCUSDT leverage and margin table
# as `GET /fapi/v1/leverageBracket` returned it in 2025 (the same table the replay
# exchange serves, sim/binance/rules.py). Binance revises it; --db, /backtest and
# /optimize use the brackets fetched with the klines instead.
BTCUSDT_BRACKETS = brackets_from_rows(
    (
        (125, 300_000, "0.004"), (100, 800_000, "0.005"), (75, 3_000_000, "0.0065"),
        (50, 12_000_000, "0.01"), (25, 70_000_000, "0.02"), (20, 100_000_000, "0.025"),
        (10, 230_000_000, "0.05"), (5, 480_000_000, "0.1"), (4, 600_000_000, "0.125"),
        (3, 800_000_000, "0.15"), (2, 1_200_000_000, "0.25"), (1, 1_800_000_000, "0.5"),
    )
)  # fmt: skip
DEFAULT_BRACKETS: dict[str, tuple[Bracket, ...]] = {"BTCUSDT": BTCUSDT_BRACKETS}


def liquidation_price(side: int, qty: Decimal, entry: Decimal, margin: Decimal,
                      brackets: Sequence[Bracket], tick: Decimal) -> Decimal | None:
    """Binance's isolated liquidation price on the tick (a long's rounded up, a short's
    down: liquidated no later than the exact price); None when it cannot be reached
    (a long whose margin covers the whole notional)."""
    q = abs(qty)
    if not q or not brackets:
        return None
    chosen = None
    sq = side * q  # the same products in every bracket (every paper opening fill asks): made once
    sqe = sq * entry
    for b in brackets:
        lp = (margin + b.cum - sqe) / (q * b.mmr - sq)
        if lp > 0 and b.floor <= q * lp < b.cap:
            chosen = lp
            break
    if chosen is None:  # the level at entry
        n = q * entry
        b = next((b for b in brackets if n < b.cap), brackets[-1])
        chosen = (margin + b.cum - sqe) / (q * b.mmr - sq)
    if chosen <= 0:
        return None
    return (chosen / tick).to_integral_value(ROUND_CEILING if side > 0 else ROUND_FLOOR) * tick


def funding_amount(side: int, qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """+ received, − paid: a long pays a positive rate, a short receives it."""
    return (-side * abs(qty) * price * rate).quantize(MONEY_QUANTUM, ROUND_HALF_UP)


def funding_times(open_ms: int, step_ms: int) -> list[int]:
    """Funding times in [open, open + step): the ones a candle opening at open_ms books."""
    first = -(-open_ms // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS
    return list(range(first, open_ms + step_ms, FUNDING_PERIOD_MS))


def funding_slot(ts: int) -> int:
    """Binance stamps funding a few ms after the hour: the hour it belongs to."""
    return (ts + HOUR_MS // 2) // HOUR_MS * HOUR_MS


FundingRate = Callable[[str, int], "Decimal | None"]  # (symbol, funding time ms) → rate, None: unknown


@dataclass(frozen=True)
class FundingRates:
    """A backtest's funding rates: a table by funding time, else a constant (None: none)."""

    table: Mapping[int, Decimal]
    constant: Decimal | None = None

    def __call__(self, symbol: str, ts: int) -> Decimal | None:
        rate = self.table.get(ts)
        return self.constant if rate is None else rate

    @classmethod
    def of(cls, rows: Iterable[tuple[int, Decimal]], constant: Decimal | None = None) -> FundingRates:
        return cls({funding_slot(ts): rate for ts, rate in rows}, constant)


def load_funding_csv(path: str) -> list[tuple[int, Decimal]]:
    """`funding_time_ms,rate` rows (a header line is allowed; .gz ok). ValueError naming the line."""
    opener: Any = gzip.open if path.endswith(".gz") else open
    rows: list[tuple[int, Decimal]] = []
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or (n == 1 and not row[0].strip().lstrip("-").isdigit()):
                continue
            try:
                ts, rate = int(row[0]), Decimal(row[1])
            except (ValueError, IndexError, InvalidOperation):
                raise ValueError(f"--funding {path} line {n}: expected funding_time_ms,rate") from None
            if not rate.is_finite() or abs(rate) >= 1:
                raise ValueError(f"--funding {path} line {n}: rate {row[1][:20]} is not a funding rate")
            rows.append((ts, rate))
    if not rows:
        raise ValueError(f"--funding {path}: no rates in the file")
    return rows
