"""The user data stream: listenKeys over REST and the `/private` websocket route.

- `POST /fapi/v1/listenKey` (API key header, no signature) answers the account's active
  key, or a new one; either way it is valid for `listen_key_ttl` seconds (Binance: 60
  minutes) from then. `PUT` extends it, `DELETE` ends it; both answer -1125 "This
  listenKey does not exist." for a key that is unknown or expired. The TTL runs on the
  wall clock: keep-alives are a client's wall-clock duty whatever the replay's speed.
- Websocket: `/private/ws/<listenKey>`, `/private/ws?listenKey=<key>&events=A/B` and
  `/private/stream?listenKey=<key>` (payloads wrapped as `{"stream": key, "data": …}`),
  Binance's 2026 routing. `events=` keeps only those event types. An unknown or expired
  key is refused at the handshake (HTTP 400, -1125).
- When a key expires (its TTL, or `expire_listen_key()`), its connections get
  `{"e":"listenKeyExpired","E":"<ms>","listenKey":…}` (E as a string, as Binance's
  example has it) and then nothing more: the socket stays open but silent, as Binance
  says ("not related to the websocket disconnection").
- Faults: `drop()` cuts every user-stream connection (no close frame: 1006);
  `down(seconds)` also refuses new ones (HTTP 503) until `up()` or the time is over.
  Events meanwhile are lost for good, as on Binance: a client catches up over REST.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from sim.binance.errors import BinanceError, json_response

log = logging.getLogger(__name__)

LISTEN_KEY_TTL = 3600.0
EXPIRED = BinanceError(-1125, "This listenKey does not exist.")
EXPIRY_CHECK_SECONDS = 0.5


@dataclass
class PrivateConnection:
    ws: web.WebSocketResponse
    request: web.Request
    key: str
    combined: bool
    events: frozenset[str] | None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    silent: bool = False  # its key expired: nothing more is sent
    sent: int = 0


class UserStream:
    def __init__(
        self,
        api_key: str,
        now_ms: Callable[[], int],
        changed: threading.Condition,
        *,
        ttl: float = LISTEN_KEY_TTL,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.now_ms = now_ms
        self._changed = changed
        self.ttl = ttl
        self.wall = wall
        self.key: str | None = None
        self.expires_at = 0.0
        self.conns: list[PrivateConnection] = []
        self.down_until = 0.0
        self.published: list[dict[str, object]] = []  # every event, for tests (bounded)
        self.closed: list[str] = []  # keys a client closed (DELETE), for tests
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # ---- listen keys -----------------------------------------------------------------------

    def _check_api_key(self, request: web.Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def active_key(self) -> str | None:
        if self.key is not None and self.wall() >= self.expires_at:
            self._expire()
        return self.key

    async def create(self, request: web.Request) -> web.Response:
        self._check_api_key(request)
        if self.active_key() is None:
            self.key = secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64]
        self.expires_at = self.wall() + self.ttl
        return json_response({"listenKey": self.key})

    async def keepalive(self, request: web.Request) -> web.Response:
        self._check_api_key(request)
        key = await self._given_key(request)
        if self.active_key() is None or (key and key != self.key):
            raise EXPIRED
        self.expires_at = self.wall() + self.ttl
        return json_response({"listenKey": self.key})

    async def close(self, request: web.Request) -> web.Response:
        self._check_api_key(request)
        key = await self._given_key(request)
        if self.active_key() is None or (key and key != self.key):
            raise EXPIRED
        self.closed.append(self.key or "")
        self._forget_key(notify=False)
        return json_response({})

    @staticmethod
    async def _given_key(request: web.Request) -> str:
        key = request.query.get("listenKey", "")
        if not key and request.body_exists:
            form = await request.post()
            key = str(form.get("listenKey", ""))
        return key

    def expire_listen_key(self) -> bool:
        """Fault control (event loop): the active key expires now; False if there was none."""
        if self.key is None:
            return False
        self._expire()
        return True

    def _expire(self) -> None:
        key = self.key
        self._forget_key(notify=True)
        log.info("listenKey %s… expired", (key or "")[:6])

    def _forget_key(self, *, notify: bool) -> None:
        key, self.key, self.expires_at = self.key, None, 0.0
        for conn in self.conns:
            if conn.key != key or conn.silent:
                continue
            if notify:
                event = {"e": "listenKeyExpired", "E": str(self.now_ms()), "listenKey": key}
                conn.queue.put_nowait(self._frame(conn, event))
            conn.silent = True

    async def expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            self.active_key()

    # ---- publishing --------------------------------------------------------------------------

    def publish(self, event: dict[str, object]) -> None:
        """Send an account event to every live connection of the active key (event loop)."""
        self.published.append(event)
        if len(self.published) > 10_000:
            del self.published[:5_000]
        if self.active_key() is None:
            return
        kind = str(event.get("e"))
        for conn in self.conns:
            if conn.silent or conn.key != self.key:
                continue
            if conn.events is not None and kind not in conn.events:
                continue
            conn.queue.put_nowait(self._frame(conn, event))

    @staticmethod
    def _frame(conn: PrivateConnection, event: dict[str, object]) -> str:
        if conn.combined:
            event = {"stream": conn.key, "data": event}
        return json.dumps(event, separators=(",", ":"))

    # ---- faults ------------------------------------------------------------------------------

    def drop(self, down_seconds: float = 0.0) -> int:
        """Cut every user-stream connection (event loop); refuse new ones for a while
        (math.inf: until up())."""
        if down_seconds:
            self.down_until = math.inf if down_seconds == math.inf else self.wall() + down_seconds
        conns = list(self.conns)
        for conn in conns:
            conn.silent = True
            if conn.request.transport is not None:
                conn.request.transport.abort()
        return len(conns)

    def up(self) -> None:
        self.down_until = 0.0

    @property
    def connection_count(self) -> int:
        return len(self.conns)

    # ---- the websocket handler ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        combined = request.path.rstrip("/").endswith("/stream")
        key = request.match_info.get("key") or request.query.get("listenKey", "")
        if self.down_until and self.wall() < self.down_until:
            raise BinanceError(-1001, "Internal error; unable to process your request. Please try again.", 503)
        if not key or self.active_key() != key:
            raise EXPIRED
        raw_events = request.query.get("events", "")
        events = frozenset(e for e in raw_events.split("/") if e) or None
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, compress=False)
        conn = PrivateConnection(ws, request, key, combined, events)
        self.conns.append(conn)  # before the handshake ends: nothing published after it is missed
        try:
            await ws.prepare(request)
        except BaseException:
            self.conns.remove(conn)
            raise
        self._notify()
        sender = asyncio.ensure_future(self._send_loop(conn))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            conn.queue.put_nowait(None)
            sender.cancel()
            self._notify()
        return ws

    async def _send_loop(self, conn: PrivateConnection) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    return
                await conn.ws.send_str(text)
                conn.sent += 1
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    async def shutdown(self) -> None:
        for conn in list(self.conns):
            conn.queue.put_nowait(None)
            if conn.request.transport is not None:
                conn.request.transport.abort()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/fapi/v1/listenKey", self.create),
            web.put("/fapi/v1/listenKey", self.keepalive),
            web.delete("/fapi/v1/listenKey", self.close),
            web.get("/private/ws/{key}", self.handle),
            web.get("/private/ws", self.handle),
            web.get("/private/stream", self.handle),
        ]
