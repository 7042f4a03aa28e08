"""`python -m sim`: the offline demo, the same as `python -m bot --demo`.

python -m sim [--script FILE] [--data CSV] [--speed SECONDS] [--exchange]
SYMBOLS and INTERVAL from the environment choose what generated candles are served; the
trading settings a trader tries out (STRATEGY, CONFIRM_ORDERS, PROPOSAL_TTL, …; docs/quickstart.md,
the offline demo) are honoured too. Credentials, TRADING_MODE and DB_PATH never are.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--script", metavar="FILE", help="run a scripted conversation instead of the terminal"
    )
    parser.add_argument(
        "--data",
        metavar="CSV",
        help="candles to replay (open_time_ms,open,high,low,close,volume; .gz ok)",
    )
    parser.add_argument(
        "--speed", type=float, default=0.5, help="seconds per replayed candle (default 0.5)"
    )
    parser.add_argument(
        "--exchange",
        action="store_true",
        help="trade on the replay exchange (TRADING_MODE=demo: exits resting, the user stream, "
        "/hand trades) instead of paper; DEMO_BROKER=exchange does the same",
    )
    args = parser.parse_args(argv)
    from sim.demo import start

    return start(args.script, args.data, args.speed, args.exchange)


if __name__ == "__main__":
    sys.exit(main())
