"""Binance market streams over websocket: `/stream?streams=a/b` and `/ws/<stream>`.

Each connection gets a bounded outbox drained by its own sender task. The clock hands a
step's frames to every subscriber's outbox in one synchronous call (see clock.py), and
at max speed first waits until every outbox has room, so the slowest reader sets the
pace instead of the server buffering without bound. Control of what goes on the wire is
entirely ours (autoping off): the stall fault must be able to silence pongs too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import NamedTuple

from aiohttp import WSMsgType, web

from sim.binance.clock import Step
from sim.binance.faults import ABNORMAL, DropRule, Faults
from sim.binance.klines import combined_json, kline_event_json
from sim.binance.stats import Stats

log = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"[A-Za-z0-9!_.]+(@[A-Za-z0-9_.]+)+")
MAX_STREAMS = 1024
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_SEND_ERRORS = (ConnectionError, RuntimeError, asyncio.CancelledError)
WRITE_BUFFER_HIGH = 256 * 1024  # a sender waits while its transport holds more unsent bytes
DRAIN_POLL_SECONDS = 0.0005


def text_frame(text: str) -> bytes:
    """An unmasked, unfragmented server-to-client websocket text frame (RFC 6455 5.2)."""
    return _frame(0x81, text.encode())


def binary_frame(data: bytes) -> bytes:
    return _frame(0x82, data)


def _frame(first_byte: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((first_byte, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", first_byte, 126, n) + payload
    return struct.pack("!BBQ", first_byte, 127, n) + payload


class Control(NamedTuple):
    """A non-data instruction queued in order with the frames ahead of it."""

    kind: str  # "drop" | "ping"
    code: int = ABNORMAL
    reason: str = ""


class Outbox:
    """A bounded-by-convention FIFO: `put` never blocks; producers that must not outrun
    the reader `await wait_room()` first. The sender takes everything queued at once."""

    __slots__ = ("items", "capacity", "closed", "_nonempty", "_room")

    def __init__(self, capacity: int) -> None:
        self.items: deque[object] = deque()
        self.capacity = capacity
        self.closed = False
        self._nonempty = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: object) -> None:
        if self.closed:
            return
        self.items.append(item)
        self._nonempty.set()

    async def wait_room(self) -> None:
        while len(self.items) >= self.capacity and not self.closed:
            self._room.clear()
            await self._room.wait()

    async def take_all(self) -> deque[object]:
        while not self.items:
            if self.closed:
                return deque()
            self._nonempty.clear()
            await self._nonempty.wait()
        items, self.items = self.items, deque()
        self._room.set()
        return items

    def close(self) -> None:
        self.closed = True
        self.items.clear()
        self._nonempty.set()
        self._room.set()


class Connection:
    def __init__(
        self, conn_id: int, ws: web.WebSocketResponse, request: web.Request, combined: bool, capacity: int
    ) -> None:
        self.id = conn_id
        self.ws = ws
        self.transport = request.transport
        self.combined = combined
        # Binance's 2026 routing: klines travel only on /market connections; an unrouted
        # or /public one opens and subscribes fine but carries none of them.
        self.market = request.path.startswith("/market/")
        self.streams: dict[str, None] = {}  # an ordered set: LIST_SUBSCRIPTIONS keeps order
        self.outbox = Outbox(capacity)
        self.sent = 0
        self.stalled_until = 0.0
        self.drop_rule: DropRule | None = None
        self.drop_left = 0
        self.closing = False
        self.sender: asyncio.Task[None] | None = None

    def stalled(self) -> bool:
        return self.stalled_until != 0.0 and self.stalled_until > time.monotonic()


class Hub:
    """Connection registry, subscriptions, and the delivery of clock steps to them."""

    def __init__(
        self,
        faults: Faults,
        stats: Stats,
        changed: threading.Condition,
        *,
        ping_interval: float | None = 20.0,
        queue_size: int = 1024,
        slow_consumer_limit: int = 20_000,
        close_timeout: float = 2.0,
    ) -> None:
        self._faults = faults
        self._stats = stats
        self._changed = changed
        self.ping_interval = ping_interval
        self.queue_size = queue_size
        self.slow_consumer_limit = slow_consumer_limit
        self.close_timeout = close_timeout
        self._ids = itertools.count(1)
        self._conns: dict[int, Connection] = {}
        self._subs: dict[str, set[Connection]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    # ---- clock sink ------------------------------------------------------------------------

    async def ready(self) -> None:
        for conn in list(self._conns.values()):
            if not conn.closing and not conn.stalled():
                await conn.outbox.wait_room()

    def on_step(self, step: Step) -> None:
        for item in step.items:
            series = item.series
            subs = self._subs.get(series.stream)
            if not subs:
                continue
            up = item.update
            data = kline_event_json(
                series.symbol,
                series.interval,
                up.fields,
                series.first_trade_ids[item.index],
                up.closed,
                up.event_time,
            )
            wrapped = None
            for conn in subs:
                if conn.closing or conn.stalled() or not conn.market:
                    continue
                if conn.combined:
                    if wrapped is None:
                        wrapped = combined_json(series.stream, data)
                    conn.outbox.put(wrapped)
                else:
                    conn.outbox.put(data)
                if len(conn.outbox) > self.slow_consumer_limit:
                    # Timed replay never waits for readers; like Binance, cut off one that
                    # has fallen hopelessly behind instead of buffering for it forever.
                    conn.outbox.close()
                    self._stats.count("slow_consumer_drops")
                    self._spawn(self._drop(conn, ABNORMAL, "slow consumer"))
        if step.closed:
            drop = self._faults.take_drop_at(step.index)
            if drop is not None:
                for conn in self._conns.values():
                    conn.outbox.put(Control("drop", *drop))

    # ---- fault actions (event loop) -------------------------------------------------------

    def close_all(self, code: int, reason: str) -> int:
        conns = [c for c in self._conns.values() if not c.closing]
        for conn in conns:
            self._spawn(self._drop(conn, code, reason))
        return len(conns)

    def stall_all(self, until: float) -> int:
        for conn in self._conns.values():
            conn.stalled_until = until
        return len(self._conns)

    def unstall_all(self) -> int:
        for conn in self._conns.values():
            conn.stalled_until = 0.0
        return len(self._conns)

    def inject_all(self, make: Callable[[bool, str], str | bytes], count: int) -> int:
        for conn in self._conns.values():
            stream = next(iter(conn.streams), "btcusdt@kline_15m")
            for _ in range(count):
                conn.outbox.put(make(conn.combined, stream))
        return len(self._conns)

    def arm_drop_after(self, rule: DropRule) -> int:
        for conn in self._conns.values():
            conn.drop_rule, conn.drop_left = rule, rule.n
        return len(self._conns)

    # ---- lifecycle -------------------------------------------------------------------------

    async def ping_loop(self) -> None:
        if not self.ping_interval:
            return
        while True:
            await asyncio.sleep(self.ping_interval)
            for conn in self._conns.values():
                if not conn.closing and not conn.stalled():
                    conn.outbox.put(Control("ping"))

    async def shutdown(self) -> None:
        """Close every connection with 1001 (going away), as Binance does on maintenance."""
        conns = list(self._conns.values())
        for conn in conns:
            self._spawn(self._drop(conn, 1001, "Server shutdown", count=False))
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=min(self.close_timeout, 0.5))
        for conn in conns:
            if conn.transport is not None:
                conn.transport.abort()

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drop(self, conn: Connection, code: int, reason: str, *, count: bool = True) -> None:
        if conn.closing:
            return
        conn.closing = True
        conn.outbox.close()
        if count:
            self._stats.count("drops")
        if code == ABNORMAL:
            # No close frame: end the TCP connection (after flushing what was already
            # written), which clients report as 1006.
            if conn.transport is not None:
                conn.transport.close()
            return
        try:
            await asyncio.wait_for(
                conn.ws.close(code=code, message=reason.encode()), self.close_timeout
            )
        except Exception:
            if conn.transport is not None:
                conn.transport.abort()

    # ---- the aiohttp handler ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        combined = request.path.rstrip("/").endswith("/stream")
        if combined:
            names = request.query.get("streams", "")
        else:
            names = request.match_info.get("streams", "")
        streams = [s for s in names.split("/") if s]
        bad = [s for s in streams if not STREAM_NAME.fullmatch(s)]
        if bad or len(streams) > MAX_STREAMS:
            raise web.HTTPBadRequest(text=f"Invalid request: invalid stream name {bad[:1]!r}")
        ws = web.WebSocketResponse(
            autoping=False,
            heartbeat=None,
            compress=False,
            max_msg_size=1 << 20,
            timeout=self.close_timeout,
        )
        conn = Connection(next(self._ids), ws, request, combined, self.queue_size)
        # Subscribed before the handshake completes: a client that has its 101 response
        # can rely on getting every frame published from then on.
        for s in streams:
            self._subscribe(conn, s)
        self._conns[conn.id] = conn
        try:
            await ws.prepare(request)
        except BaseException:
            self._forget(conn)
            raise
        rule = self._faults.rule_for_new_connection()
        if rule is not None:
            conn.drop_rule, conn.drop_left = rule, rule.n
        self._stats.connection_opened(conn.id, conn)
        conn.sender = self._spawn(self._send_loop(conn))
        self._notify()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_request(conn, msg.data)
                elif msg.type is WSMsgType.PING:
                    if not conn.stalled() and not conn.closing:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self._on_request(conn, None)
                elif msg.type is WSMsgType.ERROR:
                    break
        except _SEND_ERRORS:
            pass
        finally:
            self._forget(conn)
            self._stats.connection_closed(conn.id, conn.sent)
            self._notify()
            # The sender exits by itself once its outbox is closed; cancelling it here
            # could cut short a close handshake it is performing.
        return ws

    def _forget(self, conn: Connection) -> None:
        conn.closing = True
        conn.outbox.close()
        for s in list(conn.streams):
            self._unsubscribe(conn, s)
        self._conns.pop(conn.id, None)

    async def _send_loop(self, conn: Connection) -> None:
        """Write queued frames in batches: one transport write per batch, not per frame.

        Data frames are framed here and written straight to the transport (the bulk of
        the time at max speed went into per-frame syscalls); control frames still go
        through aiohttp. Both end up on the same transport in queue order.
        """
        transport = conn.transport
        chunk: list[bytes] = []
        try:
            while True:
                batch = await conn.outbox.take_all()
                if not batch:
                    return
                for item in batch:
                    cls = item.__class__
                    if cls is str or cls is bytes:
                        if conn.stalled_until and conn.stalled():
                            continue
                        chunk.append(
                            text_frame(item) if cls is str else binary_frame(item)  # type: ignore[arg-type]
                        )
                        conn.sent += 1
                        rule = conn.drop_rule
                        if rule is not None:
                            conn.drop_left -= 1
                            if conn.drop_left <= 0:
                                conn.drop_rule = None
                                rule.fired = True
                                self._write(conn, chunk)
                                await self._drop(conn, rule.code, rule.reason)
                                return
                        continue
                    self._write(conn, chunk)
                    ctl: Control = item  # type: ignore[assignment]
                    if ctl.kind == "ping":
                        if not conn.stalled():
                            await conn.ws.ping(str(int(time.time() * 1000)).encode())
                    else:
                        await self._drop(conn, ctl.code, ctl.reason)
                        return
                self._write(conn, chunk)
                if conn.closing or transport is None or transport.is_closing():
                    return
                while transport.get_write_buffer_size() > WRITE_BUFFER_HIGH:
                    if transport.is_closing():
                        return
                    await asyncio.sleep(DRAIN_POLL_SECONDS)
        except _SEND_ERRORS:
            pass
        except Exception:
            log.exception("replay ws sender %d failed", conn.id)
        finally:
            conn.closing = True
            conn.outbox.close()

    @staticmethod
    def _write(conn: Connection, chunk: list[bytes]) -> None:
        if chunk:
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.write(b"".join(chunk))
            chunk.clear()

    # ---- client requests -------------------------------------------------------------------

    def _on_request(self, conn: Connection, text: str | None) -> None:
        self._stats.count("ws_requests")
        reply = self._answer(conn, text)
        if not conn.stalled():
            conn.outbox.put(json.dumps(reply, separators=(",", ":")))

    def _answer(self, conn: Connection, text: str | None) -> dict[str, object]:
        def error(code: int, msg: str, rid: object = None) -> dict[str, object]:
            return {"error": {"code": code, "msg": msg}, "id": rid}

        if text is None:
            return error(3, "Invalid JSON: binary frames are not supported")
        try:
            req = json.loads(text)
        except ValueError as exc:
            return error(3, f"Invalid JSON: {exc}")
        if not isinstance(req, dict):
            return error(2, "Invalid request: expected a JSON object")
        rid = req.get("id")
        if not (rid is None or isinstance(rid, str) or (isinstance(rid, int) and rid >= 0)):
            return error(2, "Invalid request: request ID must be an unsigned integer")
        method = req.get("method")
        params = req.get("params", [])
        if method not in METHODS:
            return error(
                2,
                f"Invalid request: unknown variant `{method}`, expected one of "
                + ", ".join(f"`{m}`" for m in METHODS),
                rid,
            )
        if not isinstance(params, list):
            return error(2, "Invalid request: params must be an array", rid)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) and STREAM_NAME.fullmatch(p) for p in params):
                return error(2, "Invalid request: invalid stream name in params", rid)
            if method == "SUBSCRIBE":
                if len(set(conn.streams) | set(params)) > MAX_STREAMS:
                    return error(2, f"Invalid request: more than {MAX_STREAMS} streams", rid)
                for p in params:
                    self._subscribe(conn, p)
            else:
                for p in params:
                    self._unsubscribe(conn, p)
            return {"result": None, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.streams), "id": rid}
        if not params or params[0] != "combined":
            return error(0, "Unknown property", rid)
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": rid}
        if len(params) != 2 or not isinstance(params[1], bool):
            return error(1, "Invalid value type: expected Boolean", rid)
        conn.combined = params[1]
        return {"result": None, "id": rid}

    def _subscribe(self, conn: Connection, stream: str) -> None:
        conn.streams[stream] = None
        self._subs.setdefault(stream, set()).add(conn)

    def _unsubscribe(self, conn: Connection, stream: str) -> None:
        conn.streams.pop(stream, None)
        subs = self._subs.get(stream)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self._subs[stream]

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


def add_routes(app: web.Application, hub: Hub, prefixes: tuple[str, ...] = ("", "/public", "/market")) -> None:
    """Serve the stream paths at the root, /public and /market (Binance's 2026 split); only
    /market connections carry klines, the others open and stay silent, as on Binance."""
    for prefix in prefixes:
        app.router.add_get(f"{prefix}/stream", hub.handle)
        app.router.add_get(f"{prefix}/ws", hub.handle)
        app.router.add_get(f"{prefix}/ws/{{streams:.+}}", hub.handle)
