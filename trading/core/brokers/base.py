"""The broker seam: an order request in, a fill (or a refusal with a reason) out.

A request is complete before it is executed (symbol, side, size or stake, reduce-only,
the candle that decided it, a deterministic client order id), so it can be stored, shown
in the chat, wait for a person's Confirm, and be executed later exactly once: the id
makes a retry recognisable to the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from trading.core.frozen import quick_init
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.reasons import Reason


class OrderRefused(Exception):
    """Definitely not placed (filters, margin, the exchange said no); `reason` says why, as
    data (core/reasons.py; bot/texts.reason_line words it). `code` is the exchange's error
    code when it gave one (e.g. -2019)."""

    def __init__(self, reason: Reason | str, code: int | None = None) -> None:
        self.reason = reason if isinstance(reason, Reason) else Reason.said(reason)
        super().__init__(str(self.reason))
        self.code = code


class OrderUnknown(Exception):
    """The order may or may not be on the exchange: it was sent, the answer never came, and
    asking for it by its client order id did not settle it either. Never retried blindly:
    the caller marks it unknown and reconciles (query by client id) before anything else."""

    def __init__(self, reason: Reason | str) -> None:
        self.reason = reason if isinstance(reason, Reason) else Reason.said(reason)
        super().__init__(str(self.reason))


def client_order_id(instance: str, kind: str, *parts: object) -> str:
    """`<kind>-<instance>-<parts…>`: a client order id unique per database and account for
    ever (Binance only refuses a duplicate among *open* orders, so an id reused by a new
    database would find someone else's old order). Cut to Binance's 36 characters from the
    end; the instance id, the second field, always survives. Exit orders derive from it."""
    return "-".join((kind, instance, *(str(p) for p in parts)))[:36]


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


@quick_init
@dataclass(frozen=True, slots=True)
class OrderRequest:
    id: str  # client order id, e.g. tg-BTCUSDT-1729657800000-o (≤ 36 chars, Binance's rule)
    symbol: str
    side: str  # BUY | SELL
    kind: str  # "open" | "close" | "stop_loss" | "take_profit"
    reason: str
    decided_at: int  # open time of the candle that decided it
    qty: Decimal | None = None  # None: size from stake × leverage at the fill price
    stake: Decimal = Decimal(0)
    leverage: int = 1
    reduce_only: bool = False  # One-way Mode's close; never sent in Hedge Mode (Binance: -1106)
    position_side: str = "BOTH"  # the Hedge Mode leg it trades: LONG / SHORT (BOTH in One-way Mode)

    @property
    def closes(self) -> bool:
        """It reduces a position: reduce-only (One-way), or SELL LONG / BUY SHORT (Hedge Mode)."""
        ps = self.position_side  # (compared as strings: every order asks twice)
        return self.reduce_only or (ps == "LONG" and self.side == "SELL") or (ps == "SHORT" and self.side == "BUY")

    @staticmethod
    def client_id(symbol: str, decided_at: int, leg: str, instance: str = "") -> str:
        """The strategy's id for a leg; with the database's instance id (exchange modes)
        it is unique per database for ever: `tg-<instance>-<time base36>-<leg>-<symbol>`."""
        if not instance:
            return f"tg-{symbol}-{decided_at}-{leg}"
        return client_order_id(instance, "tg", _base36(decided_at), leg, symbol)

    def but(self, **changes: Any) -> OrderRequest:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (money as exact text), for the journal and the proposals table."""
        return {
            "id": self.id, "symbol": self.symbol, "side": self.side, "kind": self.kind,
            "reason": self.reason, "decided_at": self.decided_at,
            "qty": None if self.qty is None else str(self.qty), "stake": str(self.stake),
            "leverage": self.leverage, "reduce_only": self.reduce_only, "position_side": self.position_side,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OrderRequest:
        return cls(
            d["id"], d["symbol"], d["side"], d["kind"], d["reason"], d["decided_at"],
            qty=None if d["qty"] is None else Decimal(d["qty"]), stake=Decimal(d["stake"]),
            leverage=int(d["leverage"]), reduce_only=bool(d["reduce_only"]),
            position_side=d.get("position_side") or "BOTH",
        )


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    symbol: str
    qty: Decimal  # signed: > 0 long, < 0 short
    entry: Decimal
    leverage: int
    position_side: str = "BOTH"  # LONG / SHORT: a Hedge Mode leg, never adopted as the net position


class Broker(Protocol):
    mode: str  # "paper" | "demo" | "live": shown in every order message

    def execute(self, request: OrderRequest, price: Decimal, time: int) -> Fill:
        """Place it exactly once under request.id (the client order id) and return its fill.

        price is the reference: the paper broker fills at it; an exchange broker sizes a
        stake-based order with it and checks MIN_NOTIONAL, then fills at the market.
        Raises OrderRefused (not placed, with the reason) or OrderUnknown (outcome unclear).
        """

    def set_leverage(self, symbol: str, leverage: int) -> object:
        """Before an opening order: the leverage the exchange sizes its margin by (the paper
        broker has none to set: its margin is the order's own stake)."""


WOULD_TRIGGER = -2021


class WouldTrigger(OrderRefused):
    """Binance refused an exit because its trigger is already crossed (-2021): the trader
    closes by market instead. `kind` is "stop_loss", "take_profit" or a ladder's
    "take_profit_N"; `qty`: a ladder level's quantity (None: the whole position)."""

    def __init__(self, reason: Reason | str, kind: str, level: Decimal, qty: Decimal | None = None) -> None:
        super().__init__(reason, WOULD_TRIGGER)
        self.kind = kind
        self.level = level
        self.qty = qty


@dataclass(frozen=True)
class Placement:
    """What placing a confirmed proposal did: its fills, the trades they closed, and the
    refusal that stopped it (None if every leg was placed; `unknown`: the order's outcome is
    not known, the reason says what was sent)."""

    fills: list[Fill]
    closed: list[ClosedTrade]
    error: Reason | None
    code: int | None
    unknown: bool = False
