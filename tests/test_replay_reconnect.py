"""End to end: a client that reconnects after drops and backfills over REST ends up with
exactly the source candles; the property the streaming client relies on."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from sim.binance import ReplayExchange, generate

START = 500
TOTAL = 1100
M15 = 900_000


def backfill(ex: ReplayExchange, since: int) -> list[list[object]]:
    """Closed candles since `since`: like Binance, klines end with the forming candle, which
    a client tells apart by its close time not being before the server time."""
    now = requests.get(ex.rest_url + "/fapi/v1/time", timeout=5).json()["serverTime"]
    rows: list[list[object]] = []
    while True:
        page = requests.get(
            ex.rest_url + "/fapi/v1/klines",
            params={"symbol": "BTCUSDT", "interval": "15m", "startTime": since, "limit": 1000},
            timeout=5,
        ).json()
        rows += [r for r in page if int(r[6]) < now]  # type: ignore[call-overload]
        if len(page) < 1000:
            return rows
        since = int(page[-1][0]) + M15  # type: ignore[call-overload]


@pytest.mark.parametrize("speed", [0.002, 0.0])
def test_reconnecting_client_sees_every_candle_exactly(speed: float) -> None:
    with ReplayExchange(generate(TOTAL), start_index=START, seconds_per_candle=speed, paused=True) as ex:
        ex.faults.drop_after_messages(37, every=True)
        ex.faults.drop_at_candles([START + 40, START + 41], code=1001)
        have: dict[int, list[object]] = {}
        last_closed = ex.candles[START - 1].open_time
        reconnects = 0
        url = ex.ws_url + "/stream?streams=btcusdt@kline_15m"
        while len(have) < TOTAL - START:
            ws = websocket.create_connection(url, timeout=1, skip_utf8_validation=True)
            if reconnects == 0:
                ex.resume()  # at max speed nobody connected means no waiting at all
            for row in backfill(ex, last_closed + M15):  # whatever was missed while away
                have[int(row[0])] = row  # type: ignore[call-overload]
                last_closed = max(last_closed, int(row[0]))  # type: ignore[call-overload]
            try:
                while True:
                    text = ws.recv()
                    if not text:
                        break
                    k = json.loads(text)["data"]["k"]
                    if k["x"]:
                        row = [k[f] for f in ("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q", "B")]
                        assert have.setdefault(k["t"], row) == row  # REST and WS agree
                        last_closed = max(last_closed, k["t"])
            except websocket.WebSocketConnectionClosedException:
                pass
            except websocket.WebSocketTimeoutException:
                assert ex.clock.finished  # silence only once the data has run out
            ws.close()
            reconnects += 1
            if ex.clock.finished:
                for row in backfill(ex, last_closed + M15):
                    have[int(row[0])] = row  # type: ignore[call-overload]
        # at max speed the data runs out during the first reconnect: nobody to wait for
        assert reconnects > 5 if speed else ex.stats.drops >= 1
        assert [have[t] for t in sorted(have)] == [ex.kline_row(i) for i in range(START, TOTAL)]
