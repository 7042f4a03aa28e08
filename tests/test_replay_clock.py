"""The replay clock as seen through ReplayExchange: start, pause/advance, time, the end."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from sim.binance import ReplayExchange, SourceCandle, generate

M15 = 900_000


def server_time(ex: ReplayExchange) -> int:
    return requests.get(ex.rest_url + "/fapi/v1/time", timeout=5).json()["serverTime"]


def test_start_index_is_clamped_and_history_is_closed() -> None:
    with ReplayExchange(generate(50), start_index=500, paused=True) as ex:
        assert ex.current_index == 50 and ex.clock.finished
        assert server_time(ex) == ex.candles[-1].open_time + M15
        assert len(requests.get(ex.rest_url + "/fapi/v1/klines",
                                params={"symbol": "BTCUSDT", "interval": "15m"}, timeout=5).json()) == 50  # fmt: skip


def test_paused_clock_moves_only_on_advance() -> None:
    with ReplayExchange(generate(800), start_index=600, paused=True, updates_per_candle=3) as ex:
        t0 = ex.candles[600].open_time
        assert server_time(ex) == t0
        assert not ex.wait_for_index(601, timeout=0.05)
        assert ex.advance(2) and ex.current_index == 602
        assert server_time(ex) == ex.candles[602].open_time
        # one step inside a candle moves market time by a quarter interval
        ex.call(ex.clock.step)
        assert server_time(ex) == ex.candles[602].open_time + M15 // 4
        assert ex.current_index == 602


def test_resume_pause_and_speed() -> None:
    with ReplayExchange(generate(5000), start_index=600, paused=True, seconds_per_candle=0.01) as ex:
        ex.resume()
        assert ex.wait_for_index(605, timeout=5)
        ex.pause()
        stopped_at = ex.current_index
        assert not ex.wait_for_index(stopped_at + 2, timeout=0.1)
        ex.set_speed(0)
        ex.resume()
        assert ex.wait_for_index(5000, timeout=10)  # max speed, no subscribers: straight to the end
        assert ex.clock.finished


def test_wait_for_index_returns_false_past_the_end() -> None:
    with ReplayExchange(generate(700), start_index=690, seconds_per_candle=0) as ex:
        assert not ex.wait_for_index(10_000, timeout=5)
        assert ex.current_index == 700


def test_gaps_stay_gaps() -> None:
    base = generate(700)
    candles = base[:640] + base[645:]  # five candles missing, like an exchange outage
    with ReplayExchange(candles, start_index=630, paused=True) as ex:
        ws = websocket.create_connection(ex.ws_url + "/ws/btcusdt@kline_15m", timeout=5)
        assert ex.advance(20)
        times = set()
        for _ in range(20 * 5):
            times.add(json.loads(ws.recv())["k"]["t"])
        ws.close()
        assert times == {c.open_time for c in candles[630:650]}
        rows = requests.get(
            ex.rest_url + "/fapi/v1/klines",
            params={"symbol": "BTCUSDT", "interval": "15m", "startTime": base[635].open_time, "limit": 10},
            timeout=5,
        ).json()
        assert [r[0] for r in rows] == [c.open_time for c in base[635:640] + base[645:650]]


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="symbol"):
        ReplayExchange(generate(10), symbol="btc-usdt")
    with pytest.raises(ValueError, match="overlap"):
        ReplayExchange(generate(10), extra_symbols={"ETHUSDT": generate(10, start_ms=0)})
    with pytest.raises(ValueError, match="grid"):
        ReplayExchange(generate(10), extra_symbols={"ETHUSDT": generate(10, interval="5m")})
    with pytest.raises(ValueError):
        ReplayExchange([SourceCandle(0, "1", "1", "1", "1", "1")])  # interval cannot be inferred


def test_generated_default_and_context_manager() -> None:
    with ReplayExchange(seconds_per_candle=0.5) as ex:
        assert ex.current_index == 500 and ex.interval == "15m"
        assert ex.rest_url.startswith("http://127.0.0.1:") and ex.ws_url.endswith("/market")
    ex.stop()  # stopping twice is harmless


def test_nothing_is_published_after_pause_returns() -> None:
    """A clock waiting for its next step used to publish it anyway when pause() came in
    meanwhile: a candle could close after pause() returned (seen as a flaky proposal expiry)."""
    with ReplayExchange(generate(3000), start_index=600, seconds_per_candle=0.004, updates_per_candle=0) as ex:
        for _ in range(40):
            ex.wait_for_index(ex.current_index + 1, timeout=5)
            ex.pause()
            index = ex.current_index
            # a bounded wait that must come back empty: several step periods with no close
            assert not ex.wait_until(lambda i=index: ex.current_index > i, timeout=0.02)
            assert ex.current_index == index
            ex.resume()
