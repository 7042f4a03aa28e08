"""Signed REST routes (orders, positions, balance, account settings) over the paper account.

Every route verifies the request like Binance (API key header, timestamp window, HMAC)
before touching the account; the account itself lives on the event loop, so handlers
and the clock's order matching never race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from sim.binance import reports
from sim.binance.account import Account
from sim.binance.algo import AlgoBook
from sim.binance.auth import Signer
from sim.binance.errors import json_response
from sim.binance.faults import Faults, echo_response
from sim.binance.rules import brackets_json
from sim.binance.stats import Stats

Action = Callable[[Mapping[str, str]], object]


class TradingApi:
    def __init__(
        self, account: Account, signer: Signer, faults: Faults | None = None, stats: Stats | None = None
    ) -> None:
        self.account = account
        self.signer = signer
        self.faults = faults
        self.stats = stats
        self.algo = AlgoBook(account)
        # called right after an order POST changed the account, before its (maybe late)
        # answer: the user stream can beat the REST answer, as on Binance
        self.changed: Callable[[], None] = lambda: None

    def signed(self, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A signed GET/POST route answering `action(params)` as JSON."""
        return self._signed(action)

    def _signed(self, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            params = await self.signer.verify(request)
            return json_response(action(params))

        return handler

    def routes(self) -> list[web.RouteDef]:
        a = self.account
        s = self._signed
        routes = [
            web.post("/fapi/v1/order", self._placing(a.place_order, "newClientOrderId")),
            web.get("/fapi/v1/order", s(a.get_order)),
            web.delete("/fapi/v1/order", s(a.cancel_order)),
            web.put("/fapi/v1/order", s(a.modify_order)),
            web.get("/fapi/v1/openOrders", s(a.open_orders)),
            web.delete("/fapi/v1/allOpenOrders", s(a.cancel_all)),
            web.get("/fapi/v1/allOrders", s(a.all_orders)),
            web.post("/fapi/v1/algoOrder", self._placing(self.algo.place, "clientAlgoId")),
            web.get("/fapi/v1/algoOrder", s(self.algo.get)),
            web.delete("/fapi/v1/algoOrder", s(self.algo.cancel)),
            web.get("/fapi/v1/openAlgoOrders", s(self.algo.open_orders)),
            web.delete("/fapi/v1/algoOpenOrders", s(self.algo.cancel_all)),
            web.get("/fapi/v1/userTrades", s(lambda p: reports.user_trades(a, p))),
            web.post("/fapi/v1/leverage", s(a.change_leverage)),
            web.post("/fapi/v1/marginType", s(a.change_margin_type)),
            web.get("/fapi/v1/positionSide/dual", s(lambda p: {"dualSidePosition": a.hedge})),
            web.post("/fapi/v1/positionSide/dual", s(lambda p: a.change_position_mode(p, len(self.algo.open_orders({}))))),
            web.get("/fapi/v1/multiAssetsMargin", s(lambda p: {"multiAssetsMargin": a.multi_assets})),
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

    def _placing(self, action: Action, id_param: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A signed order POST, counted per client id and open to the order faults."""

        async def handler(request: web.Request) -> web.Response:
            params = await self.signer.verify(request)
            algo = id_param == "clientAlgoId"
            if self.stats is not None:
                self.stats.order_posted(params.get(id_param, ""), algo=algo)
            fault = self.faults.take_order_fault() if self.faults is not None else None
            if fault is None:
                result = action(params)
                self.changed()
                return json_response(result)
            if self.stats is not None:
                self.stats.count("rest_faults_served")
            if fault.echo is not None:
                return await echo_response(request, fault.echo)
            if fault.error is not None and not fault.placed:
                raise fault.error
            result = action(params)  # the order exists from here on
            self.changed()
            if fault.drop:  # the answer is written to a closed socket, which aiohttp ignores
                if request.transport is not None:
                    request.transport.abort()
                return json_response(result)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.error is not None:
                raise fault.error
            return json_response(result)

        return handler

    def leverage_brackets(self, params: Mapping[str, str]) -> object:
        """One object for a symbol, a list for all, as Binance answers."""
        spec = self.account.spec_for(params)
        if spec is not None:
            return brackets_json(spec.symbol)
        return [brackets_json(sym) for sym in self.account.specs]
