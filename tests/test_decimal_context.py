"""issue 26 (the cent of gross): the money's rounding does not depend on whoever ran last.

Decimal rounds by the thread's context. ccxt's decimal_to_precision sets that context's
rounding to ROUND_HALF_UP (and traps Underflow) for good. In the suite, the conformance
tests run ccxt on the main thread; a later test's own rounding of a tie (a gross of 0.605)
then said 0.61 while the bot, on its own thread, said 0.60: the /pnl check failed "under
load", i.e. whenever the replay's timing made the trade's gross end in a half cent. In the
product the same thing would happen to the book if a plugin (or a library it calls) did it
on the trader's thread: a plugin's code now runs in a decimal context of its own.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TRUNCATE, decimal_to_precision

from tests.test_frame_strategy import write_plugin
from trading.core.candles import Candle
from trading.core.strategies import make_strategy

CENT = Decimal("0.01")

SETS_THE_CONTEXT = '''
import decimal
from trading.core.strategies import FrameStrategy, Schema, Strategy


def like_ccxt():
    decimal.getcontext().rounding = decimal.ROUND_HALF_UP
    decimal.getcontext().traps[decimal.Underflow] = True


like_ccxt()  # at import, too


class Frame(FrameStrategy):
    schema = Schema(())
    startup_candles = 2

    def populate(self, df, params):
        like_ccxt()
        for col in ("enter_long", "exit_long", "enter_short", "exit_short"):
            df[col] = False
        return df


class Incremental(Strategy):
    schema = Schema(())

    def on_candle(self, candle, position):
        like_ccxt()
        return None
'''


def default_rounding() -> bool:
    ctx = decimal.getcontext()
    return ctx.rounding == ROUND_HALF_EVEN and not ctx.traps[decimal.Underflow] and Decimal("0.605").quantize(CENT) == Decimal("0.60")


def candles(n: int) -> list[Candle]:
    return [Candle("BTCUSDT", "1m", i * 60_000, i * 60_000 + 59_999, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0)
            for i in range(n)]  # fmt: skip


def test_a_plugin_that_sets_the_decimal_context_leaves_the_traders_alone(tmp_path) -> None:
    spec = write_plugin(tmp_path, SETS_THE_CONTEXT, "sets.py")
    assert default_rounding()
    for name in ("Frame", "Incremental"):  # imported, built, warmed, asked on every candle
        s = make_strategy(f"{spec}:{name}")
        assert default_rounding(), name
        for c in candles(6):
            s.on_candle(c, 0)
            assert default_rounding(), name


def test_ccxt_sets_the_main_threads_rounding_for_good() -> None:
    """What the conformance tests do to the main thread (the next test proves it is undone)."""
    decimal_to_precision("1.2345", TRUNCATE, 2, DECIMAL_PLACES)
    assert decimal.getcontext().rounding == ROUND_HALF_UP


def test_each_test_starts_with_the_default_decimal_context() -> None:
    assert default_rounding()
