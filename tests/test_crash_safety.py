"""Crash safety: the bot is a real `python -m bot` process, SIGKILLed twice, in demo mode
against the replay exchange. After each restart the proposal is still answerable, the
position equals the exchange's, and the exchange's own log shows no order sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sim.binance import ReplayExchange, load_csv
from sim.telegram.local_api import LocalBotApi
from tests.conftest import PERP_15M, shared_file
from tests.helpers import leg_id

ROOT = Path(__file__).resolve().parents[1]
GROUP, ADMIN = -1001000000001, 1001


class OrderArrivals:
    """Wakes the test when the exchange has received an order POST for a client id."""

    def __init__(self, ex: ReplayExchange) -> None:
        self._cond = threading.Condition()
        stats = ex._stats  # noqa: SLF001
        posted = stats.order_posted

        def record(client_id: str, *, algo: bool = False) -> None:
            posted(client_id, algo=algo)
            with self._cond:
                self._cond.notify_all()

        stats.order_posted = record  # type: ignore[method-assign]
        self.ex = ex

    def wait(self, client_id: str, timeout: float = 15.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: client_id in self.ex.stats.order_posts, timeout)


def spawn(api: LocalBotApi, ex: ReplayExchange, db: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TELEGRAM_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_CHAT_ID": str(GROUP), "TELEGRAM_ADMIN_IDS": str(ADMIN),
        "TRADING_MODE": "demo", "BINANCE_API_KEY": ex.api_key, "BINANCE_API_SECRET": ex.api_secret,
        "BINANCE_REST_URL": ex.rest_url, "BINANCE_WS_URL": ex.ws_url, "DB_PATH": str(db),
        "STRATEGY": "none", "WARMUP_CANDLES": "50", "PROPOSAL_TTL": "600", "RECONNECT_DELAY": "0.05", "LOG_LEVEL": "INFO",
        # the market moves on while the bot restarts: this test is about crashes, not drift
        "MAX_DRIFT_PCT": "20",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--env-file", os.devnull], cwd=ROOT, env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def say(api: LocalBotApi, text: str, expect: str, timeout: float = 20.0) -> dict:
    mark = api.mark()
    api.send_message(GROUP, ADMIN, text)
    msg = api.wait_for_text(GROUP, expect, timeout=timeout, start=mark)
    assert msg is not None, f"no {expect!r} after {text!r}"
    return msg


def confirm_data(msg: dict) -> str:
    return msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]


@pytest.mark.slow
def test_sigkill_after_a_proposal_and_between_order_and_fill(tmp_path) -> None:
    source = load_csv(shared_file(PERP_15M))
    db, log = tmp_path / "bot.sqlite", tmp_path / "bot.log"
    with ReplayExchange(source, start_index=600, seconds_per_candle=0.05) as ex, LocalBotApi() as api:
        api.add_chat(GROUP, "supergroup", "Traders")
        arrivals = OrderArrivals(ex)
        bot = spawn(api, ex, db, log)
        try:
            say(api, "/start", "socket started")
            ex.pause()  # no candle closes from here on: proposals stay valid across restarts
            # 1. Killed right after posting a proposal.
            proposal = say(api, "/long 0.01", "Order proposal #1")
            kill(bot)
            bot = spawn(api, ex, db, log)
            assert api.wait_for_text(GROUP, "bot restarted; resumed streaming", timeout=20), "the restarted bot resumes the stream"
            mark = api.mark()
            api.press_button(GROUP, ADMIN, proposal["message_id"], confirm_data(proposal))
            answer = api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=20)
            assert answer is not None, "the restarted bot answers the press"
            assert api.wait_for_text(GROUP, "filled: BUY 0.010 BTCUSDT", start=mark, timeout=20), answer.params
            one, two = leg_id(str(db), 1), leg_id(str(db), 2)
            assert ex.stats.order_posts == {one: 1}

            # 2. Killed between "order sent" and "fill stored": the exchange fills the close
            #    but holds its answer back, and the bot dies waiting for it.
            closing = say(api, "/close", "Order proposal #2")
            ex.faults.order_answer_delay(60)
            api.press_button(GROUP, ADMIN, closing["message_id"], confirm_data(closing))
            assert arrivals.wait(two)
            kill(bot)
            bot = spawn(api, ex, db, log)
            mark = api.mark()
            assert api.wait_for_text(GROUP, "reconcile: proposal #2: filled", start=0, timeout=20)
            # A second press finds it settled; nothing is sent again.
            api.press_button(GROUP, ADMIN, closing["message_id"], confirm_data(closing))
            answer = api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=20)
            assert answer is not None and "no longer pending" in answer.params.get("text", "")
            say(api, "/status", "no position")
            assert ex.stats.order_posts == {one: 1, two: 1}
            assert [o["clientOrderId"] for o in ex.orders()] == [one, two]
        finally:
            if bot.poll() is None:
                kill(bot)
    assert "Traceback" not in log.read_text(errors="replace")
