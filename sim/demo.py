"""The offline demo: replay exchange + local Bot API + the real bot + a terminal chat.

Nothing here is special-cased in the bot: it gets a configuration whose URLs point at the
two loopback servers, exactly as a user would set BINANCE_REST_URL, BINANCE_WS_URL and
TELEGRAM_BASE_URL by hand.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from bot.app import RateLimits
from bot.logsafe import setup_logging
from bot.runner import BotThread
from sim.binance import ReplayExchange, load_csv
from sim.telegram.console import run_console, run_script
from sim.telegram.local_api import LocalBotApi
from trading.config import load_settings

DEMO_DIR = Path("demo")
DEMO_CHAT = -1001234567890
DEMO_ADMIN = 111111
DEMO_GUEST = 222222
# The local Bot API has no flood control of its own; keep the bot's limiter but let the
# demo group talk faster than Telegram's 20 messages a minute.
DEMO_LIMITS = RateLimits(overall_per_second=100, group_per_minute=600, max_retries=3)

BANNER = """\
Offline demo: a replay exchange is serving {source}, {interval} candles, {pace}
and a local Telegram Bot API is in front of this terminal. You are user {admin} (an admin)
in the group "Demo traders" ({chat}).

Try:  /start   /status   /klines 5   /help   /stop
      press a button by typing its number; /as {guest} to speak as a non-admin, /as {admin} to switch back
      /quit (or Ctrl-D) to leave.   Photos are saved under demo/.
"""


def demo_settings(ex: ReplayExchange, api: LocalBotApi, db_path: Path, interval: str):  # type: ignore[no-untyped-def]
    return load_settings(
        environ={
            "TELEGRAM_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "TELEGRAM_CHAT_ID": str(DEMO_CHAT),
            "TELEGRAM_ADMIN_IDS": str(DEMO_ADMIN),
            "TRADING_MODE": "paper",
            "BINANCE_REST_URL": ex.rest_url,
            "BINANCE_WS_URL": ex.ws_url,
            "SYMBOLS": ex.symbol,
            "INTERVAL": interval,
            "DB_PATH": str(db_path),
            "LOG_LEVEL": "WARNING",
            "STREAM_STALE_SECONDS": "10",
        },
        env_file=None,
    )


class DemoError(RuntimeError):
    """A demo option is wrong; the message is the one line shown."""


def run_demo(*, script: str | None = None, data: str | None = None, speed: float = 0.5) -> int:
    setup_logging("WARNING", [])
    logging.getLogger("bot").setLevel(logging.WARNING)
    DEMO_DIR.mkdir(exist_ok=True)
    db_path = DEMO_DIR / "demo.sqlite"
    for suffix in ("", "-wal", "-shm"):  # every demo starts from an empty database
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    photos = DEMO_DIR / "photos"
    shutil.rmtree(photos, ignore_errors=True)

    try:
        candles = load_csv(data) if data else None
    except (OSError, ValueError) as e:
        raise DemoError(f"cannot replay --data {data}: {e}") from None
    ex = ReplayExchange(candles, seconds_per_candle=speed, interval=None if candles else "15m").start()
    api = LocalBotApi().start()
    api.add_chat(DEMO_CHAT, "supergroup", "Demo traders")
    interval = ex.interval
    settings = demo_settings(ex, api, db_path, interval)
    bot = BotThread(settings, rate_limits=DEMO_LIMITS, poll_timeout=2, feed_check_seconds=2.0)
    try:
        bot.start()
        if script:
            lines = Path(script).read_text(encoding="utf-8").splitlines()
            return 0 if _run_script(api, lines) else 1
        print(
            BANNER.format(
                source=Path(data).name if data else "generated candles (make demo DATA=file.csv.gz replays real ones)",
                interval=interval,
                pace=f"one every {speed:g}s" if speed > 0 else "as fast as the bot reads them",
                admin=DEMO_ADMIN,
                guest=DEMO_GUEST,
                chat=DEMO_CHAT,
            )
        )
        run_console(api, DEMO_CHAT, DEMO_ADMIN, photo_dir=str(photos))
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        bot.stop()
        api.stop()
        ex.stop()


def _run_script(api: LocalBotApi, lines: list[str]) -> bool:
    """Prints the transcript as it goes; False when a reply did not come in time."""
    return run_script(api, lines, DEMO_CHAT, DEMO_ADMIN, out=sys.stdout).ok
