"""The /status message's buttons: Refresh for anyone, Start/Stop stream for admins."""

from __future__ import annotations

from dataclasses import replace

from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import views
from bot.buttons import PressResult, button_action, status_keyboard
from bot.commands import number_formats, off_loop
from bot.texts import start_refusal, switch_line
from trading.live.service import StartRefused, SwitchResult


async def show_status(p, result: PressResult) -> PressResult:  # type: ignore[no-untyped-def]
    """Edit the pressed message into the current status (every status button ends here),
    once the press has been answered."""

    async def edit() -> None:
        st = await off_loop(p.engine.status)
        formats = await number_formats(p.engine, st.symbols)
        try:
            await p.query.edit_message_text(
                views.status_html(st, formats),
                parse_mode=ParseMode.HTML,
                reply_markup=status_keyboard(p.signer, p.chat_id, st.stream.running),
            )
        except BadRequest as e:
            if "not modified" not in str(e).lower():
                raise

    return replace(result, then=edit)


@button_action("status:refresh")
async def refresh(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    return await show_status(p, PressResult("refreshed", "Updated."))


@button_action("stream:start", admin=True)
async def start_stream(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    try:
        started = await off_loop(p.engine.start)
    except StartRefused as e:
        why = start_refusal(e)
        return PressResult(f"refused: {why}", f"Cannot start: {why}"[:190], alert=True)
    result = PressResult("started", "Stream starting…") if started else PressResult("already_running", "Already running.")
    return await show_status(p, result)


@button_action("stream:stop", admin=True)
async def stop_stream(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    stopped = await off_loop(p.engine.stop)
    result = PressResult("stopped", "Stream stopped.") if stopped else PressResult("not_running", "Not running.")
    return await show_status(p, result)


@button_action("acct:oneway", admin=True)
async def switch_to_one_way(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
    """Offered by /start when the account is in Hedge Mode and holds nothing: switch it."""
    done = await off_loop(p.engine.switch_to_one_way, p.user_id)
    line = switch_line(done)
    ok = done.result in (SwitchResult.SWITCHED, SwitchResult.ALREADY)
    return PressResult("switched" if ok else f"refused: {line}", line[:190], alert=True)
