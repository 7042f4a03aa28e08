"""/params and /set through the local Bot API: all or none, refusals, audit, a restart."""

from __future__ import annotations

import re

from storage.audit import AuditLog
from storage.db import open_db
from storage.params import ParamStore
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)


def test_params_and_set_all_or_none_refused_audited_and_kept(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        msg = w.reply("/params", "ema_cross")
        for name in ("fast", "slow", "stake_usdt", "leverage", "stop_loss_pct", "take_profit_pct", "rsi_period"):
            assert name in msg["text"]
        assert re.search(r"fast +=.12 +2…200", msg["text"])

        # One bad value: nothing changes, one clear line.
        w.reply("/set fast=9 slow=abc", "slow: 'abc' is not a number (plain digits and one point, like 0.01); nothing changed")
        w.reply("/set fast=30 slow=20", "fast (30) must be smaller than slow (20); nothing changed")
        w.reply("/set speed=3", "unknown parameter 'speed'")
        w.reply("/set fast", "expected name=value")
        # One range, the effective cap, whatever was typed: the same words as /params' 1…10.
        w.reply("/set leverage=50", "leverage: must be from 1 to 10 here (MAX_LEVERAGE), got 50; nothing changed")
        w.reply("/set leverage=200", "leverage: must be from 1 to 10 here (MAX_LEVERAGE), got 200; nothing changed")
        w.reply("/set leverage=0", "leverage: must be from 1 to 10 here (MAX_LEVERAGE), got 0; nothing changed")
        assert w.engine.params()[1]["fast"] == 12

        # A non-admin is refused and changes nothing.
        w.reply("/set fast=5", "Not allowed: only admins can use /set.", user=GUEST)
        assert w.engine.params()[1]["fast"] == 12

        msg = w.reply("/set fast=9 slow=30 stop_loss_pct=1.5", "Parameters changed")
        assert "fast: 12 → 9" in msg["text"] and "slow: 26 → 30" in msg["text"]
        assert "stop_loss_pct: 0 → 1.5" in msg["text"]
        w.reply("/set fast=9", "Nothing changed")
        assert re.search(r"fast +=.9 ", w.reply("/params", "ema_cross")["text"])
    finally:
        w.close()

    db = open_db(w.db_path)
    history = ParamStore(db).history("ema_cross")
    assert {(h["name"], h["old"], h["new"], h["user_id"]) for h in history} == {
        ("fast", "12", "9", ADMIN), ("slow", "26", "30", ADMIN), ("stop_loss_pct", "0", "1.5", ADMIN)
    }
    audit = [(a["action"], a["user_id"], a["outcome"]) for a in AuditLog(db).recent(50) if a["action"] == "/set"]
    assert ("/set", GUEST, "refused: not admin") in audit
    assert ("/set", ADMIN, "changed fast=9 slow=30 stop_loss_pct=1.5") in audit
    assert any(o.startswith("usage: /set: slow: 'abc' is not a number") for _, _, o in audit)

    # A restart keeps the change.
    w2 = World(source, tmp_path)
    try:
        assert w2.engine.params()[1]["fast"] == 9
        assert re.search(r"slow +=.30 ", w2.reply("/params", "ema_cross")["text"])
    finally:
        w2.close()
