"""Shared fixtures: where the real candles live, and a fresh database path per test."""

from __future__ import annotations

import decimal
import os
import re
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _isolate_from_the_callers_environment() -> None:
    """The suite behaves the same on any machine, whoever starts it and how.

    - PYTHONUNBUFFERED (set on our machines, not on most) would hide a child process that
      forgets to flush what a person must see; every subprocess test runs without it.
    - The bot's own settings (every variable in .env.example, e.g. STRATEGY or DB_PATH a
      developer exported) would leak into the demo and CLI subprocesses.
    - A suite started in the background by a script (`make test &`, nohup, some CI runners)
      inherits SIGINT ignored, and so would every child: a CLI told to stop with SIGINT would
      not. Python resets a handled signal to its default in a child, so handle it here.
    """
    os.environ.pop("PYTHONUNBUFFERED", None)
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE):
        os.environ.pop(name, None)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_isolate_from_the_callers_environment()



@pytest.fixture(autouse=True)
def _default_decimal_context() -> None:
    """Each test starts in Python's default decimal context (ROUND_HALF_EVEN, no Underflow
    trap). ccxt, the conformance tests' client, sets the main thread's for good
    (tests/test_decimal_context.py): afterwards a test's own rounding of a tie differed from
    the bot's, which runs on threads of its own, by a cent."""
    decimal.setcontext(decimal.Context())  # built from decimal.DefaultContext


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
