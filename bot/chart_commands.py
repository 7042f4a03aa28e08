"""/chart, /equity and the daily report: pictures drawn by trading/charts, posted from memory.

Drawing takes a few hundred milliseconds of CPU, so it always runs in a worker thread
(`ctx.call`): the bot keeps answering /status while a chart renders. The daily report is a
JobQueue job, so it runs whether or not the stream is started and is scheduled again on
every start of the bot.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from telegram.constants import ParseMode
from telegram.ext import ContextTypes, JobQueue

from bot import chats, views
from bot.commands import Ctx, UsageError, command, off_loop, parse_count
from trading.config import Settings
from trading.core.numbers import num, plural
from trading.live.service import Engine

log = logging.getLogger(__name__)

CHART_DEFAULT, CHART_MAX = 120, 500
CHART_USAGE = "/chart [n] [symbol]"
REPORT_JOB = "daily-report"
# Commands bot.app runs as tasks (PTB handles updates one at a time otherwise).
BACKGROUND = frozenset({"chart", "equity"})


def parse_chart_args(args: list[str], symbols: tuple[str, ...]) -> tuple[int, str]:
    """A count and a symbol in either order, each optional, as /klines takes them."""
    n: int | None = None
    symbol: str | None = None
    if len(args) > 2:
        raise UsageError(f"{CHART_USAGE}: at most a count and a symbol, got {len(args)} words")
    for arg in args:
        if arg.isascii() and arg.isdigit() and n is None:
            n = parse_count([arg], default=CHART_DEFAULT, maximum=CHART_MAX, usage=CHART_USAGE)
        elif arg.isascii() and arg.isalnum() and not arg.isdigit() and symbol is None:
            symbol = arg.upper()
        else:
            raise UsageError(
                f"{CHART_USAGE}: n must be a whole number from 1 to {CHART_MAX} and symbol one of "
                f"{', '.join(symbols)}; got {views.echo(arg)}"
            )
    return (CHART_DEFAULT if n is None else n), (symbol or symbols[0])


@command(
    "chart",
    f"candlestick chart of the last n candles (default {CHART_DEFAULT}, max {CHART_MAX}) with the "
    "strategy's lines, the bot's fills and the position: /chart 200, /chart ethusdt",
)
async def chart(ctx: Ctx) -> None:
    s = ctx.engine.settings
    n, symbol = parse_chart_args(ctx.args, s.symbols)
    try:
        png = await ctx.call(ctx.engine.chart, n, symbol)
    except ValueError:
        raise UsageError(
            f"{CHART_USAGE}: {views.echo(symbol)} is not streamed (SYMBOLS={', '.join(s.symbols)})"
        ) from None
    if png is None:
        await ctx.reply(f"No {escape(symbol)} candles stored yet; /start the stream and try again.")
        return
    await ctx.reply_photo(
        png, f"<b>{escape(symbol)} {escape(s.interval)}</b> · last {plural(n, 'candle')} · {escape(s.trading_mode)}"
    )


@command("equity", "equity curve with drawdowns and PnL per day, from the bot's fills")
async def equity(ctx: Ctx) -> None:
    report = await ctx.call(ctx.engine.equity_chart)
    if report is None:
        await ctx.reply(
            f"No fills yet: the equity is the starting {_usdt(ctx.engine.settings.paper_balance)} USDT. "
            "The curve appears after the first trade."
        )
        return
    await ctx.reply_photo(report.png, equity_caption(ctx.engine.settings.trading_mode, report, report.summary))


def equity_caption(mode: str, r: Any, s: Any) -> str:
    """`s`: /pnl all's summary of the report's instant, so the two say PnL with the same
    numbers and words, and equity = balance + unrealized in the caption itself."""
    return (
        f"<b>Equity · {escape(mode)}</b>\n"
        f"Balance {_usdt(r.balance)} USDT · equity {_usdt(r.equity)} USDT\n"
        + "\n".join(escape(line) for line in views.pnl_lines(s))
        + f"\n{plural(r.trades, 'closed trade')} · max drawdown {num(r.max_drawdown_pct, '.1f')}%"
    )


def report_caption(mode: str, r: Any) -> str:
    """The daily report: the day's trading first (what people read it for), then health."""
    s = r.summary
    up = r.uptime_seconds
    return (
        f"<b>Daily report · {r.day:%a %d %b %Y} (UTC) · {escape(mode)}</b>\n"
        f"{escape(views.realized_line(s))}\n"
        + "".join(f"{escape(line)}\n" for line in views.leg_lines(s))
        + f"Trades closed {s.trades:,} · fills {s.fills:,}\n"
        f"Balance {_usdt(r.balance)} USDT · equity {_usdt(r.equity_now)} USDT\n"
        f"Stream connected {int(up // 3600)}h{int(up % 3600 // 60):02d}m ({up / 864:.1f}% of the day) · "
        f"reconnects {r.reconnects}"
    )


async def post_daily_report(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue callback: yesterday (UTC) to the notice chat."""
    engine: Engine = context.bot_data["engine"]
    chat_id = engine.settings.notice_chat_id
    if chat_id is None:
        return
    report = await off_loop(engine.daily_report, _yesterday())
    caption = report_caption(engine.settings.trading_mode, report)
    png = report.equity.png if report.equity is not None else None

    async def post(chat: int) -> object:  # to the supergroup if the group moved meanwhile
        if png is not None:
            return await context.bot.send_photo(chat, png, caption=caption, parse_mode=ParseMode.HTML)
        return await context.bot.send_message(chat, caption + "\nNo fills yet, so no equity chart.", parse_mode=ParseMode.HTML)

    await chats.to_notice_chat(context.application, post)


def schedule_daily_report(jq: JobQueue, settings: Settings) -> None:
    """DAILY_REPORT=on: every day at REPORT_TIME UTC (APScheduler's cron trigger)."""
    if settings.daily_report:
        jq.run_daily(post_daily_report, time=settings.report_time.replace(tzinfo=UTC), name=REPORT_JOB)


def _yesterday() -> Any:
    return (datetime.now(UTC) - timedelta(days=1)).date()  # the UTC day before today


def _usdt(x: Decimal | float) -> str:
    return f"{Decimal(x).quantize(Decimal('0.01')):,}"


def _signed(x: Decimal | float) -> str:
    return f"{Decimal(x).quantize(Decimal('0.01')):+,}"
