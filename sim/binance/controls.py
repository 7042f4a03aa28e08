"""Loopback controls under `/_sim/`: what a person or a test does to the replay's account
from outside the bot (no signature; the server listens on loopback).

- `POST /_sim/trade?side=BUY|SELL&quantity=Q` or `?close=true` (the whole position), with
  `symbol` (default: the first served) and `source=web|android|ios` (default web): a MARKET
  order on the account as if placed in Binance's app or website, client id `web_…`,
  `android_…` or `ios_…` like Binance's. Answers the order (RESULT) or Binance's error.
  In Hedge Mode with `positionSide=LONG|SHORT` (the app names the leg too); `close=true`
  closes that leg (SELL LONG / BUY SHORT, no reduceOnly: Binance refuses it there).
- `POST /_sim/position-mode?dual=true|false` (server.py): the owner switches the position
  mode in Binance's app, under the same rules as the API (-4059/-4067/-4068);
  `event=false` switches it without the ACCOUNT_CONFIG_UPDATE (clients have reported
  Binance sending none).
- `POST /_sim/user-stream/expire`, `/_sim/user-stream/drop?down_seconds=S` (`inf`: until
  `/_sim/user-stream/up`), `/_sim/user-stream/up`: the user-stream faults.

Other modules add theirs with `Controls.add(name, action)`. Every action runs on the
server loop like a REST handler, so the user stream tells what it changed at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from decimal import Decimal

from aiohttp import web

from sim.binance.account import Account
from sim.binance.errors import BinanceError, json_response
from sim.binance.user_stream import UserStream

SOURCES = ("web", "android", "ios")
Action = Callable[[Mapping[str, str]], object]


def hand_client_id(source: str) -> str:
    """Binance's app and website ids look like `web_5wKXEcmYpXaFwqPSnJnc` (20 characters)."""
    if source not in SOURCES:
        raise BinanceError(-1100, f"Illegal characters found in parameter 'source'; legal range is '{', '.join(SOURCES)}'.")
    return f"{source}_{secrets.token_urlsafe(15)[:20].replace('-', 'x').replace('_', 'y')}"


def trade_by_hand(account: Account, params: Mapping[str, str], default_symbol: str) -> dict[str, object]:
    """A MARKET order from outside the bot; `close=true` closes the whole position (the
    named leg in Hedge Mode)."""
    symbol = params.get("symbol") or default_symbol
    order: dict[str, str] = {"symbol": symbol, "type": "MARKET", "newOrderRespType": "RESULT"}
    order["newClientOrderId"] = hand_client_id(params.get("source") or "web")
    ps = params.get("positionSide") or ""
    if ps:
        order["positionSide"] = ps
    if params.get("close", "").lower() == "true":
        spec = account.require_spec({"symbol": symbol})
        if account.hedge and ps not in ("LONG", "SHORT"):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        amt = account.position(spec.symbol, ps if account.hedge else "BOTH").amt
        if not amt:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        order.update(side="SELL" if amt > 0 else "BUY", quantity=str(abs(amt)))
        if not account.hedge:
            order["reduceOnly"] = "true"
    else:
        order.update(side=params.get("side", ""), quantity=params.get("quantity", ""))
    return account.place_order(order)


class Controls:
    def __init__(self, account: Account, user_stream: UserStream, default_symbol: str) -> None:
        self.actions: dict[str, Action] = {}
        self.add("trade", lambda p: trade_by_hand(account, p, default_symbol))
        self.add("user-stream/expire", lambda p: {"expired": user_stream.expire_listen_key()})
        self.add("user-stream/drop", lambda p: {"dropped": user_stream.drop(_seconds(p, "down_seconds"))})
        self.add("user-stream/up", lambda p: user_stream.up() or {})

    def add(self, name: str, action: Action) -> None:
        self.actions[name] = action

    async def handle(self, request: web.Request) -> web.Response:
        action = self.actions.get(request.match_info["name"])
        if action is None:
            raise web.HTTPNotFound()
        params: dict[str, str] = dict(request.query)
        if request.body_exists:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        return json_response(action(params))

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/_sim/{name:.+}", self.handle)]


def _seconds(params: Mapping[str, str], name: str) -> float:
    raw = params.get(name) or "0"
    try:
        value = float(Decimal(raw)) if raw != "inf" else float("inf")
    except ArithmeticError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.") from None
    if value < 0:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value
