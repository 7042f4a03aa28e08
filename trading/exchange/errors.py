"""The chat's words for each Binance error code the bot can meet on its paths.

Binance's USDⓈ-M error-code list, for the endpoints the bot calls: POST /fapi/v1/order,
/leverage, /algoOrder, positionSide/dual and the signed reads. A code without a line here
shows Binance's own message, masked and bounded (`error_message`); each line is what a trader needs to decide what to do next.
"""

from __future__ import annotations

from trading.logsafe import mask_bounded

MESSAGE_LIMIT = 160  # characters of an exchange's own message shown to people


def error_message(message: object) -> str:
    """An exchange's own error message as people may see it: masked, then cut to
    MESSAGE_LIMIT (a gateway's error page can quote the request, headers and key included)."""
    text = " ".join(str(message or "").split())
    return mask_bounded(text, MESSAGE_LIMIT)

# One line per code the order path can meet (Binance's USDⓈ-M error-code list for
# POST /fapi/v1/order, /leverage, /algoOrder, positionSide/dual); {symbol}/{leverage} filled in.
HEDGE_FIX = "switch the account to One-way Mode (Binance Futures → Preferences → Position Mode), then /stop and /start"
REASONS = {
    -2019: "margin is insufficient",
    -2018: "balance is insufficient",
    -1111: "quantity or price has more decimals than {symbol} allows",
    -1013: "the order breaks one of {symbol}'s trading rules (filter failure)",
    -4003: "the quantity must be above zero",
    -4004: "the quantity is below {symbol}'s minimum (LOT_SIZE)",
    -4005: "the quantity is above {symbol}'s maximum for one order (MARKET_LOT_SIZE)",
    -4023: "the quantity is not a multiple of {symbol}'s step (LOT_SIZE)",
    -4164: "order value is below {symbol}'s minimum notional",
    -4131: "the book's best price is outside {symbol}'s PERCENT_PRICE band; try again when the market is calmer",
    -2020: "Binance could not fill it (no liquidity within its limits)",
    -2022: "reduce-only order rejected: it would not reduce the position (already closed or on the other side)",
    -4061: "the account is in Hedge Mode and the bot trades one-way only: " + HEDGE_FIX,
    -1106: "a parameter Binance does not take here (in Hedge Mode: reduce-only): " + HEDGE_FIX,
    -4059: "the account is already in that position mode",
    -4067: "the position mode cannot change while the account has open orders",
    -4068: "the position mode cannot change while the account holds a position",
    -4046: "the margin type is already as asked",
    -4047: "the margin type cannot change while {symbol} has open orders",
    -4048: "the margin type cannot change while {symbol} holds a position",
    -1021: "our clock was outside Binance's receive window; clock resynced, propose again",
    -4028: "leverage {leverage}x is not valid for {symbol}",
    -2027: "the position is too large for leverage {leverage}x (leverage bracket)",
    -2028: "leverage {leverage}x is too low for the margin this position needs",
    -4400: "the account is restricted to reducing positions by Binance's quantitative rules",
    -4116: "an order with this client id is still open",
    -4015: "the client order id is not valid",
    -1008: "Binance is throttling requests; try again in a moment",
    -1003: "too many requests to Binance; try again in a minute",
    -1121: "{symbol} is not a valid symbol on this exchange",
    -2015: "API key, IP or permissions rejected (check the key's futures permission and IP whitelist)",
    -2014: "API key format invalid",
    -1022: "signature rejected (check BINANCE_API_SECRET)",
    -2021: "the stop would trigger immediately at the current price",
}
