"""A member floods the group while an admin trades, under Telegram's group limit as the local
Bot API enforces it (20 messages a minute, 429 beyond): the admin's /long is proposed and its
Confirm reaches the exchange within 5 s each; 100 presses on the filled proposal delay nothing
by more than a few seconds; exactly one order. (Before: updates one at a time and every reply
waiting for the group's budget first come, first served: the proposal came minutes later.)"""

from __future__ import annotations

import threading
import time

import pytest

from bot.app import TELEGRAM_LIMITS
from storage.audit import AuditLog
from storage.db import open_db
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import proposal_message, started

EXCHANGE = {"TRADING_MODE": "testnet", "BINANCE_API_KEY": "replay-key", "BINANCE_API_SECRET": "replay-secret"}


class Arrivals:
    """When the exchange received each order POST (monotonic seconds)."""

    def __init__(self, ex) -> None:  # type: ignore[no-untyped-def]
        self.at: dict[str, float] = {}
        self._cond = threading.Condition()
        stats = ex._stats  # noqa: SLF001
        posted = stats.order_posted

        def record(client_id: str, *, algo: bool = False) -> None:
            posted(client_id, algo=algo)
            with self._cond:
                self.at.setdefault(client_id, time.monotonic())
                self._cond.notify_all()

        stats.order_posted = record  # type: ignore[method-assign]

    def wait_any(self, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: bool(self.at), timeout)
            return min(self.at.values()) if self.at else None


def test_a_members_flood_delays_neither_the_proposal_nor_the_order(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path, rate_limits=TELEGRAM_LIMITS, group_limit=20, **EXCHANGE)
    try:
        arrivals = Arrivals(w.ex)
        for _ in range(100):  # one member, 100 commands at once
            w.api.send_message(GROUP, GUEST, "/status")
        began = time.monotonic()
        mark = w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        proposed = time.monotonic() - began
        assert proposed <= 5.0, f"proposal after {proposed:.1f}s"

        pressed = time.monotonic()
        data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        arrived = arrivals.wait_any(timeout=10)
        assert arrived is not None and arrived - pressed <= 5.0, f"order after {None if arrived is None else arrived - pressed}"
        assert w.api.wait_for_text(GROUP, "filled: BUY 0.010 BTCUSDT", start=mark, timeout=10)

        # A storm of presses on the filled proposal (the admin's and the member's): answered,
        # nothing edited, nothing placed; the next proposal is not held up.
        mark = w.api.mark()
        for i in range(100):
            w.api.press_button(GROUP, (ADMIN, GUEST)[i % 2], msg["message_id"], data)
        began = time.monotonic()
        w.say("/close")
        proposal_message(w, mark, 2)
        assert time.monotonic() - began <= 5.0
        edits = [c for c in w.api.calls[mark:] if c.method == "editMessageText" and c.ok]
        assert edits == [], [c.params.get("text") for c in edits]
        assert list(w.ex.stats.order_posts.values()) == [1], w.ex.stats.order_posts
        # The flood was throttled and counted in the audit; the chat got one "slow down".
        slow = [c for c in w.api.calls if c.method == "sendMessage" and "slow down" in (c.params.get("text") or "")]
        assert len(slow) == 1
        print(f"proposal {proposed:.2f}s, order {arrived - pressed:.2f}s")
        w.bot.stop()  # shutdown writes the throttle's last counts to the audit
        rows = AuditLog(open_db(w.db_path)).recent(500)
        ignored = sum(int(r["detail"].split()[0]) for r in rows if r["action"] == "throttled")
        assert ignored >= 90, ignored  # 100 commands and 50 presses, a few within the budget
    finally:
        w.close()


MEMBERS = tuple(range(2001, 2007))  # six members, each using their normal share
FLOODER = 2100


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
def test_members_traffic_neither_delays_an_admins_commands_nor_makes_them_stale(source, tmp_path):  # noqa: F811
    """issue 25: six members' normal share and one member's 400 /help held every one of PTB's
    update slots (each waiting on the flooder's lock), so the admin's Confirm and /pause waited
    minutes and were then called stale. Bounded: 431 updates, loopback, 10 s per wait."""
    from tests.test_single_instance import wait_until

    w = started(source, tmp_path, rate_limits=TELEGRAM_LIMITS, group_limit=20, STALE_COMMAND_SECONDS="2", **EXCHANGE)
    try:
        arrivals = Arrivals(w.ex)
        mark = w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        for member in MEMBERS:
            for _ in range(5):
                w.api.send_message(GROUP, member, "/help")
        for _ in range(400):
            w.api.send_message(GROUP, FLOODER, "/help")
        data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        w.api.press_button(GROUP, ADMIN, msg["message_id"], data)
        w.say("/pause")
        assert arrivals.wait_any(timeout=10) is not None, "the admin's Confirm waited behind the members"
        assert wait_until(lambda: bool(w.engine.paused_reasons()), timeout=10), "the admin's /pause waited behind the members"
        audit = [(a["action"], a["outcome"]) for a in w.engine.audit_log(50)]
        assert not any(o.startswith("ignored: stale") for _, o in audit), audit
        assert not any("Not executed" in (c.params.get("text") or "") for c in w.api.calls), "called stale"
        assert list(w.ex.stats.order_posts.values()) == [1], w.ex.stats.order_posts
    finally:
        w.close()
