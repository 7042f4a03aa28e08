"""Conformance: independent Binance clients (ccxt's binanceusdm, the `websockets` library)
against the replay exchange, on real BTCUSDT candles.

The replay was written against python-binance, which the product uses; a second client
written by other people, with its own idea of which endpoints to call and how to read
them, is what shows whether the replay speaks Binance or only speaks python-binance.
ccxt keeps its real URLs; a requests adapter carries fapi.binance.com to the loopback
server and refuses every other host, so nothing here leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt
import pytest
import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from websockets.sync.client import connect

from sim.binance import ReplayExchange, SourceCandle, load_csv
from tests.conftest import PERP_15M, shared_file

PAIR = "BTC/USDT:USDT"
START = 1500
DAY_MS = 86_400_000
FAPI_HOST = "fapi.binance.com"


@pytest.fixture(scope="module")
def candles() -> list[SourceCandle]:
    return load_csv(shared_file(PERP_15M))[:2000]


@pytest.fixture
def ex(candles: list[SourceCandle]) -> Iterator[ReplayExchange]:
    with ReplayExchange(candles, start_index=START, paused=True) as exchange:
        yield exchange


class Loopback(HTTPAdapter):
    """Sends ccxt's requests for Binance's futures host to the replay instead.

    ccxt keeps its real URLs (it picks the futures error table by URL host, so rewriting
    `urls['api']` to the loopback would change how it reads errors); any other host is
    refused, so nothing leaves the machine.
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        url = urlsplit(request.url or "")
        if url.hostname != FAPI_HOST:
            raise requests.ConnectionError(f"test refuses to reach {url.hostname}")
        request.url = self.base + url.path + (f"?{url.query}" if url.query else "")
        return super().send(request, **kwargs)


def usdm(ex: ReplayExchange, *, secret: str | None = None, **options: object) -> ccxt.binanceusdm:
    client = ccxt.binanceusdm(
        {
            "apiKey": ex.api_key,
            "secret": secret or ex.api_secret,
            "timeout": 5000,
            "enableRateLimit": False,  # ccxt's client-side throttle paces for fapi.binance.com
            # /sapi currencies are the spot wallet's business, not a futures exchange's
            "options": {"fetchCurrencies": False, **options},
        }
    )
    assert urlsplit(client.urls["api"]["fapiPrivate"]).hostname == FAPI_HOST
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment
    for prefix in ("https://", "http://"):
        session.mount(prefix, Loopback(ex.rest_url))
    client.session = session
    return client


@pytest.fixture
def client(ex: ReplayExchange) -> ccxt.binanceusdm:
    c = usdm(ex)
    c.load_markets()
    return c


def ohlcv(c: SourceCandle) -> list[float]:
    return [c.open_time, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)]


def price_now(ex: ReplayExchange) -> float:
    return float(ex.call(lambda: ex.clock.price("BTCUSDT")))


# ---- public market data -----------------------------------------------------------------


def test_load_markets_reads_the_symbol_rules(client: ccxt.binanceusdm) -> None:
    m = client.market(PAIR)
    assert (m["id"], m["base"], m["quote"], m["settle"]) == ("BTCUSDT", "BTC", "USDT", "USDT")
    assert m["swap"] and m["linear"] and m["contract"] and m["active"]
    assert m["precision"]["amount"] == 0.001 and m["precision"]["price"] == 0.1
    assert m["limits"]["amount"]["min"] == 0.001 and m["limits"]["market"]["max"] == 120
    assert m["limits"]["cost"]["min"] == 100
    assert client.amount_to_precision(PAIR, 0.01234) == "0.012"


def test_fetch_ohlcv_equals_the_csv(ex: ReplayExchange, client: ccxt.binanceusdm, candles: list[SourceCandle]) -> None:
    since = candles[900].open_time
    assert client.fetch_ohlcv(PAIR, "15m", since=since, limit=300) == [ohlcv(c) for c in candles[900:1200]]
    assert client.fetch_ohlcv(PAIR, "15m", limit=5) == [ohlcv(c) for c in candles[START - 5 : START]]


def test_fetch_ohlcv_ends_with_the_forming_candle(ex: ReplayExchange, client: ccxt.binanceusdm, candles: list[SourceCandle]) -> None:
    """Binance answers klines with the forming candle last; so does the replay, from the
    updates its stream has already sent."""
    ex.call(ex.clock.step)
    *closed, forming = client.fetch_ohlcv(PAIR, "15m", limit=3)
    assert closed == [ohlcv(c) for c in candles[START - 2 : START]]
    c = candles[START]
    assert forming[0] == c.open_time and forming[1] == float(c.open)
    assert float(c.low) <= forming[3] <= forming[4] <= forming[2] <= float(c.high)
    assert 0 < forming[5] < float(c.volume)


def test_fetch_time_is_the_market_clock(ex: ReplayExchange, client: ccxt.binanceusdm) -> None:
    assert client.fetch_time() == ex.market_time_ms() == ex.candles[START].open_time


def test_ticker_and_order_book(ex: ReplayExchange, client: ccxt.binanceusdm, candles: list[SourceCandle]) -> None:
    ex.call(ex.clock.step)
    now = ex.market_time_ms()
    (forming,) = client.fetch_ohlcv(PAIR, "15m", limit=1)
    day = [c for c in candles[:START] if c.open_time >= now - DAY_MS]
    t = client.fetch_ticker(PAIR)
    assert t["last"] == price_now(ex) == forming[4]
    assert t["open"] == float(day[0].open)
    assert t["high"] == max(max(float(c.high) for c in day), forming[2])
    assert t["low"] == min(min(float(c.low) for c in day), forming[3])
    assert Decimal(str(t["baseVolume"])) == sum(Decimal(c.volume) for c in day) + Decimal(str(forming[5]))
    book = client.fetch_order_book(PAIR, limit=10)
    bids, asks = book["bids"], book["asks"]
    assert len(bids) == len(asks) == 10
    assert bids[0][0] < asks[0][0] == t["last"]
    assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
    assert [a[0] for a in asks] == sorted(a[0] for a in asks)


# ---- the account -------------------------------------------------------------------------


def test_fresh_account_shows_its_balance(client: ccxt.binanceusdm) -> None:
    usdt = client.fetch_balance()["USDT"]
    assert (usdt["free"], usdt["used"], usdt["total"]) == (10000, 0, 10000)


def test_clock_sync_then_signed_calls(ex: ReplayExchange) -> None:
    """ccxt's adjustForTimeDifference (and a bot resyncing after -1021) sign with the
    /time answer's clock; that must keep being accepted while the replay runs ahead."""
    c = usdm(ex, adjustForTimeDifference=True)
    c.load_markets()
    assert c.fetch_balance()["USDT"]["total"] == 10000
    assert ex.advance(40)  # ten market hours in a blink of wall time
    assert c.fetch_balance()["USDT"]["total"] == 10000
    assert c.fetch_time() == ex.market_time_ms()
    plain = usdm(ex)  # and an unsynced client on the wall clock still works too
    plain.load_markets()
    assert plain.fetch_balance()["USDT"]["total"] == 10000


def test_market_orders_fill_and_show_up_everywhere(ex: ReplayExchange, client: ccxt.binanceusdm) -> None:
    lev = client.set_leverage(10, PAIR)
    assert lev["leverage"] == 10
    price = price_now(ex)
    buy = client.create_order(PAIR, "market", "buy", 0.01)
    got = client.fetch_order(buy["id"], PAIR)
    assert (got["status"], got["filled"], got["average"], got["side"]) == ("closed", 0.01, price, "buy")
    (pos,) = client.fetch_positions([PAIR])
    assert (pos["side"], pos["contracts"], pos["entryPrice"]) == ("long", 0.01, price)
    assert client.fetch_leverage(PAIR)["longLeverage"] == 10  # v3 positions carry no leverage

    ex.advance(3)
    exit_price = price_now(ex)
    sell = client.create_order(PAIR, "market", "sell", 0.01, params={"reduceOnly": True})
    assert client.fetch_order(sell["id"], PAIR)["status"] == "closed"
    assert [p for p in client.fetch_positions([PAIR]) if p["contracts"]] == []

    trades = client.fetch_my_trades(PAIR)
    assert [(t["side"], t["price"], t["amount"]) for t in trades] == [
        ("buy", price, 0.01), ("sell", exit_price, 0.01),
    ]  # fmt: skip
    fees = sum(Decimal(str(t["fee"]["cost"])) for t in trades)
    assert fees == (Decimal(str(price)) + Decimal(str(exit_price))) * Decimal("0.01") * Decimal("0.0005")
    pnl = (Decimal(str(exit_price)) - Decimal(str(price))) * Decimal("0.01")
    assert Decimal(str(client.fetch_balance()["USDT"]["total"])) == Decimal(10000) + pnl - fees


def test_account_settings_endpoints(client: ccxt.binanceusdm) -> None:
    assert client.fetch_trading_fee(PAIR)["maker"] == 0.0002
    assert client.fetch_trading_fee(PAIR)["taker"] == 0.0005
    tiers = client.fetch_leverage_tiers([PAIR])[PAIR]
    assert tiers[0]["maxLeverage"] == 125 and tiers[0]["minNotional"] == 0
    assert tiers[1]["minNotional"] == tiers[0]["maxNotional"]
    leverage = client.fetch_leverage(PAIR)
    assert leverage["marginMode"] == "cross" and leverage["longLeverage"] == 20
    assert client.fetch_margin_mode(PAIR)["marginMode"] == "cross"
    with pytest.raises(ccxt.MarginModeAlreadySet):  # Binance's -4046
        client.set_margin_mode("cross", PAIR)
    client.set_margin_mode("isolated", PAIR)  # isolated margin: liquidation.py
    assert client.fetch_margin_mode(PAIR)["marginMode"] == "isolated"
    client.set_margin_mode("cross", PAIR)


def test_binance_errors_map_to_ccxt_exceptions(ex: ReplayExchange, client: ccxt.binanceusdm) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order(PAIR, "market", "buy", 100)
    with pytest.raises(ccxt.InvalidOrder):  # -4164, below the minimum notional
        client.create_order(PAIR, "market", "buy", 0.001)
    with pytest.raises(ccxt.BadSymbol):
        client.fapiPublicGetKlines({"symbol": "NOPEUSDT", "interval": "15m"})
    with pytest.raises(ccxt.AuthenticationError):  # -1022, bad signature
        forged = usdm(ex, secret="not-the-secret")
        forged.load_markets()
        forged.fetch_balance()
    with pytest.raises(ccxt.ExchangeError) as err:  # an unknown path is an error, not an outage
        client.request("no/such/thing", ["fapiPublic"], "GET")
    assert not isinstance(err.value, ccxt.NetworkError)
    assert '"code":-5000' in str(err.value)


# ---- the market stream ----------------------------------------------------------------------


def test_websockets_client_receives_the_csv(ex: ReplayExchange, candles: list[SourceCandle]) -> None:
    with connect(ex.ws_url + "/stream?streams=btcusdt@kline_15m", open_timeout=5) as ws:
        assert ex.wait_for_connections(1, timeout=5)
        assert ex.advance(3)
        closed = []
        while len(closed) < 3:
            msg = json.loads(ws.recv(timeout=5))
            assert msg["stream"] == "btcusdt@kline_15m"
            k = msg["data"]["k"]
            if k["x"]:
                closed.append([k["t"], k["o"], k["h"], k["l"], k["c"], k["v"]])
    assert closed == [[c.open_time, c.open, c.high, c.low, c.close, c.volume] for c in candles[START : START + 3]]
