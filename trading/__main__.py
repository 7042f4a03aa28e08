"""python -m trading: run the live stream headless, printing notices and closed candles.

For operators: the same stream, backfill and storage the bot uses, without Telegram
(configuration from the environment and .env, as for the bot).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from trading.config import ConfigError, load_settings
from trading.engine import Engine, StartRefused
from trading.notifier import Notice


class PrintNotifier:
    def notify(self, notice: Notice) -> None:
        print(notice.text, flush=True)


def main() -> int:
    try:
        settings = load_settings().with_overrides(notify_candles=True)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websocket").setLevel(logging.WARNING)
    engine = Engine(settings, PrintNotifier())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        engine.start()
    except StartRefused as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 2
    stop.wait()
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
