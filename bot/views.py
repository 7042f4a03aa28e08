"""Text the chat shows: status, candle tables, help, notices. HTML with every data value
escaped, so a symbol or a reason containing `<`, `_` or `*` can never break a message.

Wording here is part of the docs' contract (docs/commands.md, docs/notices.md): traders grep for these phrases.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

from bot.texts import (
    NumberFormat,
    check_line,
    duration,
    failing_line,
    ohlcv_line,
    pending_lines,
    position_line,
    reason_line,
    text,
    wallet_title,
)
from trading.core.candles import Candle, fmt_num
from trading.core.events import Event
from trading.live.service import EngineStatus

MAX_MESSAGE = 4096

NOTICE_ICONS = {
    "socket_started": "🟢",
    "socket_stopped": "⏹",
    "socket_error": "⚠️",
    "reconnected": "🔄",
    "stale": "⏱",
    "feed_down": "🔴",
    "feed_back": "🟢",
    "signal": "📣",
    "order_filled": "✅",
    "order_refused": "⛔",
    "protection": "🛡",
    "protection_warning": "⚠️",
    "protection_lifted": "🛡",
    "exit_moved": "🛡",
    "strategy_error": "⚠️",
    "strategy_check": "⛔",
    "reconciled": "🔁",
    "candle_closed": "🕯",
    "storage_fault": "🛑",
    "storage_busy": "⏳",
}


num = fmt_num
ECHO_LIMIT = 32


# Bidirectional overrides and isolates reorder what follows them on screen.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def one_line(text: str) -> str:
    """A name or any other user text as the chat shows it: on one line, control characters
    (newlines, tabs, line and paragraph separators, bidi overrides) removed, whitespace
    collapsed. A forged name with a newline cannot fake a line of the bot's own."""
    kept = []
    for ch in text:
        if ch in _BIDI:
            continue
        kept.append(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch)
    return " ".join("".join(kept).split())


def who(user: Any, user_id: int | None = None) -> str:
    """`@name` (one line), else `user 1001`: how a person is named in the chat and the audit."""
    name = one_line(getattr(user, "username", None) or "") if user is not None else ""
    if name:
        return f"@{name}"
    uid = getattr(user, "id", None) if user is not None else None
    return f"user {user_id if user_id is not None else (uid if uid is not None else '?')}"


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """A user's input quoted back, cut short (plain text; escape it like any data): a reply
    never grows with the input."""
    text = one_line(text)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def utc(ms: int, seconds: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def utc_fmt(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def clock_gap(offset_ms: int) -> str:
    """'3.2 s ahead of' / '2 d 4 h behind' (a replay's market clock can be years away)."""
    s = abs(offset_ms) / 1000
    if s < 120:
        size = f"{s:.1f} s"
    elif s < 2 * 86400:
        size = f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"
    else:
        size = f"{s / 86400:.0f} days"
    return f"{size} {'ahead of' if offset_ms > 0 else 'behind'}"


def notice_html(notice: Event) -> str:
    icon = NOTICE_ICONS.get(notice.kind, "ℹ️")
    return f"{icon} {escape(text(notice)[:1000])}"


def status_html(st: EngineStatus, formats: Mapping[str, NumberFormat] | None = None) -> str:
    """`formats` by symbol (from exchangeInfo); a symbol without one prints plain numbers."""
    s = st.stream
    if not s.running:
        state = "🔴 stopped"
    elif s.connected:
        state = "🟢 connected"
    elif s.connected_since is None:
        state = "🟡 connecting"
    else:
        state = "🟡 reconnecting"
    lines = [
        f"<b>Status</b> · {escape(st.mode)} · {escape(', '.join(st.symbols))} {escape(st.interval)}",
        f"Stream: {state}",
    ]
    if s.running:
        age = "none yet" if s.last_message_age is None else f"{duration(s.last_message_age)} ago"
        lines.append(f"Last message: {age} · uptime {duration(s.uptime)}")
    lines.append(f"Reconnects today: {st.reconnects_today}")
    if s.running and s.last_error and not s.connected:
        lines.append(f"Last error: {escape(s.last_error)}")
    for symbol in st.symbols:
        c = st.last_closed.get(symbol)
        if c is None:
            lines.append(f"Last closed {escape(symbol)}: none yet")
        else:
            lines.append(f"Last closed {escape(symbol)}: {utc(c.open_time)} UTC (open time)")
            f = (formats or {}).get(symbol)
            line = ohlcv_line(c, f.fmt_price, f.fmt_qty) if f else ohlcv_line(c)
            lines.append(f"<code>{escape(line)}</code>")
    offset = getattr(st, "clock_offset_ms", None)
    if offset is not None and abs(offset) > 1000:
        lines.append(f"🕒 Clock: Binance is {clock_gap(offset)} this host's clock; signed requests use Binance's time")
    if st.paused:
        lines.append(f"⏸ Paused: no new entries ({escape(pause_reasons(st.paused))}); closes and stops still run · /resume")
    if getattr(st, "account_mode", None) is not None:  # said once when found; shown here while it lasts
        lines.append(f"⛔ Orders stopped: {escape(reason_line(st.account_mode))}")
    lines += failing_html(st.trader)
    if st.strategy_check is not None:
        lines.append(escape(check_line(st.strategy_check)))
    locks = getattr(st, "locks", None) or {}
    if locks:  # one line: every symbol whose entries a protection locks now (issue 29)
        lines.append("🔒 Locked: " + "; ".join(
            f"{escape(s)} until {utc(lk['until'])} UTC ({LOCK_REASONS.get(lk['why'], lk['why'])})" for s, lk in locks.items()
        ) + " · /protections")  # fmt: skip
    fmts = formats or {}
    lines.append("Position: " + ("; ".join(escape(position_line(p, fmts.get(p.symbol))) for p in st.positions)
                                 or "no position"))  # fmt: skip
    lines.append(
        "Pending confirmations: " + (", ".join(escape(p) for p in pending_lines(st.pending, st.proposals)) or "none")
    )
    return "\n".join(lines)


def failing_html(snap: Any) -> list[str]:
    """A line per symbol whose strategy fails on every candle, while it lasts (/status, /health,
    /strategy): said once as a notice, shown here until a candle is decided again."""
    failing = getattr(snap, "failing", None) or {}
    return [escape(failing_line(snap.strategy, s, f)) for s, f in failing.items()]


def pnl_lines(s: Any) -> list[str]:
    """/pnl, /equity and the daily report say PnL in the ledger's words (trading/core/ledger.py):
    realized = what the period booked (gross of what was closed, partial closes included;
    fees; funding and other charges when there are any; net, the wallet's change),
    unrealized = the open position now (absent from a summary of a past day)."""
    lines = [realized_line(s), *leg_lines(s)]
    if getattr(s, "unrealized", None) is not None:
        lines.append(f"Unrealized (open position): {signed(s.unrealized)} USDT")
    return lines


def leg_lines(s: Any) -> list[str]:
    """Hedge Mode: each leg's share of the period, in the same words (the ledger's entries
    of that leg: its fills and the funding charged on its own notional)."""
    return [f"· {sym} {ps} leg: {realized_line(t)[len('Realized: '):]}" for sym, ps, t in getattr(s, "legs", ())]


def signed(x: Decimal) -> str:
    q = x.quantize(Decimal("0.01"))
    return f"{q if q else abs(q):+}"  # never "-0.00"


def realized_line(s: Any) -> str:
    funding = f" · funding {signed(s.funding)}" if s.funding else ""
    charges = f" · other charges {s.charges.quantize(Decimal('0.01'))}" if s.charges else ""
    return (f"Realized: gross {signed(s.gross)} · fees {s.fees.quantize(Decimal('0.01'))}"
            f"{funding}{charges} · net {signed(s.net)} USDT")


PAUSE_REASONS = {
    "admin": "an admin's /pause",
    "chat_unreachable": "the bot could not post to its chat",
    "daily_loss": "the daily loss limit, MAX_DAILY_LOSS (lifted the next UTC day)",
    "drawdown": "the drawdown hard stop, MAX_DRAWDOWN_PCT",
}
LOCK_REASONS = {"stoploss_guard": "stop-losses, STOPLOSS_GUARD", "cooldown": "cooldown, COOLDOWN_CANDLES"}


def pause_reasons(reasons: Iterable[str]) -> str:
    """Why entries are paused, in words (storage keeps the short names)."""
    return "; ".join(PAUSE_REASONS.get(r, r) for r in sorted(reasons))


def klines_html(
    symbol: str, interval: str, candles: Sequence[Candle], fmt: NumberFormat | None = None
) -> str:
    """With `fmt` the table prints the symbol's tick and step decimals, as /status does;
    without it (exchange unreachable) each column takes the decimals its values need."""
    if not candles:
        return f"No closed {escape(symbol)} {escape(interval)} candles stored yet. /start streams them."
    header = ("time (UTC)", "open", "high", "low", "close", "volume")
    if fmt is not None:
        price, qty = fmt.fmt_price, fmt.fmt_qty
    else:
        p_dec = max(_decimals(num(x)) for c in candles for x in (c.open, c.high, c.low, c.close))
        v_dec = max(_decimals(num(c.volume)) for c in candles)

        def price(x: float) -> str:
            return f"{x:.{p_dec}f}"

        def qty(x: float) -> str:
            return f"{x:.{v_dec}f}"

    rows = [
        (utc(c.open_time)[5:], price(c.open), price(c.high), price(c.low), price(c.close), qty(c.volume))
        for c in candles
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    table = "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    )
    first = utc(candles[0].open_time)[:10]
    n = len(candles)
    return (
        f"<b>{escape(symbol)} {escape(interval)}</b> · last {n} closed candle{'' if n == 1 else 's'} "
        f"(from {first})\n<pre>{escape(table)}</pre>"
    )


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def help_html(commands: Iterable[tuple[str, str, bool]]) -> str:
    lines = ["<b>Commands</b>"]
    for name, description, admin in commands:
        lines.append(f"/{escape(name)} — {escape(description)}" + (" (admins)" if admin else ""))
    return "\n".join(lines)


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split on line boundaries under `limit`; a <pre> block cut in two is closed and reopened.

    Views keep every other tag within one line, so <pre> is the only tag that can span a cut.
    """
    if len(text) <= limit:
        return [text]
    budget = limit - len("<pre></pre>")
    lines: list[str] = []
    for line in text.split("\n"):
        while len(line) > budget:  # one enormous line: cut it, never inside an &entity;
            cut = budget
            amp = line.rfind("&", cut - 10, cut)
            if amp != -1 and ";" not in line[amp:cut]:
                cut = amp
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    in_pre = False
    for line in lines:
        add = len(line) + (1 if current else 0)
        if current and size + add + (len("</pre>") if in_pre else 0) > limit:
            chunks.append("\n".join(current) + ("</pre>" if in_pre else ""))
            current, size = [], 0
            if in_pre:
                line = "<pre>" + line
            add = len(line)
        current.append(line)
        size += add
        opens, closes = line.count("<pre>"), line.count("</pre>")
        if opens != closes:
            in_pre = opens > closes
    if current:
        chunks.append("\n".join(current))
    return chunks


def leg_margin_lines(w: Any) -> list[str]:
    """Hedge Mode: each open leg's margin, and its funding (the book's) or liquidation price
    (Binance's), a line each."""
    cent = Decimal("0.01")
    out = []
    for leg in getattr(w, "legs", ()):
        funding = f" · funding {leg.funding.quantize(cent):+} USDT" if leg.funding else ""
        liq = f" · liq {leg.liq.quantize(cent)}" if getattr(leg, "liq", None) else ""
        out.append(f"· {escape(leg.symbol)} {leg.position_side} leg: margin {leg.margin.quantize(cent)} USDT{funding}{liq}")
    return out


def wallet_html(w: Any) -> str:
    """/balance: the book's wallet; in demo/live Binance's beside it, and the difference."""
    cent = Decimal("0.01")
    lines = [
        f"<b>Balance · {escape(wallet_title(w))}</b>",
        f"Wallet: {w.balance.quantize(cent)} USDT" + (f" ({'; '.join(extra)})" if (extra := [
            *([f"funding {w.funding.quantize(cent):+}"] if w.funding else []),
            *([f"other charges {w.charges.quantize(cent)}"] if getattr(w, "charges", 0) else [])]) else ""),
        f"Equity: {w.equity.quantize(cent)} USDT",
        f"Margin used: {w.margin_used.quantize(cent)} USDT · available {w.available.quantize(cent)} USDT",
    ]
    lines += leg_margin_lines(w)
    ex = w.exchange
    if ex is not None:
        lines += [
            "<b>Binance</b>",
            f"Wallet: {ex.balance.quantize(cent)} USDT · available {ex.available.quantize(cent)} USDT",
            f"Margin: {ex.margin_used.quantize(cent)} USDT · unrealized {ex.unrealized.quantize(cent):+} USDT",
            *leg_margin_lines(ex),
        ]
        gap = ex.balance - w.balance
        if abs(gap) < cent:
            lines.append("The book matches Binance's wallet.")
        elif w.other_fees and abs(gap - w.other_fees) < cent:
            lines.append(
                f"The book matches Binance's wallet once the fees paid in BNB ({w.other_fees.quantize(cent)} USDT "
                "booked; Binance took them from the BNB balance, not from USDT) are counted."
            )
        else:
            lines.append(
                f"The book differs from Binance's wallet by {gap.quantize(cent):+} USDT (funding, fees or trades "
                "the book has not booked, or a deposit/transfer: the book starts from PAPER_BALANCE)"
            )
    elif w.exchange_account:
        lines.append("Binance's wallet: unreadable right now")
    return "\n".join(lines)
