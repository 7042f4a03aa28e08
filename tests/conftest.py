"""Shared fixtures: where the real candles live, and a fresh database path per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PERP_15M = "binance_perp_BTCUSDT_15m_nmtrong062000.csv.gz"


def shared_file(name: str) -> Path:
    """A file from ../shared/data; skipped when absent locally, a failure under CI=true."""
    path = SHARED_DATA / name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared data file is missing: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture
def perp_csv() -> Path:
    return shared_file(PERP_15M)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "bot.sqlite")
