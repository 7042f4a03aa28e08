"""Funding on the replay: payments at 00/08/16 UTC, the fundingRate history and premiumIndex
agree, at a constant rate or from a CSV; python-binance and websocket-client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from binance.client import Client

from sim.binance import ReplayExchange, generate
from sim.binance.funding import FUNDING_PERIOD_MS
from tests.test_replay_user_stream import Reader, matching

CANDLES = generate(1000)


def make(**settings: object) -> ReplayExchange:
    return ReplayExchange(CANDLES, start_index=600, paused=True, **settings).start()  # type: ignore[arg-type]


def client_for(ex: ReplayExchange) -> Client:
    c = Client(ex.api_key, ex.api_secret, ping=False)
    c.FUTURES_URL = ex.rest_url + "/fapi"
    return c


def to_next_funding(ex: ReplayExchange) -> int:
    """Replay up to and past the next funding time; return that time."""
    due = (ex.market_time_ms() // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
    interval = CANDLES[1].open_time - CANDLES[0].open_time
    ex.advance((due - CANDLES[ex.current_index].open_time) // interval + 1)
    return due


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    exchange = make(funding_rate="0.0005")
    yield exchange
    exchange.stop()


def test_a_long_pays_funding_at_the_funding_time(ex: ReplayExchange) -> None:
    client = client_for(ex)
    reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
    premium = client.futures_mark_price(symbol="BTCUSDT")
    assert premium["lastFundingRate"] == "0.00050000"
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    wallet = Decimal(client.futures_account_balance()[0]["balance"])
    due = to_next_funding(ex)
    assert premium["nextFundingTime"] == due
    events = reader.until(lambda ev: bool(matching(ev, "ACCOUNT_UPDATE") and _funding(ev)))
    (paid,) = _funding(events)
    (row,) = [r for r in client.futures_funding_rate(symbol="BTCUSDT", startTime=due) if r["fundingTime"] == due]
    assert row["fundingRate"] == "0.00050000"
    fee = -Decimal("0.1") * Decimal(row["markPrice"]) * Decimal("0.0005")
    assert paid["E"] == paid["T"] == due
    assert paid["a"]["P"] == []  # cross: the balance only, as Binance sends it  # type: ignore[index]
    (usdt,) = paid["a"]["B"]  # type: ignore[index]
    assert Decimal(usdt["bc"]) == fee.quantize(Decimal("0.00000001")) < 0
    assert Decimal(usdt["wb"]) == wallet + Decimal(usdt["bc"]) == Decimal(client.futures_account_balance()[0]["balance"])
    (income,) = client.futures_income_history(incomeType="FUNDING_FEE")
    assert (income["symbol"], income["time"], income["income"]) == ("BTCUSDT", due, usdt["bc"])
    assert client.futures_mark_price(symbol="BTCUSDT")["nextFundingTime"] == due + FUNDING_PERIOD_MS
    history = client.futures_funding_rate(symbol="BTCUSDT", limit=3)
    assert [r["fundingTime"] for r in history] == [due - 2 * FUNDING_PERIOD_MS, due - FUNDING_PERIOD_MS, due]
    reader.close()


def _funding(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in events if e.get("e") == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE"]  # type: ignore[index]


def test_rates_from_a_csv_and_an_isolated_short_receiving(tmp_path: Path) -> None:
    probe = make()
    first_due = (probe.market_time_ms() // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
    probe.stop()
    csv = tmp_path / "funding.csv"
    csv.write_text(f"funding_time_ms,rate\n{first_due - FUNDING_PERIOD_MS},0.0001\n{first_due},0.0003\n")
    ex = make(funding_csv=str(csv), margin_type="ISOLATED")
    try:
        client = client_for(ex)
        reader = Reader(f"{ex.user_ws_url}/ws/{client.futures_stream_get_listen_key()}")
        assert client.futures_mark_price(symbol="BTCUSDT")["lastFundingRate"] == "0.00030000"
        client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.100")
        iw = Decimal(client.futures_position_information(symbol="BTCUSDT")[0]["isolatedWallet"])
        assert to_next_funding(ex) == first_due
        (paid,) = _funding(reader.until(lambda ev: bool(_funding(ev))))
        fee = Decimal(paid["a"]["B"][0]["bc"])  # type: ignore[index]
        assert fee > 0  # a short receives a positive rate
        (pos,) = paid["a"]["P"]  # type: ignore[index]
        assert pos["mt"] == "isolated" and Decimal(pos["iw"]) == iw + fee
        rates = [r["fundingRate"] for r in client.futures_funding_rate(symbol="BTCUSDT", limit=2)]
        assert rates == ["0.00010000", "0.00030000"]
        assert client.futures_mark_price(symbol="BTCUSDT")["lastFundingRate"] == "0.00030000"  # the last row holds
        paid_now = ex.control("funding", rate="-0.001")
        assert Decimal(paid_now["paid"][0]) < 0  # type: ignore[index]
        assert len(client.futures_income_history(incomeType="FUNDING_FEE")) == 2
        reader.close()
    finally:
        ex.stop()


def test_a_funding_paid_by_control_at_a_funding_time_is_its_own_row_apart_from_the_scheduled_one() -> None:
    """`/_sim/funding` while the market stands on a funding time that was just paid: Binance
    pays a position once per funding time, so the replay's extra payment is its own row, a
    millisecond later, never a second row at the same time (the bot books funding once per
    symbol and funding time: a second row at the same time would be one it never books,
    and its book would be a payment away from the wallet; seen as a flake of
    test_user_stream_e2e's funding test whenever the market paused on a funding time)."""
    ex = make(funding_rate="0.0005")
    try:
        client = client_for(ex)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
        due = (ex.market_time_ms() // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
        interval = CANDLES[1].open_time - CANDLES[0].open_time
        ex.advance((due - CANDLES[ex.current_index].open_time) // interval)  # to the candle opening at `due`
        assert ex.market_time_ms() == due
        scheduled = client.futures_income_history(incomeType="FUNDING_FEE")
        assert [r["time"] for r in scheduled] == [due]
        ex.control("funding", rate="0.001")  # (a ms ahead of the paused clock: read from a start, as the bot does)
        rows = client.futures_income_history(incomeType="FUNDING_FEE", startTime=due)
        assert len(rows) == 2 and len({r["time"] for r in rows}) == 2, rows
        assert rows[1]["time"] == due + 1
        ex.advance(1)  # the market moves on: no payment again at that time
        assert len(client.futures_income_history(incomeType="FUNDING_FEE", startTime=due)) == 2
    finally:
        ex.stop()
