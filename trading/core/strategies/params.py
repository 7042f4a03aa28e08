"""Strategy parameters: one schema drives validation, /params, /set, the backtest CLI and docs/strategies.md.

A change is validated whole (each value's type and range, then the cross-field rules on the
merged result) before anything is applied, so `/set fast=30 slow=20` can never leave the
strategy half-changed. Values are plain int/float, and the take-profit ladder's canonical
text (a `Ladder` parameter, trading/core/strategies/ladder.py); money parameters are
converted to Decimal where money is computed (the broker, core/exits.py), not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trading.core.numbers import NumberError, parse_decimal, plain
from trading.core.strategies.ladder import Ladder, LadderError

Values = dict[str, int | float | str]



def is_plain_number(text: str) -> bool:
    """True for what people write as a number (`0.5`, `-2`, `+9`): trading/core/numbers.py's one
    parser, so `0_5`, `５`, `1e3`, `nan` are not."""
    try:
        parse_decimal(text)
    except NumberError:
        return False
    return True


Rule = Callable[[Mapping[str, int | float | str]], str | None]


def _callback_rate(v: Mapping[str, int | float | str]) -> str | None:
    """Binance takes a trailing stop's callbackRate from 0.1 to 10 (%): the paper model too."""
    ts = v.get("trailing_stop_pct", 0)
    if ts and not 0.1 <= float(ts) <= 10:
        return f"trailing_stop_pct: 0 (off) or from 0.1 to 10 (Binance's callbackRate), got {plain(float(ts))}"
    return None


def _one_take_profit(v: Mapping[str, int | float | str]) -> str | None:
    """A ladder and take_profit_pct are two ways to say the take-profit: one at a time; and
    breakeven_after names a level that leaves something open."""
    levels = len(Ladder.parse(str(v.get("take_profit", "0"))))
    if levels and v.get("take_profit_pct"):
        return "take_profit and take_profit_pct: set one (take_profit_pct=0 to use the ladder, or take_profit=0)"
    be = int(v.get("breakeven_after", 0) or 0)
    if be and be >= max(levels, 1):
        return (f"breakeven_after={be}: needs a take_profit ladder with more than {be} level(s) "
                f"(after the last one nothing is left to protect)")  # fmt: skip
    return None


EXIT_RULES: tuple[Rule, ...] = (_callback_rate, _one_take_profit)  # for every schema that has the exit parameters


class ParamError(ValueError):
    """One line for the chat: which parameter, what is wrong; nothing was changed."""


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # int, float or Ladder
    default: int | float | str
    minimum: int | float
    maximum: int | float
    help: str

    def parse(self, raw: str | int | float, *, stored: bool = False) -> int | float | str:
        """A value typed by a person: a plain ASCII decimal only (trading/core/numbers.py), so
        `0_01`, full-width digits, `1e-400`, `nan` and `-0` are refused in one line. A value
        read back from storage (`stored`) may be in an older spelling (`1e+06`). A Ladder
        parameter takes `distance:share,…` and keeps its canonical text."""
        if self.type is Ladder:
            try:
                return Ladder.parse(raw if isinstance(raw, str) else plain(raw)).text()
            except LadderError as e:
                raise ParamError(f"{self.name}: {e}") from None
        if isinstance(raw, bool):
            raise ParamError(f"{self.name}: expected a number, got {raw!r}")
        if isinstance(raw, int | float):
            value: int | float = raw
        elif stored:
            text = raw.strip()
            try:
                value = int(text) if self.type is int else float(text)
                if value == value and abs(value) != float("inf") and not is_plain_number(text):
                    raise ValueError(text)  # "0_5", "５": Python reads them, people mean otherwise
            except ValueError:
                raise ParamError(f"{self.name}: expected a number, got {_quote(text)}") from None
        else:
            try:
                exact = parse_decimal(raw)
            except NumberError as e:
                raise ParamError(f"{self.name}: {e}") from None
            if self.type is int and exact != exact.to_integral_value():
                raise ParamError(f"{self.name}: expected a whole number, got {plain(exact)}")
            value = int(exact) if self.type is int else float(exact)
        if self.type is int and (not float(value).is_integer()):
            raise ParamError(f"{self.name}: expected a whole number, got {plain(value)}")
        value = self.type(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ParamError(f"{self.name}: expected a finite number")
        if not self.minimum <= value <= self.maximum:
            raise ParamError(
                f"{self.name}: must be from {_num(self.minimum)} to {_num(self.maximum)}, got {plain(value)}"
            )
        return value

    def range_text(self, maximum: int | float | None = None) -> str:
        if self.type is Ladder:
            return "0, or distance:share,… (shares add up to 100)"
        return f"{_num(self.minimum)}…{_num(self.maximum if maximum is None else maximum)}"


@dataclass(frozen=True)
class Schema:
    params: tuple[Param, ...]
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError("duplicate parameter name")

    def __iter__(self) -> Iterable[Param]:  # type: ignore[override]
        return iter(self.params)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        if not self.params:
            raise ParamError(f"unknown parameter {_quote(name)}: this strategy has no parameters")
        raise ParamError(f"unknown parameter {_quote(name)}; known: {', '.join(self.names())}")

    def defaults(self) -> Values:
        return {p.name: p.default for p in self.params}

    def validate(self, current: Mapping[str, int | float], changes: Mapping[str, Any]) -> Values:
        """The merged values if every change and every rule holds; ParamError otherwise."""
        merged: Values = dict(self.defaults())
        merged.update({k: v for k, v in current.items() if k in merged})
        for name, raw in changes.items():
            merged[name] = self.get(name).parse(raw)
        for rule in self.rules + EXIT_RULES:
            problem = rule(merged)
            if problem:
                raise ParamError(problem)
        return merged

    def load(self, stored: Mapping[str, str]) -> Values:
        """Values kept in storage, validated again (a schema change may have narrowed a range);
        anything no longer valid falls back to its default rather than stopping the bot."""
        values = self.defaults()
        for name, raw in stored.items():
            try:
                values[name] = self.get(name).parse(raw, stored=True)
            except ParamError:
                continue
        try:
            return self.validate(values, {})
        except ParamError:
            return self.defaults()


def parse_assignments(args: Iterable[str]) -> dict[str, str]:
    """`name=value` words from a command line; ParamError for anything else (or a repeat)."""
    out: dict[str, str] = {}
    for word in args:
        name, sep, value = word.partition("=")
        name = name.strip().lower()
        if not sep or not name or not value.strip():
            raise ParamError(f"expected name=value, got {_quote(word)}")
        if name in out:
            raise ParamError(f"{name} is given twice")
        out[name] = value
    if not out:
        raise ParamError("give at least one name=value")
    return out


def fmt_value(value: int | float | str) -> str:
    """As people write it: 1000000, 2.5 (never 1e+06); a ladder as its text."""
    return value if isinstance(value, str) else plain(value)


def _num(x: int | float) -> str:
    """1,000,000 rather than 1e+06: ranges people read."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _quote(text: str, limit: int = 32) -> str:
    """Echo at most a short prefix of what the user typed."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def check_leverage(
    schema: Schema, changes: Mapping[str, Any], cap: int, merged: Mapping[str, Any] | None = None
) -> None:
    """One leverage range everywhere (/params, /set, /backtest, /strategy, docs/strategies.md):
    1…MAX_LEVERAGE, the effective cap, never the schema's wider 1…125. Checked on what was
    typed (before the schema's own range, so 200 and 50 get the same answer) and, with
    `merged`, on the values that will be used. A strategy without leverage: nothing to do."""
    if not any(p.name == "leverage" for p in schema.params):
        return
    raw = changes.get("leverage")
    value: Any = raw
    if raw is not None:
        try:
            value = int(str(raw).strip())
        except ValueError:
            return  # not a whole number: the schema says so
    elif merged is not None and "leverage" in merged:
        value = merged["leverage"]
    if value is not None and not 1 <= int(value) <= cap:
        raise ParamError(f"leverage: must be from 1 to {cap} here (MAX_LEVERAGE), got {value}")
