"""The real bot (PTB Application, polling) against the local Bot API and the replay exchange,
driven only through Bot API updates, as a group of traders would use it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.app import RateLimits
from bot.runner import BotThread
from sim.binance import ReplayExchange, load_csv
from sim.telegram.local_api import LocalBotApi
from storage.db import open_db
from storage.events import EventLog
from storage.klines import KlineStore
from tests.test_stream_e2e import last_closed_at_least
from trading.config import load_settings
from trading.core.events import SocketError

GROUP = -1001000000001
OTHER_CHAT = -1009999999999
ADMIN = 1001
GUEST = 1002
START = 700
LOOSE = RateLimits(overall_per_second=1000, group_per_minute=60_000, max_retries=3)


@pytest.fixture(scope="module")
def source():
    from tests.conftest import PERP_15M, shared_file

    return load_csv(shared_file(PERP_15M))


class World:
    def __init__(
        self,
        source,
        tmp_path,
        seconds_per_candle: float = 0.02,
        *,
        rate_limits: RateLimits = LOOSE,
        group_limit: int | None = None,
        exchange: dict | None = None,
        **extra: str,
    ) -> None:
        """`group_limit`: the local Bot API enforces that many messages a minute per group
        (Telegram's ~20), and `rate_limits` are what the bot paces itself by."""
        self.source = source
        self.ex = ReplayExchange(source, start_index=START, seconds_per_candle=seconds_per_candle, **(exchange or {})).start()
        self.api = LocalBotApi(group_limit=group_limit).start()
        self.api.add_chat(GROUP, "supergroup", "Traders")
        self.api.add_chat(OTHER_CHAT, "supergroup", "Strangers")
        self.db_path = str(tmp_path / "bot.sqlite")
        self.settings = load_settings(
            environ={
                "TELEGRAM_TOKEN": self.api.token,
                "TELEGRAM_BASE_URL": self.api.base_url,
                "TELEGRAM_CHAT_ID": str(GROUP),
                "TELEGRAM_ADMIN_IDS": str(ADMIN),
                "BINANCE_REST_URL": self.ex.rest_url,
                "BINANCE_WS_URL": self.ex.ws_url,
                "DB_PATH": self.db_path,
                "RECONNECT_DELAY": "0.05",
                "WARMUP_CANDLES": "50",
                **extra,
            },
            env_file=None,
        )
        self.bot = BotThread(self.settings, rate_limits=rate_limits, poll_timeout=1).start()

    @property
    def engine(self):
        return self.bot.engine

    def say(self, text: str, user: int = ADMIN, chat: int = GROUP) -> int:
        mark = self.api.mark()
        self.api.send_message(chat, user, text)
        return mark

    def reply(self, text: str, expect: str, user: int = ADMIN, timeout: float = 10.0) -> dict:
        mark = self.say(text, user)
        msg = self.api.wait_for_text(GROUP, expect, timeout=timeout, start=mark)
        assert msg is not None, f"no reply containing {expect!r} to {text!r}; calls: {self.api.calls[mark:]}"
        return msg

    def close(self) -> None:
        self.bot.stop()
        self.api.stop()
        self.ex.stop()


@pytest.fixture
def world(source, tmp_path):
    w = World(source, tmp_path)
    yield w
    w.close()


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]


def source_row(c) -> tuple:
    return tuple(float(x) for x in (c.open, c.high, c.low, c.close, c.volume))


def test_commands_are_registered_and_help_lists_them(world):
    names = [c["command"] for c in world.api.my_commands()]
    assert {"start", "stop", "status", "klines", "help"} <= set(names)
    msg = world.reply("/help", "Commands")
    for name in names:
        assert f"/{name}" in msg["text"]


def test_start_status_klines_stop_as_a_group_would(world, source):
    world.reply("/start@" + world.api.bot_username, "Starting")
    assert world.api.wait_for_text(GROUP, "socket started", timeout=15) is not None
    target = source[START + 20].open_time
    assert world.engine.wait_stream(last_closed_at_least(target), timeout=30)
    world.reply("/start", "Already running")

    status = world.reply("/status", "Status")["text"]
    assert "paper" in status and "connected" in status
    m = re.search(r"Last closed BTCUSDT: (\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(open time\)\n(O .*)", status)
    assert m, status
    shown = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    src = next(c for c in source if c.open_time == int(shown.timestamp() * 1000))
    assert numbers(m.group(2)) == list(source_row(src))
    assert src.open_time >= target

    world.engine.stop()  # freeze the series so /klines can be compared with the source exactly
    table = world.reply("/klines 5", "last 5 closed candles")["text"]
    rows = [line for line in table.splitlines() if re.match(r"\d\d-\d\d \d\d:\d\d", line)]
    assert len(rows) == 5
    stored = KlineStore(open_db(world.db_path)).latest("BTCUSDT", "15m", 5)
    by_time = {c.open_time: c for c in source}
    for line, row in zip(rows, stored, strict=True):
        assert numbers(line)[-5:] == list(source_row(by_time[row["open_time"]]))
    world.reply("/stop", "Not running")


def test_stop_reports_socket_stopped(world):
    world.reply("/start", "Starting")
    assert world.api.wait_for_text(GROUP, "socket started", timeout=15)
    mark = world.say("/stop")
    assert world.api.wait_for_text(GROUP, "Stream stopped", start=mark)
    assert world.api.wait_for_text(GROUP, "socket stopped", start=mark)
    assert not world.engine.stream_status().running


def test_dropped_connection_is_reported_and_leaves_no_gap(world, source):
    world.reply("/start", "Starting")
    assert world.api.wait_for_text(GROUP, "socket started", timeout=15)
    drop_at = world.ex.current_index + 5
    world.ex.faults.drop_at_candles([drop_at])
    mark = world.api.mark()
    assert world.api.wait_for_text(GROUP, "socket error", start=mark, timeout=20)
    assert world.api.wait_for_text(GROUP, "reconnected", start=mark, timeout=20)
    target = source[drop_at + 10].open_time
    assert world.engine.wait_stream(last_closed_at_least(target), timeout=30)
    world.engine.stop()
    times = KlineStore(open_db(world.db_path)).open_times("BTCUSDT", "15m")
    assert all(b - a == 900_000 for a, b in zip(times, times[1:], strict=False))
    assert EventLog(open_db(world.db_path)).count("reconnect") == 1


def test_non_admin_cannot_start_and_the_stream_stays_stopped(world):
    world.reply("/start", "Not allowed", user=GUEST)
    assert not world.engine.stream_status().running
    world.reply("/status", "Stream: 🔴 stopped", user=GUEST)  # read-only is fine
    audit = world.engine.audit_log(5)
    assert audit[0]["user_id"] == GUEST and audit[0]["outcome"].startswith("refused")


def test_other_chats_get_no_reply(world):
    mark = world.say("/status", chat=OTHER_CHAT)
    world.say("/help")  # a later update in the allowed chat proves the first was processed
    assert world.api.wait_for_text(GROUP, "Commands", start=mark)
    assert not [c for c in world.api.calls[mark:] if c.params.get("chat_id") in (OTHER_CHAT, str(OTHER_CHAT))]


def test_bad_input_gets_a_clear_answer(world):
    world.reply("/klines 500", "from 1 to 50")
    world.reply("/klines 1.5", "whole number")
    world.reply("/klines many", "'MANY' is not streamed")
    world.reply("/klines 5 btcusdt extra", "at most a count and a symbol")
    world.reply("/frobnicate", "Unknown command /frobnicate")
    assert not world.engine.stream_status().running


def test_status_buttons_refresh_and_are_admin_only_and_unforgeable(world):
    msg = world.reply("/status", "Status")
    keyboard = msg["reply_markup"]["inline_keyboard"][0]
    refresh, toggle = keyboard[0]["callback_data"], keyboard[1]["callback_data"]

    mark = world.api.mark()
    world.api.press_button(GROUP, GUEST, msg["message_id"], toggle)
    answer = world.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    assert answer and "Not allowed" in answer.params.get("text", "")
    assert not world.engine.stream_status().running

    mark = world.api.mark()
    world.api.press_button(GROUP, ADMIN, msg["message_id"], refresh[:-2] + "xx")
    answer = world.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    assert answer and "not valid" in answer.params.get("text", "")

    mark = world.api.mark()
    world.api.press_button(GROUP, ADMIN, msg["message_id"], toggle)
    assert world.api.wait_for_text(GROUP, "socket started", start=mark, timeout=15)
    assert world.engine.stream_status().running


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_burst_of_200_notices_under_429_arrives_complete_and_in_order(world):
    world.api.flood(seconds=1.5, retry_after=1)
    mark = world.api.mark()
    for i in range(200):
        world.bot.notifier.notify(SocketError(f"burst notice {i:03d}"))
    assert world.api.wait_for_text(GROUP, "burst notice 199", start=mark, timeout=30)
    sent = [
        c for c in world.api.calls[mark:]
        if c.method == "sendMessage" and c.ok
    ]
    lines = [line for c in sent for line in c.params["text"].splitlines() if "burst notice" in line]
    assert [line.split()[-1] for line in lines] == [f"{i:03d}" for i in range(200)]


def test_periodic_status_post_uses_the_job_queue(source, tmp_path):
    w = World(source, tmp_path, STATUS_POST_MINUTES="0.01")  # every 0.6 s
    try:
        mark = w.api.mark()
        assert w.api.wait_for_text(GROUP, "Status", start=mark, timeout=10)
        jobs = [j.name for j in w.bot.app.job_queue.jobs()]
        assert "status-post" in jobs and "feed-watch" in jobs
    finally:
        w.close()


def test_a_restart_resumes_the_stream_into_the_same_series(source, tmp_path):
    w = World(source, tmp_path)
    try:
        w.reply("/start", "Starting")
        assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
        assert w.engine.wait_stream(lambda s: s.closed_candles >= 55, timeout=20)
        mark = w.api.mark()
        w.bot.stop()  # the process goes away while streaming (SIGTERM, a redeploy): not a /stop
        assert w.api.wait_for_text(GROUP, "bot stopping: socket closed", start=mark, timeout=10)
        assert not w.api.wait_for_text(GROUP, "socket stopped", start=mark, timeout=0.1)
        mark = w.api.mark()
        w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
        assert w.api.wait_for_text(GROUP, "bot restarted; resumed streaming BTCUSDT 15m", start=mark, timeout=15)
        assert not w.api.wait_for_text(GROUP, "socket started", start=mark, timeout=0.1)
        n = w.engine.stream_status().closed_candles
        assert w.engine.wait_stream(lambda s: s.closed_candles >= n + 5, timeout=20)
        w.engine.stop()
        times = KlineStore(open_db(w.db_path)).open_times("BTCUSDT", "15m")
        assert all(b - a == 900_000 for a, b in zip(times, times[1:], strict=False))
    finally:
        w.close()
