"""Grid syntax shared by the CLI and the chat: `fast=5..20`, `sl=0..3:0.5`, `slow=20,30,50`.

Ranges are stepped in Decimal so `0..3:0.1` ends at exactly 3 (float stepping would stop
at 2.9000000000000004 or miss 3), and every value is parsed by the strategy's schema, so a
grid can only hold values `/set` would accept. Combinations that break a cross-field rule
(fast ≥ slow) are not errors, just empty cells.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from trading.core.numbers import NumberError, parse_decimal, plain
from trading.core.strategies.params import ParamError, Schema, Values

MAX_AXIS = 1000


class GridError(ValueError):
    """One line naming the bad grid word."""


def _echo(text: str) -> str:
    return repr(text if len(text) <= 32 else text[:32] + "…")


def _num(text: str, word: str) -> Decimal:
    try:
        return parse_decimal(text)
    except NumberError as e:
        raise GridError(f"grid {_echo(word)}: {e}") from None


def parse_values(spec: str, word: str) -> list[Decimal]:
    """`a..b` (step 1), `a..b:step`, `a,b,c` or a single value."""
    if ".." in spec:
        body, _, step_text = spec.partition(":")
        lo_text, _, hi_text = body.partition("..")
        lo, hi = _num(lo_text, word), _num(hi_text, word)
        step = _num(step_text, word) if step_text else Decimal(1)
        if step <= 0:
            raise GridError(f"grid {_echo(word)}: the step must be above 0")
        if hi < lo:
            raise GridError(f"grid {_echo(word)}: the range ends before it starts")
        count = int((hi - lo) / step) + 1
        if count > MAX_AXIS:
            raise GridError(f"grid {_echo(word)}: {count:,} values; at most {MAX_AXIS:,} per parameter")
        return [lo + i * step for i in range(count)]
    if ":" in spec:
        raise GridError(f"grid {_echo(word)}: a step needs a range, as in 0..3:0.5")
    values = [_num(v, word) for v in spec.split(",")]
    if len(set(values)) != len(values):
        raise GridError(f"grid {_echo(word)}: a value is repeated")
    return values


@dataclass(frozen=True)
class Grid:
    names: tuple[str, ...]
    axes: tuple[tuple[int | float, ...], ...]

    @property
    def size(self) -> int:
        n = 1
        for axis in self.axes:
            n *= len(axis)
        return n

    def combos(self) -> Iterator[dict[str, int | float]]:
        for values in itertools.product(*self.axes):
            yield dict(zip(self.names, values, strict=True))

    def describe(self) -> str:
        return " × ".join(f"{n} ({len(a)})" for n, a in zip(self.names, self.axes, strict=True))


def parse_grid(words: Iterable[str], schema: Schema, *, max_cells: int | None = None) -> Grid:
    """Each word `name=spec`; values checked against the schema's type and range."""
    names: list[str] = []
    axes: list[tuple[int | float, ...]] = []
    for word in words:
        name, sep, spec = word.partition("=")
        name = name.strip().lower()
        if not sep or not name or not spec.strip():
            raise GridError(f"grid: expected name=a..b, name=a..b:step or name=a,b,c, got {_echo(word)}")
        if name in names:
            raise GridError(f"grid: {name} is given twice")
        try:
            param = schema.get(name)
        except ParamError as e:
            raise GridError(f"grid: {e}") from None
        if param.type is not int and param.type is not float:
            raise GridError(f"grid: {name} is a take-profit ladder, not a number: set it with /set, not on a grid")
        raw = parse_values(spec.strip(), word)
        try:
            typed = tuple(param.parse(plain(v) if param.type is float else _whole(v, word)) for v in raw)
        except ParamError as e:
            raise GridError(f"grid: {e}") from None
        names.append(name)
        axes.append(typed)
    if not names:
        raise GridError("grid: give at least one name=a..b")
    grid = Grid(tuple(names), tuple(axes))
    if max_cells is not None and grid.size > max_cells:
        raise GridError(f"grid: {grid.size:,} combinations; at most {max_cells:,}")
    return grid


def _whole(v: Decimal, word: str) -> str:
    if v != v.to_integral_value():
        raise GridError(f"grid {_echo(word)}: {v} is not a whole number")
    return str(int(v))


def cell_values(schema: Schema, base: Mapping[str, int | float], cell: Mapping[str, int | float]) -> Values | None:
    """The full parameter set for one cell, or None when it breaks a rule (fast ≥ slow)."""
    try:
        return schema.validate(base, cell)
    except ParamError:
        return None
