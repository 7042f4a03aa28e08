"""The operator's switches: /pause and /resume (no new entries; exits keep running)."""

from __future__ import annotations

from bot import views
from bot.commands import Ctx, UsageError, command
from trading.pause import describe


@command("pause", "no new entries, strategy or manual (closes, stops and the stream keep running)", admin=True)
async def pause(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("/pause takes no arguments")
    if await ctx.call(ctx.engine.pause, "admin", ctx.user_id):
        ctx.outcome = "paused"
        await ctx.reply(
            "⏸ Paused: no new entries, strategy or manual. Closes, stop-losses, take-profits and the "
            "stream keep running. /resume allows entries again."
        )
    else:
        ctx.outcome = "already_paused"
        await ctx.reply("Already paused. /resume allows entries again.")


@command("resume", "allow new entries again after /pause", admin=True)
async def resume(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("/resume takes no arguments")
    changed = await ctx.call(ctx.engine.resume, "admin", ctx.user_id)
    left = await ctx.call(ctx.engine.paused_reasons)
    if left:
        ctx.outcome = f"still paused: {describe(left)}"
        lifted = "The /pause is lifted, but " if changed else ""
        await ctx.reply(f"{lifted}entries stay paused: {views.escape(views.pause_reasons(left))}.")
    elif changed:
        ctx.outcome = "resumed"
        await ctx.reply("▶️ Resumed: new entries allowed.")
    else:
        ctx.outcome = "not_paused"
        await ctx.reply("Not paused: new entries are allowed.")

