"""Funding: the rates the replay serves and the payments it makes at 00:00/08:00/16:00 UTC.

`FundingRates` answers the rate of a funding time: from a CSV (`funding_time_ms,rate`, a
header line allowed, gzipped or not; a time between rows takes the last row at or before
it, one before the first row the first row's rate) or a constant (default 0.0001, Binance's
usual 0.01 %). The same rates feed `GET /fapi/v1/fundingRate` (history up to now),
`premiumIndex` (`lastFundingRate` = the rate to be paid at `nextFundingTime`) and the
payments, so a client that reads one can predict the other. They apply to every symbol.

`FundingPayer` is a clock sink: when the market clock passes a funding time, every open
position pays `position amount × mark × rate` (longs pay a positive rate, shorts receive
it); the mark is the open of the candle at that time, as the history's markPrice says.
The wallet changes (an isolated position's margin too), `ACCOUNT_UPDATE` m=FUNDING_FEE goes
out (balance `B` only; the position `P` too when isolated, as Binance sends it) and a
FUNDING_FEE income row is written. In Hedge Mode each leg pays on its own notional (a
LONG and a SHORT leg of the same size pay and receive the same amount): one payment,
event and income row per leg. Control `funding` pays one now (`rate=` to override).
"""

from __future__ import annotations

import bisect
import gzip
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sim.binance.account import Account
from sim.binance.clock import Step
from sim.binance.errors import BinanceError
from sim.binance.market import Series
from sim.binance.orders import ZERO, decimal_param
from sim.binance.user_events import AccountWatcher

FUNDING_PERIOD_MS = 8 * 3600 * 1000
DEFAULT_RATE = Decimal("0.0001")


class FundingRates:
    def __init__(self, rate: Decimal | str | float = DEFAULT_RATE, csv: str | Path | None = None) -> None:
        self.constant = Decimal(str(rate))
        self.times: list[int] = []
        self.rates: list[Decimal] = []
        if csv is not None:
            self._load(Path(csv))

    def _load(self, path: Path) -> None:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
            rows = [line.strip().split(",") for line in f if line.strip()]
        if rows and not rows[0][0].strip().isdigit():
            rows = rows[1:]
        try:
            parsed = sorted((int(r[0]), Decimal(r[1].strip())) for r in rows)
        except (IndexError, ValueError, InvalidOperation) as e:
            raise ValueError(f"{path}: expected funding_time_ms,rate rows ({e})") from None
        if not parsed:
            raise ValueError(f"{path}: no funding rows")
        self.times = [t for t, _ in parsed]
        self.rates = [r for _, r in parsed]

    def rate_at(self, time_ms: int) -> Decimal:
        if not self.times:
            return self.constant
        i = bisect.bisect_right(self.times, time_ms) - 1
        return self.rates[max(i, 0)]

    @staticmethod
    def next_time(now_ms: int) -> int:
        return (now_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS

    def history(self, series: Series, now_ms: int, params: Mapping[str, int | None]) -> list[dict[str, object]]:
        """`GET /fapi/v1/fundingRate` rows: ascending, at most `limit` (default 100, max
        1000), from startTime, else the most recent up to endTime/now."""
        start, end = params.get("startTime"), params.get("endTime")
        limit = min(params.get("limit") or 100, 1000)
        hi = min(now_ms, end) if end is not None else now_ms
        first = -(-series.times[0] // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS
        lo = max(first, -(-start // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS) if start is not None else first
        times = list(range(lo, hi + 1, FUNDING_PERIOD_MS))
        times = times[:limit] if start is not None else times[-limit:]
        return [
            {
                "symbol": series.symbol,
                "fundingTime": t,
                "fundingRate": f"{self.rate_at(t):.8f}",
                "markPrice": f"{mark_at(series, t) or 0:.8f}",
            }
            for t in times
        ]


def mark_at(series: Series, time_ms: int) -> Decimal | None:
    """The open of the candle at `time_ms`: the mark a funding at that time used."""
    i = series.index_at(time_ms - time_ms % series.interval_ms)
    return Decimal(series.candles[i].open) if i is not None else None


class FundingPayer:
    def __init__(
        self, rates: FundingRates, account: Account, watcher: AccountWatcher, series: Mapping[str, Series],
        start_ms: int,
    ) -> None:  # fmt: skip
        self.rates = rates
        self.account = account
        self.watcher = watcher
        self.series = series
        self._last = start_ms
        self._paid_at = -1  # the time of the latest payment made
        self.on_pay: list[Callable[[int], None]] = []

    async def ready(self) -> None:
        return None

    def on_step(self, step: Step) -> None:
        if not step.items:
            return
        self._pay_due(step.items[0].update.event_time)

    def _pay_due(self, now: int) -> None:
        """Every funding time up to `now` not yet paid, in order."""
        while (due := FundingRates.next_time(self._last)) <= now:
            self._last = due
            self.pay(due, self.rates.rate_at(due))
        self._last = max(self._last, now)

    def pay(self, when: int, rate: Decimal) -> list[Decimal]:
        acc = self.account
        self._paid_at = max(self._paid_at, when)
        paid = []
        for pos in acc.every_position():  # each Hedge Mode leg pays on its own notional
            sym = pos.symbol
            if not pos.amt or not rate:
                continue
            mark = mark_at(self.series[sym], when) if sym in self.series else None
            fee = -pos.amt * (mark if mark is not None else acc.mark(sym)) * rate
            fee = fee.quantize(Decimal("0.00000001"))
            acc.wallet += fee
            acc.update_time = when
            isolated = acc.margin_types[sym] == "ISOLATED"
            if isolated:
                pos.isolated_wallet += fee
            self.watcher.income.add("FUNDING_FEE", fee, "USDT", when, symbol=sym)
            self.watcher.publish(
                self.watcher.account_update("FUNDING_FEE", when, positions=[pos] if isolated else [], change=fee)
            )
            paid.append(fee)
        return paid

    def control(self, params: Mapping[str, str]) -> object:
        rate = decimal_param(params, "rate")
        now = self.watcher.now()
        if rate is None:
            rate = self.rates.rate_at(FundingRates.next_time(now))
        if abs(rate) > 1:
            raise BinanceError(-1100, "Illegal characters found in parameter 'rate'.")
        # Binance pays a position once per funding time, in time order: the funding times
        # already due are paid first, and this extra payment gets a time of its own (a ms
        # after a payment at the same time), never a second row at one symbol's funding time.
        self._pay_due(now)
        when = now if now > self._paid_at else self._paid_at + 1
        return {"paid": [str(f) for f in self.pay(when, rate)], "rate": str(rate or ZERO)}
