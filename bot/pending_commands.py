"""/pending: the open proposals, with one Reject-all button (admins).

The button carries the highest id the list showed, signed, so a proposal posted after the
list was sent is never rejected by a press on it. Each rejection is its own conditional
update (trading/live/proposals.py): a Confirm racing Reject all places at most once.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import views
from bot.buttons import PressResult, button, button_action
from bot.commands import Ctx, UsageError, command, off_loop
from bot.texts import proposal_size
from trading.core.symbols import SymbolFilters
from trading.live.service import Proposal


def pending_line(p: Proposal, rules: SymbolFilters | None = None) -> str:
    who = "the strategy" if p.source == "strategy" else f"user {p.requested_by}"
    until = "" if p.status != "pending" else (
        " · expires when the next candle closes" if p.expires_at is None else f" · expires {views.utc(p.expires_at, seconds=True)} UTC"
    )
    return f"#{p.id} {p.action} {p.symbol} {proposal_size(p, rules)} · {p.status} · by {who}{until}"


@command("pending", "the open proposals, with a Reject-all button", admin=True)
async def pending(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("/pending takes no arguments")
    props = await ctx.call(ctx.engine.open_proposals)
    if not props:
        ctx.outcome = "none"
        await ctx.reply("No open proposals.")
        return
    waiting = [p.id for p in props if p.status == "pending"]
    markup = None
    if waiting:
        label = f"✖️ Reject all ({len(waiting)})"
        markup = InlineKeyboardMarkup([[button(ctx.signer, ctx.chat_id, label, "prop:rejectall", str(max(waiting)))]])
    ctx.outcome = f"listed {len(props)}"
    rules = {s: await ctx.call(ctx.engine.symbol_filters, s) for s in {p.symbol for p in props}}
    lines = "\n".join(escape(pending_line(p, rules[p.symbol])) for p in props)
    await ctx.reply(f"<b>Open proposals ({len(props)})</b>\n{lines}", markup)


@button_action("prop:rejectall", admin=True)
async def reject_all(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    if not (arg.isdigit() and len(arg) < 12):
        return PressResult("refused: bad proposal id", "This button is not valid.", alert=True)
    who = views.who(p.query.from_user, p.user_id)
    done = await off_loop(p.engine.reject_all, int(arg), p.user_id, who)
    said = (
        f"Rejected by {who}: " + ", ".join(f"#{x.id}" for x in done)
        if done
        else "Nothing rejected: those proposals were no longer pending."
    )
    try:
        text = (p.query.message.text_html if p.query.message else "") or ""
        await p.query.edit_message_text(f"{text}\n<b>{escape(said)}</b>", parse_mode=ParseMode.HTML, reply_markup=None)
    except BadRequest as e:
        if "not modified" not in str(e).lower():
            raise
    ids = ",".join(str(x.id) for x in done)
    return PressResult(f"rejected {ids}" if done else "nothing to reject", said[:190])
