"""What the dashboard shows, as JSON: built only from the engine's public methods (called off
the event loop) and formatted with the chat's own helpers, so every figure on the page is
the one /status, /pnl, /balance and /trades print, to the cent.

No setting is copied wholesale: only the few limits a trader reads, by name. Nothing secret
(token, keys, the callback-signing key) is ever part of it.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

from bot import views
from bot.commands import number_formats, off_loop
from bot.proposals import proposal_html
from bot.protection_commands import protections_html
from bot.texts import position_line, text, user_stream_line
from bot.views import pause_reasons
from trading.core.strategies.params import fmt_value

CENT = Decimal("0.01")
TRADES_SHOWN = 12
_TAG = re.compile(r"<[^>]+>")


def text_of(html_text: str) -> str:
    """A chat message's HTML as the plain text Telegram shows."""
    return html.unescape(_TAG.sub("", html_text))


def cent(x: Decimal) -> str:
    """As /balance prints money (views.wallet_html)."""
    return f"{x.quantize(CENT)}"


def signed(x: Decimal) -> str:
    """As /pnl prints a signed amount (views.pnl_lines): never -0.00."""
    q = x.quantize(CENT)
    return f"{q if q else abs(q):+}"


def stream_state(s: Any) -> str:
    if not s.running:
        return "stopped"
    if s.connected:
        return "connected"
    return "connecting" if s.connected_since is None else "reconnecting"


async def build(engine: Any) -> dict[str, Any]:
    """The whole page's data (the same for every viewer; who may act is added per request)."""
    settings = engine.settings
    st = await off_loop(engine.status)
    formats = await number_formats(engine, st.symbols)
    today = await off_loop(engine.pnl, "today")
    alltime = await off_loop(engine.pnl, "all")
    wallet = await off_loop(engine.wallet)
    health = await off_loop(engine.health)
    legs = await off_loop(engine.recent_trades, TRADES_SHOWN)
    schema, values = await off_loop(engine.params)
    proposals = await off_loop(engine.open_proposals)
    guards = await off_loop(engine.protections)

    def fmt(symbol: str) -> tuple[Any, Any]:
        f = formats.get(symbol)
        return (f.fmt_price, f.fmt_qty) if f else (str, str)  # as /status without exchangeInfo

    positions = []
    for p in st.positions:
        price, qty = fmt(p.symbol)
        line = position_line(p, formats.get(p.symbol))
        positions.append({
            "symbol": p.symbol, "leg": p.position_side,  # LONG / SHORT: a Hedge Mode leg, each its own card
            "key": p.symbol if p.position_side == "BOTH" else f"{p.symbol}-{p.position_side}", "side": p.side, "qty": qty(p.qty), "entry": price(p.entry), "mark": price(p.mark),
            "upnl": f"{p.unrealized.quantize(CENT):+}", "leverage": p.leverage,
            "stop": price(p.stop) if p.stop is not None else None,
            "take": price(p.take) if p.take is not None else None,
            "liq": price(p.liq) if p.liq is not None else None,
            "trail": (f"{p.trail.normalize():f}%" + (f" · activates at {price(p.trail_act)}" if p.trail_act else ""))
                     if p.trail is not None else None,
            "line": line,  # exactly /status's "Position:" text
        })
    marks = {}
    for symbol in st.symbols:
        c = st.last_closed.get(symbol)
        price, qty = fmt(symbol)
        # The stream's latest price while it is connected (no request then); else the last close.
        mark = await off_loop(engine.live_price, symbol) if st.stream.connected else None
        if mark is None and c is not None:
            mark = Decimal(repr(c.close))
        marks[symbol] = {
            "price": price(mark) if mark is not None else None,
            "last_closed": views.utc(c.open_time) if c else None,
            "ohlcv": (views.ohlcv_line(c, *fmt(symbol)) if symbol in formats else views.ohlcv_line(c)) if c else None,
        }
    pending = []
    for p in proposals:
        rules = formats.get(p.symbol)
        approvals = tuple(await off_loop(engine.approvals, p.id)) if p.status == "pending" else ()
        pending.append({
            "id": p.id, "symbol": p.symbol, "action": p.action, "status": p.status,
            "text": text_of(proposal_html(p, rules, approvals)),  # the chat message's own words
            "approvals": list(approvals), "actionable": p.status == "pending",
        })
    trades = []
    for f, leg in reversed(legs):
        price, qty = fmt(f.symbol)
        trades.append({
            "time": views.utc(f.time), "leg": leg, "side": f.side, "qty": qty(f.qty), "symbol": f.symbol,
            "price": price(f.price), "fee": cent(f.fee),
        })
    ex = wallet.exchange
    account = {
        "mode": views.wallet_title(wallet), "wallet": cent(wallet.balance), "equity": cent(wallet.equity),
        "margin": cent(wallet.margin_used), "available": cent(wallet.available),
        "funding": cent(wallet.funding) if wallet.funding else None,
        "exchange": {"wallet": cent(ex.balance), "available": cent(ex.available), "margin": cent(ex.margin_used),
                     "unrealized": f"{ex.unrealized.quantize(CENT):+}"} if ex is not None else None,
        "lines": text_of(views.wallet_html(wallet)).split("\n"),  # /balance's own text
    }

    def pnl(s: Any) -> dict[str, Any]:
        return {
            "period": s.period, "since": views.utc(s.since_ms) if s.since_ms is not None else None,
            "realized": signed(s.realized), "gross": signed(s.gross), "fees": cent(s.fees),
            "funding": signed(s.funding) if s.funding else None, "unrealized": signed(s.unrealized),
            "trades": s.trades, "win_rate": f"{s.win_rate:.0f}" if s.trades else None,
            "lines": views.pnl_lines(s),  # /pnl's own two lines
        }

    cap = settings.max_leverage
    params = [
        {"name": p.name, "value": fmt_value(values[p.name]),
         "range": p.range_text(min(p.maximum, cap)) if p.name == "leverage" else p.range_text(), "help": p.help}
        for p in schema.params
    ]
    protections = [
        f"Confirm every order: {'on' if settings.confirm_orders else 'off (placed without asking)'}",
        f"Max position: {settings.max_position_notional.normalize():f} USDT per symbol · max leverage {cap}x",
        f"Confirm refused beyond {settings.max_drift_pct.normalize():f} % drift",
    ]
    if settings.four_eyes_notional is not None:
        protections.append(f"Two admins above {settings.four_eyes_notional.normalize():f} USDT")
    if st.paused:
        protections.append(f"Paused: no new entries ({pause_reasons(st.paused)})")
    if engine.halted is not None:
        protections.append(f"Trading stopped: {text(engine.halted)}")
    # The account protections (issue 29) in /protections' own words, line for line, and the
    # day's net against the loss limit for the account card.
    protections += text_of(protections_html(guards)).split("\n")[1:] if guards is not None else [
        "Account protections: all off (MAX_DAILY_LOSS, MAX_DRAWDOWN_PCT, STOPLOSS_GUARD, COOLDOWN_CANDLES)"]
    account["loss_limit"] = None
    if guards is not None and guards.rules.daily_loss:
        limit = guards.daily_limit if guards.rules.daily_loss_pct else guards.rules.daily_loss
        account["loss_limit"] = {
            "net": signed(guards.daily_net) if guards.daily_net is not None else None,
            "limit": f"-{cent(limit)}" if limit is not None else None,
            "tripped": "daily_loss" in guards.halted,
        }
    locks = [{"symbol": sym, "until": views.utc(lk["until"]), "why": views.LOCK_REASONS.get(lk["why"], lk["why"])}
             for sym, lk in (guards.locks.items() if guards is not None else ())]
    s = st.stream
    return {
        "instance": engine.instance_id,
        "mode": st.mode, "symbols": list(st.symbols), "interval": st.interval, "strategy": engine.strategy,
        "stream": {
            "state": stream_state(s),
            "last_message": None if s.last_message_age is None else f"{views.duration(s.last_message_age)} ago",
            "reconnects_today": st.reconnects_today, "account_stream": user_stream_line(health.user_stream),
        },
        "markets": marks, "positions": positions, "account": account,
        "pnl": {"today": pnl(today), "all": pnl(alltime)},
        "proposals": pending, "trades": trades, "params": params, "protections": protections, "locks": locks,
        "paused": pause_reasons(st.paused) if st.paused else None,
        "status_text": text_of(views.status_html(st, formats)),  # /status, word for word
        "chart_key": f"{max((c.open_time for c in st.last_closed.values()), default=0)}-"
                     + (f"{legs[-1][0].order_id}-{legs[-1][0].time}" if legs else "none"),
    }
