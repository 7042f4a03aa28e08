"""A strategy's own code, run so that nothing it raises stops the bot.

A plugin is the trader's Python: importing it, building its class and calling `populate`
may raise anything, SystemExit and KeyboardInterrupt included (`sys.exit()` in a file,
`lib2to3.__main__`). Each becomes one StrategyError line, which every caller already
says in the chat and the log; the bot goes on. A KeyboardInterrupt on the main thread may
be a real Ctrl-C, so it is left alone there (signals interrupt only the main thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StrategyError(ValueError):
    """One line for the chat and the log: the strategy could not decide; no order follows."""


def contained(what: str, fn: Callable[[], T]) -> T:
    """fn(), with whatever it raises (but a StrategyError, kept) as StrategyError(`what raised …`)."""
    try:
        return fn()
    except StrategyError:
        raise
    except KeyboardInterrupt:
        if threading.current_thread() is threading.main_thread():
            raise
        raise StrategyError(f"{what} raised KeyboardInterrupt") from None
    except BaseException as e:  # noqa: BLE001  a plugin must not stop the bot (SystemExit, …)
        raise StrategyError(f"{what} raised {type(e).__name__}: {str(e)[:160]}") from None
