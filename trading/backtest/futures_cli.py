"""The backtest CLI's futures options: slippage, funding, liquidation (with the settings'
fee, MAX_LEVERAGE and MAX_POSITION_NOTIONAL), turned into the run's `FuturesModel`.

Kept apart from __main__ so the single-run CLI stays readable. Funding rates come, in
order, from --funding FILE, the store (--db: fetched with the klines), or --funding-rate.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from trading.core.futures import (
    DEFAULT_BRACKETS,
    FundingRates,
    brackets_from_json,
    load_funding_csv,
)
from trading.core.futures_model import FuturesModel

MAX_SLIPPAGE_BPS = Decimal(1000)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("futures model")
    g.add_argument("--slippage-bps", metavar="N",
                   help="market fills N basis points worse; a stop at the worse of its level and the open, "
                        "then N worse (default: PAPER_SLIPPAGE_BPS)")
    g.add_argument("--funding", metavar="FILE", help="funding rates, CSV funding_time_ms,rate (.gz ok)")
    g.add_argument("--funding-rate", metavar="PCT",
                   help="a constant funding rate in %% per funding time (00/08/16 UTC), e.g. 0.01")
    g.add_argument("--no-liquidation", action="store_true", help="never liquidate (the old, unrealistic model)")
    g.add_argument("--exit-at-end", action="store_true",
                   help="close a position still open at the last candle's close (exit reason end), like freqtrade")


def _number(flag: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{flag}: {raw[:32]!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{flag} must be a finite number")
    return value


def futures_model(
    args: argparse.Namespace, settings: Any, symbol: str, db: str | None, fee_rate: Decimal
) -> tuple[FuturesModel, dict[str, str]]:
    """The run's futures model and `funding_source`/`brackets_source` (report words)."""
    slip = settings.paper_slippage_bps if args.slippage_bps is None else _number("--slippage-bps", args.slippage_bps)
    if not 0 <= slip <= MAX_SLIPPAGE_BPS:
        raise ValueError(f"--slippage-bps must be from 0 to {MAX_SLIPPAGE_BPS}")
    constant = None
    if args.funding_rate is not None:
        constant = _number("--funding-rate", args.funding_rate)
        if abs(constant) >= 100:
            raise ValueError("--funding-rate is a percentage per funding time, e.g. 0.01")
        constant /= 100
    rows, source = [], "none"
    if args.funding:
        rows, source = load_funding_csv(args.funding), f"{args.funding} ({{n}} rates)"
    elif db:
        from storage.db import open_db
        from storage.funding import FundingStore

        rows = FundingStore(open_db(db)).rates(symbol)
        if rows:
            source = "the store ({n} rates, fetched with the klines)"
    if rows:
        source = source.format(n=f"{len(rows):,}")
        if constant is not None:
            source += f", else {constant * 100:f} % per funding time"
    elif constant is not None:
        source = f"{constant * 100:f} % per funding time (constant)"
    funding = FundingRates.of(rows, constant) if rows or constant is not None else None
    brackets, bsource = None, "off (--no-liquidation)"
    if not args.no_liquidation:
        stored = None
        if db:
            from storage.db import open_db
            from storage.funding import FundingStore

            stored = FundingStore(open_db(db)).brackets(symbol)
        if stored:
            brackets, bsource = brackets_from_json({"brackets": stored}), "the store's leverage brackets"
        elif symbol in DEFAULT_BRACKETS:
            brackets, bsource = DEFAULT_BRACKETS[symbol], f"the default {symbol} brackets (trading/core/futures.py)"
        else:
            bsource = f"off: no leverage brackets for {symbol} (use --db with brackets fetched)"
    model = FuturesModel(fee_rate=fee_rate, slippage_bps=slip, max_leverage=settings.max_leverage,
                         max_notional=settings.max_position_notional, funding=funding,
                         brackets={symbol: brackets} if brackets else {})
    return model, dict(funding_source=source, brackets_source=bsource)
