"""Manual orders and the money commands: /long, /short, /close, /pnl, /trades, /balance.

Manual orders go through the same proposals as the strategy's: posted with Confirm and
Reject when CONFIRM_ORDERS=on, placed at once and reported when off.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from bot import views
from bot.commands import Ctx, UsageError, command
from bot.ratelimit import urgent
from bot.texts import leg_words, outcome_line
from trading.core.numbers import NumberError, looks_numeric, parse_decimal, parse_whole
from trading.core.pnl import PERIODS
from trading.live.service import Outcome, Proposal

TRADES_DEFAULT, TRADES_MAX = 10, 50
MAX_QTY = Decimal(10) ** 7  # base-asset units; the symbol's LOT_SIZE decides the real limit


def parse_order_args(args: list[str], usage: str) -> tuple[Decimal | None, str | None]:
    """[qty] [symbol] in either order; qty in the base asset (0.01 = 0.01 BTC)."""
    if len(args) > 2:
        raise UsageError(f"{usage}: at most a quantity and a symbol")
    qty: Decimal | None = None
    symbol: str | None = None
    for word in args:
        if not looks_numeric(word):
            if not word.isascii() or not word.isalnum() or len(word) > 20:
                raise UsageError(f"{usage}: {views.echo(word)} is neither a quantity nor a symbol")
            symbol = word.upper()
            continue
        try:
            value = parse_decimal(word)
        except NumberError as e:
            raise UsageError(f"{usage}: the quantity {e}") from None
        if value <= 0:
            raise UsageError(f"{usage}: the quantity must be a positive number, got {views.echo(word)}")
        if value > MAX_QTY:
            raise UsageError(f"{usage}: {views.echo(word)} is not a quantity anyone trades (in the base asset, e.g. 0.01)")
        if qty is not None:
            raise UsageError(f"{usage}: one quantity, got two")
        qty = value
    return qty, symbol


async def _order(ctx: Ctx, action: str, qty: Decimal | None, symbol: str | None, typed: str | None = None) -> None:
    try:
        result = await ctx.call(ctx.engine.propose_order, action, symbol, qty, ctx.user_id, typed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if isinstance(result, Proposal):
        ctx.outcome = f"proposed #{result.id}"
        return  # the proposal message (with its buttons) comes from the notifier
    assert isinstance(result, Outcome)
    line = outcome_line(result)
    ctx.outcome = ("placed: " if result.ok else "refused: ") + line
    with urgent():  # a refusal or an order placed at once goes before chatter
        await ctx.reply(("✅ " if result.ok else "⚠️ ") + escape(line))


@command("long", "propose a long: /long [qty] [symbol] (qty in the base asset; default: the strategy's stake)", admin=True)
async def long_(ctx: Ctx) -> None:
    await _order(ctx, "long", *parse_order_args(ctx.args, "/long [qty] [symbol]"))


@command("short", "propose a short: /short [qty] [symbol]", admin=True)
async def short(ctx: Ctx) -> None:
    await _order(ctx, "short", *parse_order_args(ctx.args, "/short [qty] [symbol]"))


@command("close", "propose closing a position: /close [long|short|all] [symbol] (long/short: one Hedge Mode leg)", admin=True)
async def close(ctx: Ctx) -> None:
    usage = "/close [long|short|all] [symbol]"
    if len(ctx.args) > 2:
        raise UsageError(f"{usage}: at most a leg (or all) and a symbol")
    leg, everything, symbol = "", False, None
    for word in ctx.args:
        low = word.lower()
        if low in ("long", "short", "all"):
            if leg or everything:
                raise UsageError(f"{usage}: one of long, short or all")
            leg, everything = (low, False) if low != "all" else ("", True)
        elif not word.isascii() or not word.isalnum() or len(word) > 20:
            raise UsageError(f"{usage}: {views.echo(word)} is neither long, short, all nor a symbol")
        else:
            symbol = word.upper()
    symbols = [symbol] if symbol else (list(ctx.engine.settings.symbols) if everything else [None])
    for one in symbols:  # each proposal quotes what was typed: /close all
        await _order(ctx, f"close {leg}".strip(), None, one, "/close all" if everything and not symbol else None)


@command("pnl", "realized and unrealized PnL, fees, trades, win rate: /pnl [today|7d|30d|all]")
async def pnl(ctx: Ctx) -> None:
    period = (ctx.args[0].lower() if ctx.args else "today")
    if len(ctx.args) > 1 or period not in PERIODS:
        raise UsageError(f"/pnl [{'|'.join(PERIODS)}]: got {views.echo(' '.join(ctx.args))}")
    s = await ctx.call(ctx.engine.pnl, period)
    since = "all time" if s.since_ms is None else f"since {views.utc(s.since_ms)} UTC"
    win = f"win rate {s.win_rate:.0f} %" if s.trades else "no trade closed yet"
    if not s.trades and period == "today" and s.since_ms is not None:  # the market's day turned since the last
        last = next((f for f, leg in reversed(await ctx.call(ctx.engine.recent_trades, 200))  # (a replay's: ~48 s)
                     if leg in ("close", "reduce", "reverse")), None)  # fmt: skip
        if last is not None:
            wider = next(p for p, days in (("7d", 7), ("30d", 30), ("all", 0))
                         if not days or last.time >= s.since_ms - (days - 1) * 86_400_000)  # fmt: skip
            w = await ctx.call(ctx.engine.pnl, wider)
            win = (f"none closed since {views.utc(s.since_ms)} UTC, the market's midnight; the last closed "
                   f"{views.utc(last.time)} UTC (/pnl {wider}: {w.trades} closed, net {w.realized.quantize(Decimal('0.01')):+} USDT)")
    await ctx.reply(
        f"<b>PnL · {escape(period)}</b> ({since})\n"
        + "\n".join(escape(line) for line in views.pnl_lines(s))
        + f"\nTrades closed: {s.trades} · {win}"
    )


@command("trades", "the last fills and other charges: /trades [n] (default 10, max 50)")
async def trades(ctx: Ctx) -> None:
    n = TRADES_DEFAULT
    if ctx.args:
        try:
            n = parse_whole(ctx.args[0]) if len(ctx.args) == 1 else 0
        except NumberError:
            n = 0
        if not 1 <= n <= TRADES_MAX:
            raise UsageError(f"/trades [n]: n must be from 1 to {TRADES_MAX}, got {views.echo(' '.join(ctx.args))}")
    legs = await ctx.call(ctx.engine.recent_trades, n)
    fills = [f for f, _ in legs]
    if not fills:
        await ctx.reply("No fills yet.")
        return
    rules = {s: await ctx.call(ctx.engine.symbol_filters, s) for s in {f.symbol for f in fills}}
    rows = []
    for f, leg in legs:  # the leg: what the fill did to the position (open, add, reduce, close, reverse)
        if leg == "charge":  # not a fill: an other charge (the clearance fee after a liquidation)
            rows.append(f"{views.utc(f.time)[5:]}  charge  {f.symbol} clearance fee {f.fee.quantize(Decimal('0.01'))} USDT")
            continue
        r = rules.get(f.symbol)
        qty, price = (r.fmt_qty(f.qty), r.fmt_price(f.price)) if r else (f"{f.qty:f}", f"{f.price:f}")
        rows.append(f"{views.utc(f.time)[5:]}  {leg:<7} {f.side:<4} {qty} {f.symbol}{leg_words(f)} @ {price}  fee {f.fee.quantize(Decimal('0.01'))} USDT")
    n_charges = sum(1 for _, leg in legs if leg == "charge")
    n_fills = len(fills) - n_charges
    title = f"Last {n_fills} fill{'s' if n_fills != 1 else ''}" + (
        f" and {n_charges} charge{'s' if n_charges != 1 else ''}" if n_charges else "")
    await ctx.reply(f"<b>{title}</b>\n<pre>{escape(chr(10).join(rows))}</pre>")


@command("balance", "wallet, equity and available margin")
async def balance(ctx: Ctx) -> None:
    w = await ctx.call(ctx.engine.wallet)
    await ctx.reply(views.wallet_html(w))
