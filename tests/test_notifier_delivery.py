"""Which failed sends the notifier repeats: only those Telegram provably did not post,
except for the kinds whose loss costs more than a duplicate (AT_LEAST_ONCE)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.notifier import AT_LEAST_ONCE, TelegramNotifier, proven_undelivered
from bot.texts import text
from trading.core.events import Event


@dataclass(frozen=True)
class Said(Event):
    """A notice of any `kind` whose line is given: what is under test here is the delivery
    (which kinds are sent again), not the wording (each event class has its own in bot/texts.py)."""

    kind: str  # type: ignore[misc]  (an instance field here: the kind under test)
    line: str


text.register(Said)(lambda e: e.line)


def caused(exc: Exception, cause: Exception) -> Exception:
    exc.__cause__ = cause
    return exc


READ_TIMEOUT = caused(TimedOut(), httpx.ReadTimeout("read"))
CONNECT_REFUSED = caused(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused"))


@pytest.mark.parametrize(
    ("exc", "undelivered"),
    [
        (READ_TIMEOUT, False),
        (caused(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("gone")), False),
        (caused(NetworkError("httpx.ReadError"), httpx.ReadError("reset")), False),
        (CONNECT_REFUSED, True),
        (caused(TimedOut(), httpx.ConnectTimeout("connect")), True),
        (caused(TimedOut("Pool timeout"), httpx.PoolTimeout("pool")), True),
        (caused(TimedOut(), httpx.WriteTimeout("write")), True),
        (NetworkError("Internal Server Error"), True),  # Telegram answered 5xx
    ],
)
def test_what_counts_as_not_posted(exc, undelivered):
    assert proven_undelivered(exc) is undelivered


def run(failures: list[Exception], notices: list[Event], monkeypatch) -> list[str]:
    """Each send posts the text, then raises the next failure (if any)."""
    posted: list[str] = []

    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr("bot.notifier.asyncio.sleep", no_wait)

    async def main() -> None:
        notifier = TelegramNotifier()
        errors = list(failures)

        async def send(text: str) -> None:
            error = errors.pop(0) if errors else None
            if error is not None and proven_undelivered(error):
                raise error
            posted.append(text)
            if error is not None:
                raise error

        for n in notices:
            notifier.notify(n)
        notifier.bind(send)
        await notifier.drain(timeout=5)
        await notifier.close()

    asyncio.run(main())
    return posted


def test_state_notices_are_at_most_once_on_an_unanswered_send(monkeypatch):
    assert "socket_error" not in AT_LEAST_ONCE
    posted = run([READ_TIMEOUT], [Said("socket_error", "dropped")], monkeypatch)
    assert posted == ["⚠️ dropped"]


def test_signals_are_at_least_once(monkeypatch):
    posted = run([READ_TIMEOUT], [Said("signal", "signal BUY BTCUSDT")], monkeypatch)
    assert posted == ["📣 signal BUY BTCUSDT", "📣 signal BUY BTCUSDT"]


def test_a_pack_with_a_signal_resends_only_the_signal(monkeypatch):
    # Money news has its own lane (the rate limiter's URGENT priority): packed among
    # themselves, never with socket notices.
    notices = [Said("reconciled", "a"), Said("signal", "b")]
    posted = run([READ_TIMEOUT], notices, monkeypatch)
    assert posted == ["🔁 a\n📣 b", "📣 b"], posted


def test_a_refused_connection_is_sent_again_and_a_bad_request_is_not(monkeypatch):
    assert run([CONNECT_REFUSED], [Said("stale", "x")], monkeypatch) == ["⏱ x"]
    assert run([BadRequest("can't parse entities")], [Said("stale", "y")], monkeypatch) == []
