"""Proposal messages: posted with Confirm and Reject, edited to their final state.

The buttons carry the proposal id and the database's instance id inside the signed callback
data, so a button cannot be edited into another proposal's, and a message left over from an
older database (numbers restart at 1 with a new file) never acts on the new file's proposal
with the same number. A press acts only from the proposal's own message; any other is told
"This button belongs to an older proposal" and loses its buttons. Whether a press places anything is decided by the
engine's conditional update in SQLite, never here: this module only shows what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated
from telegram.ext import Application, ContextTypes, JobQueue

from bot import chats, views
from bot.buttons import PressResult, Signer, button, button_action
from bot.commands import off_loop
from bot.ratelimit import urgent
from bot.texts import OLDER, outcome_line, reason_words, result_line, sizes_words
from trading.config import Settings
from trading.core.events import ProposalPending, ProposalUpdated
from trading.core.hedge import legs_after
from trading.core.symbols import SymbolFilters
from trading.live.service import Kind, Outcome, Proposal

log = logging.getLogger(__name__)

STATUS_ICON = {
    "pending": "🟡", "confirmed": "⏳", "placed": "⏳", "filled": "✅",
    "failed": "⚠️", "rejected": "✖️", "expired": "⌛",
}


def proposal_html(p: Proposal, rules: SymbolFilters | None = None, approvals: tuple[str, ...] = ()) -> str:
    """The proposal in the symbol's own formats (BTCUSDT: 0.010 BTC at 69590.0)."""
    qty = rules.fmt_qty if rules else (lambda q: f"{q.normalize():f}")
    price = rules.fmt_price if rules else (lambda x: f"{x.normalize():f}")
    who = "the strategy" if p.source == "strategy" else f"user {p.requested_by}"

    def amount(leg: Any) -> str:  # what the leg sends: an amount, never a formula
        if leg.reduce_only:
            return "all reduce-only"
        if leg.qty is not None:
            return qty(leg.qty)
        if rules and p.ref_price:  # sized at the fill price: about this much at the reference price
            return f"≈{qty(rules.floor_qty(leg.stake * leg.leverage / p.ref_price))}"
        return f"{(leg.stake * leg.leverage).normalize():f} USDT worth"

    legs = " → ".join(
        f"{leg.side}" + (f" {leg.position_side}" if leg.position_side != "BOTH" else "")  # a Hedge Mode leg
        + f" {amount(leg)}" for leg in p.legs
    )
    opening = next((leg for leg in p.legs if leg.kind == "open"), None)
    if opening is None and p.legs and p.legs[0].position_side != "BOTH":
        size = "the whole " + " and the whole ".join(f"{leg.position_side} leg" for leg in p.legs)
    elif opening is None:
        size = "the whole position"
    elif opening.qty is not None:
        size = qty(opening.qty)
    else:
        about = f"{amount(opening)} " if rules and p.ref_price else ""
        size = f"{about}({opening.stake.normalize():f} USDT × {opening.leverage}x at the fill price)"
    turn = ""
    if p.action == "reverse" and opening is not None:  # from which side to which
        turn = ", short → long" if opening.side == "BUY" else ", long → short"
    lines = [
        f"{STATUS_ICON.get(p.status, '•')} <b>Order proposal #{p.id}</b>: {escape(p.action)} {escape(p.symbol)}{turn}",
        f"Quantity: {escape(size)} · ref price {price(p.ref_price)}",
        f"Orders: {escape(legs)}",
    ]
    if p.legs_before is not None:  # Hedge Mode: both legs when proposed, and once these orders fill
        after, about = legs_after(p.legs_before, p.legs, p.ref_price, rules.floor_qty if rules else None)
        lines.append(f"Legs: {escape(sizes_words(p.legs_before, qty))} → {escape(sizes_words(after, qty, about))}")
    lines.append(f"Asked by {escape(who)}: {escape(views.one_line(reason_words(p)[:300]))}")
    if p.status == "pending":
        until = "when the next candle closes" if p.expires_at is None else f"at {views.utc(p.expires_at, seconds=True)} UTC"
        lines.append(f"Confirm places it at the market (admins); it expires {until}.")
        if approvals:  # four-eyes: one admin has confirmed, a second must
            lines.append(f"<b>{len(approvals)} of 2 approvals</b> (by {escape(views.one_line(', '.join(approvals)))})")
    elif p.status in ("confirmed", "placed") and (p.result is None or p.result.kind == Kind.PLACING):
        lines.append("<b>placing…</b> the order is on its way to the exchange; this message shows the result")
    else:
        result = views.one_line(result_line(p, rules))  # may quote a name: never a line of its own
        if result.startswith(p.status):  # "filled: BUY …", "expired unanswered", "rejected by …"
            lines.append(f"<b>{escape(p.status)}</b>{escape(result[len(p.status):])}")
        else:
            lines.append(f"<b>{escape(p.status)}</b>: {escape(result)}")
    return "\n".join(lines)


def proposal_keyboard(signer: Signer, chat_id: int, proposal_id: int, instance: str) -> InlineKeyboardMarkup:
    arg = f"{proposal_id}.{instance}"
    return InlineKeyboardMarkup(
        [[button(signer, chat_id, "Confirm", "prop:confirm", arg), button(signer, chat_id, "Reject", "prop:reject", arg)]]
    )


async def deliver(app: Application, notice: ProposalPending | ProposalUpdated) -> None:
    """The notifier's renderer for proposal notices: post with buttons, or edit to the end."""
    engine = app.bot_data["engine"]
    signer: Signer = app.bot_data["signer"]
    p: Proposal = notice.proposal
    chat_id = engine.settings.notice_chat_id
    rules = await off_loop(engine.symbol_filters, p.symbol)
    if isinstance(notice, ProposalPending):
        html = proposal_html(p, rules)

        async def post(chat_id: int) -> Message:
            return await app.bot.send_message(
                chat_id, html, parse_mode=ParseMode.HTML, reply_markup=proposal_keyboard(signer, chat_id, p.id, engine.instance_id)
            )

        msg = await chats.to_notice_chat(app, post)
        _changed(app.bot_data, msg.chat_id, msg.message_id, html, True)
        await off_loop(engine.set_proposal_message, p.id, msg.chat_id, msg.message_id)
        return
    current = await off_loop(engine.proposal, p.id) or p
    html = proposal_html(current, rules)
    if current.message_id is None:
        await chats.to_notice_chat(app, lambda c: app.bot.send_message(c, html, parse_mode=ParseMode.HTML))
        return
    try:
        await _edit(app, current.chat_id or chat_id, current.message_id, current, rules)
    except ChatMigrated as e:  # posted in the group before it became a supergroup: show it anew there
        if not chats.consistent(current.chat_id or chat_id, e.new_chat_id):
            raise
        await chats.follow(app, current.chat_id or chat_id, e.new_chat_id)
        await app.bot.send_message(engine.settings.notice_chat_id, html, parse_mode=ParseMode.HTML)


async def _edit(app: Application, chat_id: int, message_id: int, p: Proposal, rules: SymbolFilters | None) -> None:
    html = proposal_html(p, rules)
    buttons = p.status == "pending"
    if not _changed(app.bot_data, chat_id, message_id, html, buttons):
        return
    markup = proposal_keyboard(app.bot_data["signer"], chat_id, p.id, app.bot_data["engine"].instance_id) if buttons else None
    try:
        await app.bot.edit_message_text(html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as e:
        if "not modified" not in str(e).lower():
            _forget(app.bot_data, chat_id, message_id)
            raise


@dataclass(frozen=True)
class ProposalPress:
    """A Confirm or Reject of one proposal, by whom and on which message: a chat button's
    press (`from_button`) or the dashboard's (`on_message`, the proposal's own message).
    Both go through press_confirm/press_reject below, so the page and the chat take the very
    same path (the engine's conditional update) and edit the message the same way."""

    engine: Any
    bot_data: dict[str, Any]
    signer: Signer
    chat_id: int
    message_id: int | None
    user_id: int | None
    who: str
    edit_text: Callable[[str, InlineKeyboardMarkup | None], Awaitable[object]]
    drop_buttons: Callable[[], Awaitable[object]]

    @property
    def message(self) -> tuple[int, int] | None:
        return (self.chat_id, self.message_id) if self.message_id is not None else None


def from_button(p) -> ProposalPress:  # type: ignore[no-untyped-def]
    """A press of the buttons under a message (bot.app.PressCtx)."""
    user = p.query.from_user
    message = p.query.message

    async def edit_text(html: str, markup: InlineKeyboardMarkup | None) -> object:
        return await p.query.edit_message_text(html, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def drop_buttons() -> object:
        return await p.query.edit_message_reply_markup(reply_markup=None)

    return ProposalPress(
        p.engine, p.context.bot_data, p.signer, message.chat.id if message is not None else p.chat_id,
        message.message_id if message is not None else None, p.user_id,
        views.who(user, p.user_id), edit_text, drop_buttons,
    )


def on_message(app: Application, chat_id: int, message_id: int | None, user_id: int, who: str) -> ProposalPress:
    """A press from outside the chat (the dashboard) on the proposal's own message."""

    async def edit_text(html: str, markup: InlineKeyboardMarkup | None) -> object:
        if message_id is None:
            return None
        return await app.bot.edit_message_text(
            html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=markup
        )

    async def drop_buttons() -> object:
        if message_id is None:
            return None
        return await app.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)

    bot_data = app.bot_data
    return ProposalPress(
        bot_data["engine"], bot_data, bot_data["signer"], chat_id, message_id, user_id, views.one_line(who), edit_text, drop_buttons
    )


def _proposal_id(arg: str) -> tuple[int, str] | None:
    """`<id>.<instance>`; a button from before instance ids (a bare number) is an older one."""
    pid, _, instance = arg.partition(".")
    return (int(pid), instance) if pid.isdigit() and len(pid) < 12 else None


async def _older(x: ProposalPress, audit: str) -> PressResult:
    """A button that is not its proposal's: say so and take the buttons off that message."""
    if x.message_id is not None:
        try:
            await x.drop_buttons()
        except BadRequest as e:
            if "not modified" not in str(e).lower():
                raise
    return PressResult(f"{audit}: refused (button of an older proposal)", OLDER, alert=True)


async def _answer(x: ProposalPress, outcome: Outcome, audit: str) -> PressResult:
    """Answer the press with what it did; edit the pressed message afterwards, and only when
    what it shows changed (a storm of presses on a filled proposal edits nothing)."""
    if outcome.stale_button:
        return await _older(x, audit.split(":")[0])
    shown = outcome.proposal
    rules = await off_loop(x.engine.symbol_filters, shown.symbol) if shown is not None else None
    # the alert says a position in the symbol's own decimals, as the message does
    result = PressResult(audit, outcome_line(outcome, rules)[:190], alert=not outcome.ok and not outcome.approvals)
    if shown is None or x.message_id is None:
        return result
    html = proposal_html(shown, rules, outcome.approvals)
    buttons = shown.status == "pending"
    message_id = x.message_id
    if not _changed(x.bot_data, x.chat_id, message_id, html, buttons):
        return result

    async def edit() -> None:
        markup = proposal_keyboard(x.signer, x.chat_id, shown.id, x.engine.instance_id) if buttons else None
        with urgent():
            try:
                await x.edit_text(html, markup)
            except BadRequest as e:
                if "not modified" not in str(e).lower():
                    _forget(x.bot_data, x.chat_id, message_id)
                    raise

    return replace(result, then=edit)


def _changed(bot_data: dict, chat_id: int, message_id: int, html: str, buttons: bool) -> bool:  # type: ignore[type-arg]
    """True (and remembered) when the message would show something new. Keyed by message;
    the signed button data changes with every render, so only whether there are buttons counts."""
    shown = bot_data.setdefault("proposal_rendered", {})
    key, value = (chat_id, message_id), (html, buttons)
    if shown.get(key) == value:
        return False
    shown[key] = value
    if len(shown) > 1000:  # old proposals' entries; a miss only costs one edit
        for old in list(shown)[:500]:
            shown.pop(old, None)
    return True


def _forget(bot_data: dict, chat_id: int, message_id: int) -> None:  # type: ignore[type-arg]
    bot_data.setdefault("proposal_rendered", {}).pop((chat_id, message_id), None)


PLACING_AFTER = 0.3  # s: a Confirm answered faster is shown only in its final state


async def _show_placing(x: ProposalPress, pid: int) -> None:
    """While the orders are in flight: "placing…", no buttons. Edited in the press's own
    coroutine, before its final edit, so the final state can never be overwritten by it."""
    current = await off_loop(x.engine.proposal, pid)
    if current is None or current.status not in ("confirmed", "placed") or x.message_id is None:
        return
    if current.message_id not in (None, x.message_id):  # not this proposal's message
        return
    html = proposal_html(current, await off_loop(x.engine.symbol_filters, current.symbol))
    if not _changed(x.bot_data, x.chat_id, x.message_id, html, False):
        return
    with urgent(), contextlib.suppress(BadRequest):
        await x.edit_text(html, None)


async def press_confirm(x: ProposalPress, pid: int, instance: str) -> PressResult:
    """Confirm #pid as `x.user_id` (an admin: the caller checked): the engine's conditional
    update decides; the result says what to answer and `then` edits the message."""
    if instance != x.engine.instance_id:
        return await _older(x, f"confirm #{pid}")
    placing = asyncio.ensure_future(off_loop(x.engine.confirm, pid, x.user_id, x.who, x.message))
    done, _ = await asyncio.wait({placing}, timeout=PLACING_AFTER)
    if not done:  # an exchange taking its time: say so on the message (buttons off) meanwhile
        await _show_placing(x, pid)
    outcome: Outcome = await placing
    audit = f"confirm #{pid}: " + (outcome.proposal.status if outcome.proposal else "unknown proposal")
    if outcome.approvals:
        audit = f"confirm #{pid}: approval {len(outcome.approvals)} of 2"
    elif not outcome.ok and outcome.proposal is not None and outcome.proposal.status in ("pending", "placed", "filled"):
        audit = f"confirm #{pid}: refused ({outcome_line(outcome)})"
    return await _answer(x, outcome, audit)


async def press_reject(x: ProposalPress, pid: int, instance: str) -> PressResult:
    if instance != x.engine.instance_id:
        return await _older(x, f"reject #{pid}")
    outcome: Outcome = await off_loop(x.engine.reject, pid, x.user_id, x.who, x.message)
    return await _answer(x, outcome, f"reject #{pid}: " + ("rejected" if outcome.ok else f"refused ({outcome_line(outcome)})"))


@button_action("prop:confirm", admin=True)
async def confirm(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    parsed = _proposal_id(arg)
    if parsed is None:
        return PressResult("refused: bad proposal id", "This button is not valid.", alert=True)
    return await press_confirm(from_button(p), *parsed)


@button_action("prop:reject", admin=True)
async def reject(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    parsed = _proposal_id(arg)
    if parsed is None:
        return PressResult("refused: bad proposal id", "This button is not valid.", alert=True)
    return await press_reject(from_button(p), *parsed)


EXPIRY_CHECK_SECONDS = 1.0  # PROPOSAL_TTL is checked this often, stream or no stream
DB_CHECK_SECONDS = 2.0  # DB_PATH still names the file the bot started on


def schedule_guards(jq: JobQueue, settings: Settings) -> None:
    """JobQueue jobs that run whether or not the stream does: proposals past PROPOSAL_TTL
    expire (and lose their buttons) after /stop too, and a database file deleted or
    replaced under the bot stops trading (engine.check_database)."""
    jq.run_repeating(_check_database, interval=DB_CHECK_SECONDS, first=DB_CHECK_SECONDS, name="database-check")
    if settings.confirm_orders or settings.four_eyes_notional is not None:
        jq.run_repeating(_expire_proposals, interval=EXPIRY_CHECK_SECONDS, first=EXPIRY_CHECK_SECONDS, name="proposal-expiry")


async def _check_database(context: ContextTypes.DEFAULT_TYPE) -> None:
    await off_loop(context.bot_data["engine"].check_database)


async def _expire_proposals(context: ContextTypes.DEFAULT_TYPE) -> None:
    await off_loop(context.bot_data["engine"].expire_proposals)
