"""The account's position mode and margin mode, read when the stream starts in demo/live.

HEDGE_MODE=auto (the default): the bot trades the mode the account is in, a net position
per symbol in One-way Mode, a LONG and a SHORT leg in Hedge Mode (core/hedge.py);
`check_account` returns the mode read. HEDGE_MODE=off: an account in Hedge Mode is not
traded: the stream does not start there (AccountRefused, its reason worded in bot/texts.py
with what to do), and while the account holds no position and no open order (plain or
conditional) an admin can let the bot switch it to one-way (`POST /fapi/v1/positionSide/dual`, audited). Multi-Assets
mode changes only what margins a position (every asset of the account, not only USDT),
so it is allowed, with one line saying what that means for the bot's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from binance.exceptions import BinanceAPIException

from trading.core.events import AccountModeNote
from trading.core.reasons import Reason, What
from trading.exchange.orders import ANY_ERROR, _what

NO_NEED = -4059  # "No need to change position side."
HAS_ORDERS = -4067  # "Position side cannot be changed if there exists open orders."
HAS_POSITION = -4068  # "Position side cannot be changed if there exists position."


@dataclass(frozen=True)
class AccountModes:
    hedge: bool
    multi_assets: bool
    idle: bool  # no position and no open order anywhere on the account (a mode change is allowed)


def read_modes(client: Any, timeout: float = 10.0) -> AccountModes:
    """GET positionSide/dual and multiAssetsMargin (and, in Hedge Mode, whether the account
    is idle). Raises what python-binance raises; the caller decides what a failure means."""
    rp = {"requests_params": {"timeout": timeout}}
    hedge = bool(client.futures_get_position_mode(**rp).get("dualSidePosition"))
    multi = bool(client.futures_get_multi_assets_mode().get("multiAssetsMargin"))
    idle = False
    if hedge:
        positions = [r for r in client.futures_position_information(**rp) if float(r.get("positionAmt") or 0)]
        orders = client.futures_get_open_orders(**rp)
        algo = client.futures_get_open_algo_orders(**rp)
        idle = not positions and not orders and not algo
    return AccountModes(hedge, multi, idle)


class SwitchResult(StrEnum):
    """What the One-way switch did (bot/texts.switch_line words it)."""

    SWITCHED = "switched"
    ALREADY = "already"  # -4059: no need to change
    HAS_ORDERS = "has_orders"  # -4067
    HAS_POSITION = "has_position"  # -4068
    REFUSED = "refused"  # another refusal of Binance's (error: its words)
    NO_ANSWER = "no_answer"  # Binance did not answer (error: what failed)
    PAPER = "paper"  # paper mode has no account mode


@dataclass(frozen=True)
class ModeSwitch:
    result: SwitchResult
    error: str = ""  # Binance's refusal or the failure, as python-binance gives it

    def outcome(self) -> str:
        """For the audit: the result, and Binance's words when it refused."""
        return f"{self.result}: {self.error}" if self.error else str(self.result)


def switch_to_one_way(client: Any, timeout: float = 10.0) -> ModeSwitch:
    """POST positionSide/dual dualSidePosition=false: what it did (either way)."""
    try:
        client.futures_change_position_mode(dualSidePosition="false", requests_params={"timeout": timeout})
    except BinanceAPIException as e:
        known = {NO_NEED: SwitchResult.ALREADY, HAS_ORDERS: SwitchResult.HAS_ORDERS, HAS_POSITION: SwitchResult.HAS_POSITION}
        return ModeSwitch(known[e.code]) if e.code in known else ModeSwitch(SwitchResult.REFUSED, _what(e))
    except ANY_ERROR as e:
        return ModeSwitch(SwitchResult.NO_ANSWER, _what(e))
    return ModeSwitch(SwitchResult.SWITCHED)


class AccountRefused(ValueError):
    """The account's mode rules out trading; `reason` says why (core/reasons.py, worded by
    bot/texts.reason_line), `switchable` when the bot may switch it."""

    def __init__(self, reason: Reason, switchable: bool) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.switchable = switchable


def check_account(broker: Any, say: Callable[[AccountModeNote], None], *, hedge_mode: str = "off") -> bool | None:
    """At /start in demo/live: measure the clock first (every signed call needs it), then
    read the position mode: Hedge Mode with HEDGE_MODE=off is refused (AccountRefused);
    say what Multi-Assets mode means. Returns whether the account is in Hedge Mode, or None
    when the modes cannot be read (said; an order Binance refuses for the mode is shown as such)."""
    broker.keep_clock()
    try:
        modes = read_modes(broker.client)
    except ANY_ERROR as e:
        say(AccountModeNote("unread", _what(e)))
        return None
    if modes.hedge and hedge_mode == "off":
        raise AccountRefused(Reason(What.HEDGE_OFF_IDLE if modes.idle else What.HEDGE_OFF), modes.idle)
    if modes.multi_assets:
        say(AccountModeNote("multi_assets"))
    return modes.hedge


def position_mode(client: Any, timeout: float = 10.0) -> bool:
    """GET positionSide/dual: True in Hedge Mode (after an ACCOUNT_CONFIG_UPDATE, which does
    not carry the position mode, and after a reconnect)."""
    return bool(client.futures_get_position_mode(requests_params={"timeout": timeout}).get("dualSidePosition"))
