"""The operator's commands end to end through the local Bot API: /daily /weekly /monthly
/performance, /pending with Reject all, /health, /version, /logs, /config."""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal

from tests.test_bot_e2e import ADMIN, GROUP, GUEST, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import press, proposal_message, started
from trading.live.proposals import Proposal

NEW = ("pause", "resume", "daily", "weekly", "monthly", "performance", "pending", "health", "version", "logs", "config")


def pre_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if re.match(r"^\d{4}-\d\d", line)]


def test_reports_pending_health_version_logs_config(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        names = {c["command"] for c in w.api.my_commands()}
        assert set(NEW) <= names
        helped = w.reply("/help", "Commands")["text"]
        assert all(f"/{n}" in helped for n in NEW)

        w.reply("/daily", "Daily PnL")
        for cmd in ("/long 0.01", "/close"):
            mark = w.api.mark()
            w.say(cmd)
            msg = proposal_message(w, mark, 1 if cmd.startswith("/long") else 2)
            assert press(w, ADMIN, msg, 0).startswith("filled")
        net = w.engine.pnl("all").realized
        fees = w.engine.pnl("all").fees

        daily = w.reply("/daily 3", "Daily PnL")["text"]
        rows = pre_rows(daily)
        assert len(rows) == 3 and "last 3 UTC days" in daily
        newest = rows[0]  # newest first: today's (the market's) day holds the trade
        assert newest[-2] == "1" and Decimal(newest[4].replace(",", "")) == net.quantize(Decimal("0.01"))
        assert Decimal(newest[2].replace(",", "")) == fees.quantize(Decimal("0.01"))
        assert [r[-2] for r in rows[1:]] == ["0", "0"]
        ret = net / w.engine.settings.paper_balance * 100
        assert Decimal(newest[-1]) == ret.quantize(Decimal("0.01"))
        assert "gross" in daily and "fees" in daily and "net" in daily and "return %" in daily and "USDT" in daily
        assert len(pre_rows(w.reply("/weekly", "Weekly PnL")["text"])) == 4
        assert len(pre_rows(w.reply("/monthly", "Monthly PnL")["text"])) == 6
        w.reply("/daily 0", "from 1 to 90")
        w.reply("/weekly 53", "from 1 to 52")
        w.reply("/monthly x", "from 1 to 24")
        perf = w.reply("/performance", "Performance")["text"]
        assert re.search(r"BTCUSDT\s+1\s+[01]\s", perf)

        # /pending: only what it listed is rejected by its button.
        w.reply("/pending", "No open proposals")
        mark = w.api.mark()
        w.say("/long 0.01")
        proposal_message(w, mark, 3)
        listing = w.reply("/pending", "Open proposals (1)")
        assert "#3 long BTCUSDT 0.01 · pending" in listing["text"]
        mark = w.api.mark()
        w.say("/short 0.01")
        proposal_message(w, mark, 4)  # posted after the list was sent
        assert "Not allowed" in press(w, GUEST, listing, 0)
        assert w.engine.proposal(3).status == "pending"
        mark = w.api.mark()
        assert press(w, ADMIN, listing, 0) == "Rejected by user 1001: #3"
        assert w.engine.proposal(3).status == "rejected" and w.engine.proposal(4).status == "pending"
        # #3's own message is brought to its final state, without buttons.
        edited = w.api.wait_for(
            lambda c: c.method == "editMessageText" and "Order proposal #3" in c.params.get("text", ""), start=mark
        )
        assert edited is not None and "rejected" in edited.params["text"]
        assert "no longer pending" in press(w, ADMIN, listing, 0)
        w.reply("/pending", "Not allowed", user=GUEST)

        health = w.reply("/health", "Health")["text"]
        assert "Market stream: 🟢 connected" in health or "Market stream: 🟡" in health
        assert "User stream: n/a" in health and "Clock offset (exchange − bot): n/a" in health
        close_id = w.engine.recent_fills(1)[0].order_id
        assert f"UTC · SELL BTCUSDT · FILLED ({close_id})" in health, health
        assert re.search(r"Database: \d+(\.\d)? (B|KB|MB)", health) and "Uptime: " in health
        assert "Last candle: " in health and "UTC (open time)" in health

        version = w.reply("/version", "tgtrader")["text"]
        assert re.match(r"tgtrader \d+\.\d+\S* · commit ([0-9a-f]{7,12}|unknown)", version), version

        token = w.engine.settings.telegram_token
        logging.getLogger("tests.ops").warning("a line quoting the token %s", token)
        w.reply("/logs", "Not allowed", user=GUEST)
        logs = w.reply("/logs 50", "log line")["text"]
        assert "a line quoting the token ***" in logs and token not in logs
        w.reply("/logs 0", "from 1 to 200")

        config = w.reply("/config", "Settings in effect")["text"]
        assert re.search(r"TELEGRAM_TOKEN\s+\*\*\* \(set\)", config) and token not in config
        assert re.search(r"MAX_LEVERAGE\s+10\b", config) and re.search(rf"TELEGRAM_CHAT_ID\s+{GROUP}", config)
        assert re.search(r"BINANCE_API_SECRET\s+\(not set\)", config)
    finally:
        w.close()


def test_a_confirm_racing_reject_all_places_at_most_once(source, tmp_path):  # noqa: F811
    w = started(source, tmp_path)
    try:
        for _ in range(5):
            p = w.engine.propose_order("long", None, Decimal("0.002"), ADMIN)  # one leg each
            assert isinstance(p, Proposal)
            before = len(w.engine.recent_fills(100))
            go = threading.Event()
            out: dict[str, object] = {}

            def confirm(pid: int = p.id, go: threading.Event = go, out: dict = out) -> None:
                go.wait()
                out["confirm"] = w.engine.confirm(pid, ADMIN)

            def reject(pid: int = p.id, go: threading.Event = go, out: dict = out) -> None:
                go.wait()
                out["reject"] = w.engine.reject_all(pid, ADMIN, "@admin")

            threads = [threading.Thread(target=confirm), threading.Thread(target=reject)]
            for t in threads:
                t.start()
            go.set()
            for t in threads:
                t.join(30)
            status = w.engine.proposal(p.id).status
            placed = len(w.engine.recent_fills(100)) - before
            assert (status, placed) in (("filled", 1), ("rejected", 0)), (status, placed, out)
            assert out["confirm"].ok == (status == "filled")  # type: ignore[attr-defined]
            assert [x.id for x in out["reject"]] == ([] if status == "filled" else [p.id])  # type: ignore[union-attr]
    finally:
        w.close()
