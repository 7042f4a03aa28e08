"""Defects found by attacking the real bot through the local Bot API: each test here failed
before its fix. Faults are injected test-side (wrapping one method handler of the local
Bot API), so sim/ carries no test-only hooks."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot import app as bot_app
from sim.telegram.local_api import ApiError, LocalBotApi
from storage.db import open_db
from tests.test_bot_e2e import ADMIN, GROUP, World
from trading.logsafe import setup_logging

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source():
    from sim.binance import generate

    return generate(900, interval="15m")


@pytest.fixture
def world(source, tmp_path):
    w = World(source, tmp_path)
    yield w
    w.close()


def fail_method(api: LocalBotApi, method: str, when=lambda params: True, code: int = 500) -> None:
    """Make one Bot API method answer an error whose body echoes the request path (and so
    the token), as some proxies and Telegram's own 5xx pages do."""
    name, original = api._handlers[method.lower()]

    def handler(params, files):
        if when(params):
            raise ApiError(code, f"Internal Server Error at POST /bot{api.token}/{name}")
        return original(params, files)

    api._handlers[method.lower()] = (name, handler)


def slow_once(api: LocalBotApi, method: str, seconds: float, when) -> threading.Event:
    """The call is carried out (the message exists) but the answer comes late, once; the
    returned event is set once the message exists."""
    name, original = api._handlers[method.lower()]
    done = threading.Event()

    async def handler(params, files):
        result = original(params, files)
        if not done.is_set() and when(params):
            done.set()
            await asyncio.sleep(seconds)
        return result

    api._handlers[method.lower()] = (name, handler)
    return done


def inject(api: LocalBotApi, kind: str, payload: dict) -> None:
    """Deliver an update even if the bot did not ask for its kind (some proxies do).

    Reaches into the local Bot API's update queue: it has no public way to ignore
    allowed_updates, and that is what this test needs."""
    queue = api._updates
    with api._state.lock:
        allowed, queue._allowed = queue._allowed, None
        try:
            queue.push(kind, payload)
        finally:
            queue._allowed = allowed


def everything_the_chat_saw(api: LocalBotApi) -> str:
    return "\n".join(repr(c.params) + repr(c.result) for c in api.calls)


# ------------------------------------------------------------------ 10: the token
def test_the_token_never_reaches_the_chat_the_log_or_the_database(world):
    secret = world.api.token
    assert ":" in secret
    buf = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging("INFO", [secret], stream=buf)
    try:
        msg = world.reply("/status", "Status")
        fail_method(world.api, "sendMessage", lambda p: "Status" in str(p.get("text", "")))
        fail_method(world.api, "editMessageText")
        mark = world.api.mark()
        refresh = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        world.api.press_button(GROUP, ADMIN, msg["message_id"], refresh)
        assert world.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
        world.reply("/status", "/status failed")
        world.reply("/start", "Starting")  # an admin command: audited
        world.engine.stop()
        world.reply("/help", "Commands")  # everything before it has been handled
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = buf.getvalue()
    assert "Traceback" in logged, logged  # the failures were logged, with their stack
    db = b"".join(p.read_bytes() for p in Path(world.db_path).parent.glob("bot.sqlite*"))
    for part in (secret, secret.split(":", 1)[1]):
        assert part not in logged
        assert part not in everything_the_chat_saw(world.api).replace(f"/bot{secret}/", "")
        assert part.encode() not in db
    chat = "\n".join(m.get("text", "") for m in world.api.sent(GROUP))
    assert secret.split(":", 1)[1] not in chat


def test_python_m_bot_does_not_print_the_token_when_telegram_fails_at_start(tmp_path):
    api = LocalBotApi().start()
    try:
        fail_method(api, "getMe")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BINANCE_"))},
            "TELEGRAM_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "TELEGRAM_CHAT_ID": str(GROUP),
            "TELEGRAM_ADMIN_IDS": str(ADMIN),
            "DB_PATH": str(tmp_path / "bot.sqlite"),
            "BINANCE_REST_URL": "http://127.0.0.1:9",
            "BINANCE_WS_URL": "ws://127.0.0.1:9/market",
            "PYTHONPATH": str(ROOT),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        api.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Telegram" in proc.stderr
    assert api.token.split(":", 1)[1] not in out, out


# ------------------------------------------------------------------ 11: echoed input
def replies_to(world, text: str) -> list[str]:
    mark = world.say(text)
    world.reply("/help", "Commands")
    return [
        c.params["text"] for c in world.api.calls[mark:]
        if c.method == "sendMessage" and c.ok and "Commands" not in c.params["text"]
    ]


@pytest.mark.parametrize(
    "text",
    ["/klines " + "<" * 4000, "/klines " + "x" * 100_000, "/klines 5 " + "é" * 5000, "/" + "y" * 64 + " " + "z" * 100_000],
    ids=["4000-lt", "100k", "symbol", "unknown-command"],
)
def test_echoed_input_is_a_short_prefix(world, text):
    replies = replies_to(world, text)
    assert len(replies) == 1, [r[:80] for r in replies]
    assert len(replies[0]) < 300 and "…" in replies[0]


# ------------------------------------------------------------------ 12: forged buttons
NASTY = [
    "status:refresh|66f00000|ÄÖÜäöü€€€€",
    "",
    "a" * 5000,
    "status:refresh|1|x|y|z",
    "status:refresh|" + "f" * 4000 + "|x",
    "|||",
    "\x00|\x00|\x00",
    "stream:start|zz|AAAAAAAAAAAA",
]


def test_any_callback_data_gets_the_not_valid_alert_and_an_audit_row(world):
    msg = world.reply("/status", "Status")
    for data in NASTY:
        mark = world.api.mark()
        world.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        answer = world.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=5)
        assert answer is not None, f"no answer to {data[:40]!r}"
        assert answer.params.get("text") == "This button is not valid.", data[:40]
        assert answer.params.get("show_alert") in (True, "true", "True")
    rows = world.engine.audit_log(50)
    refused = [r for r in rows if r["action"] == "button" and r["outcome"].startswith("refused")]
    assert len(refused) == len(NASTY)
    assert all(len(r["detail"]) <= 100 for r in refused)
    assert not world.engine.stream_status().running


# ------------------------------------------------------------------ 13: slow Telegram
def test_a_notice_answered_after_the_timeout_is_not_sent_again(world, monkeypatch):
    monkeypatch.setattr(bot_app, "NOTICE_READ_TIMEOUT", 0.3)
    delivered = slow_once(world.api, "sendMessage", 1.5, lambda p: "slow notice" in str(p.get("text", "")))
    from trading.core.events import SocketError

    mark = world.api.mark()
    world.bot.notifier.notify(SocketError("slow notice"))
    assert delivered.wait(10)
    world.bot.notifier.notify(SocketError("next notice"))
    assert world.api.wait_for_text(GROUP, "next notice", start=mark, timeout=10)
    texts = [m.get("text", "") for m in world.api.sent(GROUP)]
    assert sum("slow notice" in t for t in texts) == 1, texts


# ------------------------------------------------------------------ 14: edited commands
def test_an_edited_command_is_not_executed(world):
    world.reply("/start", "Starting")
    assert world.api.wait_for_text(GROUP, "socket started", timeout=15)
    update = world.api.send_message(GROUP, ADMIN, "hello")  # a plain message, later edited
    edited = dict(update["message"], text="/stop", edit_date=int(time.time()))
    edited["entities"] = [{"type": "bot_command", "offset": 0, "length": 5}]
    mark = world.api.mark()
    inject(world.api, "edited_message", edited)
    edited2 = dict(edited, text="/nosuch", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    inject(world.api, "edited_message", edited2)
    world.reply("/help", "Commands")
    replies = [c.params.get("text", "") for c in world.api.calls[mark:] if c.method == "sendMessage"]
    assert not [t for t in replies if "stopped" in t or "Not running" in t or "Unknown" in t], replies
    assert world.engine.stream_status().running
    assert not [r for r in world.engine.audit_log(20) if r["action"] == "/stop"]
    open_db(world.db_path).close()


# ------------------------------------------------------------------ issue 25: a name on one line
def test_a_newline_in_a_pressers_name_cannot_fake_a_line_in_the_proposal(source, tmp_path):
    from tests.test_orders_e2e import proposal_message, started

    w = started(source, tmp_path)
    try:
        mark = w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        fake = "eve\n✅ paper SELL 1.000 BTCUSDT at 99999.0 · PnL +99999 USDT"
        mark = w.api.mark()
        reject = msg["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        w.api.press_button(GROUP, ADMIN, msg["message_id"], reject, username=fake)
        edit = w.api.wait_for(lambda c: c.method == "editMessageText" and c.ok, start=mark, timeout=10)
        assert edit is not None
        text = edit.params["text"]
        assert "by @eve ✅ paper SELL" in text, text
        assert not [line for line in text.split("\n") if line.startswith("✅")], text
    finally:
        w.close()
