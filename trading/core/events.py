"""What the trading side tells people, as typed events; the words are bot/texts.py's.

The trading thread never awaits and never knows about Telegram: it hands an `Event` to a
`Notifier`, whose implementation (bot.notifier for the chat, LoggingNotifier here) must
return quickly and must not raise. The core emits only the typed events below, with the
numbers a person needs and no text (freqtrade's rpc/telegram split: data here, words in the
chat): the money events, the market stream's and the account's reports, a reconcile's
findings (core/findings.py), the live bot's (a proposal, the start's strategy check). Every
kind and its wording is a user-facing contract (docs, "Notices"); `EVENT_KINDS` lists them all.

It is over 400 lines because it is every event the trading side tells people, one small frozen
dataclass each with what its fields mean: the one list EVENT_KINDS (and the docs' table) is
made of, and what bot/texts.py words one renderer per class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.missed import Missed
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.reasons import Reason, What
from trading.core.strategies import Decision
from trading.core.symbols import SymbolFilters

if TYPE_CHECKING:  # its numpy and pandas are loaded only where a check runs (tests/test_startup.py)
    from trading.core.strategies.check import CheckReport

log = logging.getLogger("trading.notices")


class Event:
    """A thing that happened, for people; `kind` names its notice (docs, "Notices")."""

    kind: ClassVar[str]


@dataclass(frozen=True)
class Signal(Event):
    """The strategy decided. `how`: "orders" (they fill at the next open), "announce" (a mode
    without a broker: what it would do) or "missed" (decided on a candle that closed while
    the stream was down, on an exchange: not placed)."""

    kind: ClassVar[str] = "signal"
    mode: str
    symbol: str
    decision: Decision
    how: str
    candle_open: int
    candle_close: float
    backfilled: bool = False


@dataclass(frozen=True)
class MissedSignals(Event):
    """A catch-up's decisions on candles that closed while the stream was down, for one symbol,
    in order (core/missed.py): never proposed nor placed, said once. `proposed`: a person is
    in the loop (CONFIRM_ORDERS=on), so they were not proposed either."""

    kind: ClassVar[str] = "signal"
    symbol: str
    missed: tuple[Missed, ...]
    proposed: bool


@dataclass(frozen=True)
class OrderFilled(Event):
    """One of the bot's orders filled (paper, or the exchange's answer): `closed` the trades
    it closed."""

    kind: ClassVar[str] = "order_filled"
    mode: str
    fill: Fill
    request: OrderRequest
    closed: tuple[ClosedTrade, ...]
    rules: SymbolFilters | None = None  # how the exchange writes the symbol's numbers


@dataclass(frozen=True)
class OrderRefusedEvent(Event):
    kind: ClassVar[str] = "order_refused"
    mode: str
    request: OrderRequest
    reason: Reason  # core/reasons.py: bot/texts.reason_line words it


@dataclass(frozen=True)
class Liquidated(Event):
    """Paper: the position reached its isolated liquidation price; what remained of the margin
    is the insurance clearance fee (`clearance`, an other charge)."""

    kind: ClassVar[str] = "order_filled"
    mode: str
    fill: Fill
    side: str  # long | short
    margin: Decimal
    closed: tuple[ClosedTrade, ...]
    rules: SymbolFilters | None = None  # how the exchange writes the symbol's numbers
    clearance: Decimal = Decimal(0)


@dataclass(frozen=True)
class ExternalFill(Event):
    """A fill on the exchange the bot did not place itself (`what`: stop_loss, take_profit,
    liquidation, adl, outside) or its own whose answer was lost (`own`); `before` is the
    signed side held before it, `after` the signed quantity after; `gross` the price PnL of
    what it closed (the ledger's, a partial close's too)."""

    kind: ClassVar[str] = "order_filled"
    mode: str
    fill: Fill
    what: str
    closed: tuple[ClosedTrade, ...]
    before: int
    after: Decimal
    rules: SymbolFilters | None = None  # how the exchange writes the symbol's numbers
    gross: Decimal = Decimal(0)


@dataclass(frozen=True)
class FundingBooked(Event):
    kind: ClassVar[str] = "funding"
    mode: str
    symbol: str
    amount: Decimal  # + received, − paid
    position_side: str = "BOTH"  # the Hedge Mode leg it was charged on (LONG/SHORT)


@dataclass(frozen=True)
class ChargeBooked(Event):
    """A charge with no trade: the insurance clearance fee a liquidation leaves."""

    kind: ClassVar[str] = "order_filled"
    mode: str
    symbol: str
    amount: Decimal


@dataclass(frozen=True)
class ExitFailed(Event):
    """The resting exits could not be placed or checked on the exchange (`stage`: placed,
    checked, closing)."""

    kind: ClassVar[str] = "exit_failed"
    mode: str
    symbol: str
    stage: str
    error: Reason


@dataclass(frozen=True)
class ExitWouldTrigger(Event):
    """Binance refused an exit whose trigger is already crossed (-2021): closing by market."""

    kind: ClassVar[str] = "exit_would_trigger"
    mode: str
    symbol: str
    exit: str  # stop_loss | take_profit
    level: Decimal
    rules: SymbolFilters | None = None  # how the exchange writes the symbol's numbers


@dataclass(frozen=True)
class StopMoved(Event):
    """A take-profit ladder's level `level` filled and breakeven_after moved the position's stop
    to the entry plus fees (core/exits.py); on the exchange the resting stop is replaced."""

    kind: ClassVar[str] = "exit_moved"
    mode: str
    symbol: str
    position_side: str
    level: int
    stop: Decimal
    entry: Decimal
    rules: SymbolFilters | None = None


@dataclass(frozen=True)
class StrategyFailed(Event):
    kind: ClassVar[str] = "strategy_error"
    strategy: str
    symbol: str
    candle_open: int
    error: str


@dataclass(frozen=True)
class ProtectionTripped(Event):
    """An account protection tripped (trading/core/protections.py), said once. `name`:
    daily_loss | drawdown (the account; `symbol` None) | stoploss_guard | cooldown (a lock on
    `symbol`); `value` what was measured (today's net, the drawdown %, the stop-losses
    counted), `limit` the setting, `until` when it ends (ms; None: until /resume), `action`
    pause | close | lock, `numbers` the rest (peak, equity, day-start wallet, window)."""

    kind: ClassVar[str] = "protection"
    name: str
    symbol: str | None
    value: Decimal | None
    limit: Decimal | None
    until: int | None
    action: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtectionWarning(Event):
    """The drawdown reached `level` % (50, 75) of MAX_DRAWDOWN_PCT: once per equity peak."""

    kind: ClassVar[str] = "protection_warning"
    name: str
    level: int
    value: Decimal
    limit: Decimal
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtectionLifted(Event):
    """A halt or lock ended: `why` next_day | resume | unlock."""

    kind: ClassVar[str] = "protection_lifted"
    name: str
    symbol: str | None
    why: str
    at: int


@dataclass(frozen=True)
class CandleClosed(Event):
    """NOTIFY_CANDLES=1: a live candle closed (backfilled ones are not posted); `rules`: the
    symbol's exchange rules for its numbers (None: plain)."""

    kind: ClassVar[str] = "candle_closed"
    candle: Candle
    rules: SymbolFilters | None = None


@dataclass(frozen=True)
class StreamNotResumed(Event):
    """At the bot's start after a /start: the market stream is not resumed, the account's mode
    rules out trading (`why`: the refusal as the account check gives it, exchange/account.py)."""

    kind: ClassVar[str] = "account_mode"
    why: Reason


@dataclass(frozen=True)
class AccountModeSwitched(Event):
    """The account's position mode, read at /start or while running, is not the book's (`again`
    False: no order is sent until /stop and /start) or is the book's again (`again` True:
    orders are sent again). `hedge`: the account is in Hedge Mode (core/position_mode.py)."""

    kind: ClassVar[str] = "account_mode"
    hedge: bool
    again: bool = False

    @property
    def reason(self) -> Reason:
        """Why orders stop, as a refusal quotes it."""
        return Reason(What.MODE_SWITCHED, text="hedge" if self.hedge else "one_way")


@dataclass(frozen=True)
class AccountModeNote(Event):
    """At /start in demo/live, what the account's modes mean for the bot: `multi_assets` (every
    asset margins the positions), or `unread` (the modes could not be read: `error`)."""

    kind: ClassVar[str] = "account_mode"
    what: str  # multi_assets | unread
    error: str = ""


# ---------------------------------------------------------------- the market stream (exchange/stream.py)
@dataclass(frozen=True)
class SocketStarted(Event):
    """The stream's first connection opened (on_open): `resumed` after a restart or redeploy
    (not someone's /start); `backfilled` the warm-up candles fetched; `warmup` (used,
    WARMUP_CANDLES) when the strategy needs more than WARMUP_CANDLES."""

    kind: ClassVar[str] = "socket_started"
    symbols: tuple[str, ...]
    interval: str
    resumed: bool = False
    backfilled: int = 0
    warmup: tuple[int, int] | None = None


@dataclass(frozen=True)
class SocketStopped(Event):
    """The stream closed for good (on_close): `shutdown` when the process is stopping
    (SIGTERM, a redeploy), else a /stop; the close frame's `code` and `reason`."""

    kind: ClassVar[str] = "socket_stopped"
    shutdown: bool = False
    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SocketError(Event):
    """The connection failed or dropped. `what`: error (the thread or a callback raised),
    dropped (a connection ended: reconnecting), backfill (the catch-up over REST failed),
    cannot_connect (the first connection, `delay` s to the retry; `error` None: no answer),
    retry_failed (reconnect `attempt` failed, the next in `delay` s)."""

    kind: ClassVar[str] = "socket_error"
    error: str | None
    what: str = "error"
    delay: float = 0.0
    attempt: int = 0


@dataclass(frozen=True)
class Reconnected(Event):
    """A new connection after a drop, down for `after` s (None: unknown), the gap's
    `backfilled` candles fetched over REST."""

    kind: ClassVar[str] = "reconnected"
    after: float | None
    backfilled: int


@dataclass(frozen=True)
class StreamStale(Event):
    """No message for `quiet` s: the watchdog forces a reconnect (said once per outage)."""

    kind: ClassVar[str] = "stale"
    quiet: float


@dataclass(frozen=True)
class StorageBusy(Event):
    """Another process held the database's write lock (`error` as SQLite said it): the
    stream writes the candle again with backoff and goes on, said once per lock."""

    kind: ClassVar[str] = "storage_busy"
    db_path: str
    error: str


@dataclass(frozen=True)
class StorageFault(Event):
    """The database failed the bot. `what`: unwritable (a write refused: the stream stopped,
    `detail` the error), changed (DB_PATH no longer names the file the bot started on, `detail`
    how, as storage/guard.py tells it: trading stopped for good in this run; also the refusal
    of every order and /start then), damaged (SQLite's quick_check at start, `detail` what it
    found)."""

    kind: ClassVar[str] = "storage_fault"
    what: str
    db_path: str
    detail: str = ""

    @property
    def reason(self) -> Reason:
        """The fault as every refusal it causes quotes it (worded as the notice is)."""
        return Reason(What.HALTED, details={"what": self.what, "db_path": self.db_path, "detail": self.detail})


# ---------------------------------------------------------------- the account (exchange/user_stream.py, account_sync.py)
@dataclass(frozen=True)
class AccountStreamNote(Event):
    """The account's own websocket (demo/live). `what`: lost (dropped or cannot connect,
    `error` why: reconnecting, said once per outage), reconnected (its gap is caught up over
    REST), catch_up_failed (that catch-up raised: `error`; the next reconnect tries again)."""

    kind: ClassVar[str] = "user_stream"
    what: str
    error: str = ""


@dataclass(frozen=True)
class MarginPosition:
    """One position of a margin call: signed `qty`, Binance's mark price, its uPnL."""

    symbol: str
    qty: Decimal
    mark: Decimal
    upnl: Decimal


@dataclass(frozen=True)
class MarginCall(Event):
    """Binance's MARGIN_CALL: `ratio` the maintenance margin over the margin balance in %
    (None: no balance left, over 100 %), both in USDT, and the positions it names."""

    kind: ClassVar[str] = "margin_call"
    ratio: Decimal | None
    maintenance: Decimal
    balance: Decimal
    positions: tuple[MarginPosition, ...]


@dataclass(frozen=True)
class OtherModeFill(Event):
    """A fill of the other position mode than the book's (`position_side` LONG/SHORT on a
    One-way book, BOTH on a Hedge Mode one: the account was switched in Binance's app): not
    booked, said once per symbol. `book_hedge`: the book trades Hedge Mode legs."""

    kind: ClassVar[str] = "account_mode"
    symbol: str
    position_side: str
    side: str
    qty: Decimal
    price: Decimal
    book_hedge: bool


@dataclass(frozen=True)
class Reconciled(Event):
    """One thing a reconcile with the exchange (start, resume, an account-stream reconnect)
    settled or found: a core/findings.py value, or trading/live/recovery.py's (Settled,
    Adopted, ForeignOrders, NotReconciled)."""

    kind: ClassVar[str] = "reconciled"
    item: Any


# ---------------------------------------------------------------- the live bot (trading/live)
@dataclass(frozen=True)
class StrategyCheckFailed(Event):
    """The start's look-ahead check failed after the bot began serving the chat: no strategy
    runs until /strategy chooses one (`report` the check's, core/strategies/check.py)."""

    kind: ClassVar[str] = "strategy_check"
    report: CheckReport


@dataclass(frozen=True)
class ProposalPending(Event):
    """An order waiting for Confirm/Reject (CONFIRM_ORDERS=on): the chat posts it with its
    buttons. `proposal`: a trading.live.proposals.Proposal (live/ is above the core)."""

    kind: ClassVar[str] = "proposal"
    proposal: Any


@dataclass(frozen=True)
class ProposalUpdated(Event):
    """A proposal reached its end without a press on its message (expired, superseded, Reject
    all, settled at start): the chat edits its message. `proposal` as in ProposalPending."""

    kind: ClassVar[str] = "proposal_update"
    proposal: Any


@dataclass(frozen=True)
class FeedDown(Event):
    """The chat's feed watch: the running stream had no market data for `quiet` s (None: since
    it started), the stream's `last_error` if any. Said once per outage."""

    kind: ClassVar[str] = "feed_down"
    quiet: float | None
    last_error: str | None = None


@dataclass(frozen=True)
class FeedBack(Event):
    """The feed watch: market data again after `after` s down."""

    kind: ClassVar[str] = "feed_back"
    after: float


TYPED = (Signal, MissedSignals, OrderFilled, OrderRefusedEvent, Liquidated, ExternalFill, FundingBooked, ChargeBooked,
         ExitFailed, ExitWouldTrigger, StopMoved, StrategyFailed, ProtectionTripped, ProtectionWarning,
         ProtectionLifted, CandleClosed, StreamNotResumed, AccountModeNote, AccountModeSwitched, SocketStarted,
         SocketStopped, SocketError, Reconnected, StreamStale, StorageBusy, StorageFault, AccountStreamNote, MarginCall,
         OtherModeFill, Reconciled, StrategyCheckFailed, ProposalPending, ProposalUpdated, FeedDown, FeedBack)  # fmt: skip
EVENT_KINDS = frozenset(t.kind for t in TYPED)


def describe(event: Event) -> str:
    """A plain one-line form for logs with no chat attached (the words are the chat's)."""
    parts = ", ".join(f"{f.name}={getattr(event, f.name)}" for f in fields(event))  # type: ignore[arg-type]
    return f"{event.kind}: {parts}"


class Notifier(Protocol):
    def notify(self, event: Event) -> None:
        """Deliver or enqueue; must not block on the network and must not raise."""


class LoggingNotifier:
    """Used when no chat is attached (the trading CLI, the early demo, tests)."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        skip: frozenset[str] = frozenset({"candle_closed"}),
    ) -> None:
        self._log = logger or log
        self._skip = skip

    def notify(self, event: Event) -> None:
        if event.kind not in self._skip:
            self._log.info("%s", describe(event))
