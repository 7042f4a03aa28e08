"""python -m trading: run the live stream headless, printing notices and closed candles.

For operators: the same stream, backfill and storage the bot uses, without Telegram
(configuration from the environment and .env, as for the bot). An operator tool should
say at once when it cannot work, so an exchange that cannot be reached at start ends the
run with one line; once streaming, drops are reconnected and backfilled as in the bot.

It prints each notice in the chat's own words, so it imports bot/texts.py (the one place the
core's typed events become sentences; it imports no Telegram): the one arrow from trading/
up to bot/, kept so an operator reads exactly what the group would.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from bot.texts import config_error, reason_line, start_refusal, text
from trading.config import ConfigError, Settings, load_settings
from trading.core.events import Event
from trading.core.reasons import Reason, What
from trading.exchange.rest import make_client
from trading.live.service import Engine, StartRefused

UNREACHABLE_HINT = "check the network and BINANCE_REST_URL; `python -m trading --data FILE` replays candles offline"


class PrintNotifier:
    """Prints each notice in the chat's own words (bot/texts.py: the one place they are written)."""

    def notify(self, event: Event) -> None:
        print(text(event), flush=True)


class Unreachable(RuntimeError):
    """The exchange did not answer; the message is a short reason."""


def unknown_symbols_or_fail(settings: Settings) -> list[str]:
    """One exchangeInfo call, no retries: either the exchange answers now or we say so."""
    try:
        info = make_client(settings).futures_exchange_info()
    except Exception as e:  # requests/urllib3/python-binance: all mean "not reachable now"
        status = getattr(e, "status_code", None)
        raise Unreachable(f"HTTP {status}" if status else type(e).__name__) from None
    listed = {s["symbol"] for s in info.get("symbols", []) if s.get("status", "TRADING") == "TRADING"}
    return [s for s in settings.symbols if s not in listed]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trading",
        description="Stream closed candles headless (no Telegram): backfill, store in SQLite, print.",
        epilog="Stop with Ctrl-C. Configuration: docs/configuration.md.",
    )
    parser.add_argument("--env-file", default=".env", metavar="FILE", help="dotenv file to read (default .env)")
    parser.add_argument(
        "--data",
        metavar="CSV",
        help="replay these candles (open_time_ms,open,high,low,close,volume; .gz ok) from a local "
        "replay exchange instead of Binance; SYMBOLS and INTERVAL follow the file",
    )
    parser.add_argument("--speed", type=float, default=0.5, help="with --data: seconds per candle (default 0.5; 0 = as fast as read)")
    parser.add_argument(
        "--db", metavar="FILE", help="SQLite file (default DB_PATH; with --data a temporary file, so replays never mix with real candles)"
    )
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error("--speed must be 0 or more seconds per candle")
    if args.data is None and args.speed != parser.get_default("speed"):
        parser.error("--speed goes with --data")
    return args


@contextlib.contextmanager
def replay(settings: Settings, data: str, speed: float, db: str | None) -> Iterator[Settings]:
    """A local replay exchange on `data`, and settings pointed at it."""
    from sim.binance import ReplayExchange, load_csv  # the offline world, only when asked for

    try:
        candles = load_csv(data)
    except (OSError, ValueError) as e:
        raise ConfigError(f"--data {data}: {e}") from None
    ex = ReplayExchange(candles, seconds_per_candle=speed).start()
    with tempfile.TemporaryDirectory(prefix="trading-replay-") as tmp:
        try:
            yield settings.with_overrides(
                binance_rest_url=ex.rest_url,
                binance_ws_url=ex.ws_url,
                symbols=(ex.symbol,),
                interval=ex.interval,
                db_path=db or str(Path(tmp) / "replay.sqlite"),
            )
        finally:
            ex.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(env_file=args.env_file).with_overrides(notify_candles=True)
        if args.db:
            settings = settings.with_overrides(db_path=args.db)
        with contextlib.ExitStack() as stack:
            if args.data:
                settings = stack.enter_context(replay(settings, args.data, args.speed, args.db))
            return run(settings)
    except ConfigError as e:  # STRATEGY failing its check is worded as the chat words it
        print(f"config error: {config_error(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(settings: Settings) -> int:
    from trading.logsafe import redact, setup_logging  # redaction only; no Telegram involved

    secrets = [settings.binance_api_key, settings.binance_api_secret]
    setup_logging(settings.log_level, secrets)

    def say(line: str) -> None:
        print(redact(line, secrets), file=sys.stderr)

    try:
        bad = unknown_symbols_or_fail(settings)
    except Unreachable as e:
        say(f"cannot reach the exchange at {settings.binance_rest_url} ({e}): {UNREACHABLE_HINT}")
        return 1
    if bad:
        say(reason_line(Reason(What.UNLISTED, text=settings.binance_rest_url, names=tuple(bad))))
        return 2
    engine = Engine(settings, PrintNotifier())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        engine.start()
    except StartRefused as e:
        say(f"cannot start: {start_refusal(e)}")
        return 2
    print(
        f"streaming {','.join(settings.symbols)} {settings.interval} from {settings.binance_ws_url} "
        f"into {settings.db_path}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    engine.close()
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
