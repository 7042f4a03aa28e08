"""One async function per command: parse the arguments, ask the engine, format the reply.

Commands are registered with @command; the registry drives the handlers, /help and
setMyCommands, so the three can never disagree. Later features add commands here (or in
a sibling module imported by bot.app) the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot import buttons, views
from bot.texts import start_refusal
from trading.core.numbers import NumberError, parse_whole
from trading.live.service import Engine, StartRefused

log = logging.getLogger(__name__)

KLINES_DEFAULT, KLINES_MAX = 10, 50


T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Blocking engine calls (SQLite, REST, joining the stream thread) run off the event loop."""
    return await asyncio.to_thread(fn, *args)


class UsageError(ValueError):
    """Bad arguments; the message is the reply."""


@dataclass
class Ctx:
    """What a command needs, without the PTB plumbing.

    `outcome` is what the audit records for an admin command; a command sets it to the
    answer it gave (`started`, `already_running`, …) so the audit says what happened, not
    merely that the handler returned.
    """

    update: Update
    engine: Engine
    args: list[str]
    signer: buttons.Signer
    outcome: str = "ok"
    bot_data: dict[str, Any] = field(default_factory=dict)  # the Application's (e.g. "logs": /logs' ring)

    @property
    def chat_id(self) -> int:
        assert self.update.effective_chat is not None
        return self.update.effective_chat.id

    @property
    def user_id(self) -> int | None:
        user = self.update.effective_user
        return user.id if user else None

    async def reply(self, html: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
        message = self.update.effective_message
        assert message is not None
        sent = None
        chunks = views.split_html(html)
        for i, chunk in enumerate(chunks):
            sent = await message.reply_text(
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if i == len(chunks) - 1 else None,
                do_quote=False,
            )
        return sent

    async def reply_photo(
        self, png: bytes, caption_html: str = "", markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        """A PNG from memory (nothing written to disk); captions are cut to Telegram's 1,024."""
        message = self.update.effective_message
        assert message is not None
        return await message.reply_photo(
            png,
            caption=caption_html[:1024] or None,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            do_quote=False,
        )

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        return await off_loop(fn, *args)


Handler = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    admin: bool
    run: Handler
    admin_with_args: bool = False  # anyone may read (no arguments); changing it takes an admin

    def needs_admin(self, args: list[str]) -> bool:
        return self.admin or (self.admin_with_args and bool(args))


COMMANDS: list[Command] = []


def command(
    name: str, description: str, *, admin: bool = False, admin_with_args: bool = False
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS.append(Command(name, description, admin, fn, admin_with_args))
        return fn

    return register


# ---------------------------------------------------------------- control (admins)
@command("start", "start the live kline stream", admin=True)
async def start(ctx: Ctx) -> None:
    s = ctx.engine.settings
    try:
        started = await ctx.call(ctx.engine.start)
    except StartRefused as e:
        why = start_refusal(e)
        ctx.outcome = f"refused: {why}"
        offer = (
            InlineKeyboardMarkup([[buttons.button(ctx.signer, ctx.chat_id, "Switch to One-way Mode", "acct:oneway")]])
            if e.switchable else None
        )  # fmt: skip
        await ctx.reply(f"⚠️ cannot start: {views.escape(why)}", offer)
        return
    if started:
        ctx.outcome = "started"
        await ctx.reply(
            f"Starting the {views.escape(','.join(s.symbols))} {views.escape(s.interval)} stream "
            f"({views.escape(s.trading_mode)} mode)…"
        )
    else:
        ctx.outcome = "already_running"
        await ctx.reply("Already running. /status shows the stream; /stop stops it.")


@command("stop", "stop the live kline stream", admin=True)
async def stop(ctx: Ctx) -> None:
    if await ctx.call(ctx.engine.stop):
        ctx.outcome = "stopped"
        await ctx.reply("Stream stopped.")
    else:
        ctx.outcome = "not_running"
        await ctx.reply("Not running. /start starts the stream.")


# ---------------------------------------------------------------- read-only
@command("status", "stream state, last candle, position, pending confirmations")
async def status(ctx: Ctx) -> None:
    st = await ctx.call(ctx.engine.status)
    formats = await number_formats(ctx.engine, st.symbols)
    await ctx.reply(
        views.status_html(st, formats), buttons.status_keyboard(ctx.signer, ctx.chat_id, st.stream.running)
    )


KLINES_USAGE = "/klines [n] [symbol]"


@command(
    "klines",
    f"last n closed candles (default {KLINES_DEFAULT}, max {KLINES_MAX}) of a streamed symbol "
    "(default the first): /klines 5, /klines ethusdt 5",
)
async def klines(ctx: Ctx) -> None:
    n, symbol = parse_klines_args(ctx.args, ctx.engine.settings.symbols)
    try:
        candles = await ctx.call(ctx.engine.klines, n, symbol)
    except ValueError:
        streamed = ", ".join(ctx.engine.settings.symbols)
        raise UsageError(f"{KLINES_USAGE}: {views.echo(symbol)} is not streamed (SYMBOLS={streamed})") from None
    fmt = (await number_formats(ctx.engine, [symbol])).get(symbol)
    await ctx.reply(views.klines_html(symbol, ctx.engine.settings.interval, candles, fmt))


@command("help", "this list")
async def help_(ctx: Ctx) -> None:
    await ctx.reply(views.help_html((c.name, c.description, c.admin) for c in COMMANDS))


def parse_klines_args(args: list[str], symbols: tuple[str, ...]) -> tuple[int, str]:
    """A count and a symbol in either order, each optional: people type both orders."""
    n: int | None = None
    symbol: str | None = None
    if len(args) > 2:
        raise UsageError(f"{KLINES_USAGE}: at most a count and a symbol, got {len(args)} words")
    for arg in args:
        if arg.isascii() and arg.isdigit() and n is None:
            n = parse_count([arg], default=KLINES_DEFAULT, maximum=KLINES_MAX, usage=KLINES_USAGE)
        elif arg.isascii() and arg.isalnum() and not arg.isdigit() and symbol is None:
            symbol = arg.upper()
        else:
            raise UsageError(
                f"{KLINES_USAGE}: n must be a whole number from 1 to {KLINES_MAX} and symbol one of "
                f"{', '.join(symbols)}; got {views.echo(arg)}"
            )
    return (KLINES_DEFAULT if n is None else n), (symbol or symbols[0])


def parse_count(args: list[str], *, default: int, maximum: int, usage: str) -> int:
    if not args:
        return default
    try:
        n = parse_whole(args[0])  # plain ASCII digits only (trading/core/numbers.py)
    except NumberError:
        raise UsageError(
            f"{usage}: n must be a whole number from 1 to {maximum}, got {views.echo(args[0])}"
        ) from None
    if not 1 <= n <= maximum:
        raise UsageError(f"{usage}: n must be from 1 to {maximum}, got {views.echo(args[0])}")
    return n


# Symbols whose exchangeInfo could not be fetched, and when (per engine): asked again after
# this long, so an unreachable exchange does not slow every /status down with REST retries.
FORMAT_RETRY_SECONDS = 60.0
_format_misses: weakref.WeakKeyDictionary[Engine, dict[str, float]] = weakref.WeakKeyDictionary()


async def number_formats(engine: Engine, symbols: Iterable[str]) -> dict[str, views.NumberFormat]:
    """Each symbol's price/quantity format from its tick and step sizes; a symbol whose rules
    are unknown (exchange unreachable) is left out and prints plain numbers."""
    out: dict[str, views.NumberFormat] = {}
    misses = _format_misses.setdefault(engine, {})
    for symbol in symbols:
        now = time.monotonic()
        if symbol in misses and now - misses[symbol] < FORMAT_RETRY_SECONDS:
            continue
        f = await off_loop(engine.symbol_filters, symbol)
        if f is None:
            misses[symbol] = now
        else:
            misses.pop(symbol, None)
            out[symbol] = f
    return out
