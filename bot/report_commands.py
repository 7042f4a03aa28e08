"""Trading reports traders know from freqtrade: /daily, /weekly, /monthly, /performance.

Money columns are USDT in the ledger's words, the same as /pnl and /equity
(trading/core/ledger.py): gross (price PnL of what was closed, partial closes included),
fees, funding, other charges (a column only when there are any), net (gross − fees +
funding − charges: the wallet's change). Periods are UTC (weeks from Monday) and end at the
market's latest candle, like /pnl; "trades" counts whole trades closed; the open position is
/pnl's "unrealized".
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from bot import views
from bot.commands import Ctx, UsageError, command
from trading.core.pnl import PERIOD_UNITS, PeriodRow

CENT = Decimal("0.01")
LABEL = {"daily": "day", "weekly": "week from", "monthly": "month"}


def parse_n(ctx: Ctx, unit: str) -> int:
    default, top = PERIOD_UNITS[unit]
    if not ctx.args:
        return default
    word = ctx.args[0]
    if len(ctx.args) > 1 or not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= top:
        raise UsageError(f"/{unit} [n]: n must be a whole number from 1 to {top}, got {views.echo(' '.join(ctx.args))}")
    return int(word)


def money(x: Decimal, sign: bool = True) -> str:
    q = x.quantize(CENT)
    if not q:
        q = abs(q)  # never "-0.00"
    return f"{q:+,}" if sign else f"{q:,}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    )


def periods_html(unit: str, rows: list[PeriodRow]) -> str:
    fmt = {"daily": "%Y-%m-%d", "weekly": "%Y-%m-%d", "monthly": "%Y-%m"}[unit]
    charges = any(r.charges for r in rows)
    body = [
        (
            views.utc_fmt(r.start_ms, fmt), money(r.gross), money(r.fees, sign=False), money(r.funding),
            *((money(r.charges, sign=False),) if charges else ()), money(r.net),
            str(r.trades), f"{r.return_pct.quantize(CENT):+}" if r.net else "0.00",
        )
        for r in rows
    ]
    head = (LABEL[unit], "gross", "fees", "funding", *(("charges",) if charges else ()), "net", "trades", "return %")
    total = sum((r.net for r in rows), Decimal(0))
    n_trades = sum(r.trades for r in rows)
    return (
        f"<b>{unit.capitalize()} PnL</b> · last {len(rows)} UTC {LABEL[unit].split()[0]}{'s' if len(rows) != 1 else ''} "
        f"(USDT; net = gross − fees + funding{' − charges' if charges else ''}; "
        f"return = net ÷ the wallet at the period's start)\n"
        f"<pre>{escape(table(head, body))}</pre>\n"
        f"Total: net {money(total)} USDT over {n_trades} trade{'s' if n_trades != 1 else ''}"
    )


async def _periods(ctx: Ctx, unit: str) -> None:
    n = parse_n(ctx, unit)
    rows = await ctx.call(ctx.engine.pnl_periods, unit, n)
    await ctx.reply(periods_html(unit, rows))


@command("daily", f"PnL per UTC day: gross, fees, funding, net, trades, return (/daily [n], default {PERIOD_UNITS['daily'][0]})")
async def daily(ctx: Ctx) -> None:
    await _periods(ctx, "daily")


@command("weekly", f"PnL per UTC week from Monday (/weekly [n], default {PERIOD_UNITS['weekly'][0]})")
async def weekly(ctx: Ctx) -> None:
    await _periods(ctx, "weekly")


@command("monthly", f"PnL per UTC month (/monthly [n], default {PERIOD_UNITS['monthly'][0]})")
async def monthly(ctx: Ctx) -> None:
    await _periods(ctx, "monthly")


@command("performance", "PnL per symbol, all time: trades, wins, gross, fees, funding, net")
async def performance(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("/performance takes no arguments")
    perf = await ctx.call(ctx.engine.performance)
    if not perf:
        await ctx.reply("No trade closed yet.")
        return
    charges = any(p.charges for p in perf)
    body = [
        (p.symbol, str(p.trades), str(p.wins), money(p.gross), money(p.fees, sign=False), money(p.funding),
         *((money(p.charges, sign=False),) if charges else ()), money(p.net))
        for p in perf
    ]
    head = ("symbol", "trades", "wins", "gross", "fees", "funding", *(("charges",) if charges else ()), "net")
    await ctx.reply(f"<b>Performance</b> · all time (USDT; trades = whole trades closed)\n<pre>{escape(table(head, body))}</pre>")
