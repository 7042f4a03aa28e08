"""quick_init (trading/core/frozen.py): the value objects made on every order and fill get a
quicker constructor that builds exactly what dataclasses' own would, and stay frozen."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from trading.core.brokers.base import OrderRequest
from trading.core.candles import Candle
from trading.core.frozen import quick_init
from trading.core.ledger import Entry
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.strategies import Decision


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:  # the reference: dataclasses' own __init__
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


Quick = quick_init(dataclasses.make_dataclass("Quick", [("a", int), ("b", str, "x"), ("c", tuple, ())],
                                              frozen=True, slots=True))  # fmt: skip


def test_it_builds_what_the_dataclass_init_builds_and_stays_frozen() -> None:
    for args, kwargs in (((1,), {}), ((1, "y"), {}), ((1,), {"c": (2,)}), ((), {"a": 3, "b": "z", "c": ()})):
        p, q = Plain(*args, **kwargs), Quick(*args, **kwargs)
        assert dataclasses.astuple(p) == dataclasses.astuple(q)
    q = Quick(1)
    assert q == Quick(1) != Quick(2) and hash(q) == hash(Quick(1)) and repr(q) == "Quick(a=1, b='x', c=())"
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]  (a is required, as before)
    with pytest.raises(TypeError):
        Quick(1, d=2)  # type: ignore[call-arg]


def test_the_core_value_objects_use_it_and_keep_every_field() -> None:
    fill = Fill("tg-BTCUSDT-1-o", "BTCUSDT", "BUY", D("0.004"), D("101500"), D("0.203"), 1, "why", position_side="LONG")
    assert (fill.keys, fill.fee_asset, fill.fee_amount, fill.position_side, fill.signed_qty) == ((), "USDT", None, "LONG", D("0.004"))
    entry = Entry(1, "BTCUSDT", "fill", fees=D(1))
    assert (entry.gross, entry.fees, entry.closed, entry.position_side, entry.net) == (D(0), D(1), (), "BOTH", D(-1))
    req = OrderRequest("id", "BTCUSDT", "SELL", "close", "r", 1, qty=D(1), reduce_only=True)
    assert req.but(qty=D(2)).qty == D(2) and req.closes and req.stake == D(0)
    trade = ClosedTrade("BTCUSDT", "long", D(1), D(2), D(3), D(0), D(1), 1, 2)
    assert dataclasses.replace(trade, pnl=D(5)).pnl == D(5) and trade.exit_reason == "signal"
    assert Decision("long", "r").leg == ""
    for cls in (Fill, Entry, OrderRequest, ClosedTrade, Decision, Candle):
        init = cls.__init__
        assert init.__qualname__ == f"{cls.__name__}.__init__"
        assert {f"_s_{f.name}" for f in dataclasses.fields(cls)} <= set(init.__globals__)  # the quick one


def test_it_refuses_what_it_does_not_model() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Post:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, Factory, Post):
        with pytest.raises(TypeError):
            quick_init(cls)
