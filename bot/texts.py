"""The chat's words for what the trading side reports (freqtrade's rpc/telegram split).

The core emits typed events with numbers (trading/core/events.py); every line a person
reads about them is written here, once, so a notice reads the same whichever path
produced it (a paper fill, the exchange's answer, the account stream). The order path
(trading/live/orders.py, proposals.py, recovery.py) answers with typed values too
(trading/live/answers.py): `answer_line` words them, and a proposal's stored final state.
The wording is a contract (docs, "Notices", "Orders"): tests hold it.
It is over 400 lines because it is the one place every chat sentence of the trading side is
written: one short renderer per event or answer kind, none of them sharing state.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import singledispatch
from typing import Any, Protocol

from trading.config import ConfigError
from trading.core.book import Failing
from trading.core.brokers.base import OrderRequest, Placement
from trading.core.candles import Candle, fmt_num
from trading.core.events import (
    AccountModeNote,
    AccountModeSwitched,
    AccountStreamNote,
    CandleClosed,
    ChargeBooked,
    Event,
    ExitFailed,
    ExitWouldTrigger,
    ExternalFill,
    FeedBack,
    FeedDown,
    FundingBooked,
    Liquidated,
    MarginCall,
    MissedSignals,
    OrderFilled,
    OrderRefusedEvent,
    OtherModeFill,
    ProposalPending,
    ProposalUpdated,
    ProtectionLifted,
    ProtectionTripped,
    ProtectionWarning,
    Reconciled,
    Reconnected,
    Signal,
    SocketError,
    SocketStarted,
    SocketStopped,
    StopMoved,
    StorageBusy,
    StorageFault,
    StrategyCheckFailed,
    StrategyFailed,
    StreamNotResumed,
    StreamStale,
    describe,
)
from trading.core.findings import (
    ExitsResynced,
    FillsCaughtUp,
    FundingCaughtUp,
    HedgedPositions,
    PositionDiffers,
    TradesUnreadable,
)
from trading.core.intervals import utc_minute
from trading.core.pnl import Wallet
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.reasons import Reason, What
from trading.core.snapshot import PositionView
from trading.core.strategies import ParamError
from trading.core.strategies.check import CheckReport
from trading.core.strategies.frame import SIGNALS
from trading.core.symbols import SymbolFilters
from trading.live.service import (
    Adopted,
    Answer,
    CheckRefused,
    CheckState,
    Comparison,
    ForeignOrders,
    FourEyes,
    Kind,
    LeftOut,
    ModeSwitch,
    NotReconciled,
    Optimization,
    Outcome,
    Period,
    Proposal,
    Settled,
    StartRefused,
    Step,
    StrategyRefused,
    SwitchResult,
    UserStreamState,
    fmt_value,
)

CENT = Decimal("0.01")
WHAT = {
    "stop_loss": "stop-loss filled",
    "take_profit": "take-profit filled",
    "trailing_stop": "trailing stop filled",
    **{f"take_profit_{n}": f"take-profit {n} filled" for n in range(1, 10)},  # a ladder's level
    "liquidation": "liquidated",
    "adl": "auto-deleveraged (ADL)",
    "settlement": "closed by Binance's settlement (delisting or delivery)",
    "outside": "closed outside the bot",
}


class NumberFormat(Protocol):
    """How a symbol's prices and quantities print; trading.core.symbols.SymbolFilters is one."""

    def fmt_price(self, price: Any) -> str: ...

    def fmt_qty(self, qty: Any) -> str: ...


class _Plain:
    """A symbol's numbers as they came, when its exchange rules are not known."""

    @staticmethod
    def fmt_qty(q: Decimal) -> str:
        return f"{q.normalize():f}"

    fmt_price = fmt_qty


def _rules(e: Event) -> SymbolFilters:
    return getattr(e, "rules", None) or _Plain()  # type: ignore[return-value]


@singledispatch
def text(event: Event) -> str:
    """The notice's line (plain text; the chat escapes it); every event class has its renderer
    below (an unknown one shows its fields, as the log does)."""
    return describe(event)


def ohlcv_line(c: Candle, price: Callable[[float], str] = fmt_num, qty: Callable[[float], str] = fmt_num) -> str:
    """A candle as /status and the dashboard show it; `price`/`qty` print the symbol's tick
    and step decimals (SymbolFilters)."""
    return f"O {price(c.open)}  H {price(c.high)}  L {price(c.low)}  C {price(c.close)}  V {qty(c.volume)}"


def wallet_title(w: Wallet) -> str:
    """/balance's heading: the mode, and in demo/live that it is the bot's book (Binance's wallet beside it)."""
    return f"{w.mode} (the bot's book)" if w.exchange_account else w.mode


SUMMARIES = {  # /strategy's list: what each built-in does
    "ema_cross": "EMA(fast)/EMA(slow) cross, long and short (incremental)",
    "rsi_reversion": "RSI under low: long, over high: short, exit at mid (DataFrame, TA-Lib)",
    "bb_breakout": "a close beyond a Bollinger band: in that direction, exit at the middle band (DataFrame, TA-Lib)",
    "none": "observe only: the stream runs, nothing is decided",
}


def strategy_summary(name: str, plugin: bool) -> str:
    return "a plugin in STRATEGY_DIR" if plugin else SUMMARIES.get(name, "")


def fee_words(fill: Fill) -> str:
    """`0.12 USDT`, or `0.00021 BNB = 0.13 USDT` (or `… no BNB price: booked as 0 USDT`)."""
    if fill.fee_asset == "USDT" or fill.fee_amount is None:
        return f"{fill.fee.quantize(CENT)} USDT"
    amount = f"{fill.fee_amount.normalize():f} {fill.fee_asset}"
    if not fill.fee and fill.fee_amount:
        return f"{amount} (no {fill.fee_asset} price: booked as 0 USDT)"
    return f"{amount} = {fill.fee.quantize(CENT)} USDT"


def exit_words(kind: str) -> str:
    """`stop-loss`, `take-profit`, `trailing-stop`, a ladder's `take-profit 2`."""
    head, _, level = kind.rpartition("_")
    return f"{head.replace('_', '-')} {level}" if level.isdigit() else kind.replace("_", "-")


def leg_words(fill: Fill) -> str:
    """` LONG leg` / ` SHORT leg` after the symbol of a Hedge Mode fill; nothing in One-way Mode."""
    return f" {fill.position_side} leg" if fill.position_side != "BOTH" else ""


def closed_words(closed: tuple[ClosedTrade, ...] | list[ClosedTrade]) -> str:
    if not closed:
        return ""
    t = closed[-1]
    return f" · closed {t.side}: PnL {t.pnl.quantize(CENT):+} USDT net of fees"


def fill_text(fill: Fill, req: OrderRequest, closed: tuple[ClosedTrade, ...] | list[ClosedTrade], f: SymbolFilters,
              mode: str) -> str:  # fmt: skip
    """The order_filled notice (docs, "Notices"); a Hedge Mode fill names its leg."""
    out = (f"{mode} {fill.side} {f.fmt_qty(fill.qty)} {fill.symbol}{leg_words(fill)} at {f.fmt_price(fill.price)} "
           f"· fee {fee_words(fill)}")  # fmt: skip
    out += closed_words(closed)
    if req.kind == "open":
        out += f" · opened {'long' if fill.side == 'BUY' else 'short'}"
    if req.kind in ("stop_loss", "take_profit", "trailing_stop") or req.kind.startswith("take_profit_"):
        out += f" · {exit_words(req.kind)} hit"
    return out


@text.register
def _(e: OrderFilled) -> str:
    return fill_text(e.fill, e.request, e.closed, _rules(e), e.mode)


@text.register
def _(e: Signal) -> str:
    d = e.decision
    if e.how == "announce":
        return f"{e.mode}: would {d.action} {e.symbol} at the next open · {d.reason}"
    if e.how == "missed":
        return (f"missed: {d.action} {e.symbol} was decided on a candle that closed while the stream was down "
                f"({utc_minute(e.candle_open)} UTC, close {e.candle_close:g}); not placed · {d.reason}")  # fmt: skip
    late = f" (decided on a backfilled candle, {utc_minute(e.candle_open)} UTC)" if e.backfilled else ""
    return f"signal {d.action} {e.symbol}: {d.reason}; orders at the next open{late}"


@text.register
def _(e: MissedSignals) -> str:
    """One line for a symbol's decisions on candles that closed while the stream was down."""
    missed, symbol = e.missed, e.symbol
    what = "not proposed, not placed" if e.proposed else "not placed"
    last = missed[-1]
    close = f"close {last.candle.close:g}"
    if len(missed) == 1:
        return (f"missed: {last.decision.action} {symbol} was decided on a candle that closed while the stream "
                f"was down ({utc_minute(last.candle.open_time)} UTC, {close}); {what} · {last.decision.reason}")
    counts = Counter(m.decision.action for m in missed)
    mix = ", ".join(f"{n} {action}" for action, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"missed: {len(missed)} {symbol} decisions on candles that closed while the stream was down "
            f"({utc_minute(missed[0].candle.open_time)} – {utc_minute(last.candle.open_time)} UTC: {mix}); "
            f"none {'proposed or placed' if e.proposed else 'placed'} · the last: {last.decision.action} at "
            f"{close} · {last.decision.reason}")


@text.register
def _(e: OrderRefusedEvent) -> str:
    r = e.request
    return f"{e.mode} order refused: {r.side} {r.symbol} ({r.kind}): {reason_line(e.reason)}"


@text.register
def _(e: Liquidated) -> str:
    f, fill = _rules(e), e.fill
    pnl = f" · PnL {e.closed[-1].pnl.quantize(CENT):+} USDT" if e.closed else ""
    return (f"{e.mode} {fill.symbol} {e.side} liquidated at {f.fmt_price(fill.price)} "
            f"({utc_minute(fill.time)} UTC): margin {e.margin.quantize(CENT)} USDT lost, "
            f"clearance fee {e.clearance.quantize(CENT)} USDT{pnl}")  # fmt: skip


@text.register
def _(e: ExternalFill) -> str:
    f, fill = _rules(e), e.fill
    label = WHAT.get(e.what, WHAT["outside"])
    if e.what == "outside" and (not e.before or (fill.signed_qty > 0) == (e.before > 0)):
        label = "traded outside the bot"
    out = f"{e.mode}: {label}: {fill.side} {f.fmt_qty(fill.qty)} {fill.symbol}{leg_words(fill)} at {f.fmt_price(fill.price)}"
    out += " · fee " + fee_words(fill) + closed_words(e.closed)
    if e.before and e.after and (e.after > 0) == (e.before > 0) and (fill.signed_qty > 0) != (e.before > 0):
        net = e.gross - fill.fee  # the ledger's entry of that part: its gross and its fee
        out += f" · part closed: gross {e.gross.quantize(CENT):+} USDT, net of its fee {net.quantize(CENT):+} USDT"
    if fill.position_side != "BOTH":  # the leg's size; the other leg is untouched
        ps = fill.position_side
        return out + (f" · {ps} leg now {f.fmt_qty(abs(e.after))}" if e.after else f" · {ps} leg closed")
    side = "long" if e.after > 0 else "short"
    out += f" · now {side} {f.fmt_qty(abs(e.after))}" if e.after else " · no position left"
    return out


@text.register
def _(e: FundingBooked) -> str:
    word = "received" if e.amount > 0 else "paid"
    leg = f" {e.position_side} leg" if e.position_side != "BOTH" else ""  # Hedge Mode: each leg pays on its own
    return f"{e.mode}: funding {e.symbol}{leg}: {word} {abs(e.amount).quantize(Decimal('0.0001'))} USDT"


@text.register
def _(e: ChargeBooked) -> str:
    return f"{e.mode}: {e.symbol} insurance clearance fee after the liquidation: {e.amount.quantize(CENT)} USDT"


@text.register
def _(e: ExitFailed) -> str:
    if e.stage == "closing":
        return f"{e.mode}: closing {e.symbol} by market: {reason_line(e.error)}"
    return f"{e.mode}: exits for {e.symbol} not {e.stage} on the exchange: {reason_line(e.error)}"


@text.register
def _(e: ExitWouldTrigger) -> str:
    f = _rules(e)
    what = f"closing {e.symbol} by market now"
    if e.exit.startswith("take_profit_"):  # a ladder's level: its part only
        what = f"closing its part of {e.symbol} by market now"
    return f"{e.mode}: the {exit_words(e.exit)} at {f.fmt_price(e.level)} would trigger at once (-2021): {what}"


@text.register
def _(e: StopMoved) -> str:
    f = _rules(e)
    leg = f" {e.position_side} leg" if e.position_side != "BOTH" else ""
    return (f"{e.mode}: {e.symbol}{leg}: take-profit {e.level} filled; stop moved to breakeven "
            f"{f.fmt_price(e.stop)} (entry {f.fmt_price(e.entry)} plus fees)")  # fmt: skip


@text.register
def _(e: StrategyFailed) -> str:
    return f"strategy {e.strategy} failed on {e.symbol} {utc_minute(e.candle_open)} UTC: {e.error}; no order"


def failing_line(strategy: str, symbol: str, f: Failing) -> str:
    """/status, /health and /strategy while a strategy fails on every candle (plain text):
    since the candle its notice named, on how many in a row, the latest failure."""
    n = f"{f.candles:,} candle{'s' if f.candles != 1 else ''}"
    return f"⚠️ Strategy {strategy} failing on {symbol} since {utc_minute(f.since)} UTC ({n}, no order): {f.error}"


def _usdt(x: Decimal) -> str:
    return f"{x.quantize(CENT):,} USDT"


def _pct(x: Decimal) -> str:
    return f"{x.quantize(CENT).normalize():f}%"


def _plain(x: Decimal) -> str:
    return f"{x.normalize():f}"


@text.register
def _(e: ProtectionTripped) -> str:
    """The protection notices (docs, "Notices"): said once per trip, with the numbers."""
    n = e.numbers
    if e.name == "daily_loss":
        assert e.value is not None and e.limit is not None
        of = f" ({_plain(n['pct'])}% of {_usdt(n['day_start'])} at the day's start)" if n.get("pct") else ""
        until = f"until {utc_minute(e.until)} UTC (the next UTC day) or an admin's /resume" if e.until else "until /resume"
        close = "; closing the open positions now" if e.action == "close" else ""
        return (f"daily loss limit reached: today's net {e.value.quantize(CENT):+,} USDT, limit -{_usdt(e.limit)}{of} "
                f"(MAX_DAILY_LOSS): no new entries {until}{close}")  # fmt: skip
    if e.name == "drawdown":
        assert e.value is not None and e.limit is not None
        return (f"drawdown hard stop: equity {_usdt(n['equity'])} is {_pct(e.value)} below its peak {_usdt(n['peak'])} "
                f"(MAX_DRAWDOWN_PCT={_plain(e.limit)}): closing every position now; no new entries until an admin's /resume")  # fmt: skip
    until = utc_minute(e.until) if e.until else "?"
    if e.name == "stoploss_guard":
        return (f"{e.symbol} locked: {e.value} stop-losses within {n['window']} candles "
                f"(STOPLOSS_GUARD={_plain(e.limit or Decimal(0))}/{n['window']}): no new entries on {e.symbol} "
                f"until {until} UTC (/unlock {e.symbol} lifts it)")  # fmt: skip
    return (f"{e.symbol} cooldown after a close: no new entry on {e.symbol} until {until} UTC "
            f"(COOLDOWN_CANDLES={n.get('candles')})")


@text.register
def _(e: ProtectionWarning) -> str:
    return (f"drawdown {_pct(e.value)}: {e.level}% of the {_plain(e.limit)}% limit (MAX_DRAWDOWN_PCT) · "
            f"equity {_usdt(e.numbers['equity'])}, peak {_usdt(e.numbers['peak'])}")


@text.register
def _(e: ProtectionLifted) -> str:
    if e.name == "daily_loss":
        return "daily loss limit lifted: a new UTC day, new entries allowed again"
    return f"{e.name.replace('_', ' ')} lifted ({e.why}){f' for {e.symbol}' if e.symbol else ''}"


MULTI_ASSETS_LINE = (
    "the account is in Multi-Assets mode: every asset in it (not only USDT) margins the bot's "
    "positions and can be sold to cover a loss; the bot's balance and margin figures count USDT only"
)


@text.register
def _(e: AccountModeNote) -> str:
    if e.what == "multi_assets":
        return MULTI_ASSETS_LINE
    return f"could not read the account's position mode ({e.error}); orders it refuses are shown as refusals"


@text.register
def _(e: AccountModeSwitched) -> str:
    if e.again:
        return f"the account is in {mode_name(e.hedge)} again, as the bot's book: orders are sent again"
    return reason_line(e.reason)


@text.register
def _(e: StreamNotResumed) -> str:
    return f"stream not resumed: {reason_line(e.why)}"


@text.register
def _(e: CandleClosed) -> str:
    c, f = e.candle, e.rules
    line = ohlcv_line(c, f.fmt_price, f.fmt_qty) if f else ohlcv_line(c)
    return f"{c.symbol} {c.interval} closed {c.opened_at:%Y-%m-%d %H:%M} UTC · " + line


# ------------------------------------------------------------- the market stream and its storage
@text.register
def _(e: SocketStarted) -> str:
    out = "bot restarted; resumed streaming" if e.resumed else "socket started: streaming"
    out += f" {','.join(e.symbols)} {e.interval}" + (f" (warm-up fetched {e.backfilled} candles)" if e.backfilled else "")
    if e.warmup:  # a warm-up beyond WARMUP_CANDLES
        used, keep = e.warmup
        out += f"; warm-up {used:,} candles (the strategy's startup and live window, above WARMUP_CANDLES {keep:,})"
    return out


@text.register
def _(e: SocketStopped) -> str:
    return "bot stopping: socket closed; streaming resumes when the bot starts again" if e.shutdown else "socket stopped"


@text.register
def _(e: SocketError) -> str:
    if e.what == "dropped":
        return f"socket error: {e.error}; reconnecting"
    if e.what == "backfill":
        return f"socket error: backfill failed, {e.error}"
    if e.what == "cannot_connect":
        return f"socket error: cannot connect ({e.error or 'no answer'}); retrying in {e.delay:.1f}s"
    if e.what == "retry_failed":
        return f"socket error: reconnect attempt {e.attempt} failed; retrying in {e.delay:.1f}s"
    return f"socket error: {e.error}"


@text.register
def _(e: Reconnected) -> str:
    after = f" after {e.after:.1f}s" if e.after is not None else ""
    return f"reconnected{after}; backfilled {e.backfilled} candle{'s' if e.backfilled != 1 else ''}"


@text.register
def _(e: StreamStale) -> str:
    return f"stream stale: no message for {e.quiet:.0f}s, forcing reconnect"


@text.register
def _(e: StorageBusy) -> str:
    return f"storage: the database DB_PATH={e.db_path} is locked by another process ({e.error}); retrying, nothing is lost"


@text.register
def _(e: StorageFault) -> str:
    if e.what == "changed":  # also quoted by every order's refusal and /start's afterwards
        return (f"the database DB_PATH={e.db_path} was {e.detail} while the bot ran; trading stopped (stream closed, "
                "no orders). Restore it and restart the bot")  # fmt: skip
    if e.what == "damaged":
        return (f"storage: DB_PATH={e.db_path} failed SQLite's quick_check at start: {e.detail[:300]}; stored rows "
                "may be missing or wrong: stop the bot and restore a backup (or check the disk)")  # fmt: skip
    return (f"storage: cannot write DB_PATH={e.db_path} ({e.detail}); the stream stopped; nothing is traded: "
            "fix the disk, then /start")  # fmt: skip


# ------------------------------------------------------------- the account (demo/live)
@text.register
def _(e: AccountStreamNote) -> str:
    if e.what == "lost":
        return f"account stream lost ({e.error}); reconnecting"
    if e.what == "reconnected":
        return "account stream reconnected; checking fills and funding of the gap"
    return f"account stream: reconciliation failed ({e.error})"


@text.register
def _(e: MarginCall) -> str:
    ratio = f"{e.ratio.quantize(Decimal('0.1'))} %" if e.ratio is not None else "over 100 %"
    parts = [f"{p.symbol} {'long' if p.qty > 0 else 'short'} {abs(p.qty).normalize():f} "
             f"(mark {p.mark.normalize():f}, uPnL {p.upnl.quantize(CENT):+} USDT)" for p in e.positions]  # fmt: skip
    return (f"MARGIN CALL: margin ratio {ratio} (maintenance {e.maintenance.quantize(CENT)} USDT of "
            f"{e.balance.quantize(CENT)} USDT margin balance); {'; '.join(parts) or 'no position'}: "
            "add margin or reduce the position before it is liquidated")  # fmt: skip


@text.register
def _(e: OtherModeFill) -> str:
    leg = e.position_side != "BOTH"
    what = f"{e.position_side} leg: " if leg else ""
    book = "Hedge Mode legs" if e.book_hedge else "one net position per symbol (One-way Mode)"
    return (f"{e.symbol}: a {'Hedge Mode' if leg else 'One-way Mode'} fill ({what}{e.side} {e.qty.normalize():f} at "
            f"{e.price.normalize():f}) is not booked: the bot's book holds {book}, so it stays out of it (as at "
            "/start); the account's position mode changed")  # fmt: skip


@text.register
def _(e: Reconciled) -> str:
    return "reconcile: " + reconciled_line(e.item)


# ------------------------------------------------------------- the live bot and the chat's feed watch
def _v(x: float, column: str = "") -> str:
    if math.isnan(x):
        return "NaN"
    return str(bool(x)) if column in SIGNALS else f"{x:.6g}"


def check_words(r: CheckReport) -> str:
    """The look-ahead and window check's line (core/strategies/check.py's report): the chat's
    notices and refusals, /status, /backtest's warning and the backtest CLI all say it."""
    if r.error:
        return f"check {r.strategy}: could not run: {r.error}"
    if r.note:
        return f"check {r.strategy}: {r.note}"
    if r.ok:
        cut = f"; time budget reached after {r.ends} of {r.planned}" if r.planned > r.ends else ""
        return (f"check {r.strategy}: passed ({r.ends} end candles: {r.ends - r.signal_ends} evenly "
                f"spaced, {r.signal_ends} of the {r.signal_rows} where it signals{cut}; full vs cut "
                f"history and {r.window}-candle live windows, {r.seconds:.2f}s)")  # fmt: skip
    d = r.difference
    assert d is not None
    at = f"{utc_minute(d.time)} UTC"
    if d.kind == "look-ahead":
        return (f"check {r.strategy}: look-ahead: {d.column} at {at} is {_v(d.full, d.column)} with the full history "
                f"but {_v(d.other, d.column)} with the history ending there (populate uses later candles)")  # fmt: skip
    return (f"check {r.strategy}: startup too short: {d.column} at {at} is {_v(d.full, d.column)} with the full "
            f"history but {_v(d.other, d.column)} in the {r.window}-candle live window (startup_candles "
            f"{r.startup}: raise it)")  # fmt: skip


def check_refusal(r: CheckReport) -> str:
    """Why a strategy is not traded live: /strategy's refusal, the start's config error."""
    return f"{check_words(r)}; not traded live"


def param_refusal(e: ParamError) -> str:
    """Why a parameter change or a switch was refused: a failed check in its words, else the error's line."""
    return check_refusal(e.report) if isinstance(e, CheckRefused) else str(e)


def config_error(e: ConfigError) -> str:
    """The start's one config-error line: STRATEGY failing its check in its words, else the error's line."""
    return f"STRATEGY: {check_refusal(e.report)}" if isinstance(e, StrategyRefused) else str(e)


@text.register
def _(e: StrategyCheckFailed) -> str:
    return f"STRATEGY: {check_words(e.report)}; not traded live: no strategy runs until /strategy chooses one"


@text.register
def _(e: ProposalPending) -> str:
    return proposal_text(e.proposal)


@text.register
def _(e: ProposalUpdated) -> str:
    return proposal_update_text(e.proposal)


def duration(seconds: float | None) -> str:
    """`4.2s`, `37s`, `3m05s`, `2h07m` (— when not known)."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"


@text.register
def _(e: FeedDown) -> str:
    return f"feed down: no market data for {duration(e.quiet)}" + (f" (last error: {e.last_error})" if e.last_error else "")


@text.register
def _(e: FeedBack) -> str:
    return f"feed back after {duration(e.after)}"


# ------------------------------------------------------------- /status (and the chat's summaries)
def position_line(p: PositionView, f: NumberFormat | None) -> str:
    """One open position (a Hedge Mode leg names itself): size, entry, mark, uPnL, leverage, exits."""
    price = f.fmt_price if f else str
    qty = f.fmt_qty if f else str
    exits = "".join(
        f" · {name} {price(level)}" for name, level in (("SL", p.stop), ("TP", p.take), ("liq", p.liq)) if level is not None
    )
    if p.trail is not None:  # the trailing stop: its callback, and where it activates when not at once
        exits += f" · trailing {p.trail.normalize():f}%" + (f" (activates at {price(p.trail_act)})" if p.trail_act else "")
    leg = f" ({p.position_side} leg)" if p.position_side != "BOTH" else ""
    # a Hedge Mode leg is a position of its own: its margin and the funding booked on it
    money = (f" · margin {p.margin.quantize(CENT)} USDT" + (f" · funding {p.funding.quantize(CENT):+} USDT" if p.funding else "")
             if p.position_side != "BOTH" and p.margin else "")  # fmt: skip
    return (
        f"{p.side} {qty(p.qty)} {p.symbol}{leg} @ {price(p.entry)} · mark {price(p.mark)} · "
        f"uPnL {p.unrealized.quantize(CENT):+} USDT · {p.leverage}x{exits}{money}"
    )


def pending_lines(pending: Sequence[OrderRequest], proposals: Sequence[Proposal]) -> list[str]:
    """/status's pending confirmations: orders decided for the next open, then open proposals."""
    return [f"{r.side} {r.symbol} ({r.kind}) at the next open" for r in pending] + [
        f"#{p.id} {p.action} {p.symbol} ({p.status})" for p in proposals
    ]


# ------------------------------------------------------------- the order path's answers (trading/live/answers.py)
OLDER = "This button belongs to an older proposal."
PAUSED_LINE = "paused: no new entries (/resume to allow)"
NO_LIVE_PRICE = "no live price (stream stopped/reconnecting); try again when it is back"
BLOCKED = {  # why a protection refuses an entry now (closes always pass)
    "daily_loss": "the daily loss limit is reached (MAX_DAILY_LOSS): no new entries until the next UTC day or an admin's /resume",
    "drawdown": "the drawdown hard stop tripped (MAX_DRAWDOWN_PCT): no new entries until an admin's /resume",
    "stoploss_guard": "{symbol} is locked after its stop-losses (STOPLOSS_GUARD): /protections says until when",
    "cooldown": "{symbol} is cooling down after a close (COOLDOWN_CANDLES): /protections says until when",
}


def sizes_words(sizes: Mapping[str, Decimal], fmt: Callable[[Decimal], str] | None = None,
                about: frozenset[str] = frozenset()) -> str:  # fmt: skip
    """A position in words: the net one (`BOTH`: `long 0.010`, `short 0.010`, `flat`), or
    Hedge Mode's legs (`LONG 0.010 · SHORT 0.010`, LONG first, a flat leg left out, `flat`:
    none open); a leg in `about` is sized at the fill price (≈ at the reference price)."""
    def q(x: Decimal) -> str:
        return fmt(abs(x)) if fmt else f"{abs(x).normalize():f}"

    if "BOTH" in sizes:
        net = sizes["BOTH"]
        return f"{'long' if net > 0 else 'short'} {q(net)}" if net else "flat"
    shown = [f"{ps} {'≈' if ps in about else ''}{q(x)}" for ps in ("LONG", "SHORT") if (x := sizes.get(ps))]
    return " · ".join(shown) or "flat"


def position_text(qty: Decimal, fmt: Callable[[Decimal], str] | None = None) -> str:
    """`flat`, `long 0.010`, `short 0.005`: a signed position as people say it."""
    if not qty:
        return "flat"
    shown = fmt(abs(qty)) if fmt else _plain(abs(qty))
    return f"{'long' if qty > 0 else 'short'} {shown}"


def mode_name(hedge: bool) -> str:
    return "Hedge Mode (LONG and SHORT legs)" if hedge else "One-way Mode"


CHANGED = "the position changed since this proposal; propose again"


def reason_line(r: Reason, rules: NumberFormat | None = None) -> str:
    """Why it was refused (core/reasons.py), as docs/orders.md quotes it. `rules`: the symbol's
    number formats (a position's size as the exchange writes it), when known."""
    n, s, w = r.numbers, r.symbol, r.what
    if w is What.CHANGED:
        if "was" not in n:
            return CHANGED
        if r.leg:
            return f"{CHANGED} (its {r.leg} leg was {_plain(abs(n['was']))}, now {_plain(abs(n['now']))})"
        fmt = rules.fmt_qty if rules is not None else None
        return f"{CHANGED} (it was {position_text(n['was'], fmt)}, now {position_text(n['now'], fmt)})"
    words: dict[What, Callable[[], str]] = {
        What.MAX_LEVERAGE: lambda: f"leverage {int(n['leverage'])}x is above MAX_LEVERAGE {int(n['limit'])}x",
        What.MAX_NOTIONAL: lambda: (f"position would be {n['notional'].quantize(CENT)} USDT, above MAX_POSITION_NOTIONAL "
                                    f"{_plain(n['limit'])} USDT"),  # fmt: skip
        What.BELOW_MIN_QTY: lambda: f"quantity {_plain(n['qty'])} is below {s}'s minimum {_plain(n['min'])} (LOT_SIZE)",
        What.ABOVE_MAX_QTY: lambda: f"quantity {_plain(n['qty'])} is above {s}'s maximum {_plain(n['max'])} (LOT_SIZE)",
        What.BELOW_MIN_NOTIONAL: lambda: (f"order value {n['notional'].quantize(CENT)} USDT is below {s}'s "
                                          f"minimum {_plain(n['min'])} USDT (MIN_NOTIONAL)"),  # fmt: skip
        What.RULES_UNKNOWN: lambda: f"{s}'s trading rules are unknown (exchangeInfo not reachable)",
        What.PAPER_MARGIN: lambda: (f"insufficient margin: {_plain(n['needed'])} USDT needed, "
                                    f"{n['free'].quantize(CENT)} USDT free in the paper wallet"),  # fmt: skip
        What.FLAT: lambda: "nothing to close: the position is already flat",
        What.MODE_SWITCHED: lambda: (f"the account was switched to {mode_name(r.text == 'hedge')} while the bot trades "
                                     f"{mode_name(r.text != 'hedge')}: no order is sent (Binance would refuse them); "
                                     "/stop and /start to trade the account's mode"),  # fmt: skip
        What.UNLISTED: lambda: f"SYMBOLS: {', '.join(r.names)} not listed as a trading USDⓈ-M contract on {r.text}",
        What.HALTED: lambda: text(StorageFault(r.details["what"], r.details["db_path"], r.details.get("detail", ""))),
        What.SAID: lambda: r.text,
    }
    return words[w]() if w in words else exchange_line(r)


# Binance's refusals (What.BINANCE): one line per code the order path can meet (Binance's USDⓈ-M
# error-code list for POST /fapi/v1/order, /leverage, /algoOrder, positionSide/dual), {symbol} and
# {leverage} filled in; a code without a line shows Binance's own message (masked and bounded by
# trading/exchange/errors.py). Each line is what a trader needs to decide what to do next.
HEDGE_FIX = "switch the account to One-way Mode (Binance Futures → Preferences → Position Mode), then /stop and /start"
BINANCE_REFUSALS = {
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
HEDGE_OFF_LINE = (
    "the Binance account is in Hedge Mode (LONG and SHORT positions apart); with HEDGE_MODE=off the bot trades one "
    "net position per symbol, so it does not start there: switch the account to One-way Mode "
    "(Binance Futures → Preferences → Position Mode) and /start again, or set HEDGE_MODE=auto"
)
SWITCH_OFFER = "; it holds no position and no open order, so an admin can switch it here"


def binance_line(r: Reason) -> str:
    """`Binance refused: margin is insufficient (-2019)`: the code's line, else Binance's own message
    (taken as it came: a brace in it is Binance's, never a placeholder), else the HTTP status."""
    n = r.numbers
    code = int(n["code"]) if "code" in n else None
    line = BINANCE_REFUSALS.get(code) if code is not None else None
    if line is not None:
        said = line.format(symbol=r.symbol, leverage=_plain(n["leverage"]) if "leverage" in n else "?")
    else:
        said = r.text or f"HTTP {int(n['status']) if 'status' in n else '?'}"
    return f"Binance refused: {said} ({code})"


def _unknown_why(r: Reason) -> str:
    """Why a MARKET order's outcome is not known (What.UNKNOWN's stage)."""
    status = r.details.get("status", "?")
    return {"restart": lambda: "asked after a restart", "seen": lambda: f"order is {status}",
            "stuck": lambda: f"order still {status} after {int(r.numbers.get('looks', 0))} looks",
            }.get(r.details.get("stage", "sent"), lambda: r.text)()  # fmt: skip


def exchange_line(r: Reason) -> str:
    """The exchange adapter's refusals and unknown outcomes (exchange/broker.py, exits.py,
    protection.py, brackets.py, account.py), in the words docs/orders.md and docs/binance.md quote."""
    n, s, d = r.numbers, r.symbol, r.details

    def lev() -> str:
        return _plain(n["leverage"])

    def unknown() -> str:
        query = d.get("query", "")
        tail = f"; asking Binance for it failed too ({query})" if query else ""
        return (f"outcome unknown: {d.get('side', '?')} {s} sent as {d.get('order', '?')} ({_unknown_why(r)}){tail}; "
                "check the position before anything else")  # fmt: skip

    retry = _plain(n["retry_after"]) if "retry_after" in n else "?"
    words: dict[What, Callable[[], str]] = {
        What.BINANCE: lambda: binance_line(r),
        What.RATE_LIMITED: lambda: (f"IP banned by Binance for too many requests; retry after {retry} s (HTTP 418)"
                                    if n.get("status") == 418 else f"rate-limited by Binance; retry after {retry} s (HTTP 429)"),  # fmt: skip
        What.NOT_FOUND: lambda: f"not placed: {r.text}, and Binance has no order {d.get('order', '?')}; propose again",
        What.NOT_FILLED: lambda: (f"Binance did not fill it: order {d.get('order', '?')} is {d.get('status', '?')} "
                                  "with nothing executed"),  # fmt: skip
        What.LEVERAGE_UNCLEAR: lambda: (f"not placed: setting {s} leverage to {lev()}x got no clear answer ({r.text}); "
                                        "no order was sent, propose again"),  # fmt: skip
        What.LEVERAGE_FAILED: lambda: (f"not placed: setting {s} leverage to {lev()}x failed ({r.text}); no order was sent, "
                                       "propose again"),  # fmt: skip
        What.UNKNOWN: unknown,
        What.EXIT_UNKNOWN: lambda: (f"outcome unknown: {d.get('type', '?')} {s} sent as {d.get('order', '?')} "
                                    f"({r.text}); asking Binance for it: {d.get('query', '?')}"),  # fmt: skip
        What.NO_FRESH_ID: lambda: f"{s}: no fresh client id for its exits after {int(n['generations'])} generations",
        What.BRACKET: lambda: (f"a {n['notional'].quantize(Decimal(1))} USDT {s} position is limited to {int(n['max'])}x "
                               f"by Binance's leverage brackets; leverage is {lev()}x (/set leverage=…)"),  # fmt: skip
        What.HEDGE_OFF: lambda: HEDGE_OFF_LINE,
        What.HEDGE_OFF_IDLE: lambda: HEDGE_OFF_LINE + SWITCH_OFFER,
    }
    return words[r.what]()


def placement_line(placed: Placement, f: NumberFormat) -> str:
    """The proposal message's final line: what was filled, at what price and fee, or why not."""
    parts = [
        f"{x.side} {f.fmt_qty(x.qty)} {x.symbol} at {f.fmt_price(x.price)} (fee {fee_words(x)})"
        for x in placed.fills
    ]
    line = ("filled: " + "; ".join(parts)) if parts else ""
    if placed.closed:
        t = placed.closed[-1]
        line += f" · closed {t.side}: PnL {t.pnl.quantize(CENT):+} USDT net of fees"
    if placed.error:
        why = f"failed: {reason_line(placed.error, f)}"
        line = f"{line} · then {why}" if line else why
    return line or "nothing to do: the position was already closed"


_SAID: dict[Kind, str] = {  # the answers that need no field
    Kind.PAUSED: PAUSED_LINE,
    Kind.CONFIRMATIONS_OFF: "Confirmations are off (CONFIRM_ORDERS=off).",
    Kind.OLDER: OLDER,
    Kind.NO_SUCH: "No such proposal.",
    Kind.NO_LIVE_PRICE: NO_LIVE_PRICE,
    Kind.ADMIN_ONLY: "Only a known admin can approve this order.",
    Kind.CONFIRMED: "confirmed",
    Kind.PLACING: "placing",
    Kind.EXPIRED_UNCONFIRMED: "expired before it was confirmed",
    Kind.EXPIRED_UNANSWERED: "expired unanswered",
    Kind.RESTART_NOT_SENT: "not placed: the bot restarted before the order was sent",
    Kind.NOT_ON_EXCHANGE: "not placed: the exchange has no order for it (the bot restarted before sending)",
}


def answer_line(a: Answer, rules: NumberFormat | None = None) -> str:
    """What an order request, a Confirm or a Reject did, or a proposal's final state (plain
    text; the chat escapes it). `rules`: the symbol's number formats for a placement stored
    earlier (one placed in this run carries its own)."""
    k, n = a.kind, a.numbers
    if k in _SAID:
        return _SAID[k]
    if k == Kind.PLACED:
        assert a.placed is not None
        placed = a.placed
        line = placement_line(placed.placement, placed.rules or rules or _Plain())
        f = placed.rules or rules or _Plain()
        shown = [sizes_words(s, f.fmt_qty) for s in placed.sizes] or placed.positions  # a row stored as words
        if shown:
            line += f" · {'legs' if placed.legs else 'position'}: " + " → ".join(shown)
        return line
    words = {
        Kind.NOT_PROPOSED: lambda: f"Not proposed: {_why(a, rules)}",
        Kind.NOT_PLACED: lambda: f"Not placed: {_why(a, rules)}",
        Kind.NO_BROKER: lambda: f"{a.mode}: no broker places orders in this mode yet",
        Kind.BLOCKED: lambda: "Not allowed: " + BLOCKED.get(a.quoted, a.quoted).format(symbol=a.symbol),
        Kind.LEG_IN_ONE_WAY: lambda: (f"/close {a.leg.lower()}: the account is in One-way Mode, one position per symbol: "
                                      f"/close {a.symbol}"),  # fmt: skip
        Kind.NOTHING_TO_CLOSE: lambda: f"No {a.symbol} {a.leg + ' leg' if a.leg else 'position'} to close.",
        Kind.NO_PRICE: lambda: f"No {a.symbol} price yet: /start the stream first.",
        Kind.NO_CANDLE: lambda: f"No {a.symbol} candle yet: /start the stream first.",
        Kind.BELOW_STEP: lambda: (f"Not proposed: quantity {n['qty'].normalize():f} is below {a.symbol}'s step "
                                  f"{n['step'].normalize():f} (LOT_SIZE)"),  # fmt: skip
        Kind.ALREADY: lambda: f"Already {a.action} {a.symbol}; give a quantity to add to it.",
        Kind.APPROVAL: lambda: f"1 of 2 approvals (by {', '.join(a.names)}); a second admin's Confirm places it.",
        Kind.NOT_PENDING: lambda: f"Proposal #{a.proposal} is {a.status}, no longer pending.",
        Kind.GONE: lambda: f"Proposal #{a.proposal} is no longer pending.",
        Kind.EXPIRED: lambda: f"Proposal #{a.proposal} has expired.",
        Kind.LEG_REFUSED: lambda: f"refused: {_why(a, rules)}",
        Kind.DRIFT: lambda: (f"refused: the price moved {n['drift'].quantize(CENT)} % since the proposal "
                             f"({n['ref'].normalize():f} → {n['price'].normalize():f}; "
                             f"MAX_DRIFT_PCT {n['limit'].normalize():f})"),  # fmt: skip
        Kind.REJECTED: lambda: f"rejected by {a.who}" + (" (Reject all)" if a.all else ""),
        Kind.SUPERSEDED: lambda: f"superseded by proposal #{a.proposal}",
        Kind.RESTART_BOOKED: lambda: f"filled before a restart ({int(n['done'])} of {int(n['total'])} orders booked)",
        Kind.FOUND_ON_EXCHANGE: lambda: f"filled (found on the exchange after a restart: {', '.join(a.names)})",
        Kind.SAID: lambda: a.quoted,
    }
    return words[k]()


def _why(a: Answer, rules: NumberFormat | None) -> str:
    """What a refusal quotes: a rule's reason (the database guard's halt among them), or a line as it came."""
    return reason_line(a.why, rules) if a.why is not None else a.quoted


def outcome_line(o: Outcome, rules: NumberFormat | None = None) -> str:
    """The answer to /long, /short, /close, a Confirm or a Reject (the alert, the reply);
    `rules`: the symbol's number formats, for a position it quotes."""
    return answer_line(o.answer, rules)


def result_line(p: Proposal, rules: NumberFormat | None = None) -> str:
    """A proposal's final state as its message shows it (`filled: BUY …`, `rejected by …`)."""
    return answer_line(p.result, rules) if p.result is not None else ""


def proposal_size(p: Proposal, rules: SymbolFilters | None = None) -> str:
    """What the proposal opens or closes, as an amount, never the formula it is sized by: the
    quantity asked; else (sized at the fill price from stake × leverage) about that much at
    the reference price, floored to the symbol's step, or without the symbol's rules the
    USDT it is worth; a close: all of the position."""
    opening = next((leg for leg in p.legs if leg.kind == "open"), None)
    if opening is None:
        return "all" if p.legs[0].qty is None else f"{p.legs[0].qty.normalize():f}"
    if opening.qty is not None:
        return f"{opening.qty.normalize():f}"
    worth = opening.stake * opening.leverage
    if rules and p.ref_price:
        return f"≈{rules.fmt_qty(rules.floor_qty(worth / p.ref_price))}"
    return f"{worth.normalize():f} USDT worth"


def proposal_text(p: Proposal) -> str:
    """The proposal notice's plain line (its message is drawn by bot/proposals.py)."""
    who = "strategy" if p.source == "strategy" else f"user {p.requested_by}"
    legs = " then ".join(f"{leg.side} {leg.kind}" + (" (reduce-only)" if leg.reduce_only else "") for leg in p.legs)
    return (
        f"proposal #{p.id}: {p.action} {p.symbol} · {proposal_size(p)} · ref price {p.ref_price.normalize():f} · "
        f"{legs} · asked by {who} · {reason_words(p)}"
    )


def four_eyes_words(f: FourEyes) -> str:
    """Why an order is proposed for two admins instead of placed (CONFIRM_ORDERS=off)."""
    return (f"two admins must confirm: {'both legs' if f.legs else 'the position'} would be {f.worth.quantize(CENT):f} USDT, "
            f"above FOUR_EYES_NOTIONAL {f.limit.normalize():f} (CONFIRM_ORDERS=off places only smaller orders at once)")  # fmt: skip


def reason_words(p: Proposal) -> str:
    """A proposal's reason as its message and notice say it: what was asked or decided, and
    why two admins must confirm it (one stored before that was typed has it in its reason)."""
    return p.reason + (f" · {four_eyes_words(p.four_eyes)}" if p.four_eyes is not None else "")


def proposal_update_text(p: Proposal) -> str:
    """`proposal #3 expired unanswered`, `proposal #3 rejected`, `proposal #3 superseded`,
    `proposal #3 filled: …` (docs, "Notices")."""
    kind = p.result.kind if p.result is not None else None
    short = {Kind.SUPERSEDED: "superseded", Kind.REJECTED: "rejected", Kind.EXPIRED_UNANSWERED: "expired unanswered"}
    if kind in short:
        return f"proposal #{p.id} {short[kind]}"
    return f"proposal #{p.id} {p.status}: {result_line(p)}"


def _held(qty: Decimal) -> str:
    return position_text(qty) if qty else "nothing"


def reconciled_line(item: object) -> str:
    """One thing a reconcile with the exchange settled or found (after `reconcile: `)."""
    if isinstance(item, Settled):
        return f"proposal #{item.proposal}: {answer_line(item.answer)}"
    if isinstance(item, Adopted):
        return f"{reconciled_line(item.difference)}; the book now follows the exchange"
    if isinstance(item, PositionDiffers):
        name = item.symbol if item.position_side == "BOTH" else f"{item.symbol} {item.position_side}"
        where = f" at {item.entry.normalize():f}" if item.entry is not None else ""
        return f"{name}: the exchange holds {_held(item.exchange)}{where}, the bot's book {_held(item.book)}"
    if isinstance(item, HedgedPositions):
        legs = ", ".join(f"{ps} {abs(q).normalize():f} at {entry.normalize():f}" for ps, q, entry in item.legs)
        return (f"{item.symbol}: the exchange holds Hedge Mode positions ({legs}); the bot adopts neither (it trades "
                "one net position per symbol): switch the account to One-way Mode")  # fmt: skip
    if isinstance(item, ExitsResynced):
        name = item.symbol if item.position_side == "BOTH" else f"{item.symbol} {item.position_side}"
        if item.what == "orphans":
            return f"{name}: cancelled {item.count} exit order(s) of the bot with no position behind them"
        return f"{name}: the position's exits were not all on the exchange; placed again"
    if isinstance(item, FillsCaughtUp):
        return f"{item.symbol}: {item.count} fill(s) made while the account stream was down, booked"
    if isinstance(item, FundingCaughtUp):
        return f"{item.count} funding payment(s) booked"
    if isinstance(item, TradesUnreadable):
        return f"{item.symbol}: account trades unreadable ({item.error}); retried on the next reconnect"
    if isinstance(item, ForeignOrders):
        listed = ", ".join(f"{kind} {side} {cid}" for kind, side, cid in item.orders)
        return f"{item.symbol}: {item.count} open order(s) on the exchange ({listed}); left as they are"
    if isinstance(item, NotReconciled):
        return f"could not reconcile with the exchange ({item.error}); check /status before trading"
    return str(item)


def check_line(c: CheckState) -> str:
    """/status while the start's look-ahead check runs, or after it failed (no strategy runs)."""
    if c.failed is None:
        far = f"{c.done} of {c.planned} end candles compared" if c.planned else "the full history first"
        return f"🔎 Checking {c.strategy} for look-ahead ({far}); the stream decides nothing until it passes"
    return f"⛔ {check_words(c.failed)}; not traded live: no strategy runs (/strategy NAME)"


def step_line(step: Step) -> str:
    """A what-if's progress (/backtest, /optimize), after the command's name."""
    if step.stage == "candles":
        return f"fetching {step.total:,} candles…" if step.done is None else f"fetching candles {step.done:,}/{step.total:,}…"
    if step.stage == "funding":
        return f"fetching funding rates… {step.done or 0:,}"
    if step.stage == "grid":
        return f"running {step.total:,} combinations…" if step.done is None else f"running {step.done:,}/{step.total:,} combinations…"
    return {"check": "checking look-ahead…", "running": "running…"}.get(step.stage, step.stage)


UNITS = {"gross": " USDT", "net PnL": " USDT", "fees": " USDT", "funding": " USDT", "unrealized": " USDT",
         "equity": " USDT", "max drawdown": " USDT"}


def stats_table(cmp: Comparison) -> str:
    """/backtest's table, side by side, monospace: the changed parameters, then the stats."""
    cols = [("current", cmp.current)] + ([("given", cmp.candidate)] if cmp.candidate else [])
    rows: list[tuple[str, ...]] = [("", *(c[0] for c in cols))]
    if cmp.strategy:
        rows.append(("strategy", *(_short(r.trader.strategy_name)[:16] for _, r in cols)))  # type: ignore[union-attr]
    if cmp.check:  # the given column's strategy fails the check the live bot runs
        rows.append(("check", *(("FAILED" if r is cmp.candidate else "passed") for _, r in cols)))
    for name in cmp.changes:
        rows.append((name, *(fmt_value(r.trader.values[name]) if name in r.trader.values else "—"  # type: ignore[union-attr]
                             for _, r in cols)))
    for label in ("trades", "win rate", "gross", "fees", "funding", "net PnL", "unrealized", "equity",
                  "liquidations", "max drawdown", "exposure", "buy and hold"):
        shown = label + UNITS.get(label, "")  # the values are trimmed to fit a phone: the unit goes here
        rows.append((shown, *(_short(dict(r.stats.rows())[label]) for _, r in cols)))  # type: ignore[union-attr]
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join([r[0].ljust(w[0])] + [r[i].rjust(w[i]) for i in range(1, len(r))]).rstrip()
                     for r in rows)


def end_words(result: Any) -> str:
    """A backtest's net, unrealized and equity as its chart and caption say them (the table's
    own numbers): the chart's last point is that equity. `result`: a BacktestResult."""
    rows = dict(result.stats.rows())
    return (f"net PnL {_short(rows['net PnL'])} USDT · unrealized {_short(rows['unrealized'])} USDT · "
            f"equity {_short(rows['equity'])} USDT")


def period_title(p: Period) -> str:
    """For a chart title: 'last 30 days', or '5.2 days (asked 365)'."""
    return f"{p.days:.1f} days (asked {p.asked_days})" if p.short else f"last {p.asked_days} days"


def period_words(p: Period | None, days: int) -> str:
    """The candles a what-if traded: 'last 30 days: 2024-… → … UTC · 2,880 candles', or what
    the history left of the days asked."""
    if p is None:
        return f"last {days} days"
    span = f"{utc_minute(p.first_ms)} → {utc_minute(p.last_ms)} UTC · {p.candles:,} candles"
    if p.short:
        return f"asked {p.asked_days} days; the history available leaves {p.days:.1f} days to trade after the warm-up: {span}"
    return f"last {p.asked_days} days: {span}"


def left_out_line(n: LeftOut) -> str:
    """What a what-if ran without (below its table and in its caption)."""
    assert n.what == "funding", n
    return f"without funding: the exchange did not answer GET /fapi/v1/fundingRate ({n.why})"


def optimize_chart_words(opt: Optimization) -> tuple[str, str]:
    """/optimize's heatmap: its title and subtitle (the strategy, the market, the grid's axes)."""
    grid = opt.result.grid
    title = f"{opt.strategy} · {opt.symbol} {opt.interval}" + (f" · {period_title(opt.period)}" if opt.period else "")
    return title, f"{grid.describe()} = {grid.size:,} combinations"


def backtest_chart_words(cmp: Comparison) -> tuple[str, str]:
    """/backtest's chart: its title and subtitle (what it shows, in the table's own numbers)."""
    assert cmp.period is not None  # a /backtest's window (trading/live/whatif.py: Period)
    title = f"Backtest · {cmp.symbol} {cmp.interval} · {period_title(cmp.period)}"
    shown = "the given parameters" if cmp.candidate else "the current parameters"
    return title, f"{cmp.strategy or shown} · {end_words(cmp.candidate or cmp.current)}"


def _short(text: str) -> str:
    """Stats.rows() wording, trimmed to fit a phone: the part before the bracket."""
    return text.split(" (")[0].replace(" USDT", "").replace(" of candles", "")


SWITCHED = {  # the One-way switch's answer (/start's button in Hedge Mode)
    SwitchResult.SWITCHED: "switched the account to One-way Mode; /start now",
    SwitchResult.ALREADY: "the account is already in One-way Mode; /start",
    SwitchResult.HAS_ORDERS: "not switched: the account has open orders now (Binance -4067); cancel them first",
    SwitchResult.HAS_POSITION: "not switched: the account holds a position now (Binance -4068); close it first",
    SwitchResult.PAPER: "paper mode has no account mode",
}


def start_refusal(e: StartRefused) -> str:
    """Why /start (or its button, or the headless run) cannot start the stream (the database
    guard's halt in its notice's words, as reason_line says it)."""
    return reason_line(e.reason)


def switch_line(s: ModeSwitch) -> str:
    """What the One-way switch did, for the press's alert."""
    if s.result == SwitchResult.REFUSED:
        return f"not switched: {s.error}"
    if s.result == SwitchResult.NO_ANSWER:
        return f"not switched: Binance did not answer ({s.error}); /start shows the mode"
    return SWITCHED[s.result]


def user_stream_line(u: UserStreamState) -> str:
    """/health's line for the account stream (demo/live); paper has none."""
    if not u.exchange:
        return "n/a (paper: no account stream)"
    if not u.running:
        return "🔴 stopped"
    state = "🟢 connected" if u.connected else "🟡 reconnecting"
    return f"{state} · {u.events} event{'s' if u.events != 1 else ''}"
