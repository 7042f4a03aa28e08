"""Counters tests and benchmarks read to check what the exchange actually did.

Written on the server's event loop, read from other threads: all access goes through one
lock and readers get a frozen snapshot, so a test never iterates a dict mid-update.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from sim.binance.errors import Handler, Middleware


@dataclass(frozen=True)
class StatsSnapshot:
    connections_accepted: int = 0
    connections_open: int = 0
    drops: int = 0
    slow_consumer_drops: int = 0
    frames_sent: int = 0
    messages_sent: dict[int, int] = field(default_factory=dict)
    rest_requests: dict[str, int] = field(default_factory=dict)
    rest_faults_served: int = 0
    ws_requests: int = 0
    # POST /fapi/v1/order and /fapi/v1/algoOrder per client id, faulted ones included:
    # how a test proves an order was sent exactly once
    order_posts: dict[str, int] = field(default_factory=dict)
    algo_order_posts: dict[str, int] = field(default_factory=dict)

    @property
    def rest_total(self) -> int:
        return sum(self.rest_requests.values())


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections_accepted = 0
        self.drops = 0
        self.slow_consumer_drops = 0
        self.rest_faults_served = 0
        self.ws_requests = 0
        self._closed_messages: dict[int, int] = {}
        self._live: dict[int, object] = {}  # conn id -> object with a `sent` attribute
        self._rest = Counter[str]()
        self._order_posts = Counter[str]()
        self._algo_posts = Counter[str]()
        self._minute = 0
        self._weight = 0

    def connection_opened(self, conn_id: int, conn: object) -> None:
        with self._lock:
            self.connections_accepted += 1
            self._live[conn_id] = conn

    def connection_closed(self, conn_id: int, sent: int) -> None:
        with self._lock:
            self._live.pop(conn_id, None)
            self._closed_messages[conn_id] = sent

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def order_posted(self, client_id: str, *, algo: bool = False) -> None:
        with self._lock:
            (self._algo_posts if algo else self._order_posts)[client_id] += 1

    def rest_request(self, path: str) -> int:
        """Count a REST call; return the request weight used this minute (for the header)."""
        minute = int(time.time() // 60)
        with self._lock:
            self._rest[path] += 1
            if minute != self._minute:
                self._minute, self._weight = minute, 0
            self._weight += 1
            return self._weight

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            messages = dict(self._closed_messages)
            messages.update({cid: c.sent for cid, c in self._live.items()})  # type: ignore[attr-defined]
            return StatsSnapshot(
                connections_accepted=self.connections_accepted,
                connections_open=len(self._live),
                drops=self.drops,
                slow_consumer_drops=self.slow_consumer_drops,
                frames_sent=sum(messages.values()),
                messages_sent=messages,
                rest_requests=dict(self._rest),
                rest_faults_served=self.rest_faults_served,
                ws_requests=self.ws_requests,
                order_posts=dict(self._order_posts),
                algo_order_posts=dict(self._algo_posts),
            )

    def middleware(self) -> Middleware:
        @web.middleware
        async def count_rest(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith("/fapi/"):
                return await handler(request)
            weight = self.rest_request(request.path)
            response = await handler(request)
            if not response.prepared:
                response.headers["X-MBX-USED-WEIGHT-1M"] = str(weight)
            return response

        return count_rest
