"""Run the Telegram trading bot, or its offline demo.

python -m bot [--demo [--script FILE] [--data CSV] [--speed SECONDS] [--exchange [--hedge-mode]]]
Without --demo: serve real Telegram (or TELEGRAM_BASE_URL) with the configuration from the
environment and .env. A configuration mistake stops it with one line naming the variable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trading.config import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="offline demo: replay exchange + local Bot API + terminal chat")
    parser.add_argument("--script", metavar="FILE", help="with --demo: run a scripted conversation instead of the terminal")
    parser.add_argument("--data", metavar="CSV", help="with --demo: candles to replay (open_time_ms,open,high,low,close,volume; .gz ok)")
    parser.add_argument("--speed", type=float, default=0.5, help="with --demo: seconds per replayed candle (default 0.5)")
    parser.add_argument("--exchange", action="store_true", help="with --demo: trade on the replay exchange (TRADING_MODE=demo) instead of paper; DEMO_BROKER=exchange does the same")
    parser.add_argument("--hedge-mode", action="store_true", help="with --demo --exchange: the replay account is in Hedge Mode (LONG and SHORT legs)")
    parser.add_argument("--env-file", default=".env", help="dotenv file to read (default .env)")
    args = parser.parse_args(argv)

    if args.demo:
        from sim.demo import start

        if args.hedge_mode and not args.exchange:
            parser.error("--hedge-mode goes with --demo --exchange")
        return start(args.script, args.data, args.speed, args.exchange, args.hedge_mode)
    if args.script or args.data or args.exchange or args.hedge_mode:
        parser.error("--script, --data, --exchange and --hedge-mode go with --demo")

    try:
        settings = load_settings(env_file=args.env_file)
        if not settings.telegram_token:
            raise ConfigError("TELEGRAM_TOKEN: required (create a bot with @BotFather; or try `make demo`)")
        from bot.access import Access

        Access.check_config(settings)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2

    from storage.guard import InstanceLocked, StorageUnusable, check_writable, hold_lock

    try:
        if Path(settings.db_path).is_dir():
            check_writable(settings.db_path)  # says "is a directory" before a lock is made beside it
        lock = hold_lock(settings.db_path)  # noqa: F841 (held until the process exits)
        check_writable(settings.db_path)
    except InstanceLocked as e:
        print(str(e), file=sys.stderr)
        return 2
    except StorageUnusable as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the lock file cannot be made beside the database
        print(f"config error: DB_PATH: cannot use {settings.db_path}: {e.strerror or e}", file=sys.stderr)
        return 2

    from bot.runner import run
    from trading.logsafe import redact, setup_logging

    secrets = [settings.telegram_token, settings.binance_api_key, settings.binance_api_secret]
    setup_logging(settings.log_level, secrets)
    from telegram.error import InvalidToken, NetworkError

    def say(line: str) -> None:
        print(redact(line, secrets), file=sys.stderr)

    try:
        run(settings)
    except ConfigError as e:  # found while building the engine (STRATEGY failing its check)
        from bot.texts import config_error  # the chat's words for STRATEGY failing its check

        say(f"config error: {config_error(e)}")
        return 2
    except InvalidToken:
        say("TELEGRAM_TOKEN: Telegram rejected the token (check it with @BotFather)")
        return 2
    except NetworkError as e:
        say(f"cannot reach Telegram at {settings.telegram_base_url}: {e}")
        return 1
    except Exception as e:  # the traceback went to the (redacted) log; never print it raw
        logging.getLogger("bot").exception("the bot stopped")
        say(f"the bot stopped: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
