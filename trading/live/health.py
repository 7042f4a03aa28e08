"""/health, /version and /config: what an operator checks before trusting the bot.

Pure reads of what the engine already knows; anything not measured says "n/a" rather
than a guess (no user data stream yet, no clock offset measured in paper mode).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, fields
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading.core.snapshot import TraderSnapshot
from trading.exchange.stream import StreamStatus
from trading.exchange.user_stream import user_ws_base

SECRET_FIELDS = {"telegram_token", "binance_api_key", "binance_api_secret"}
ENV_NAMES = {"telegram_chat_ids": "TELEGRAM_CHAT_ID"}  # where the variable's name is not the field's


@dataclass(frozen=True)
class Health:
    stream: StreamStatus
    user_stream: UserStreamState  # the account stream's state (bot/texts.user_stream_line words it)
    last_candle_open: int | None  # ms, the newest closed candle of any symbol
    last_order: dict[str, Any] | None  # the newest order row (time, side, symbol, status)
    clock_offset_ms: int | None  # the exchange's clock minus ours, when measured
    db_bytes: int
    uptime: float  # seconds since the bot (its engine) started
    trader: TraderSnapshot | None = None  # the trader's read (a strategy failing on every candle)


def db_size(db_path: str) -> int:
    """The SQLite file plus its WAL and shared-memory files: what the disk holds."""
    return sum(os.path.getsize(p) for p in (db_path, db_path + "-wal", db_path + "-shm") if os.path.exists(p))


def version() -> tuple[str, str | None]:
    """(the installed package version, the git commit of the source if it is a checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as pkg_version

    try:
        ver = pkg_version("tgtrader")
    except PackageNotFoundError:
        ver = "unknown (not installed)"
    commit = os.environ.get("SOURCE_VERSION") or os.environ.get("GIT_COMMIT")  # set by some platforms
    if not commit:
        root = Path(__file__).resolve().parent.parent
        try:
            out = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=5, check=False,
            )
            commit = out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return ver, (commit[:12] if commit else None)


@dataclass(frozen=True)
class UserStreamState:
    """/health's account stream (demo/live): running, connected, events received; `exchange`
    False in paper mode, which has none (NoUserStream)."""

    exchange: bool
    running: bool = False
    connected: bool = False
    events: int = 0


def user_stream_state(stream: Any, exchange: bool) -> UserStreamState:
    if not exchange:
        return UserStreamState(False)
    return UserStreamState(True, bool(stream.running), bool(stream.connected), int(stream.events))


def _protection_rows(r: Any) -> list[tuple[str, str]]:
    def num(x: Decimal) -> str:
        return f"{x.normalize():f}"

    daily = "off" if not r.daily_loss else num(r.daily_loss) + ("%" if r.daily_loss_pct else "")
    guard = f"{r.stoploss_guard[0]}/{r.stoploss_guard[1]}" if r.stoploss_guard else "off"
    return [
        ("MAX_DAILY_LOSS", daily), ("DAILY_LOSS_ACTION", r.daily_loss_action),
        ("MAX_DRAWDOWN_PCT", num(r.max_drawdown_pct) if r.max_drawdown_pct else "off"),
        ("STOPLOSS_GUARD", guard), ("STOPLOSS_GUARD_LOCK", str(r.guard_lock) if r.stoploss_guard else "off"),
        ("COOLDOWN_CANDLES", str(r.cooldown_candles)),
    ]  # fmt: skip


def effective_settings(settings: Any) -> list[tuple[str, str]]:
    """Every setting as the bot uses it (NAME, value), secrets masked: set or not, never the value."""
    out = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "protections":  # one value in Settings, six variables in the environment
            out += _protection_rows(value)
            continue
        if f.name in SECRET_FIELDS:
            shown = "*** (set)" if value else "(not set)"
        elif f.name == "binance_user_ws_url" and not value:
            shown = f"{user_ws_base(settings)} (derived)"
        elif value is None:  # an optional limit left off (FOUR_EYES_NOTIONAL=off)
            shown = "off"
        elif isinstance(value, (tuple, frozenset, set)):
            shown = ",".join(str(x) for x in (sorted(value) if not isinstance(value, tuple) else value))
        elif isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, Decimal):
            shown = f"{value.normalize():f}"
        elif isinstance(value, dt_time):
            shown = value.strftime("%H:%M")
        elif isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = str(value)
        out.append((ENV_NAMES.get(f.name, f.name.upper()), shown))
    return out
