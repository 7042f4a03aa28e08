"""The paper account as Binance reports it: order, trade, position, balance and account JSON.

Kept apart from the bookkeeping so the numbers are computed once (Account.totals and
friends) and every endpoint formats the same numbers the way its real counterpart does,
including the fields that differ between v1/v2/v3 of the same endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from sim.binance.errors import illegal_chars
from sim.binance.formats import fixed, trimmed
from sim.binance.orders import ZERO, Position, limit_param
from sim.binance.rules import MAKER_FEE, TAKER_FEE, max_notional

if TYPE_CHECKING:  # the account formats its own orders with order_json
    from sim.binance.account import Account

ACCOUNT_ALIAS = "SgsRFzAuXqFzAuXq"


def user_trades(account: Account, params: Mapping[str, str]) -> list[dict[str, object]]:
    spec = account.require_spec(params)
    trades = [t for t in account.trades if t.symbol == spec.symbol]
    if params.get("orderId"):
        trades = [t for t in trades if str(t.order_id) == params["orderId"]]
    for name, keep in (
        ("startTime", lambda t, v: t.time >= v),
        ("endTime", lambda t, v: t.time <= v),
        ("fromId", lambda t, v: t.trade_id >= v),
    ):
        raw = params.get(name)
        if raw:
            if not raw.isdigit():
                raise illegal_chars(name)
            trades = [t for t in trades if keep(t, int(raw))]
    limit = limit_param(params, 500, 1000)
    trades = trades[:limit] if params.get("fromId") or params.get("startTime") else trades[-limit:]
    pp, qp = spec.price_precision, spec.quantity_precision
    return [
        {
            "buyer": t.side == "BUY",
            "commission": fixed(account.commission_of(t)[1], 8),
            "commissionAsset": account.commission_of(t)[0],
            "id": t.trade_id,
            "maker": t.maker,
            "orderId": t.order_id,
            "price": fixed(t.price, pp),
            "qty": fixed(t.qty, qp),
            "quoteQty": fixed(t.price * t.qty, pp + qp),
            "realizedPnl": fixed(t.realized_pnl, 8),
            "side": t.side,
            "positionSide": t.position_side,
            "symbol": t.symbol,
            "time": t.time,
        }
        for t in trades
    ]


def position_risk(
    account: Account, params: Mapping[str, str], *, version: int
) -> list[dict[str, object]]:
    """v2 lists every symbol (with leverage); v3, like Binance, only symbols with a
    position or open orders, and without leverage (it moved to symbolConfig). In Hedge
    Mode each symbol has a LONG and a SHORT row (positionAmt signed: SHORT's negative)."""
    spec = account.spec_for(params)
    rows: list[dict[str, object]] = []
    for pos in account.rows(spec.symbol if spec else None):
        sym = pos.symbol
        if version >= 3 and not pos.amt and not account.has_open_orders(sym):
            continue
        order_im = account.open_order_margin(sym)
        mark = account.mark(sym)
        notional = pos.amt * mark
        isolated = account.margin_types[sym] == "ISOLATED"
        im = account.position_margin(pos)
        row: dict[str, object] = {
            "symbol": sym,
            "positionSide": pos.side,
            "positionAmt": fixed(pos.amt, account.specs[sym].quantity_precision),
            "entryPrice": trimmed(pos.entry),
            "breakEvenPrice": trimmed(pos.entry * (1 + TAKER_FEE * (1 if pos.amt > 0 else -1)))
            if pos.amt
            else "0.0",
            "markPrice": fixed(mark, 8),
            "unRealizedProfit": fixed(account.unrealized(pos), 8),
            "liquidationPrice": trimmed(account.liquidation_price(pos)) if pos.amt else "0",
            "isolatedMargin": fixed(_isolated_margin(account, pos), 8),
            "notional": fixed(notional, 8),
            "marginAsset": account.specs[sym].quote_asset,
            "isolatedWallet": fixed(pos.isolated_wallet, 8) if isolated else "0",
            "updateTime": pos.update_time,
        }
        if version >= 3:
            row.update(
                {
                    "initialMargin": fixed(im + order_im, 8),
                    "maintMargin": fixed(account.maint(pos), 8),
                    "positionInitialMargin": fixed(im, 8),
                    "openOrderInitialMargin": fixed(order_im, 8),
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                }
            )
        else:
            row.update(
                {
                    "leverage": str(pos.leverage),
                    "marginType": "isolated" if isolated else "cross",
                    "isAutoAddMargin": "false",
                    "maxNotionalValue": str(max_notional(pos.leverage, pos.symbol)),
                }
            )
        rows.append(row)
    return rows


def balances(account: Account) -> list[dict[str, object]]:
    t = account.totals()
    return [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": "USDT",
            "balance": fixed(t["wallet"], 8),
            "crossWalletBalance": fixed(t["wallet"], 8),
            "crossUnPnl": fixed(t["upnl"], 8),
            "availableBalance": fixed(t["available"], 8),
            "maxWithdrawAmount": fixed(t["max_withdraw"], 8),
            "marginAvailable": True,
            "updateTime": account.update_time,
        }
    ] + [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": asset,
            "balance": fixed(amount, 8),
            "crossWalletBalance": fixed(amount, 8),
            "crossUnPnl": "0.00000000",
            "availableBalance": fixed(amount, 8),
            "maxWithdrawAmount": fixed(amount, 8),
            "marginAvailable": True,
            "updateTime": account.update_time,
        }
        for asset, amount in account.other_assets.items()
        if amount
    ]


def account_info(account: Account, *, version: int) -> dict[str, object]:
    t = account.totals()
    f8 = {k: fixed(v, 8) for k, v in t.items()}
    out: dict[str, object] = {}
    if version < 3:
        out.update(
            {
                "feeTier": 0,
                "feeBurn": account.fee_burn(),
                "canTrade": True,
                "canDeposit": True,
                "canWithdraw": True,
                "updateTime": 0,  # "reserved property" on Binance too
                "multiAssetsMargin": False,
                "tradeGroupId": -1,
            }
        )
    out.update(
        {
            "totalInitialMargin": f8["initial_margin"],
            "totalMaintMargin": f8["maint"],
            "totalWalletBalance": f8["wallet"],
            "totalUnrealizedProfit": f8["upnl"],
            "totalMarginBalance": f8["margin_balance"],
            "totalPositionInitialMargin": f8["position_im"],
            "totalOpenOrderInitialMargin": f8["order_im"],
            "totalCrossWalletBalance": f8["wallet"],
            "totalCrossUnPnl": f8["upnl"],
            "availableBalance": f8["available"],
            "maxWithdrawAmount": f8["max_withdraw"],
        }
    )
    out["assets"] = [_asset(account, f8, version)]
    out["positions"] = [_account_position(account, pos, version) for pos in account.rows() if version < 3 or pos.amt]
    return out


def _asset(account: Account, f8: Mapping[str, str], version: int) -> dict[str, object]:
    asset: dict[str, object] = {
        "asset": "USDT",
        "walletBalance": f8["wallet"],
        "unrealizedProfit": f8["upnl"],
        "marginBalance": f8["margin_balance"],
        "maintMargin": f8["maint"],
        "initialMargin": f8["initial_margin"],
        "positionInitialMargin": f8["position_im"],
        "openOrderInitialMargin": f8["order_im"],
        "crossWalletBalance": f8["wallet"],
        "crossUnPnl": f8["upnl"],
        "availableBalance": f8["available"],
        "maxWithdrawAmount": f8["max_withdraw"],
        "updateTime": account.update_time,
    }
    if version < 3:
        asset["marginAvailable"] = True
    return asset


def _account_position(account: Account, pos: Position, version: int) -> dict[str, object]:
    sym = pos.symbol
    mark = account.mark(sym)
    row: dict[str, object] = {
        "symbol": sym,
        "positionSide": pos.side,
        "positionAmt": fixed(pos.amt, account.specs[sym].quantity_precision),
        "unrealizedProfit": fixed(account.unrealized(pos), 8),
        "isolatedMargin": fixed(_isolated_margin(account, pos), 8),
        "notional": fixed(pos.amt * mark, 8),
        "isolatedWallet": fixed(pos.isolated_wallet, 8) if account.margin_types[sym] == "ISOLATED" else "0",
        "initialMargin": fixed(account.position_margin(pos) + account.open_order_margin(sym), 8),
        "maintMargin": fixed(account.maint(pos), 8),
        "updateTime": pos.update_time,
    }
    if version < 3:
        row.update(
            {
                "positionInitialMargin": fixed(account.position_margin(pos), 8),
                "openOrderInitialMargin": fixed(account.open_order_margin(sym), 8),
                "leverage": str(pos.leverage),
                "isolated": account.margin_types[sym] == "ISOLATED",
                "entryPrice": trimmed(pos.entry),
                "maxNotional": str(max_notional(pos.leverage, pos.symbol)),
                "bidNotional": "0",
                "askNotional": "0",
            }
        )
    return row


def _isolated_margin(account: Account, pos: Position) -> Decimal:
    """Binance's isolatedMargin: the isolated wallet plus the unrealized PnL (0 for cross)."""
    if account.margin_types[pos.symbol] != "ISOLATED" or not pos.amt:
        return ZERO
    return pos.isolated_wallet + account.unrealized(pos)


def symbol_config(account: Account, params: Mapping[str, str]) -> list[dict[str, object]]:
    """`/fapi/v1/symbolConfig`: where v3 clients read leverage and margin type."""
    spec = account.spec_for(params)
    symbols = [spec.symbol] if spec else list(account.positions)
    return [
        {
            "symbol": s,
            "marginType": account.margin_types[s],
            "isAutoAddMargin": "false",
            "leverage": account.positions[s].leverage,
            "maxNotionalValue": str(max_notional(account.positions[s].leverage, s)),
        }
        for s in symbols
    ]


def commission_rate(account: Account, params: Mapping[str, str]) -> dict[str, object]:
    spec = account.require_spec(params)
    return {
        "symbol": spec.symbol,
        "makerCommissionRate": str(MAKER_FEE),
        "takerCommissionRate": str(TAKER_FEE),
    }
