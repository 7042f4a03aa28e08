"""The masking rule end to end (issue 25): a gateway in front of Binance answers an order
with a body that quotes the request, API key included. Whatever the answer (a 400 in
Binance's JSON shape, a 5xx HTML page, a 200 that is not JSON), no piece of the key or
secret of MIN_RUN characters or more reaches the chat (messages, edits, alerts), any
database row, /logs or the log file; the chat shows the code and a bounded message."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.texts import result_line
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import proposal_message, started
from trading.logsafe import setup_logging

MIN_RUN = 8  # trading.logsafe.MIN_RUN: a run this long of a secret is a leak

KEY = "vmPUZq7Rk2XbN4cW8sLdT1yHfJ6gA0eMzUoViQ3pBnC5tYxEwKrS9aDlGjh8FmOh8A"[:64]
SECRET = "Qz8Lw3Nc7Vb1Xm5Kd9Fs2Hg6Jt4Ry0Up8Ei3Oa7Sl1Dk5Zx9Cv2Bn6Mq4Wr0Ty3Pe"[:64]


def leaked(text: str) -> str | None:
    """The first run of MIN_RUN characters of the key or secret found in `text`."""
    for secret in (KEY, SECRET):
        for i in range(len(secret) - MIN_RUN + 1):
            if secret[i : i + MIN_RUN] in text:
                return secret[i : i + MIN_RUN]
    return None


def database_text(db_path: str) -> str:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        cells = [str(v) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row if v is not None]
    finally:
        conn.close()
    return "\n".join(cells)


def chat_text(w: World) -> str:
    return "\n".join(json.dumps(c.params, ensure_ascii=False) for c in w.api.calls)


def run_echo(source, tmp_path: Path, status: int) -> None:  # noqa: F811
    log_file = tmp_path / "bot.log"
    stream = log_file.open("w", encoding="utf-8")
    handler = setup_logging("INFO", [KEY, SECRET], stream=stream)
    w = started(
        source, tmp_path, exchange={"api_key": KEY, "api_secret": SECRET},
        TRADING_MODE="demo", BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET,
    )  # fmt: skip
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        w.ex.faults.order_echo(status)
        mark = w.api.mark()
        w.api.press_button(GROUP, ADMIN, msg["message_id"], msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        edited = w.api.wait_for(
            lambda c: c.method == "editMessageText" and c.ok and "failed" in c.params.get("text", ""),
            start=mark, timeout=30,
        )  # fmt: skip
        assert edited is not None, chat_text(w)[-2000:]
        assert w.engine.proposal(1).status == "failed"
        if status == 400:
            assert "(-1100)" in edited.params["text"], edited.params["text"]
        assert "***" in edited.params["text"], edited.params["text"]
        assert len(result_line(w.engine.proposal(1))) < 400  # a bounded message, not the whole page
        assert w.ex.orders() == []

        reply = w.reply("/logs 200", "log line")
        if status != 400:  # an unclear answer is logged with the exchange's words
            assert "X-MBX-APIKEY" in reply["text"], "the log tail shows the quoted request (masked)"
        for where, text in (
            ("chat", chat_text(w)),
            ("/logs", reply["text"]),
            ("database", database_text(w.db_path)),
        ):
            assert leaked(text) is None, (where, leaked(text))
    finally:
        w.close()
        logging_root_remove(handler)
        stream.close()
    text = log_file.read_text(encoding="utf-8")
    assert status == 400 or "X-MBX-APIKEY" in text
    assert leaked(text) is None, ("log file", leaked(text))


def logging_root_remove(handler) -> None:  # type: ignore[no-untyped-def]
    import logging

    logging.getLogger().removeHandler(handler)


def test_a_400_that_quotes_the_request_shows_code_and_masked_message_everywhere(source, tmp_path):  # noqa: F811
    run_echo(source, tmp_path, 400)


@pytest.mark.slow
@pytest.mark.parametrize("status", [502, 200])
def test_a_gateway_page_or_a_non_json_200_never_leaks_a_prefix_of_the_key(source, tmp_path, status):  # noqa: F811
    run_echo(source, tmp_path, status)
