"""The paper trader's funding rate is the one settled at the funding time, not premiumIndex's
lastFundingRate (the next period's rate): with rates that change every period they differ."""

from __future__ import annotations

from decimal import Decimal

from sim.binance import ReplayExchange, generate
from sim.binance.funding import FUNDING_PERIOD_MS
from trading.config import load_settings
from trading.exchange.funding import paper_funding_rate

CANDLES = generate(1000)


def test_the_rate_settled_at_the_funding_time_is_booked(tmp_path) -> None:
    first = -(-CANDLES[0].open_time // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS
    times = [first + k * FUNDING_PERIOD_MS for k in range(60)]
    csv = tmp_path / "rates.csv"
    # a different rate every period: 0.0001, 0.0002, ...
    csv.write_text("funding_time_ms,rate\n" + "".join(f"{t},{(k + 1) / 10_000}\n" for k, t in enumerate(times)))
    ex = ReplayExchange(CANDLES, start_index=600, paused=True, funding_csv=str(csv)).start()
    try:
        now = CANDLES[ex.current_index].open_time
        due = max(t for t in times if t <= now)  # the last funding time that has passed
        settings = load_settings(
            environ={"BINANCE_REST_URL": ex.rest_url, "BINANCE_WS_URL": ex.ws_url}, env_file=None
        )
        rate = paper_funding_rate(settings)("BTCUSDT", due)
        assert rate == Decimal(times.index(due) + 1) / 10_000
        assert rate != Decimal(times.index(due) + 2) / 10_000  # premiumIndex's next-period rate
    finally:
        ex.stop()
