"""The demo's exchange path: the bot in `demo` trading mode against the replay exchange.

With `--exchange` (or DEMO_BROKER=exchange) the bot is configured exactly as for Binance's
Demo Trading (TRADING_MODE=demo, an API key and secret, the user-data stream at the
replay's /private route), so orders, exits and fills live on the replay's account instead
of the paper broker. The replay account is ISOLATED so a liquidation can be seen, and the
console gains commands that act on the account from outside the bot:

  /hand close [SYMBOL]          close the whole position as if in Binance's app (web_… id)
  /hand buy|sell QTY [SYMBOL]   a MARKET order by hand
  /exchange NAME [key=value …]  any replay control: liquidate, adl, margin-call, funding,
                                bnb-deposit amount=1, user-stream/drop, user-stream/expire, …
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sim.demo_error import DemoError

BROKERS = ("paper", "exchange")

BANNER_EXCHANGE = """\
Broker: the replay exchange (TRADING_MODE=demo against it): orders, stop-loss and take-profit
rest on the exchange, isolated margin (a position is liquidated when its loss reaches its
margin). Act on the account from outside the bot (not sent to the bot):
      /hand close   /hand buy 0.01   /hand sell 0.01   (a trade as if in Binance's app)
      /exchange liquidate | adl | margin-call | funding | user-stream/drop | user-stream/expire
"""
BANNER_HEDGE = """\
The replay account is in Hedge Mode (LONG and SHORT legs): /long and /short trade their own
leg, /close long | short | all. By hand on a leg: /hand buy 0.005 long, /hand close short.
Switch the mode as in Binance's app: /exchange position-mode dual=false (needs a flat account).
"""


def choose_broker(environ: Mapping[str, str], exchange_flag: bool) -> str:
    """`--exchange` wins; else DEMO_BROKER (paper or exchange); else paper."""
    if exchange_flag:
        return "exchange"
    wanted = environ.get("DEMO_BROKER", "").strip().lower() or "paper"
    if wanted not in BROKERS:
        raise DemoError(f"DEMO_BROKER={wanted!r} is not one of {', '.join(BROKERS)}")
    return wanted


def exchange_settings(ex: Any) -> dict[str, str]:
    """What the bot is given in exchange mode: Binance Demo Trading's shape, on loopback."""
    user_ws = getattr(ex, "user_ws_url", ex.ws_url.rsplit("/market", 1)[0] + "/private")
    return {
        "TRADING_MODE": "demo",
        "BINANCE_API_KEY": getattr(ex, "api_key", "replay-key"),
        "BINANCE_API_SECRET": getattr(ex, "api_secret", "replay-secret"),
        "BINANCE_USER_WS_URL": user_ws,
    }


def console_commands(ex: Any) -> dict[str, Callable[[str], str]]:
    """`/hand` and `/exchange` for the console: one line back, what the exchange did."""

    def run(name: str, params: dict[str, str]) -> str:
        try:
            result = ex.control(name, **params)
        except Exception as e:  # BinanceError or a bad control: one line, nothing changes
            code = getattr(e, "code", None)
            msg = getattr(e, "msg", str(e))
            return f"(exchange) refused: {code} {msg}" if code is not None else f"(exchange) {msg}"
        return f"(exchange) {describe(name, result)}"

    def hand(rest: str) -> str:
        words = rest.split()
        # Hedge Mode: the app names the leg too (`/hand buy 0.005 long`, `/hand close short`)
        leg = next((w.upper() for w in words[1:] if w.lower() in ("long", "short")), "")
        words = [w for w in words if w.upper() != leg] if leg else words
        params = {"positionSide": leg} if leg else {}
        if words[:1] == ["close"] and len(words) <= 2:
            params["close"] = "true"
            if len(words) == 2:
                params["symbol"] = words[1].upper()
            return run("trade", params)
        if len(words) in (2, 3) and words[0].lower() in ("buy", "sell"):
            params.update(side=words[0].upper(), quantity=words[1])
            if len(words) == 3:
                params["symbol"] = words[2].upper()
            return run("trade", params)
        return "usage: /hand close [long|short] [SYMBOL] | /hand buy QTY [long|short] [SYMBOL] | /hand sell QTY [long|short] [SYMBOL]"

    def exchange(rest: str) -> str:
        words = rest.split()
        if not words or any("=" not in w for w in words[1:]):
            return "usage: /exchange NAME [key=value ...]  (liquidate, adl, margin-call, funding, user-stream/drop, ...)"
        if words[0] not in ex.controls.actions:
            return f"(exchange) no control {words[0]!r}; there are: {', '.join(sorted(ex.controls.actions))}"
        return run(words[0], dict(w.split("=", 1) for w in words[1:]))

    return {"/hand": hand, "/exchange": exchange}


def describe(name: str, result: object) -> str:
    if isinstance(result, dict) and "clientOrderId" in result:
        r = result
        return (
            f"{r['clientOrderId']}: {r['side']} {r['executedQty']} {r['symbol']} "
            f"{str(r['status']).lower()} at {r['avgPrice']}"
        )
    if isinstance(result, dict) and "id" in result and "price" in result:
        return f"{name}: {result['side']} {result['qty']} {result['symbol']} at {result['price']}"
    return f"{name}: {result}"
