"""python -m trading.backtest: what the live bot would have done on recorded candles.

    python -m trading.backtest --csv FILE [--param fast=9 …] [--trades-out trades.csv]
    python -m trading.backtest --db [PATH] [--symbol S --interval I --start D --end D]
    python -m trading.backtest --csv FILE --strategy path/to/mine.py:Mine --check   (look-ahead and window check)
    python -m trading.backtest --csv FILE --grid fast=5..20 --grid slow=20..60 [--metric net_pnl]
        [--grid stop_loss_pct=0..3:0.5] [--heatmap out.png]   (a sweep: trading/optimize/cli.py)

This entry point serves both research packages (the grid's part is trading/optimize/cli.py):
trading.optimize builds on trading.backtest, never the reverse, so only this file imports both.

Exit status: 0 done, 1 the check failed (--check), 2 bad arguments or data (one line on
stderr saying which). A DataFrame strategy is checked before every backtest too: a failure
is a warning on stderr (the backtest still runs; the live bot would refuse it).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from trading.backtest import (
    BacktestOptions,
    BacktestResult,
    futures_cli,
    run_backtest,
    split_warmup,
)
from trading.backtest.data import load_csv_candles, load_stored_candles
from trading.backtest.stats import exit_counts, traded_span
from trading.config import ConfigError, load_settings
from trading.core.candles import Candle
from trading.core.intervals import INTERVAL_MS
from trading.core.limits import stake_problem
from trading.core.strategies import STRATEGIES, ParamError, normalize_name, strategy_class
from trading.core.strategies.params import fmt_value, parse_assignments
from trading.optimize import cli as grid_cli
from trading.times import to_ms

TRADE_COLUMNS = ("open_time_ms", "close_time_ms", "side", "quantity", "entry_price", "exit_price", "fees", "funding",
                 "pnl", "exit_reason")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trading.backtest",
        description="Backtest a strategy with the live bot's own trader, paper broker and portfolio.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="candles: open_time_ms,open,high,low,close,volume (.gz ok)")
    src.add_argument("--db", metavar="PATH", nargs="?", const="", help="the bot's SQLite store (default: DB_PATH)")
    p.add_argument("--symbol", help="symbol (default: the first of SYMBOLS; a CSV is taken to be this symbol)")
    p.add_argument("--interval", help="interval (default: INTERVAL for --db; a CSV's own step)")
    p.add_argument("--start", help="first candle to trade (UTC date/time or ms); earlier ones only warm up")
    p.add_argument("--end", help="last candle to trade (UTC date/time or ms)")
    p.add_argument("--strategy", help=f"one of {', '.join(STRATEGIES)}, or path/to/file.py:ClassName "
                   "or package.module:ClassName (default: STRATEGY)")
    p.add_argument("--check", action="store_true",
                   help="only the look-ahead and window check of the strategy over the candles (exit 1 if it fails)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a strategy parameter; repeat")
    p.add_argument("--warmup", type=int,
                   help="candles that only warm the strategy; given, also the strategy's own warm-up "
                        "(it may decide from the next candle) (default: WARMUP_CANDLES)")
    p.add_argument("--balance", help="paper wallet in USDT (default: PAPER_BALANCE)")
    p.add_argument("--fee-pct", help="taker fee per side in %% (default: PAPER_FEE_PCT)")
    p.add_argument("--trades-out", metavar="FILE.csv", help="write one row per closed trade")
    p.add_argument("--env-file", default=".env", help="dotenv file for the defaults (default .env)")
    futures_cli.add_arguments(p)
    grid_cli.add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """The CLI; a reader that leaves early (`… | head -1`) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """fd 1 to /dev/null: what is still buffered for the reader that left is dropped at
    exit instead of raising BrokenPipeError again while flushing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _time(flag: str, raw: str) -> int:
    """A --start/--end value in ms; ValueError (exit 2, one line) for anything unreadable."""
    try:
        return to_ms(raw)
    except Exception:  # noqa: BLE001  python-binance's dateparser raises its own UnknownDateFormat
        raise ValueError(f"{flag}: cannot read {raw[:40]!r} as a UTC date/time (e.g. 2025-01-31 or "
                         "\"2025-01-31 12:00\") or ms") from None


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.grid:
            candles, options, _ = _load(args)
            print(grid_cli.run_grid(args, candles, options))
            return 0
        if args.check:
            # numpy and pandas: only to check; the check's words are the chat's (bot/texts.check_words)
            from bot.texts import check_words
            from trading.core.strategies.check import check_strategy

            candles, options, _ = _load(args)
            report = check_strategy(strategy_class(options.strategy), options.values, candles)
            print(check_words(report))
            return 0 if report.ok else 1
        result, warm, interval = _run(args)
    except (ConfigError, ParamError, ValueError, OSError) as e:
        print(f"backtest: {e}", file=sys.stderr)
        return 2
    print(_report(result, args, warm, interval))
    if args.trades_out:
        write_trades(result, args.trades_out)
        failed = getattr(args, "failed_check", None)
        print(f"trades written to {args.trades_out}"
              + (f" (NOT what the live bot would trade: {failed})" if failed else ""))
    return 0


def _load(args: argparse.Namespace) -> tuple[list[Candle], BacktestOptions, dict[str, Any]]:
    """The candles, the run's options (built once, from the flags and the settings) and the
    report's words about them (funding_source, brackets_source, strategy_default)."""
    settings = load_settings(env_file=args.env_file)
    symbol = (args.symbol or settings.symbols[0]).upper()
    if args.interval and args.interval not in INTERVAL_MS:
        raise ValueError(f"--interval: {args.interval!r} is not a Binance interval")
    strategy = normalize_name(args.strategy) if args.strategy else settings.strategy
    cls = strategy_class(strategy)
    values = cls.schema.validate({}, parse_assignments(args.param)) if args.param else None
    leverage = int((values or cls.schema.validate({}, {})).get("leverage", 1))
    if leverage > settings.max_leverage:
        raise ValueError(f"leverage {leverage} is above MAX_LEVERAGE {settings.max_leverage} "
                         "(the live bot would refuse its orders; raise MAX_LEVERAGE to test it)")
    problem = stake_problem(values or cls.schema.validate({}, {}), settings.max_position_notional)
    if problem:
        raise ValueError(problem)
    db = None
    if args.csv is not None:
        candles = load_csv_candles(args.csv, symbol=symbol, interval=args.interval)
    else:
        db = args.db or settings.db_path
        if not Path(db).is_file():
            raise ValueError(f"--db: no database at {db}")
        candles = load_stored_candles(db, symbol, args.interval or settings.interval)
    start = _time("--start", args.start) if args.start else None
    if args.end:
        end = _time("--end", args.end)
        candles = [c for c in candles if c.open_time <= end]
    if not candles:
        raise ValueError("no candles in that range")
    # Not given: WARMUP_CANDLES, or the strategy's own when it needs more (its startup_candles):
    # the header's "after N warm-up" is where trading really starts.
    warmup = args.warmup if args.warmup is not None else max(settings.warmup_candles, cls(values).warmup)
    if warmup < 0:
        raise ValueError("--warmup must be 0 or more")
    balance = _decimal("--balance", args.balance, settings.paper_balance)
    if balance <= 0:
        raise ValueError("--balance must be more than 0")
    fee_pct = _decimal("--fee-pct", args.fee_pct, settings.paper_fee_pct)
    if fee_pct > 5:
        raise ValueError("--fee-pct must be from 0 to 5")
    seen, warm = split_warmup(candles, warmup, start)
    if len(seen) == warm:  # nothing left to trade: say why, not an empty report
        if start is not None:
            raise ValueError(f"no candles to trade from {args.start[:32]}: the data ends {_utc(candles[-1].open_time)}")
        where = "in the file" if args.csv is not None else "stored"
        raise ValueError(f"--warmup {warmup} leaves no candle to trade ({len(candles):,} {where}"
                         f"{' up to --end' if args.end else ''})")
    model, sources = futures_cli.futures_model(args, settings, symbol, db, fee_pct / 100)
    options = BacktestOptions(strategy=strategy, values=values, warmup=warmup, start_ms=start, balance=balance,
                              strategy_warmup=args.warmup, exit_at_end=args.exit_at_end, model=model)
    return candles, options, dict(sources, strategy_default=cls(values).warmup)


def _run(args: argparse.Namespace) -> tuple[BacktestResult, int, str]:
    """The run, the warm-up candles before it and the interval."""
    candles, options, args.report = _load(args)
    if hasattr(strategy_class(options.strategy), "impl_cls"):  # a DataFrame strategy: check, warn, run
        from trading.core.strategies.check import check_strategy

        report = check_strategy(strategy_class(options.strategy), options.values, candles)
        if not report.ok:
            from bot.texts import check_words  # the check's words are the chat's

            print(f"warning: {check_words(report)}; the live bot refuses it", file=sys.stderr)
            args.failed_check = check_words(report)  # the report and the --trades-out line carry it too
    t0 = time.perf_counter()
    result = run_backtest(
        candles, options, progress=_progress_bar if sys.stderr.isatty() and len(candles) > 100_000 else None
    )
    result.seconds = time.perf_counter() - t0
    return result, split_warmup(candles, options.warmup, options.start_ms)[1], candles[0].interval


def _decimal(flag: str, raw: str | None, default: Decimal) -> Decimal:
    if raw is None:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{flag}: {raw[:32]!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{flag} must be a finite number ≥ 0")
    return value


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} candles", end=end, file=sys.stderr, flush=True)


def _report(result: BacktestResult, args: argparse.Namespace, warm: int, interval: str) -> str:
    t = result.trader
    params = " ".join(f"{k}={fmt_value(v)}" for k, v in t.values.items())
    head = [
        f"{t.strategy_name} on {next(iter(t.books))} {interval} · "
        f"{traded_span(result.times[0], result.times[-1], len(result.times), warm)}",
        f"parameters: {params}",
    ]
    failed = getattr(args, "failed_check", None)
    if failed:  # the numbers below are not a result the live bot could have: it refuses the strategy
        head.insert(0, f"⚠️ FAILED CHECK, the live bot refuses this strategy: {failed}")
    rep = getattr(args, "report", {})
    own = rep.get("strategy_default")
    if args.warmup is not None and own is not None and args.warmup < own:
        head.append(f"warm-up: {args.warmup:,} candles, fewer than {t.strategy_name}'s own {own:,}: "
                    f"it decides from candle {args.warmup + 1:,}")
    slip = result.trader.broker.slippage_bps if result.trader.broker is not None else 0  # type: ignore[attr-defined]
    head.append(f"model: funding {rep.get('funding_source', 'none')} · liquidation {rep.get('brackets_source', 'off')}"
                f" · slippage {slip:f} bps" + (" · exit at end" if args.exit_at_end else ""))
    rows = [*result.stats.rows(), ("exits", exit_counts(result.trades))]  # how each trade ended (issue 29)
    width = max(len(k) for k, _ in rows)
    body = [f"  {k.ljust(width)}  {v}" for k, v in rows]
    tail = [f"({result.seconds:.2f}s)"]
    return "\n".join(head + body + tail)


def write_trades(result: BacktestResult, path: str) -> None:
    """One row per closed trade; times are the fill candles' open times, pnl net of both fees
    with funding (+ received, − paid) included; exit_reason says what closed it."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(TRADE_COLUMNS)
        for tr in result.trades:
            w.writerow(
                (tr.open_time, tr.close_time, tr.side, f"{tr.qty:f}", f"{tr.entry_price:f}",
                 f"{tr.exit_price:f}", f"{tr.fees:f}", f"{tr.funding:f}", f"{tr.pnl:f}", tr.exit_reason)
            )


def _utc(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


if __name__ == "__main__":
    sys.exit(main())
