"""The operator's switches: /pause and /resume (no new entries; exits keep running)."""

from __future__ import annotations

from bot import views
from bot.commands import Ctx, UsageError, command
from bot.texts import user_stream_line
from trading.core.pause import describe


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



# ---------------------------------------------------------------- /health, /version, /logs, /config
LOGS_DEFAULT, LOGS_MAX = 20, 200


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


@command("health", "stream, user stream, last candle, last order, clock offset, database size, uptime")
async def health(ctx: Ctx) -> None:
    h = await ctx.call(ctx.engine.health)
    s = h.stream
    if not s.running:
        stream = "🔴 stopped"
    else:
        state = "🟢 connected" if s.connected else "🟡 reconnecting"
        age = "no message yet" if s.last_message_age is None else f"last message {views.duration(s.last_message_age)} ago"
        stream = f"{state} · {age} · {s.reconnects} reconnect{'s' if s.reconnects != 1 else ''}"
    if h.last_candle_open is None:
        candle = "none stored"
    else:
        candle = f"{views.utc(h.last_candle_open)} UTC (open time)"
    if h.last_order is None:
        order = "none"
    else:
        o = h.last_order
        order = f"{views.utc(o['ts'], seconds=True)} UTC · {o['side']} {o['symbol']} · {o['status'] or '?'} ({o['client_order_id']})"
    offset = "n/a (not measured)" if h.clock_offset_ms is None else f"{h.clock_offset_ms:+} ms"
    if h.clock_offset_ms is not None and abs(h.clock_offset_ms) >= 1000:  # as /status says it
        offset += f" (Binance {views.clock_gap(h.clock_offset_ms)} this host)"
    await ctx.reply(
        "<b>Health</b>\n"
        f"Market stream: {views.escape(stream)}\n"
        f"User stream: {views.escape(user_stream_line(h.user_stream))}\n"
        f"Last candle: {views.escape(candle)}\n"
        f"Last order: {views.escape(order)}\n"
        f"Clock offset (exchange − bot): {views.escape(offset)}\n"
        f"Database: {_size(h.db_bytes)} ({views.escape(ctx.engine.settings.db_path)})\n"
        f"Uptime: {views.duration(h.uptime)}"
        + "".join("\n" + line for line in views.failing_html(h.trader))
    )


@command("version", "the bot's version and source commit")
async def version(ctx: Ctx) -> None:
    from trading.live.service import version as bot_version

    ver, commit = await ctx.call(bot_version)
    await ctx.reply(f"tgtrader {views.escape(ver)} · commit {views.escape(commit or 'unknown (not a git checkout)')}")


@command("logs", f"the last log lines, secrets masked: /logs [n] (default {LOGS_DEFAULT}, max {LOGS_MAX})", admin=True)
async def logs(ctx: Ctx) -> None:
    n = LOGS_DEFAULT
    if ctx.args:
        word = ctx.args[0]
        if len(ctx.args) > 1 or not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= LOGS_MAX:
            raise UsageError(f"/logs [n]: n must be a whole number from 1 to {LOGS_MAX}, got {views.echo(' '.join(ctx.args))}")
        n = int(word)
    ring = ctx.bot_data.get("logs")
    lines = ring.tail(n) if ring is not None else []
    ctx.outcome = f"sent {len(lines)} lines"
    if not lines:
        await ctx.reply("No log lines kept yet.")
        return
    await ctx.reply(f"<b>Last {len(lines)} log line{'s' if len(lines) != 1 else ''}</b>\n<pre>{views.escape(chr(10).join(lines))}</pre>")


@command("config", "the effective settings (secrets masked)")
async def config(ctx: Ctx) -> None:
    from trading.live.service import effective_settings
    from trading.logsafe import redact

    s = ctx.engine.settings
    secrets = [s.telegram_token, s.binance_api_key, s.binance_api_secret]
    rows = effective_settings(s)
    trading = ctx.engine.strategy
    if trading != s.strategy:  # /strategy chose another one: /config must not contradict /strategy
        rows = [(k, f"{v} (trading {trading}, chosen with /strategy)" if k == "STRATEGY" else v) for k, v in rows]
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"{k.ljust(width)}  {redact(v, secrets)}" for k, v in rows)
    await ctx.reply(f"<b>Settings in effect</b>\n<pre>{views.escape(body)}</pre>")
