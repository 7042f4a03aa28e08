"""/protections and /unlock (issue 29): the account protections as they stand, and lifting a
symbol's lock. The numbers come from the live service (trading/core/protections.py's view);
the words are here."""

from __future__ import annotations

from decimal import Decimal

from bot import views
from bot.commands import Ctx, UsageError, command

CENT = Decimal("0.01")


def _usdt(x: Decimal) -> str:
    return f"{x.quantize(CENT):,} USDT"


def _num(x: Decimal) -> str:
    return f"{x.normalize():f}"


def _at(v: object) -> str:
    """When the protections measured the account: at a candle's close, which is when they judge
    (so /pnl's figure a moment after a fill can differ, and says so)."""
    at = v.measured_at  # type: ignore[attr-defined]
    return "" if at is None else f" at the {views.utc(at)} UTC close"


def protections_html(v: object) -> str:  # a ProtectionsView
    r = v.rules  # type: ignore[attr-defined]
    lines = ["<b>Protections</b>"]
    halted = v.halted  # type: ignore[attr-defined]
    if r.daily_loss:
        limit = f"{_num(r.daily_loss)}% of the day-start wallet" if r.daily_loss_pct else _usdt(r.daily_loss)
        now = v.daily_net  # type: ignore[attr-defined]
        today = "not measured yet" if now is None else f"{now.quantize(CENT):+,} USDT{_at(v)}"
        cap = f" (-{_usdt(v.daily_limit)})" if r.daily_loss_pct and v.daily_limit is not None else ""  # type: ignore[attr-defined]
        state = " · ⛔ tripped: no new entries until the next UTC day or /resume" if "daily_loss" in halted else ""
        lines.append(f"Daily loss: MAX_DAILY_LOSS={views.escape(limit)}{cap}, action {r.daily_loss_action} · today's net {today}{state}")
    else:
        lines.append("Daily loss: off (MAX_DAILY_LOSS)")
    if r.max_drawdown_pct:
        dd = v.drawdown  # type: ignore[attr-defined]
        now = "not measured yet" if dd is None else f"{dd.quantize(CENT):f}%{_at(v)}"
        peak = f" from the peak {_usdt(v.peak)}" if v.peak is not None else ""  # type: ignore[attr-defined]
        state = " · ⛔ tripped: positions closed, no new entries until an admin's /resume" if "drawdown" in halted else ""
        lines.append(f"Drawdown: MAX_DRAWDOWN_PCT={_num(r.max_drawdown_pct)}% · now {now}{peak}{state}")
    else:
        lines.append("Drawdown: off (MAX_DRAWDOWN_PCT)")
    if r.stoploss_guard:
        n, w = r.stoploss_guard
        lines.append(f"Stop-loss guard: STOPLOSS_GUARD={n}/{w} (lock {r.guard_lock} candles)")
    else:
        lines.append("Stop-loss guard: off (STOPLOSS_GUARD)")
    lines.append(f"Cooldown: COOLDOWN_CANDLES={r.cooldown_candles}" if r.cooldown_candles else "Cooldown: off (COOLDOWN_CANDLES)")
    locks = v.locks  # type: ignore[attr-defined]
    if locks:
        for symbol, lk in locks.items():
            why = views.LOCK_REASONS.get(lk["why"], lk["why"])
            lines.append(f"🔒 {views.escape(symbol)}: no new entries until {views.utc(lk['until'])} UTC ({views.escape(why)}) · /unlock {views.escape(symbol)}")
    else:
        lines.append("Locks: none")
    return "\n".join(lines)


@command("protections", "the account protections: limits, today's net, the drawdown, active locks")
async def protections(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("/protections takes no arguments")
    view = await ctx.call(ctx.engine.protections)
    if view is None:
        await ctx.reply("No protection is on (MAX_DAILY_LOSS, MAX_DRAWDOWN_PCT, STOPLOSS_GUARD, COOLDOWN_CANDLES are all off).")
        return
    await ctx.reply(protections_html(view))


@command("unlock", "lift a protection's lock on a symbol: /unlock SYMBOL or /unlock all", admin=True)
async def unlock(ctx: Ctx) -> None:
    if len(ctx.args) != 1:
        raise UsageError("/unlock SYMBOL or /unlock all")
    word = ctx.args[0].upper()
    symbols = ctx.engine.settings.symbols
    if word != "ALL" and word not in symbols:
        raise UsageError(f"/unlock: {views.echo(ctx.args[0])} is not traded (SYMBOLS={','.join(symbols)}) and not 'all'")
    lifted = await ctx.call(ctx.engine.unlock, None if word == "ALL" else word, ctx.user_id)
    if lifted:
        ctx.outcome = "unlocked " + ", ".join(lifted)
        await ctx.reply(f"🔓 Unlocked: {views.escape(', '.join(lifted))}; new entries allowed there again.")
    else:
        ctx.outcome = "no active lock"
        await ctx.reply("No active lock" + ("" if word == "ALL" else f" on {views.escape(word)}") + ".")
