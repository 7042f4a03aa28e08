"""Hard limits that hold whatever the strategy's parameters say (MAX_LEVERAGE,
MAX_POSITION_NOTIONAL): checked on every opening order, in every mode, before the broker.
In Hedge Mode MAX_POSITION_NOTIONAL holds the sum of the symbol's two legs: a LONG and a
SHORT leg each carry their own margin, liquidation and funding, so both count."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trading.core.brokers.base import OrderRefused, OrderRequest
from trading.core.portfolio import BUY, Portfolio
from trading.core.reasons import Reason, What
from trading.core.symbols import SymbolFilters


def check_limits(
    req: OrderRequest,
    price: Decimal,
    portfolio: Portfolio,
    filters: SymbolFilters,
    max_leverage: int | None,
    max_notional: Decimal | None,
) -> None:
    """Raise OrderRefused naming the limit an opening order would break."""
    if max_leverage is not None and req.leverage > max_leverage:
        raise OrderRefused(Reason(What.MAX_LEVERAGE, req.symbol, numbers={"leverage": Decimal(req.leverage), "limit": Decimal(max_leverage)}))
    if max_notional is None:
        return
    qty = req.qty if req.qty is not None else filters.floor_qty(req.stake * req.leverage / price)
    if req.position_side != "BOTH":  # Hedge Mode: both legs count (a hedge still holds both notionals)
        held = portfolio.exposure(req.symbol)
    else:
        pos = portfolio.positions.get(req.symbol)
        held = abs(pos.qty) if pos is not None and pos.qty and (pos.qty > 0) == (req.side == BUY) else Decimal(0)
    notional = (held + qty) * price
    if notional > max_notional:
        raise OrderRefused(Reason(What.MAX_NOTIONAL, req.symbol, numbers={"notional": notional, "limit": max_notional}))


def stake_problem(values: Mapping[str, Any] | None, max_notional: Decimal | None) -> str | None:
    """Why a stake-sized parameter set can never open a position here, or None.

    stake_usdt × leverage is the position every opening order of such a strategy asks for;
    above MAX_POSITION_NOTIONAL the live bot refuses each one (check_limits), so /set,
    /strategy, /backtest, the CLI and the grid refuse the parameters up front rather than
    show trades the bot would never make."""
    if not values or max_notional is None or "stake_usdt" not in values:
        return None
    notional = Decimal(str(values["stake_usdt"])) * int(values.get("leverage", 1))
    if notional <= max_notional:
        return None
    return (
        f"stake_usdt × leverage = {notional.normalize():f} USDT is above MAX_POSITION_NOTIONAL "
        f"{max_notional.normalize():f} USDT: the bot would refuse every opening order "
        "(lower stake_usdt or leverage, or raise MAX_POSITION_NOTIONAL)"
    )
