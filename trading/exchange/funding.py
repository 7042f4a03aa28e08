"""The paper trader's funding rate: what Binance settled at each funding time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from trading.config import Settings
from trading.exchange.rest import make_client, with_retries

log = logging.getLogger(__name__)


def paper_funding_rate(settings: Settings) -> Callable[[str, int], Decimal | None]:
    """The paper trader's funding rate at a funding time: the rate Binance settled at that
    time (`GET /fapi/v1/fundingRate` from it), asked once per symbol and funding time.

    Why not premiumIndex's lastFundingRate: that is the rate to be paid at the *next*
    funding time, one period late once the time has passed. Only when the settled row is
    not published yet is it used instead (said in the log). A failure books no funding for
    that time and says so in the log, never stops trading."""
    client = make_client(settings)
    cache: dict[tuple[str, int], Decimal | None] = {}

    def settled(symbol: str, ts: int) -> Decimal | None:
        rows = with_retries(lambda: client.futures_funding_rate(symbol=symbol, startTime=ts, limit=1),
                            attempts=3, what=f"GET /fapi/v1/fundingRate {symbol}")
        # Binance's fundingTime can be a few ms past the hour
        if rows and 0 <= int(rows[0]["fundingTime"]) - ts < 60_000:
            return Decimal(str(rows[0]["fundingRate"]))
        return None

    def rate(symbol: str, ts: int) -> Decimal | None:
        if (symbol, ts) not in cache:
            try:
                got = settled(symbol, ts)
                if got is None:
                    premium = with_retries(lambda: client.futures_mark_price(symbol=symbol), attempts=3,
                                           what=f"GET /fapi/v1/premiumIndex {symbol}")
                    got = Decimal(str(premium["lastFundingRate"]))
                    log.info("funding for %s at %s: no settled rate yet; the current rate %s used",
                             symbol, ts, got)
                cache[(symbol, ts)] = got
            except Exception as e:  # noqa: BLE001 - logged, the candle is still traded
                log.warning("funding rate for %s at %s not booked: %s", symbol, ts, e)
                cache[(symbol, ts)] = None
        return cache[(symbol, ts)]

    return rate
