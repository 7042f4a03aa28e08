"""A strategy's own code, run so that nothing it raises stops the bot.

A plugin is the trader's Python: importing it, building its class and calling `populate`
may raise anything, SystemExit and KeyboardInterrupt included (`sys.exit()` in a file,
`lib2to3.__main__`). Each becomes one StrategyError line, which every caller already
says in the chat and the log; the bot goes on. A KeyboardInterrupt on the main thread may
be a real Ctrl-C, so it is left alone there (signals interrupt only the main thread).

It also runs in a decimal context of its own: the trader books money with Decimal in the
same thread, and a plugin (or a library it calls: ccxt's decimal_to_precision sets the
thread's rounding to ROUND_HALF_UP and traps Underflow, for good) must not change how the
book rounds a tie or make a tiny amount raise.
"""

from __future__ import annotations

import decimal
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StrategyError(ValueError):
    """One line for the chat and the log: the strategy could not decide; no order follows."""


def contained(what: str, fn: Callable[[], T]) -> T:
    """fn(), with whatever it raises (but a StrategyError, kept) as StrategyError(`what raised …`)."""
    try:
        with decimal.localcontext():  # whatever fn sets on the context ends with it
            return fn()
    except StrategyError:
        raise
    except KeyboardInterrupt:
        if threading.current_thread() is threading.main_thread():
            raise
        raise StrategyError(f"{what} raised KeyboardInterrupt") from None
    except BaseException as e:  # noqa: BLE001  a plugin must not stop the bot (SystemExit, …)
        raise StrategyError(f"{what} raised {type(e).__name__}: {str(e)[:160]}") from None
