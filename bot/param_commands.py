"""/params and /set: the strategy's parameters, read by anyone, changed by admins.

The schema in trading/ is the single source: names, types, ranges, help and cross-field
rules. /set validates the whole change first and applies all of it or nothing, from the
next closed candle; the engine stores each change with who and when.
"""

from __future__ import annotations

from html import escape

from bot.commands import Ctx, UsageError, command
from trading.core.strategies import ParamError
from trading.core.strategies.params import fmt_value, parse_assignments
from trading.live.service import ParamChange


@command("params", "strategy parameters: value, range, meaning")
async def params(ctx: Ctx) -> None:
    schema, values = await ctx.call(ctx.engine.params)
    name = ctx.engine.strategy
    if not schema.params:
        await ctx.reply(f"Strategy <b>{escape(name)}</b> has no parameters.")
        return
    cap = ctx.engine.settings.max_leverage  # the hard limit narrows what /set accepts
    rows = [
        (p.name, fmt_value(values[p.name]),
         p.range_text(min(p.maximum, cap)) if p.name == "leverage" else p.range_text(), p.help)
        for p in schema.params
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    table = "\n".join(f"{a.ljust(w0)} = {b.ljust(w1)}  {c.ljust(w2)}  {d}" for a, b, c, d in rows)
    await ctx.reply(
        f"<b>{escape(name)}</b> parameters\n<pre>{escape(table)}</pre>\n"
        f"Change with /set name=value … (admins); changes apply from the next closed candle. "
        f"leverage is capped by MAX_LEVERAGE ({cap})."
    )


@command("set", "change parameters, all or none: /set fast=9 slow=30", admin=True)
async def set_(ctx: Ctx) -> None:
    try:
        changes = parse_assignments(ctx.args)
        done: list[ParamChange] = await ctx.call(ctx.engine.set_params, changes, ctx.user_id)
    except ParamError as e:
        raise UsageError(f"/set: {e}; nothing changed") from None
    if not done:
        ctx.outcome = "unchanged"
        await ctx.reply("Nothing changed: " + ", ".join(f"{escape(n)} is already {escape(v)}" for n, v in changes.items()) + ".")
        return
    ctx.outcome = "changed " + " ".join(f"{c.name}={c.new}" for c in done)
    lines = [f"{escape(c.name)}: {escape(c.old)} → {escape(c.new)}" for c in done]
    await ctx.reply("Parameters changed (from the next closed candle):\n" + "\n".join(lines))
