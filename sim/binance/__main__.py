"""`python -m sim.binance`: run the replay exchange in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import sys
import urllib.error
import urllib.parse
import urllib.request

from sim.binance.data import load_csv
from sim.binance.server import ReplayExchange


class _DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: …)" only where the help does not already say what the default is
    and there is a default worth showing (not None, not a flag's False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if "default" in help_text or action.default in (None, False, argparse.SUPPRESS):
            return help_text
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sim.binance",
        description="Loopback Binance USDⓈ-M futures exchange replaying candles.",
        epilog="`python -m sim.binance control --help`: act on a running replay "
        "(a trade by hand, user-stream faults, ...).",
        formatter_class=_DefaultsOnceFormatter,
    )
    p.add_argument(
        "--data", help="CSV(.gz) with open_time_ms,open,high,low,close,volume; default: generated"
    )
    p.add_argument("--symbol", default="BTCUSDT", help="symbol the data is served as")
    p.add_argument("--interval", default=None, help="only for generated data (15m if not given)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (keep it on loopback)")
    p.add_argument("--port", type=int, default=8081, help="one port for REST and websocket")
    p.add_argument("--speed", type=float, default=0.2, metavar="SECONDS_PER_CANDLE",
                   help="wall-clock seconds per replayed candle")  # fmt: skip
    p.add_argument("--max-speed", action="store_true", help="replay as fast as clients read")
    p.add_argument("--start-index", type=int, default=500,
                   help="candles before this one are history (REST) when the clock starts")  # fmt: skip
    p.add_argument(
        "--updates-per-candle", type=int, default=4, help="x=false updates before the closed one"
    )
    p.add_argument(
        "--ping-interval", type=float, default=20.0, help="server ping frames every N seconds"
    )
    p.add_argument(
        "--api-key", default="replay-key", help="X-MBX-APIKEY the signed endpoints accept"
    )
    p.add_argument("--api-secret", default="replay-secret", help="HMAC secret for signed endpoints")
    p.add_argument("--clock-offset-ms", type=int, default=0, metavar="MS",
                   help="the exchange's clock runs MS ahead of this host (negative: behind); "
                        "signed requests on the host's clock outside recvWindow get -1021")  # fmt: skip
    p.add_argument("--hedge-mode", action="store_true",
                   help="the account starts in Hedge Mode (dual-side positions: LONG/SHORT legs; one-way orders get -4061/-1106)")  # fmt: skip
    p.add_argument("--multi-assets", action="store_true", help="the account starts in Multi-Assets margin mode")
    p.add_argument("--margin-type", choices=("CROSSED", "ISOLATED"), default="CROSSED",
                   help="every symbol's margin type at start")  # fmt: skip
    p.add_argument("--funding-rate", default="0.0001", help="funding rate paid at 00/08/16 UTC")
    p.add_argument("--funding-csv", metavar="FILE", help="funding_time_ms,rate rows instead of --funding-rate")
    p.add_argument("--fee-burn", action="store_true", help="BNB fee discount on (POST /fapi/v1/feeBurn switches it)")
    p.add_argument("--bnb-balance", default="0", help="BNB in the futures wallet at start")
    p.add_argument("--bnb-price", default=None, help="BNB price in USDT when BNBUSDT is not served (default 600)")
    p.add_argument("--listen-key-ttl", type=float, default=3600.0, help="seconds a listenKey lives without a keep-alive")
    p.add_argument("--report-every", type=int, default=0, metavar="CANDLES",
                   help="print a line every N closed candles (default: about every 5 s)")  # fmt: skip
    return p.parse_args(argv)


def control(argv: list[str]) -> int:
    """`python -m sim.binance control NAME [key=value ...] [--host H] [--port P]`: POST to a
    running replay's /_sim/NAME (e.g. `control trade close=true`, `control trade side=SELL
    quantity=0.01 source=android`) and print its answer."""
    p = argparse.ArgumentParser(prog="python -m sim.binance control", description=control.__doc__)
    p.add_argument("name", help="trade, user-stream/expire, user-stream/drop, user-stream/up, ...")
    p.add_argument("params", nargs="*", metavar="key=value")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    args = p.parse_args(argv)
    bad = [x for x in args.params if "=" not in x]
    if bad:
        print(f"replay control: {bad[0]!r} is not key=value", file=sys.stderr)
        return 2
    data = urllib.parse.urlencode(dict(x.split("=", 1) for x in args.params)).encode()
    url = f"http://{args.host}:{args.port}/_sim/{args.name}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as r:
            print(r.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(f"replay control: {e.code} {e.read().decode()}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"replay control: no replay at {url}: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["control"]:
        return control(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        candles = load_csv(args.data) if args.data else None
    except (OSError, ValueError) as e:
        print(f"replay: cannot use --data {args.data}: {e}", file=sys.stderr)
        return 2
    speed = 0.0 if args.max_speed else args.speed
    try:
        ex = ReplayExchange(
            candles,
            symbol=args.symbol,
            interval=args.interval,
            start_index=args.start_index,
            seconds_per_candle=speed,
            updates_per_candle=args.updates_per_candle,
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            api_secret=args.api_secret,
            ping_interval=args.ping_interval,
            clock_offset_ms=args.clock_offset_ms,
            margin_type=args.margin_type,
            funding_rate=args.funding_rate,
            funding_csv=args.funding_csv,
            fee_burn=args.fee_burn,
            bnb_balance=args.bnb_balance,
            bnb_price=args.bnb_price,
            listen_key_ttl=args.listen_key_ttl,
        )
        ex.start()
        ex.set_account_modes(hedge=args.hedge_mode, multi_assets=args.multi_assets)
    except (ValueError, RuntimeError, ArithmeticError, OSError) as e:
        print(f"replay: {e}", file=sys.stderr)
        return 2
    every = args.report_every or (max(1, round(5 / speed)) if speed else 1000)
    first = ex.current_index
    total = len(ex.candles)
    print(f"REST  {ex.rest_url}   (BINANCE_REST_URL)")
    print(f"WS    {ex.ws_url}   (BINANCE_WS_URL)")
    print(f"USER  {ex.user_ws_url}   (BINANCE_USER_WS_URL; listenKey at /fapi/v1/listenKey)")
    print(f"HAND  python -m sim.binance control trade close=true --port {ex.port}   (a trade from Binance's app)")
    print(f"{args.symbol} {ex.interval}: {total} candles, starting at #{first}; Ctrl-C stops")
    sys.stdout.flush()
    try:
        target = first
        while ex.current_index < total:
            target = min(total, target + every)
            while not ex.wait_for_index(target, timeout=1.0):
                pass
            i = ex.current_index
            when = dt.datetime.fromtimestamp(ex.candles[i - 1].open_time / 1000, dt.UTC)
            s = ex.stats
            print(
                f"closed #{i - 1} {when:%Y-%m-%d %H:%M} close {ex.candles[i - 1].close}  "
                f"connections {s.connections_open}  frames {s.frames_sent}",
                flush=True,
            )
        print("end of data; REST keeps answering. Ctrl-C stops.", flush=True)
        while True:
            ex.wait_until(lambda: False, timeout=3600)
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: the thread dies with us
            ex.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
