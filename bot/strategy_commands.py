"""/strategy: which strategy trades and which could; admins switch with /strategy NAME.

A switch is validated whole (the name loads, every name=value against the new schema,
MAX_LEVERAGE), checked for look-ahead and a short window, stored with who and when, and
applied from the next closed candle; the open position stays and the new strategy
manages it. Everything said here is what the service did (trading/live/params.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from html import escape
from pathlib import Path
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.backtest_commands import EDIT_EVERY
from bot.commands import Ctx, UsageError, command
from bot.texts import param_refusal, strategy_summary
from bot.views import failing_html
from trading.core.strategies import ParamError
from trading.core.strategies.params import fmt_value, parse_assignments
from trading.live.service import available

USAGE = "/strategy [NAME [name=value …]]"


def _values(values: dict[str, int | float]) -> str:
    return " ".join(f"{k}={fmt_value(v)}" for k, v in values.items()) or "no parameters"


@command("strategy", "the strategy and the available ones; admins switch: /strategy rsi_reversion low=25",
         admin_with_args=True)
async def strategy(ctx: Ctx) -> None:
    if not ctx.args:
        await _show(ctx)
        return
    name, words = ctx.args[0], ctx.args[1:]
    if "=" in name:
        raise UsageError(f"{USAGE}: the strategy's name comes first")
    progress = CheckProgress(ctx, name)
    try:
        changes = parse_assignments(words) if words else {}
        sw = await ctx.call(ctx.engine.switch_strategy, name, changes, ctx.user_id, progress.say)
    except ParamError as e:
        raise UsageError(f"/strategy: {param_refusal(e)[:300]}; nothing changed") from None
    finally:
        await progress.settled()
    ctx.outcome = f"switched {sw.old} → {sw.new}" + (" " + _values({k: sw.values[k] for k in changes}) if changes else "")
    held = (
        f"The open position stays ({escape(', '.join(f'{p.symbol} {p.side} {p.qty.normalize():f}' for p in sw.positions))}); "
        f"{escape(sw.new)} manages it from then."
        if sw.positions else "No position is open."
    )
    await ctx.reply(
        f"Strategy: {escape(sw.old)} → <b>{escape(sw.new)}</b>, from the next closed candle (check passed).\n"
        f"<pre>{escape(_values(sw.values))}</pre>\n{held}"
    )


class CheckProgress:
    """The switch's look-ahead check, off the event loop, in one message: posted at its first
    step, edited at most once a second (the last step always), in order."""

    def __init__(self, ctx: Ctx, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.loop = asyncio.get_running_loop()
        self.message: Any = None
        self.last = 0.0
        self.pending: list[asyncio.Future[None]] = []
        self._order = asyncio.Lock()

    def say(self, done: int, planned: int) -> None:  # on the worker thread
        now = time.monotonic()
        if done < planned and now - self.last < EDIT_EVERY:
            return
        self.last = now
        line = f"/strategy {self.name[:80]}: checking for look-ahead, {done} of {planned} end candles compared"
        fut = asyncio.run_coroutine_threadsafe(self._show(escape(line)), self.loop)
        self.pending.append(asyncio.wrap_future(fut, loop=self.loop))

    async def _show(self, html: str) -> None:
        async with self._order:
            if self.message is None:
                self.message = await self.ctx.reply(html)
            else:
                with contextlib.suppress(BadRequest):
                    await self.message.edit_text(html, parse_mode=ParseMode.HTML)

    async def settled(self) -> None:
        """Every step shown before the answer."""
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


async def _show(ctx: Ctx) -> None:
    schema, values = await ctx.call(ctx.engine.params)
    current = ctx.engine.strategy
    status = await ctx.call(ctx.engine.status)
    lines = [f"Strategy: <b>{escape(current)}</b> · {escape(_values(values))}", *failing_html(status.trader), "Available:"]
    folder = ctx.engine.settings.strategy_dir
    shown = await ctx.call(available, folder)
    def spec(name: str) -> str:  # what a chat name stands for (trading.core.strategies.chat_strategy)
        return str(Path(folder) / name) if ":" in name else name

    for name, plugin in shown:
        mark = "✓ " if spec(name) == current else ""
        lines.append(f"• {mark}<code>{escape(name)}</code>: {escape(strategy_summary(name, plugin))}")
    if ":" in current and not any(spec(name) == current for name, _ in shown):
        lines.append(f"• ✓ <code>{escape(current)}</code>: a plugin (STRATEGY)")
    lines.append(f"• <code>file.py:ClassName</code>: your own, a file in STRATEGY_DIR ({escape(folder)}); "
                 "docs/strategies.md, \"Write your own strategy\"")
    lines.append("Switch (admins): /strategy NAME [name=value …], from the next closed candle; "
                 "/backtest strategy=NAME first.")
    await ctx.reply("\n".join(lines))
