"""Market streams of the replay exchange, read with websocket-client like the bot does."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests
import websocket
from websocket import ABNF

from sim.binance import ReplayExchange, generate

START = 600
U = 4  # updates per candle


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    eth = generate(1500, seed=3, start_price=2500.0)
    with ReplayExchange(
        generate(1500), start_index=START, paused=True, extra_symbols={"ETHUSDT": eth}
    ) as exchange:
        yield exchange


def connect(ex: ReplayExchange, path: str, *, base: str | None = None) -> websocket.WebSocket:
    return websocket.create_connection((base or ex.ws_url) + path, timeout=5, skip_utf8_validation=True)


def recv_json(ws: websocket.WebSocket, n: int) -> list[dict[str, object]]:
    return [json.loads(ws.recv()) for _ in range(n)]


def rest_rows(ex: ReplayExchange, **params: object) -> list[list[object]]:
    params = {"symbol": "BTCUSDT", "interval": "15m", **params}
    return requests.get(ex.rest_url + "/fapi/v1/klines", params=params, timeout=5).json()


def as_row(k: dict[str, object]) -> list[object]:
    return [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], k["B"]]


def test_combined_stream_closed_updates_equal_rest_rows(ex: ReplayExchange) -> None:
    ws = connect(ex, "/stream?streams=btcusdt@kline_15m")
    assert ex.advance(3)
    frames = recv_json(ws, 3 * (U + 1))
    last_e = 0
    for j, msg in enumerate(frames):
        assert msg["stream"] == "btcusdt@kline_15m"
        data = msg["data"]
        assert isinstance(data, dict)
        k = data["k"]
        assert data["e"] == "kline" and data["s"] == "BTCUSDT" and k["s"] == "BTCUSDT" and k["i"] == "15m"
        assert data["E"] > last_e
        last_e = data["E"]
        i = START + j // (U + 1)
        assert k["t"] == ex.candles[i].open_time
        assert k["x"] is (j % (U + 1) == U)
        if k["x"]:
            (row,) = rest_rows(ex, startTime=k["t"], limit=1)
            assert as_row(k) == row == ex.kline_row(i)
    ws.close()


def test_raw_stream_and_routing(ex: ReplayExchange) -> None:
    """Binance's 2026 split: klines only under /market; an unrouted or /public connection
    opens, subscribes, and carries none (silently, as on Binance)."""
    raw = connect(ex, "/ws/btcusdt@kline_15m")
    combined = connect(ex, "/stream?streams=btcusdt@kline_15m")
    base = ex.rest_url.replace("http", "ws")
    root = connect(ex, "/stream?streams=btcusdt@kline_15m", base=base)
    public = connect(ex, "/ws/btcusdt@kline_15m", base=base + "/public")
    assert ex.advance(1)
    raw_frames = recv_json(raw, U + 1)
    combined_frames = recv_json(combined, U + 1)
    assert [f["data"] for f in combined_frames] == raw_frames
    assert raw_frames[-1]["k"]["x"] is True  # type: ignore[index]
    for silent in (root, public):  # frames queue in order: the first one back is the reply
        silent.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 7}))
        assert json.loads(silent.recv()) == {"result": ["btcusdt@kline_15m"], "id": 7}
    for ws in (raw, combined, root, public):
        ws.close()


def test_two_symbols_on_one_connection(ex: ReplayExchange) -> None:
    ws = connect(ex, "/stream?streams=btcusdt@kline_15m/ethusdt@kline_15m")
    assert ex.advance(1)
    frames = recv_json(ws, 2 * (U + 1))
    assert {f["stream"] for f in frames} == {"btcusdt@kline_15m", "ethusdt@kline_15m"}
    eth_closed = [f["data"]["k"] for f in frames if f["stream"] == "ethusdt@kline_15m" and f["data"]["k"]["x"]]  # type: ignore[index]
    assert [as_row(k) for k in eth_closed] == [ex.kline_row(START, "ETHUSDT")]
    ws.close()


def test_subscribe_list_unsubscribe(ex: ReplayExchange) -> None:
    ws = connect(ex, "/ws")
    ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_15m"], "id": 1}))
    assert json.loads(ws.recv()) == {"result": None, "id": 1}
    assert ex.advance(1)
    assert [f["e"] for f in recv_json(ws, U + 1)] == ["kline"] * (U + 1)
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
    assert json.loads(ws.recv()) == {"result": ["btcusdt@kline_15m"], "id": 2}
    ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_15m"], "id": 3}))
    assert json.loads(ws.recv()) == {"result": None, "id": 3}
    assert ex.advance(1)
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 4}))
    assert json.loads(ws.recv()) == {"result": [], "id": 4}  # no frames in between
    ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}))
    assert json.loads(ws.recv()) == {"result": None, "id": 5}
    ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 6}))
    assert json.loads(ws.recv()) == {"result": True, "id": 6}
    ws.close()


def test_bad_requests(ex: ReplayExchange) -> None:
    ws = connect(ex, "/stream?streams=btcusdt@kline_15m")
    ws.send("{not json")
    reply = json.loads(ws.recv())
    assert reply["id"] is None and reply["error"]["code"] == 3
    ws.send(json.dumps({"method": "FLY", "id": 9}))
    reply = json.loads(ws.recv())
    assert reply["id"] == 9 and reply["error"]["code"] == 2
    ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["no stream"], "id": 10}))
    assert json.loads(ws.recv())["error"]["code"] == 2
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException):
        connect(ex, "/stream?streams=bad%20name")


def test_client_ping_gets_pong(ex: ReplayExchange) -> None:
    ws = connect(ex, "/ws/btcusdt@kline_15m")
    ws.ping("hello")
    op, frame = ws.recv_data_frame(control_frame=True)
    assert op == ABNF.OPCODE_PONG and frame.data == b"hello"
    ws.close()


def test_server_pings() -> None:
    with ReplayExchange(generate(700), paused=True, ping_interval=0.05) as ex:
        ws = connect(ex, "/ws/btcusdt@kline_15m")
        op, frame = ws.recv_data_frame(control_frame=True)
        assert op == ABNF.OPCODE_PING
        assert abs(int(frame.data) - time.time() * 1000) < 60_000
        ws.close()


def test_timed_replay_advances_on_its_own() -> None:
    with ReplayExchange(generate(700), start_index=600, seconds_per_candle=0.02) as ex:
        ws = connect(ex, "/stream?streams=btcusdt@kline_15m")
        assert ex.wait_for_index(603, timeout=5)
        closed = 0
        while closed < 2:
            msg = json.loads(ws.recv())
            closed += msg["data"]["k"]["x"]
        ws.close()


def test_max_speed_rest_is_consistent_with_stream() -> None:
    """At full speed, every closed candle a client sees is already served by REST."""
    with ReplayExchange(generate(3000), start_index=500, seconds_per_candle=0, paused=True) as ex:
        ws = connect(ex, "/stream?streams=btcusdt@kline_15m")
        ex.resume()
        checked = 0
        while checked < 60:
            k = json.loads(ws.recv())["data"]["k"]
            if k["x"]:
                last = rest_rows(ex, endTime=k["t"], limit=1)
                assert last == [as_row(k)]
                checked += 1
        ws.close()
        assert ex.wait_for_index(3000, timeout=10)  # nobody left to wait for: runs to the end
        got = rest_rows(ex, limit=2)
        assert got == [ex.kline_row(2998), ex.kline_row(2999)]


def test_max_speed_waits_for_a_slow_reader() -> None:
    n = 10_000
    with ReplayExchange(generate(n), start_index=500, seconds_per_candle=0, paused=True, queue_size=64) as ex:
        small_buffer = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 16384),)
        ws = websocket.create_connection(
            ex.ws_url + "/stream?streams=btcusdt@kline_15m", timeout=5, sockopt=small_buffer
        )
        ex.resume()
        # The client reads nothing: once the buffers are full the clock must stop dead
        # instead of queueing the rest of the data in memory.
        # On a busy machine filling the buffers takes a while: wait until the clock holds
        # still for 0.3 s (with a deadline), then it must be far from the end.
        deadline = time.monotonic() + 15
        stuck_at = ex.current_index
        while ex.wait_for_index(stuck_at + 1, timeout=0.3):
            stuck_at = ex.current_index
            assert time.monotonic() < deadline, "the clock never stopped for a reader that reads nothing"
        assert stuck_at < n
        backlog = ex.call(lambda: max(len(c.outbox) for c in ex.hub._conns.values()))
        assert backlog <= 64
        # REST stays responsive while the clock is blocked (ending with the forming
        # candle once its first update is out)
        newest = stuck_at if ex.clock.k else stuck_at - 1
        assert rest_rows(ex, limit=1)[0][0] == ex.candles[newest].open_time
        while ex.current_index < stuck_at + 50:
            ws.recv()
        ws.close()
        assert ex.wait_for_index(n, timeout=10)


def test_stop_is_quick_with_open_connections() -> None:
    ex = ReplayExchange(generate(700), seconds_per_candle=0.01).start()
    conns = [connect(ex, "/stream?streams=btcusdt@kline_15m") for _ in range(3)]
    t0 = time.monotonic()
    ex.stop()
    assert time.monotonic() - t0 < 2.5
    for ws in conns:
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
            while True:
                if ws.recv() == "":
                    raise websocket.WebSocketConnectionClosedException("closed")
        ws.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(ex.rest_url + "/fapi/v1/ping", timeout=2)
