"""What an order request, a Confirm, a Reject or a settlement did, as typed values: a `Kind`
and the fields its words need. The words are bot/texts.py's (`answer_line`), byte for byte
the ones docs/orders.md quotes (freqtrade's rpc/telegram split: the order path returns data,
the chat words it). A proposal's final state is stored as one of these (JSON in its `result`
column: `to_json`/`from_json`) and worded when its message is drawn; a row written before
answers were typed holds its line as text and reads back as `Kind.SAID`.

`why` carries the reason a rule gave where the decision was taken (core/reasons.py: a symbol
filter's, a hard limit's or Binance's refusal, the account's mode switched under the book, the
position changed before a Confirm), worded by bot/texts.reason_line; `quoted` what an answer
quotes as it came: the database guard's halt (live/guard.py), a protection's name, a line
stored before answers were typed. Nothing in trading/live words an answer itself
(tests/test_layout.py holds it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from trading.core.brokers.base import Placement
from trading.core.events import StorageFault
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.reasons import Reason
from trading.core.symbols import SymbolFilters


class Kind(StrEnum):
    # /long, /short, /close refused before anything is proposed
    NOT_PROPOSED = "not_proposed"  # why: the database guard's halt, a filter's or a limit's refusal
    NO_BROKER = "no_broker"  # mode
    PAUSED = "paused"
    BLOCKED = "blocked"  # quoted: the protection's name (daily_loss, drawdown, stoploss_guard, cooldown); symbol
    LEG_IN_ONE_WAY = "leg_in_one_way"  # /close long|short in One-way Mode: leg, symbol
    NOTHING_TO_CLOSE = "nothing_to_close"  # symbol; leg: the leg named (/close long|short), else ""
    NO_PRICE = "no_price"  # symbol
    NO_CANDLE = "no_candle"  # symbol
    BELOW_STEP = "below_step"  # symbol; numbers qty, step
    ALREADY = "already"  # action, symbol
    # a Confirm or a Reject refused
    NOT_PLACED = "not_placed"  # why: the database guard's halt
    CONFIRMATIONS_OFF = "confirmations_off"
    OLDER = "older"  # a button of another proposal's message
    NO_SUCH = "no_such"
    NO_LIVE_PRICE = "no_live_price"
    ADMIN_ONLY = "admin_only"  # four-eyes: a press by no known admin
    APPROVAL = "approval"  # four-eyes: names, one more needed
    NOT_PENDING = "not_pending"  # proposal, status
    GONE = "gone"  # proposal: another press or the expiry won the race
    EXPIRED = "expired"  # proposal: this press found it expired
    CONFIRMED = "confirmed"  # the race won: the orders go out
    # a proposal's final state (stored), and an order placed at once
    PLACING = "placing"  # confirmed, its orders on their way
    PLACED = "placed"  # placed: what filled, what it closed, the error that stopped it
    LEG_REFUSED = "leg_refused"  # quoted: why its legs could not be derived again at the Confirm
    DRIFT = "drift"  # numbers drift, ref, price, limit
    REJECTED = "rejected"  # who; all: /pending's Reject all
    EXPIRED_UNCONFIRMED = "expired_unconfirmed"  # a Confirm found it past its time
    EXPIRED_UNANSWERED = "expired_unanswered"  # nobody answered in time
    SUPERSEDED = "superseded"  # proposal: the strategy's newer one
    RESTART_BOOKED = "restart_booked"  # paper, after a restart: numbers done, total
    RESTART_NOT_SENT = "restart_not_sent"  # paper, after a restart
    FOUND_ON_EXCHANGE = "found_on_exchange"  # names: the client order ids found
    NOT_ON_EXCHANGE = "not_on_exchange"
    SAID = "said"  # quoted: a line stored before answers were typed


@dataclass(frozen=True)
class Placed:
    """What placing did (the broker's Placement) and, for a Confirm, the position before and
    after (`sizes`: leg → signed size, core/hedge.position_sizes: `BOTH` the net position,
    else Hedge Mode's open legs, both shown, `legs` True). `positions`: the same as words, in a
    row stored before they were typed (read back as stored). `rules`: how the symbol's numbers
    print, when placed in this run (not stored: a stored answer is worded with the rules its
    reader has)."""

    placement: Placement
    positions: tuple[str, ...] = ()
    legs: bool = False
    rules: SymbolFilters | None = field(default=None, compare=False)
    sizes: tuple[Mapping[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Answer:
    kind: Kind
    symbol: str = ""
    proposal: int = 0  # the proposal's id
    status: str = ""
    action: str = ""
    mode: str = ""
    who: str = ""
    leg: str = ""  # LONG or SHORT: the leg an answer is about
    quoted: str = ""
    why: Reason | None = None  # why it was refused, as data (core/reasons.py): worded by bot/texts.reason_line
    all: bool = False
    names: tuple[str, ...] = ()
    numbers: Mapping[str, Decimal] = field(default_factory=dict)
    placed: Placed | None = None

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default or (f.name == "numbers" and not value):
                continue
            if f.name == "numbers":
                value = {k: str(v) for k, v in value.items()}
            elif f.name == "names":
                value = list(value)
            elif f.name == "placed":
                value = _placed_dict(value)
            elif f.name == "why":
                value = value.to_dict()
            out[f.name] = str(value) if f.name == "kind" else value
        return json.dumps(out, separators=(",", ":"))

    @staticmethod
    def from_json(raw: str) -> Answer:
        """An answer as stored; a line stored as text (before answers were typed) is `SAID`."""
        try:
            d = json.loads(raw) if raw.startswith("{") else None
            kind = Kind(d["kind"]) if isinstance(d, dict) else None
        except (ValueError, KeyError, TypeError):
            kind = None
        if kind is None or not isinstance(d, dict):
            return Answer(Kind.SAID, quoted=raw)
        d = dict(d, kind=kind)
        d["names"] = tuple(d.get("names", ()))
        d["numbers"] = {k: Decimal(v) for k, v in d.get("numbers", {}).items()}
        if "placed" in d:
            d["placed"] = _placed_of(d["placed"])
        if "why" in d:
            d["why"] = Reason.of(d["why"])
        if "halt" in d:  # a row stored while the halt had a field of its own
            d["why"] = StorageFault(**d.pop("halt")).reason
        return Answer(**d)


# ------------------------------------------------------------- a placement, stored with its proposal
_FILL_DECIMALS = ("qty", "price", "fee", "fee_amount")
_TRADE_DECIMALS = ("qty", "entry_price", "exit_price", "fees", "pnl", "funding")


def _plain(obj: Any, decimals: tuple[str, ...]) -> dict[str, Any]:
    d = {f.name: getattr(obj, f.name) for f in fields(obj)}
    for k in decimals:
        if d.get(k) is not None:
            d[k] = str(d[k])
    if "keys" in d:
        d["keys"] = list(d["keys"])
    return d


def _typed(d: dict[str, Any], decimals: tuple[str, ...]) -> dict[str, Any]:
    d = dict(d)
    for k in decimals:
        if d.get(k) is not None:
            d[k] = Decimal(d[k])
    if "keys" in d:
        d["keys"] = tuple(d["keys"])
    return d


def _placed_dict(p: Placed) -> dict[str, Any]:
    pl = p.placement
    return {
        "fills": [_plain(f, _FILL_DECIMALS) for f in pl.fills], "closed": [_plain(t, _TRADE_DECIMALS) for t in pl.closed],
        "error": None if pl.error is None else pl.error.to_dict(), "code": pl.code, "unknown": pl.unknown, "positions": list(p.positions), "legs": p.legs,
        "sizes": [{k: str(v) for k, v in s.items()} for s in p.sizes],
    }


def _placed_of(d: dict[str, Any]) -> Placed:
    placement = Placement(
        [Fill(**_typed(f, _FILL_DECIMALS)) for f in d.get("fills", [])],
        [ClosedTrade(**_typed(t, _TRADE_DECIMALS)) for t in d.get("closed", [])],
        None if d.get("error") is None else Reason.of(d["error"]), d.get("code"), bool(d.get("unknown", False)),
    )
    sizes = tuple({k: Decimal(v) for k, v in s.items()} for s in d.get("sizes", ()))
    return Placed(placement, tuple(d.get("positions", ())), bool(d.get("legs", False)), sizes=sizes)
