"""Candle sources and kline field building of the replay exchange."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sim.binance import SourceCandle, generate, load_csv
from sim.binance.klines import (
    build_updates,
    closed_fields,
    from_units,
    kline_event_json,
    rest_row,
    rest_row_json,
    to_units,
)
from tests.conftest import shared_file

PERP_15M = "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"
SPOT_GAPS = "binance_spot_BTCUSDT_15m_2019-2020_priyanshu8751.csv.gz"
HEADER = "open_time_ms,open,high,low,close,volume\n"
M15 = 900_000


def write_csv(path: Path, rows: list[str], *, gz: bool = False) -> Path:
    text = HEADER + "".join(r + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


ROWS = [
    "1700000000000,100.5,101,99.9,100.7,12.345",
    "1700000900000,100.7,100.8,99,99.5,3.1",
    "1700001800000,99.5,100,99.5,100,0",
]


# ---- load_csv ---------------------------------------------------------------------------


def test_load_csv_plain_and_gzip_give_identical_text(tmp_path: Path) -> None:
    plain = load_csv(write_csv(tmp_path / "a.csv", ROWS))
    gz = load_csv(write_csv(tmp_path / "b.csv.gz", ROWS, gz=True))
    magic_only = load_csv(write_csv(tmp_path / "c.data", ROWS, gz=True))
    assert plain == gz == magic_only
    assert plain[0] == SourceCandle(1700000000000, "100.5", "101", "99.9", "100.7", "12.345")


def test_load_csv_accepts_gaps_without_inventing_candles(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1], "1700004500000,100,100.2,99.8,100.1,1.5"]  # 3 candles missing
    candles = load_csv(write_csv(tmp_path / "gap.csv", rows))
    assert [c.open_time for c in candles] == [1700000000000, 1700000900000, 1700004500000]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([ROWS[1], ROWS[0]], "unsorted"),
        ([ROWS[0], ROWS[0]], "duplicate"),
        ([ROWS[0], ROWS[1], "1700002000000,1,1,1,1,1"], "grid"),
        (["1700000000000,100,99,101,100,1", ROWS[1]], "inconsistent OHLC"),
        (["1700000000000,abc,1,1,1,1", ROWS[1]], "not a decimal"),
        ([ROWS[0]], "one candle"),
    ],
)
def test_load_csv_rejects_bad_series(tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_csv(write_csv(tmp_path / "bad.csv", rows))


def test_load_csv_normalizes_unusual_number_text(tmp_path: Path) -> None:
    rows = ['"1700000000000","1.005E2",101,99.9, 100.7 ,12.345', ROWS[1]]
    candles = load_csv(write_csv(tmp_path / "q.csv", rows))
    assert candles[0] == SourceCandle(1700000000000, "100.5", "101", "99.9", "100.7", "12.345")


def test_load_csv_rejects_wrong_header(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("time,o,h,l,c,v\n" + ROWS[0] + "\n")
    with pytest.raises(ValueError, match="header"):
        load_csv(path)


def test_load_csv_single_row_with_explicit_interval(tmp_path: Path) -> None:
    assert len(load_csv(write_csv(tmp_path / "one.csv", [ROWS[0]]), interval="15m")) == 1


def test_real_perpetual_file() -> None:
    candles = load_csv(shared_file(PERP_15M))
    assert len(candles) == 35_039
    assert candles[0] == SourceCandle(1729657800000, "67067.8", "67220", "67033", "67175.7", "1091.014")
    assert all(b.open_time - a.open_time == M15 for a, b in zip(candles, candles[1:], strict=False))


def test_real_spot_file_with_gaps() -> None:
    candles = load_csv(shared_file(SPOT_GAPS))
    assert len(candles) == 69_976
    gaps = [b.open_time - a.open_time for a, b in zip(candles, candles[1:], strict=False) if b.open_time - a.open_time != M15]
    assert len(gaps) == 14 and sum(g // M15 - 1 for g in gaps) == 200


# ---- generate ---------------------------------------------------------------------------


def test_generate_is_deterministic_and_consistent() -> None:
    a = generate(300, start_ms=1_700_000_100_000 // M15 * M15, seed=7)
    assert a == generate(300, start_ms=1_700_000_100_000 // M15 * M15, seed=7)
    assert a != generate(300, start_ms=a[0].open_time, seed=8)
    for prev, c in zip(a, a[1:], strict=False):
        assert c.open_time - prev.open_time == M15
        assert c.open == prev.close
    for c in a:
        o, h, low, cl = (float(x) for x in (c.open, c.high, c.low, c.close))
        assert h >= max(o, cl) and low <= min(o, cl) and low > 0
        assert len(c.close.split(".")[1]) == 1 and len(c.volume.split(".")[1]) == 3


def test_generate_other_interval() -> None:
    g = generate(3, interval="1h", start_price=2000.0)
    assert g[1].open_time - g[0].open_time == 3_600_000 and g[0].open == "2000.0"


# ---- kline fields -----------------------------------------------------------------------


def test_units_round_trip() -> None:
    for text, d in [("67220", 1), ("67067.8", 1), ("0.001", 3), ("12", 0), ("3.10", 2)]:
        assert float(from_units(to_units(text, d), d)) == float(text)
    assert from_units(5, 3) == "0.005" and from_units(-1234, 2) == "-12.34"


CANDLE = SourceCandle(1729657800000, "67067.8", "67220", "67033", "67175.7", "1091.014")


def test_closed_fields_and_rest_row() -> None:
    f = closed_fields(CANDLE, M15)
    row = rest_row(f)
    assert row[:7] == [1729657800000, "67067.8", "67220", "67033", "67175.7", "1091.014", 1729658699999]
    assert row[11] == "0" and isinstance(row[8], int) and row[8] >= 1
    assert float(row[9]) <= float(row[5]) and float(row[10]) <= float(row[7])
    import json

    assert json.loads(rest_row_json(f)) == row


@pytest.mark.parametrize("updates", [0, 1, 2, 3, 4, 7])
@pytest.mark.parametrize(
    "candle",
    [
        CANDLE,  # bullish
        SourceCandle(1729658700000, "67175.6", "67195.9", "67150", "67150.1", "463.219"),  # bearish
        SourceCandle(1729659600000, "100", "100", "100", "100", "0"),  # flat, no volume
    ],
)
def test_updates_walk_a_plausible_path(candle: SourceCandle, updates: int) -> None:
    ups = build_updates(candle, M15, updates)
    assert len(ups) == updates + 1
    assert [u.closed for u in ups] == [False] * updates + [True]
    assert ups[-1].fields == closed_fields(candle, M15)
    hi, lo = float(candle.high), float(candle.low)
    prev_v = -1.0
    prev_e = candle.open_time
    for u in ups:
        f = u.fields
        assert (f.t, f.T, f.o) == (candle.open_time, candle.open_time + M15 - 1, candle.open)
        assert lo <= float(f.l) <= float(f.c) <= float(f.h) <= hi
        assert float(f.l) <= float(u.low) <= float(u.high) <= float(f.h)
        assert float(f.v) >= prev_v and float(f.v) <= float(candle.volume)
        assert float(f.V) <= float(f.v) and float(f.Q) <= float(f.q)
        assert 1 <= f.n <= ups[-1].fields.n
        assert prev_e < u.event_time <= candle.open_time + M15
        prev_v, prev_e = float(f.v), u.event_time


def test_bullish_path_visits_low_before_high() -> None:
    ups = build_updates(CANDLE, M15, 4)
    closes = [float(u.fields.c) for u in ups]
    assert closes[0] < float(CANDLE.open)  # heading for the low first
    assert ups[1].fields.l == CANDLE.low  # low reached (source text kept)
    assert ups[3].fields.h == CANDLE.high


def test_event_json_is_compact_and_complete() -> None:
    import json

    ups = build_updates(CANDLE, M15, 2)
    text = kline_event_json("BTCUSDT", "15m", ups[-1].fields, 1000, True, ups[-1].event_time)
    assert " " not in text
    data = json.loads(text)
    k = data["k"]
    assert data["e"] == "kline" and data["s"] == "BTCUSDT" and data["E"] == CANDLE.open_time + M15
    assert k["x"] is True and k["i"] == "15m" and k["f"] == 1000 and k["L"] == 1000 + k["n"] - 1
    assert [k[x] for x in "tohlcvTqnVQB"] == rest_row(ups[-1].fields)[:11] + ["0"]


def test_the_replay_exchange_needs_nothing_from_the_product() -> None:
    """sim/binance stands in for Binance; it must run without the bot it is testing."""
    import ast

    from sim.binance.intervals import INTERVAL_MS
    from trading.core.intervals import INTERVAL_MS as PRODUCT_INTERVALS

    leaks = []
    for path in sorted((Path(__file__).resolve().parents[1] / "sim" / "binance").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            leaks += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("bot", "trading", "storage")]
    assert not leaks
    assert INTERVAL_MS == PRODUCT_INTERVALS  # both are Binance's table
