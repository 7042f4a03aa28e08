"""Fault injection of the replay exchange: drops, closes, stalls, garbage, REST errors."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator

import pytest
import requests
import websocket
from websocket import ABNF

from sim.binance import ReplayExchange, generate

START = 600
U = 4
STREAM = "/stream?streams=btcusdt@kline_15m"


@pytest.fixture
def ex() -> Iterator[ReplayExchange]:
    with ReplayExchange(generate(1000), start_index=START, paused=True) as exchange:
        yield exchange


def connect(ex: ReplayExchange, path: str = STREAM) -> websocket.WebSocket:
    return websocket.create_connection(ex.ws_url + path, timeout=5, skip_utf8_validation=True)


def read_until_closed(ws: websocket.WebSocket) -> tuple[list[dict[str, object]], int, bytes]:
    """Frames received before the connection ended, and how it ended (1006: no close frame)."""
    frames: list[dict[str, object]] = []
    while True:
        try:
            op, data = ws.recv_data_frame(control_frame=True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return frames, 1006, b""
        if op == ABNF.OPCODE_TEXT:
            frames.append(json.loads(data.data if isinstance(data, ABNF) else data))
        elif op == ABNF.OPCODE_CLOSE:
            payload = data.data
            return frames, struct.unpack("!H", payload[:2])[0], payload[2:]


def still_open(ws: websocket.WebSocket) -> bool:
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 77}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == 77:
            return True


def closed_times(frames: list[dict[str, object]]) -> list[int]:
    return [f["data"]["k"]["t"] for f in frames if f["data"]["k"]["x"]]  # type: ignore[index]


# ---- websocket faults -------------------------------------------------------------------


def test_drop_after_messages_one_shot(ex: ReplayExchange) -> None:
    a = connect(ex)
    ex.faults.drop_after_messages(3)
    assert ex.advance(1)
    frames, code, _ = read_until_closed(a)
    assert (len(frames), code) == (3, 1006)
    b = connect(ex)
    assert ex.advance(1)
    assert len([json.loads(b.recv()) for _ in range(U + 1)]) == U + 1
    assert still_open(b)
    assert ex.stats.drops == 1
    b.close()


def test_drop_after_messages_armed_before_connecting(ex: ReplayExchange) -> None:
    ex.faults.drop_after_messages(2)
    a = connect(ex)
    assert ex.advance(1)
    frames, code, _ = read_until_closed(a)
    assert (len(frames), code) == (2, 1006)
    b = connect(ex)
    assert ex.advance(1)
    assert still_open(b)
    b.close()


def test_drop_after_messages_every_connection(ex: ReplayExchange) -> None:
    ex.faults.drop_after_messages(2, every=True, code=1001, reason="again")
    for _ in range(2):
        ws = connect(ex)
        assert ex.advance(1)
        frames, code, reason = read_until_closed(ws)
        assert (len(frames), code, reason) == (2, 1001, b"again")
    ex.faults.clear()
    ws = connect(ex)
    assert ex.advance(1)
    assert len([ws.recv() for _ in range(U + 1)]) == U + 1
    ws.close()


def test_drop_at_candle_abnormal(ex: ReplayExchange) -> None:
    ws = connect(ex)
    ex.faults.drop_at_candles([START + 1])
    assert ex.advance(3)
    frames, code, _ = read_until_closed(ws)
    assert code == 1006
    assert len(frames) == 2 * (U + 1)  # everything up to and including candle START+1's close
    assert closed_times(frames) == [ex.candles[START].open_time, ex.candles[START + 1].open_time]
    # what the client missed is on REST for the backfill
    rows = requests.get(
        ex.rest_url + "/fapi/v1/klines",
        params={"symbol": "BTCUSDT", "interval": "15m", "startTime": ex.candles[START + 1].open_time},
        timeout=5,
    ).json()
    assert rows == [ex.kline_row(START + 1), ex.kline_row(START + 2)]


def test_drop_at_candles_with_close_code(ex: ReplayExchange) -> None:
    ws = connect(ex)
    ex.faults.drop_at_candles([START], code=1001, reason="maintenance")
    assert ex.advance(1)
    frames, code, reason = read_until_closed(ws)
    assert (len(frames), code, reason) == (U + 1, 1001, b"maintenance")


def test_close_with(ex: ReplayExchange) -> None:
    conns = [connect(ex), connect(ex, "/ws/btcusdt@kline_15m")]
    assert ex.faults.close_with(1011, "boom") == 2
    for ws in conns:
        assert read_until_closed(ws)[1:] == (1011, b"boom")
    assert ex.wait_until(lambda: ex.stats.connections_open == 0, timeout=5)


def test_stall_sends_nothing_and_frames_are_missed(ex: ReplayExchange) -> None:
    ws = connect(ex)
    ex.faults.stall()
    ws.ping("anyone?")
    assert ex.advance(2)  # the clock keeps going
    ws.settimeout(0.3)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv_data_frame(control_frame=True)  # no frames, no pong
    ws.settimeout(5)
    ex.faults.unstall()
    assert ex.advance(1)
    frames = [json.loads(ws.recv()) for _ in range(U + 1)]
    assert {f["data"]["k"]["t"] for f in frames} == {ex.candles[START + 2].open_time}  # type: ignore[index]
    ws.ping("back")
    op, frame = ws.recv_data_frame(control_frame=True)
    assert (op, frame.data) == (ABNF.OPCODE_PONG, b"back")
    ws.close()


def test_timed_stall_ends_by_itself() -> None:
    with ReplayExchange(generate(700), paused=True, ping_interval=0.02) as ex:
        ws = connect(ex)
        t0 = time.monotonic()
        ex.faults.stall(0.3)
        op, _ = ws.recv_data_frame(control_frame=True)
        assert op == ABNF.OPCODE_PING and time.monotonic() - t0 >= 0.25
        ws.close()


def test_stall_applies_only_to_current_connections(ex: ReplayExchange) -> None:
    old = connect(ex)
    ex.faults.stall()
    new = connect(ex)
    assert ex.advance(1)
    assert len([new.recv() for _ in range(U + 1)]) == U + 1
    old.close()
    new.close()


def test_malformed_frames(ex: ReplayExchange) -> None:
    ws = connect(ex)
    assert ex.faults.malformed(1, "json") == 1
    with pytest.raises(ValueError):
        json.loads(ws.recv())
    ex.faults.malformed(2, "shape")
    assert json.loads(ws.recv()) == {"foo": 1}
    partial = json.loads(ws.recv())
    assert partial["stream"] == "btcusdt@kline_15m" and "x" not in partial["data"]["k"]
    ex.faults.malformed(1, "binary")
    op, _ = ws.recv_data_frame()
    assert op == ABNF.OPCODE_BINARY
    assert ex.advance(1)  # the connection carries on normally
    assert json.loads(ws.recv())["data"]["e"] == "kline"
    with pytest.raises(ValueError):
        ex.faults.malformed(1, "nonsense")
    ws.close()


# ---- REST faults ------------------------------------------------------------------------


def ping(ex: ReplayExchange) -> requests.Response:
    return requests.get(ex.rest_url + "/fapi/v1/ping", timeout=5)


def test_rest_server_errors(ex: ReplayExchange) -> None:
    ex.faults.rest_errors(503, count=2)
    for _ in range(2):
        r = ping(ex)
        assert r.status_code == 503
        assert r.json() == {
            "code": -1001,
            "msg": "Internal error; unable to process your request. Please try again.",
        }
    assert ping(ex).status_code == 200
    assert ex.stats.rest_faults_served == 2


@pytest.mark.parametrize("status", [429, 418])
def test_rest_rate_limits(ex: ReplayExchange, status: int) -> None:
    ex.faults.rest_errors(status, count=1, retry_after=7)
    r = requests.get(
        ex.rest_url + "/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "15m"}, timeout=5
    )
    assert r.status_code == status and r.headers["Retry-After"] == "7"
    assert r.json()["code"] == -1003
    assert ping(ex).status_code == 200


# ---- counters ---------------------------------------------------------------------------


def test_stats(ex: ReplayExchange) -> None:
    ws = connect(ex)
    assert ex.advance(2)
    got = [ws.recv() for _ in range(2 * (U + 1))]
    ping(ex)
    s = ex.stats
    assert s.connections_accepted == 1 and s.connections_open == 1
    assert list(s.messages_sent.values()) == [len(got)]
    assert s.rest_requests["/fapi/v1/ping"] == 1
    ex.faults.close_with(1006)
    read_until_closed(ws)
    assert ex.wait_until(lambda: ex.stats.connections_open == 0, timeout=5)
    assert ex.stats.drops == 1
