"""Signed REST routes (orders, positions, balance, account settings) over the paper account.

Every route verifies the request like Binance (API key header, timestamp window, HMAC)
before touching the account; the account itself lives on the event loop, so handlers
and the clock's order matching never race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from sim.binance import reports
from sim.binance.account import Account
from sim.binance.auth import Signer
from sim.binance.errors import json_response
from sim.binance.rules import brackets_json

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
            web.get("/fapi/v1/userTrades", s(lambda p: reports.user_trades(a, p))),
            web.post("/fapi/v1/leverage", s(a.change_leverage)),
            web.post("/fapi/v1/marginType", s(a.change_margin_type)),
            web.get("/fapi/v1/positionSide/dual", s(lambda p: {"dualSidePosition": False})),
            web.get("/fapi/v1/leverageBracket", s(self.leverage_brackets)),
            web.get("/fapi/v1/symbolConfig", s(lambda p: reports.symbol_config(a, p))),
            web.get("/fapi/v1/commissionRate", s(lambda p: reports.commission_rate(a, p))),
        ]
        for version in (2, 3):
            routes += [
                web.get(
                    f"/fapi/v{version}/positionRisk",
                    s(lambda p, v=version: reports.position_risk(a, p, version=v)),
                ),
                web.get(f"/fapi/v{version}/balance", s(lambda p: reports.balances(a))),
                web.get(
                    f"/fapi/v{version}/account",
                    s(lambda p, v=version: reports.account_info(a, version=v)),
                ),
            ]
        return routes

    def leverage_brackets(self, params: Mapping[str, str]) -> object:
        """One object for a symbol, a list for all, as Binance answers."""
        spec = self.account.spec_for(params)
        if spec is not None:
            return brackets_json(spec.symbol)
        return [brackets_json(sym) for sym in self.account.specs]
