"""Why something was refused, as data: which rule said no (`What`) and the numbers and names
its words need. The words are bot/texts.py's (`reason_line`), byte for byte the sentences the
docs quote (freqtrade's rpc/telegram split: the rule returns data, the chat words it).

A refusal is decided in many places (a symbol filter, a hard limit, the paper wallet, the
Confirm's check of the position, the account's position mode, Binance's answer) and told in
several (the answer to /long, a proposal's final line, the order-refused notice, /status),
so the reason travels as one value and is worded once, where it is shown. It is stored as
JSON (`to_dict`) with the proposal or the refused order; a row written before reasons were
typed holds its sentence and reads back as `What.SAID`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class What(StrEnum):
    # a hard limit (core/limits.py)
    MAX_LEVERAGE = "max_leverage"  # numbers leverage, limit
    MAX_NOTIONAL = "max_notional"  # numbers notional, limit: the position an opening order makes
    # a symbol filter (core/symbols.py)
    BELOW_MIN_QTY = "below_min_qty"  # symbol; numbers qty, min
    ABOVE_MAX_QTY = "above_max_qty"  # symbol; numbers qty, max
    BELOW_MIN_NOTIONAL = "below_min_notional"  # symbol; numbers notional, min
    RULES_UNKNOWN = "rules_unknown"  # symbol: no exchangeInfo for it
    # the paper wallet (core/brokers/paper.py)
    PAPER_MARGIN = "paper_margin"  # numbers needed, free
    # a Confirm's check of the position as it is at the press (core/intents.py, core/hedge.py)
    FLAT = "flat"  # nothing to close: the position is already flat
    CHANGED = "changed"  # numbers was, now (signed; absent: not known); leg: the Hedge Mode leg
    # the account's position mode switched under a book that holds a position (core/position_mode.py)
    MODE_SWITCHED = "mode_switched"  # text: the account's mode now, "hedge" or "one_way" (the book's is the other)
    # /start: configured symbols the exchange does not list as trading USDⓈ-M contracts
    UNLISTED = "unlisted"  # names: the symbols; text: the exchange's REST URL
    # Binance's answer to an order, an exit or the leverage call (exchange/broker.py, exits.py, protection.py)
    BINANCE = "binance"  # symbol; numbers code, status (HTTP), leverage (the leverage call's); text: Binance's msg
    RATE_LIMITED = "rate_limited"  # numbers status (429: too many requests, 418: IP banned), retry_after (s; absent: not sent)
    NOT_FOUND = "not_found"  # the answer was unclear and, past recvWindow, Binance has no such order: details order; text: the answer
    NOT_FILLED = "not_filled"  # Binance holds it done with nothing executed: details order, status
    LEVERAGE_UNCLEAR = "leverage_unclear"  # setting it got a 5xx or an unclear code: symbol; numbers leverage; text: the answer
    LEVERAGE_FAILED = "leverage_failed"  # setting it failed on the way (no answer): symbol; numbers leverage; text: the error
    UNKNOWN = "unknown"  # a MARKET order's outcome: symbol; details side, order, stage (sent / restart / seen / stuck),
    #                      status (seen/stuck: as Binance last showed it), query (asking for it failed: how);
    #                      numbers looks (stuck); text: the unclear answer (sent)
    EXIT_UNKNOWN = "exit_unknown"  # a conditional (algo) order's outcome: symbol; details type, order, query; text: the answer
    NO_FRESH_ID = "no_fresh_id"  # symbol; numbers generations: every client id for its exits is known to Binance
    BRACKET = "bracket"  # symbol; numbers notional, max (the bracket's leverage), leverage: above its leverage bracket
    # the account's position mode rules out trading (exchange/account.py)
    HEDGE_OFF = "hedge_off"  # the account is in Hedge Mode and HEDGE_MODE=off
    HEDGE_OFF_IDLE = "hedge_off_idle"  # the same, and it holds no position nor open order: an admin may switch it
    # the database guard stopped trading (live/guard.py): details what, db_path, detail, as its StorageFault says
    HALTED = "halted"
    # a refusal stored before reasons were typed, or quoted as it came (an exception's message)
    SAID = "said"  # text


@dataclass(frozen=True)
class Reason:
    what: What
    symbol: str = ""
    leg: str = ""
    numbers: Mapping[str, Decimal] = field(default_factory=dict)
    text: str = ""  # a name or a message taken as it came (a strategy's name, Binance's msg)
    names: tuple[str, ...] = ()  # several names (the symbols a rule refused)
    details: Mapping[str, str] = field(default_factory=dict)  # other strings by role (an order's client id, its status)

    @staticmethod
    def said(text: str) -> Reason:
        return Reason(What.SAID, text=text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"what": str(self.what)}
        if self.symbol:
            out["symbol"] = self.symbol
        if self.leg:
            out["leg"] = self.leg
        if self.numbers:
            out["numbers"] = {k: str(v) for k, v in self.numbers.items()}
        if self.text:
            out["text"] = self.text
        if self.names:
            out["names"] = list(self.names)
        if self.details:
            out["details"] = dict(self.details)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def of(raw: Any) -> Reason:
        """A reason as stored: its dict, its JSON, or a sentence stored before reasons were typed."""
        if isinstance(raw, Reason):
            return raw
        d = raw
        if isinstance(raw, str):
            try:
                d = json.loads(raw) if raw.startswith("{") else None
            except ValueError:
                d = None
        try:
            if isinstance(d, dict):
                return Reason(What(d["what"]), d.get("symbol", ""), d.get("leg", ""),
                              {k: Decimal(v) for k, v in d.get("numbers", {}).items()}, d.get("text", ""),
                              tuple(d.get("names", ())), {str(k): str(v) for k, v in d.get("details", {}).items()})  # fmt: skip
        except (KeyError, ValueError, TypeError, AttributeError, ArithmeticError):
            pass
        return Reason.said(str(raw))

    def __str__(self) -> str:
        """A plain form for logs and the audit, never the chat (bot/texts.reason_line words it)."""
        parts = [p for p in (self.symbol, self.leg, self.text, *self.names) if p] + [f"{k}={v}" for k, v in self.details.items()]
        parts += [f"{k}={v.normalize():f}" for k, v in self.numbers.items()]
        return f"{self.what}: {' '.join(parts)}" if self.what is not What.SAID else self.text

