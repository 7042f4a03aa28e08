"""/backtest and /optimize: what-if from the chat, with an Apply button that goes through /set.

Both may fetch thousands of candles and run for seconds, so they run off the event loop
and report progress by editing one message (not a stream of new ones). Apply buttons carry
only a short key to a parameter set the engine remembers; pressing one is the same
validated, stored and audited change as typing /set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from html import escape
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.buttons import PressResult, button, button_action
from bot.commands import Ctx, UsageError, command, off_loop
from bot.texts import (
    backtest_chart_words,
    check_words,
    end_words,
    left_out_line,
    optimize_chart_words,
    param_refusal,
    period_words,
    stats_table,
    step_line,
)
from bot.views import echo
from trading.core.strategies import ParamError
from trading.core.strategies.check import CheckReport
from trading.core.strategies.params import parse_assignments
from trading.live.service import METRICS, GridError, LeftOut, ParamChange, Step, cell_label

DAYS_DEFAULT, DAYS_MAX = 30, 365
MAX_CELLS = 10_000  # the compiled grid (trading/optimize/kernel.py) answers these within the chat's patience
EDIT_EVERY = 1.0  # seconds between progress edits (Telegram allows about one a second per chat)
T = TypeVar("T")
BACKTEST_USAGE = "/backtest [days] [strategy=NAME] [name=value …]"
OPTIMIZE_USAGE = "/optimize name=a..b [name=a..b:step …] [days] [metric=net_pnl] [strategy=NAME]"


class Progress:
    """Edits one message from a worker thread, at most once a second, in order."""

    def __init__(self, message: Message, prefix: str) -> None:
        self.message, self.prefix = message, prefix
        self.loop = asyncio.get_running_loop()
        self.last_text, self.last_at = "", 0.0
        self.pending: list[asyncio.Future[object]] = []

    def say(self, step: Step) -> None:  # called in the worker thread
        text = step_line(step)
        now = time.monotonic()
        phase_change = text.split(" ")[0] != self.last_text.split(" ")[0]
        if text == self.last_text or (now - self.last_at < EDIT_EVERY and not phase_change):
            return
        self.last_text, self.last_at = text, now
        fut = asyncio.run_coroutine_threadsafe(self._edit(f"{self.prefix}: {escape(text)}"), self.loop)
        self.pending.append(asyncio.wrap_future(fut, loop=self.loop))

    async def _edit(self, html: str) -> None:
        with contextlib.suppress(BadRequest):
            await self.message.edit_text(html, parse_mode=ParseMode.HTML)

    async def done(self, html: str) -> None:
        """The last word: waits for the edits in flight, so none lands after it."""
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
        await self._edit(html)


def parse_days(word: str, usage: str) -> int:
    if not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= DAYS_MAX:
        raise UsageError(f"{usage}: days must be a whole number from 1 to {DAYS_MAX}, got {echo(word)}")
    return int(word)


def pop_strategy(args: list[str]) -> tuple[str | None, list[str]]:
    """`strategy=NAME` taken out of the words (a built-in name or a plugin spec)."""
    from trading.core.strategies import normalize_name

    found = [w for w in args if w.partition("=")[0].strip().lower() == "strategy"]
    if len(found) > 1:
        raise UsageError("strategy= is given twice")
    rest = [w for w in args if w not in found]
    return (normalize_name(found[0].partition("=")[2]) or None if found else None), rest


def parse_backtest_args(args: list[str]) -> tuple[int, dict[str, str]]:
    days: int | None = None
    words = []
    for word in args:
        if "=" in word:
            words.append(word)
        elif days is None:
            days = parse_days(word, BACKTEST_USAGE)
        else:
            raise UsageError(f"{BACKTEST_USAGE}: expected name=value, got {echo(word)}")
    try:
        changes = parse_assignments(words) if words else {}
    except ParamError as e:
        raise UsageError(f"{BACKTEST_USAGE}: {e}") from None
    return (DAYS_DEFAULT if days is None else days), changes


def parse_optimize_args(args: list[str]) -> tuple[list[str], int, str]:
    days: int | None = None
    metric = "net_pnl"
    grid: list[str] = []
    for word in args:
        name, sep, value = word.partition("=")
        if sep and name.strip().lower() == "metric":
            metric = value.strip().lower()
            if metric not in METRICS:
                raise UsageError(f"/optimize: metric must be one of {', '.join(METRICS)}; got {echo(value)}")
        elif sep:
            grid.append(word)
        elif days is None:
            days = parse_days(word, OPTIMIZE_USAGE)
        else:
            raise UsageError(f"{OPTIMIZE_USAGE}: expected name=a..b, got {echo(word)}")
    if not grid:
        raise UsageError(f"{OPTIMIZE_USAGE}: give at least one parameter range, e.g. fast=5..20 slow=20..60")
    return grid, (DAYS_DEFAULT if days is None else days), metric


def _check(ctx: Ctx, prefix: str, fn: Callable[..., object], *args: object) -> None:
    """Bad input is one line and nothing else: checked before any progress message is posted."""
    try:
        fn(*args)
    except (ParamError, GridError, ValueError) as e:
        raise UsageError(f"/{prefix.lower()}: {str(e)[:160]}") from None


async def _run(ctx: Ctx, prefix: str, fn: Callable[..., T], *args: object) -> tuple[T, Progress]:
    msg = await ctx.reply(f"{prefix}: starting…")
    assert msg is not None
    progress = Progress(msg, prefix)
    try:
        return await off_loop(fn, *args, progress.say), progress
    except (ParamError, GridError, ValueError) as e:
        await progress.done(f"{prefix}: stopped.")
        raise UsageError(f"/{prefix.lower()}: {str(e)[:160]}") from None
    except BaseException:
        await progress.done(f"{prefix}: failed.")
        raise


@command("backtest", "what-if: the current vs given parameters over the last days: /backtest 30 fast=9 slow=30",
         admin=True)
async def backtest(ctx: Ctx) -> None:
    strategy, words = pop_strategy(ctx.args)
    days, changes = parse_backtest_args(words)
    _check(ctx, "Backtest", ctx.engine.check_backtest, changes, strategy)
    run = functools.partial(ctx.engine.backtest, strategy=strategy)
    cmp, progress = await _run(ctx, "Backtest", run, days, changes)
    period = period_words(cmp.period, cmp.days)
    await progress.done(
        f"Backtest · {escape(cmp.symbol)} {escape(cmp.interval)} · {escape(period)}"
        f"\n<pre>{escape(stats_table(cmp))}</pre>" + _warnings(cmp.check, cmp.notes)
    )
    markup = None
    if cmp.key:
        label = " ".join(f"{k}={v}" for k, v in cmp.changes.items())
        markup = InlineKeyboardMarkup([[button(ctx.signer, ctx.chat_id, f"✅ Apply {label}"[:60], "params:apply",
                                               cmp.key)]])
    ctx.outcome = ("ran" + (f" strategy={cmp.strategy}" if cmp.strategy else "")
                   + (" " + " ".join(f"{k}={v}" for k, v in cmp.changes.items()) if cmp.changes else ""))
    # The chart says what it shows in the table's own words: the same window, the same net PnL and equity.
    shown = cmp.candidate or cmp.current
    column = "given" if cmp.candidate else "current"
    if cmp.check:  # a result the live bot would never trade: said in the picture's own words
        caption = f"Equity of {cmp.strategy}: it fails the look-ahead/window check, the live bot refuses it."
    elif cmp.strategy:
        caption = f"Equity of {cmp.strategy}; trade it with /strategy {cmp.strategy} (admins)."
    else:
        caption = "Equity with the " + column + " parameters."
    caption += f"\n{period} · {end_words(shown)}, the chart's last point (the table's {column} column)"
    caption += "".join(f"\n{left_out_line(note)}" for note in cmp.notes)
    png = await off_loop(ctx.engine.backtest_chart, cmp, *backtest_chart_words(cmp))
    await ctx.reply_photo(png, escape(caption), markup)


@command("optimize", "what-if over a grid, as a heatmap: /optimize fast=5..20 slow=20..60 [days] [metric=net_pnl]",
         admin=True)
async def optimize(ctx: Ctx) -> None:
    strategy, words = pop_strategy(ctx.args)
    grid, days, metric = parse_optimize_args(words)
    _check(ctx, "Optimize", ctx.engine.check_optimize, grid, MAX_CELLS, strategy)
    run = functools.partial(ctx.engine.optimize, max_cells=MAX_CELLS, strategy=strategy)
    opt, progress = await _run(ctx, "Optimize", run, grid, days, metric)
    result = opt.result
    from trading.live.service import best_table, summary_line

    if not result.ranked:
        await progress.done("Optimize: no valid combination (each breaks a rule, e.g. fast ≥ slow).")
        return
    m = METRICS[metric]
    await progress.done(
        f"Optimize · {escape(opt.symbol)} {escape(opt.interval)} · "
        f"{escape(period_words(opt.period, opt.days))} · best by {m.label}"
        + (" (lower is better)" if not m.higher_is_better else "")
        + f"\n<pre>{escape(best_table(result, 5))}</pre>\n{escape(summary_line(result))}"
        + _warnings(opt.check, opt.notes)
    )
    rows = [[button(ctx.signer, ctx.chat_id, f"✅ #{i} {cell_label(cell)}"[:60], "params:apply", key)]
            for i, (cell, key) in enumerate(zip(result.ranked, opt.keys, strict=False), 1)]
    ctx.outcome = f"ran {len(result.cells)} combinations" + (f" of {strategy}" if not opt.keys else "")
    png = await off_loop(ctx.engine.optimize_chart, opt, *optimize_chart_words(opt))
    notes = "".join(f"\n{left_out_line(note)}" for note in opt.notes)
    if opt.check:
        await ctx.reply_photo(png, escape(f"{strategy} fails the look-ahead/window check: the live bot refuses it." + notes))
        return
    if not opt.keys:  # another strategy: applying it is a switch, not a /set
        await ctx.reply_photo(png, escape(f"Switch to a cell with /strategy {strategy} name=value … (admins)." + notes))
        return
    await ctx.reply_photo(png, escape("Apply a best cell with its button (the same as /set; from the next closed "
                                      "candle)." + notes), InlineKeyboardMarkup(rows))


def _warnings(check: CheckReport | None, notes: list[LeftOut]) -> str:
    """Below the table: a failed check (the result is not what the live bot would trade) and
    what the run left out."""
    lines = [f"⚠️ {check_words(check)}; the live bot refuses this strategy (/strategy would be refused)"] if check else []
    return "".join(f"\n{escape(line)}" for line in lines + [f"⚠️ {left_out_line(n)}" for n in notes])


@button_action("params:apply", admin=True)
async def apply(p, key: str) -> PressResult:  # type: ignore[no-untyped-def]
    try:
        done: list[ParamChange] = await off_loop(p.engine.apply_candidate, key, p.user_id)
    except KeyError:
        return PressResult("refused: expired", "This set has expired; run /backtest or /optimize again.", alert=True)
    except ParamError as e:
        why = param_refusal(e)
        return PressResult(f"refused: {why}", f"Not applied: {why}"[:190], alert=True)
    if not done:
        return PressResult("unchanged", "Nothing changed: those are the current parameters.")
    changed = " ".join(f"{c.name}={c.new}" for c in done)
    lines = "\n".join(f"{escape(c.name)}: {escape(c.old)} → {escape(c.new)}" for c in done)
    with contextlib.suppress(Exception):
        await p.query.message.reply_text(f"Parameters changed (from the next closed candle):\n{lines}",
                                         do_quote=False)
    return PressResult(f"changed {changed}", "Applied.")
