"""Signed REST routes (orders, positions, balance, leverage) over the paper account.

Every route verifies the request like Binance (API key header, timestamp window, HMAC)
before touching the account; the account itself lives on the event loop, so handlers
and the clock's order matching never race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from sim.binance.account import Account
from sim.binance.auth import Signer
from sim.binance.errors import json_response

Action = Callable[[Mapping[str, str]], object]


class TradingApi:
    def __init__(self, account: Account, signer: Signer) -> None:
        self.account = account
        self.signer = signer

    def _signed(self, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            params = await self.signer.verify(request)
            return json_response(action(params))

        return handler

    def routes(self) -> list[web.RouteDef]:
        a = self.account
        s = self._signed
        routes = [
            web.post("/fapi/v1/order", s(a.place_order)),
            web.get("/fapi/v1/order", s(a.get_order)),
            web.delete("/fapi/v1/order", s(a.cancel_order)),
            web.get("/fapi/v1/openOrders", s(a.open_orders)),
            web.delete("/fapi/v1/allOpenOrders", s(a.cancel_all)),
            web.get("/fapi/v1/allOrders", s(a.all_orders)),
            web.get("/fapi/v1/userTrades", s(a.user_trades)),
            web.post("/fapi/v1/leverage", s(a.change_leverage)),
            web.get("/fapi/v1/positionSide/dual", s(lambda p: {"dualSidePosition": False})),
        ]
        for version in (2, 3):
            routes += [
                web.get(
                    f"/fapi/v{version}/positionRisk",
                    s(lambda p, v=version: a.position_risk(p, version=v)),
                ),
                web.get(f"/fapi/v{version}/balance", s(lambda p: a.balances())),
                web.get(f"/fapi/v{version}/account", s(lambda p, v=version: a.account(version=v))),
            ]
        return routes
