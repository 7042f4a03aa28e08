"""Numbers people type, read one way everywhere: plain ASCII decimals, shown as written.

Python's own parsers are generous in ways that cost money here: `Decimal("0_01")` is 1
(underscores group digits), `Decimal("０.０１")` reads full-width digits, `float("1e-400")`
is 0.0, and `nan`, `inf`, `-0` and `1e+06` all parse. A quantity or a parameter a person
types is accepted only as digits with at most one point (an optional leading minus, never
on a zero), so what was typed is what is used; every command (/long, /short, /set,
/backtest name=value, /optimize grids, /trades …) goes through `parse_decimal`, and values
are shown back with `plain` (1000000, never 1E+6 or 1e+06). `num` and `plural` are how the
research reports, the charts and the chat show a figure and a count.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
WHOLE = re.compile(r"[+-]?[0-9]+")
MAX_CHARS = 30  # no plain number anyone means is longer


class NumberError(ValueError):
    """One line for the chat: what was typed and what a number looks like here."""


def _echo(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "…")


def looks_numeric(text: str) -> bool:
    """True when Python would read it as a number (so it must be refused as one, not taken
    for a symbol): `0_01`, `1e5`, `nan`, `inf`, full-width digits."""
    try:
        Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return any(ch.isdigit() for ch in text) and not text.isascii()
    return True


def parse_decimal(text: str, *, whole: bool = False) -> Decimal:
    """The exact value of a plain decimal (`0.01`, `12`, `-3.5`), or NumberError."""
    t = text.strip()
    pattern = WHOLE if whole else PLAIN
    if len(t) > MAX_CHARS and pattern.fullmatch(t):
        raise NumberError(f"{_echo(text)} has too many digits")
    if not pattern.fullmatch(t):
        kind = "a whole number (digits only, like 12)" if whole else "a number (plain digits and one point, like 0.01)"
        raise NumberError(f"{_echo(text)} is not {kind}")
    value = Decimal(t)
    if t.startswith("-") and not value:
        raise NumberError(f"{_echo(text)}: write 0 without a sign")
    return value


def parse_whole(text: str) -> int:
    return int(parse_decimal(text, whole=True))


def plain(value: Decimal | float | int) -> str:
    """As people write it: 1000000, 0.01, 2.5 (no exponent, no trailing zeros, never -0)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    d = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not d.is_finite():
        return str(d)
    text = f"{d.normalize():f}"
    return "0" if text in ("-0", "0") else text


def num(x: float | Decimal, spec: str) -> str:
    """format(x, spec), but a value that rounds to zero has no minus sign ('-0.0' reads as a loss)."""
    text = format(x, spec)
    if text.startswith("-") and not text.strip("-+0.,% "):
        return ("+" if "+" in spec else "") + text[1:]
    return text


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 trade', '2 trades', '1,000 candles'."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def dec(x: float) -> Decimal:
    """A float price from the wire as the decimal it was written as (repr round-trips)."""
    return Decimal(repr(x))
