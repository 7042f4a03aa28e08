"""Public REST of the replay exchange: klines paging and errors, exchangeInfo, time;
checked with plain HTTP and with python-binance's real Client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from sim.binance import ReplayExchange, generate, load_csv
from tests.conftest import PERP_15M, shared_file

M15 = 900_000
START = 600


@pytest.fixture(scope="module")
def ex() -> Iterator[ReplayExchange]:
    eth = generate(2000, seed=5, start_price=2500.0)  # same default start as BTC
    with ReplayExchange(
        generate(2000), start_index=START, paused=True, extra_symbols={"ETHUSDT": eth[100:]}
    ) as exchange:
        yield exchange


def get(ex: ReplayExchange, path: str, **params: object) -> requests.Response:
    return requests.get(ex.rest_url + path, params=params, timeout=5)


def klines(ex: ReplayExchange, **params: object) -> list[list[object]]:
    params.setdefault("symbol", "BTCUSDT")
    params.setdefault("interval", "15m")
    r = get(ex, "/fapi/v1/klines", **params)
    assert r.status_code == 200, r.text
    return r.json()


def rows(ex: ReplayExchange, a: int, b: int) -> list[list[object]]:
    return [ex.kline_row(i) for i in range(a, b)]


def test_default_is_last_500_closed(ex: ReplayExchange) -> None:
    assert klines(ex) == rows(ex, START - 500, START)


def test_start_time_takes_first_limit(ex: ReplayExchange) -> None:
    t = ex.candles
    assert klines(ex, startTime=t[10].open_time, limit=7) == rows(ex, 10, 17)
    # a start inside a candle begins at the next open
    assert klines(ex, startTime=t[10].open_time + 1, limit=2) == rows(ex, 11, 13)
    assert klines(ex, startTime=0, limit=1) == rows(ex, 0, 1)  # python-binance's first probe
    assert klines(ex, startTime=t[START - 3].open_time, limit=1500) == rows(ex, START - 3, START)


def test_end_time_takes_last_limit(ex: ReplayExchange) -> None:
    t = ex.candles
    assert klines(ex, endTime=t[50].open_time, limit=5) == rows(ex, 46, 51)
    assert klines(ex, endTime=t[50].open_time - 1, limit=5) == rows(ex, 45, 50)
    assert klines(ex, startTime=t[20].open_time, endTime=t[24].open_time) == rows(ex, 20, 25)
    assert klines(ex, startTime=t[20].open_time, endTime=t[24].open_time, limit=2) == rows(ex, 20, 22)
    assert klines(ex, endTime=t[START + 100].open_time, limit=3) == rows(ex, START - 3, START)


def test_forming_and_future_candles_are_not_served(ex: ReplayExchange) -> None:
    assert klines(ex, startTime=ex.candles[START].open_time) == []
    assert klines(ex, limit=1500) == rows(ex, 0, START)


def test_paging_walks_the_whole_history(ex: ReplayExchange) -> None:
    got: list[list[object]] = []
    start = 0
    while True:
        page = klines(ex, startTime=start, limit=97)
        got += page
        if len(page) < 97:
            break
        start = int(page[-1][0]) + M15  # type: ignore[call-overload]
    assert got == rows(ex, 0, START)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"interval": "15m"}, 400, -1102),
        ({"symbol": "NOPE", "interval": "15m"}, 400, -1121),
        ({"symbol": "BTCUSDT"}, 400, -1102),
        ({"symbol": "BTCUSDT", "interval": "1h"}, 400, -1120),
        ({"symbol": "BTCUSDT", "interval": "7m"}, 400, -1120),
        ({"symbol": "BTCUSDT", "interval": "15m", "limit": 1501}, 400, -1130),
        ({"symbol": "BTCUSDT", "interval": "15m", "limit": 0}, 400, -1130),
        ({"symbol": "BTCUSDT", "interval": "15m", "limit": "x"}, 400, -1100),
        ({"symbol": "BTCUSDT", "interval": "15m", "startTime": "-5"}, 400, -1100),
        ({"symbol": "BTCUSDT", "interval": "15m", "startTime": 10, "endTime": 5}, 400, -1023),
    ],
)
def test_klines_errors(ex: ReplayExchange, params: dict[str, object], status: int, code: int) -> None:
    r = get(ex, "/fapi/v1/klines", **params)
    assert r.status_code == status
    body = r.json()
    assert body["code"] == code and isinstance(body["msg"], str) and body["msg"]


def test_unknown_path_is_404(ex: ReplayExchange) -> None:
    assert get(ex, "/fapi/v1/nothing").status_code == 404


def test_time_ping_ticker_premium(ex: ReplayExchange) -> None:
    assert get(ex, "/fapi/v1/ping").json() == {}
    assert get(ex, "/fapi/v1/time").json() == {"serverTime": ex.candles[START].open_time}
    price = get(ex, "/fapi/v1/ticker/price", symbol="BTCUSDT").json()
    assert price["price"] == ex.candles[START].open
    assert {p["symbol"] for p in get(ex, "/fapi/v2/ticker/price").json()} == {"BTCUSDT", "ETHUSDT"}
    mark = get(ex, "/fapi/v1/premiumIndex", symbol="BTCUSDT").json()
    assert float(mark["markPrice"]) == float(ex.candles[START].open)
    assert get(ex, "/fapi/v1/ticker/price", symbol="XYZ").json()["code"] == -1121


def test_extra_symbol_is_aligned_by_open_time(ex: ReplayExchange) -> None:
    eth = ex.series["ETHUSDT"]
    got = klines(ex, symbol="ETHUSDT", limit=1500)
    # ETH starts 100 candles later, so it has 100 fewer closed candles
    assert len(got) == START - 100
    assert got[-1] == ex.kline_row(START - 101, "ETHUSDT")
    assert got[-1][0] == ex.candles[START - 1].open_time == eth.times[START - 101]


def test_exchange_info_shape(ex: ReplayExchange) -> None:
    info = get(ex, "/fapi/v1/exchangeInfo").json()
    assert info["timezone"] == "UTC" and info["rateLimits"]
    assert {a["asset"] for a in info["assets"]} == {"USDT"}
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert (btc["contractType"], btc["status"], btc["baseAsset"], btc["quoteAsset"]) == (
        "PERPETUAL", "TRADING", "BTC", "USDT",
    )  # fmt: skip
    assert btc["pricePrecision"] == 2 and btc["quantityPrecision"] == 3
    f = {x["filterType"]: x for x in btc["filters"]}
    assert f["PRICE_FILTER"]["tickSize"] == "0.10"
    assert (f["LOT_SIZE"]["stepSize"], f["LOT_SIZE"]["minQty"]) == ("0.001", "0.001")
    assert f["MIN_NOTIONAL"] == {"filterType": "MIN_NOTIONAL", "notional": "100"}
    assert {"MARKET_LOT_SIZE", "MAX_NUM_ORDERS", "PERCENT_PRICE"} <= set(f)
    eth = next(s for s in info["symbols"] if s["symbol"] == "ETHUSDT")
    assert eth["baseAsset"] == "ETH"


def test_rest_headers_and_stats(ex: ReplayExchange) -> None:
    before = ex.stats.rest_requests.get("/fapi/v1/ping", 0)
    r = get(ex, "/fapi/v1/ping")
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    assert ex.stats.rest_requests["/fapi/v1/ping"] == before + 1


# ---- python-binance ---------------------------------------------------------------------


@pytest.fixture
def client(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def test_python_binance_public_calls(ex: ReplayExchange, client: Client) -> None:
    assert client.futures_klines(symbol="BTCUSDT", interval="15m", limit=10) == rows(ex, START - 10, START)
    assert client.futures_time() == {"serverTime": ex.market_time_ms()}
    info = client.futures_exchange_info()
    assert "BTCUSDT" in {s["symbol"] for s in info["symbols"]}
    hist = client.futures_historical_klines("BTCUSDT", "15m", ex.candles[5].open_time)
    assert hist == rows(ex, 5, START)
    with pytest.raises(BinanceAPIException) as err:
        client.futures_klines(symbol="BTCUSDT", interval="15m", limit=2000)
    assert err.value.code == -1130


def test_real_data_served_exactly() -> None:
    candles = load_csv(shared_file(PERP_15M))
    with ReplayExchange(candles, paused=True, start_index=2000) as ex:
        got = klines(ex, limit=1500)
        assert len(got) == 1500
        for row, c in zip(got, candles[500:2000], strict=True):
            assert row[:6] == [c.open_time, c.open, c.high, c.low, c.close, c.volume]
            assert [float(x) for x in row[1:6]] == [float(x) for x in c[1:]]  # type: ignore[arg-type]


def test_rest_forming_option_appends_the_forming_candle() -> None:
    with ReplayExchange(generate(800), start_index=600, paused=True, rest_forming=True) as ex:
        assert klines(ex, limit=2) == rows(ex, 598, 600)  # nothing traded yet in candle 600
        ex.call(ex.clock.step)
        got = klines(ex, limit=2)
        assert got[0] == ex.kline_row(599)
        forming = got[1]
        assert forming[0] == ex.candles[600].open_time and forming[1] == ex.candles[600].open
        assert float(forming[5]) < float(ex.candles[600].volume)
        assert klines(ex, endTime=ex.candles[599].open_time, limit=1) == rows(ex, 599, 600)


def test_unknown_paths_and_methods_answer_binance_json(ex: ReplayExchange) -> None:
    r = get(ex, "/fapi/v1/noSuchThing")
    assert r.status_code == 404
    assert r.json() == {"code": -5000, "msg": "Path /fapi/v1/noSuchThing, Method GET is invalid"}
    r = requests.delete(ex.rest_url + "/fapi/v1/klines", timeout=5)
    assert (r.status_code, r.json()["code"]) == (404, -5000)


def test_closed_only_klines_on_request() -> None:
    with ReplayExchange(generate(800), start_index=600, paused=True, rest_forming=False) as ex:
        ex.call(ex.clock.step)
        assert klines(ex, limit=2) == rows(ex, 598, 600)
