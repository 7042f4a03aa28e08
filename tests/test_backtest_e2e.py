"""/backtest and /optimize through the local Bot API and the replay exchange: candles fetched
over REST, one progress message, a PNG, and Apply buttons that change parameters exactly
as /set would (stored with who, audited, refused to non-admins)."""

from __future__ import annotations

import io
import re

from PIL import Image

from storage.audit import AuditLog
from storage.db import open_db
from storage.funding import FundingStore
from storage.klines import KlineStore
from storage.params import ParamStore
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)


def photo_after(w: World, mark: int, timeout: float = 60.0) -> dict:
    call = w.api.wait_for(lambda c: c.method == "sendPhoto" and c.ok, timeout=timeout, start=mark)
    assert call is not None, f"no photo; calls: {[c.method for c in w.api.calls[mark:]]}"
    msg = next(m for m in w.api.sent(GROUP) if m["message_id"] == call.result["message_id"])
    png = msg["photo_bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 1_000_000
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        assert im.size[0] >= 800 and im.size[1] >= 400
    return msg


def press(w: World, msg: dict, data: str, user: int) -> str:
    mark = w.api.mark()
    w.api.press_button(GROUP, user, msg["message_id"], data)
    answer = w.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark)
    assert answer is not None
    return answer.params.get("text", "")


def test_backtest_compares_and_apply_changes_params_like_set(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        mark = w.say("/backtest 2 fast=9 slow=30")
        photo = photo_after(w, mark)
        progress = [c for c in w.api.calls[mark:] if c.method in ("sendMessage", "editMessageText")]
        assert progress[0].params["text"].startswith("Backtest: starting")
        assert any(c.params.get("text", "").startswith("Backtest: fetching ") for c in progress)
        ids = {c.result["message_id"] for c in progress if c.ok}
        assert len(ids) == 1  # one message, edited
        table = next(m for m in w.api.sent(GROUP) if m["message_id"] in ids)["text"]
        assert "current" in table and "given" in table and "net PnL USDT" in table and "max drawdown USDT" in table
        assert "fees USDT" in table and re.search(r"win rate\s+(—|[\d.]+ %)", table)  # every number with its unit
        assert "fast" in table and "slow" in table
        # The chart shows the same window and the same PnL as the text: its caption says both.
        window = table.splitlines()[0].split(" · ", 2)[2]
        net = re.search(r"net PnL USDT\s+\S+\s+(\S+)", table)[1]  # the "given" column
        assert window in photo["caption"] and f"net PnL {net} USDT" in photo["caption"], (table, photo["caption"])
        # candles were fetched over REST into the store: 2 days of 15m plus the warm-up, and
        # with them the funding history (GET /fapi/v1/fundingRate), which the run booked
        assert KlineStore(open_db(w.db_path)).count("BTCUSDT", "15m") >= 2 * 96
        assert len(FundingStore(open_db(w.db_path)).rates("BTCUSDT")) >= 6
        assert "funding" in table and "liquidations" in table

        (apply_button,) = photo["reply_markup"]["inline_keyboard"][0]
        assert "Apply fast=9 slow=30" in apply_button["text"]
        data = apply_button["callback_data"]
        assert len(data.encode()) <= 64
        assert "Not allowed" in press(w, photo, data, GUEST)
        assert w.engine.params()[1]["fast"] == 12
        mark = w.api.mark()
        assert press(w, photo, data, ADMIN) == "Applied."
        assert w.api.wait_for_text(GROUP, "fast: 12 → 9", start=mark)
        assert (w.engine.params()[1]["fast"], w.engine.params()[1]["slow"]) == (9, 30)
        assert press(w, photo, data, ADMIN).startswith("Nothing changed")
        assert "not valid" in press(w, photo, data[:-2] + "xx", ADMIN)
    finally:
        w.close()
    db = open_db(w.db_path)
    history = {(h["name"], h["old"], h["new"], h["user_id"]) for h in ParamStore(db).history("ema_cross")}
    assert history == {("fast", "12", "9", ADMIN), ("slow", "26", "30", ADMIN)}
    audit = [(a["action"], a["user_id"], a["outcome"]) for a in AuditLog(db).recent(50)]
    assert ("/backtest", ADMIN, "ran fast=9 slow=30") in audit
    assert any(a == "button" and u == GUEST and o == "refused: not admin" for a, u, o in audit)
    assert any(a == "button" and u == ADMIN and o == "changed fast=9 slow=30" for a, u, o in audit)


def test_optimize_sends_a_heatmap_with_apply_buttons(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        mark = w.say("/optimize fast=5..8 slow=20..30:5 2 metric=net_pnl")
        photo = photo_after(w, mark)
        texts = [c.params.get("text", "") for c in w.api.calls[mark:] if c.method == "editMessageText"]
        assert any("running" in t for t in texts)
        final = texts[-1]
        assert "Optimize" in final and "parameters" in final and "✓" in final
        rows = photo["reply_markup"]["inline_keyboard"]
        assert 1 <= len(rows) <= 5 and rows[0][0]["text"].startswith("✅ #1 fast=")
        best = dict(kv.split("=") for kv in rows[0][0]["text"].removeprefix("✅ #1 ").split())
        press(w, photo, rows[0][0]["callback_data"], ADMIN)
        values = w.engine.params()[1]
        assert (str(values["fast"]), str(values["slow"])) == (best["fast"], best["slow"])
    finally:
        w.close()


def test_bad_input_is_refused_in_one_line(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        w.reply("/backtest 999", "days must be a whole number from 1 to 365, got '999'")
        w.reply("/backtest 3 speed=3", "unknown parameter 'speed'")
        w.reply("/backtest 3 fast=30 slow=20", "fast (30) must be smaller than slow (20)")
        w.reply("/backtest 3 fast=9 fast=10", "fast is given twice")
        w.reply("/backtest 3 leverage=125", "leverage: must be from 1 to 10 here (MAX_LEVERAGE), got 125")
        w.reply("/optimize 3", "give at least one parameter range")
        w.reply("/optimize fast=5..", "is not a number")
        w.reply("/optimize fast=2..200 slow=3..500", "combinations; at most 10,000")
        w.reply("/optimize fast=5..9 metric=luck", "metric must be one of")
        w.reply("/optimize fast=" + "9" * 100, "has too many digits")  # not the 100 digits, nor 1e+100
        w.reply("/backtest", "Not allowed: only admins can use /backtest.", user=GUEST)
        w.reply("/optimize fast=5..9", "Not allowed: only admins can use /optimize.", user=GUEST)
        assert w.engine.params()[1]["fast"] == 12
    finally:
        w.close()


def _bot_calls(w: World, mark: int) -> list:
    return [c for c in w.api.calls[mark:] if c.method in ("sendMessage", "editMessageText", "sendPhoto") and c.ok]


def test_backtest_says_which_candles_it_used_when_the_exchange_has_fewer(source, tmp_path):  # noqa: F811
    """The replay exchange starts with 700 candles of history: asking for 365 days must say so,
    with the real first and last candle and the count; a fetch counter, when shown, moves."""
    import re
    from datetime import UTC, datetime

    w = World(source, tmp_path)
    try:
        mark = w.say("/backtest 365")
        photo_after(w, mark)
        calls = _bot_calls(w, mark)
        texts = [c.params.get("text", "") for c in calls if c.method != "sendPhoto"]
        for t in texts:
            for done, total in re.findall(r"([\d,]+)/([\d,]+)", t):
                assert int(done.replace(",", "")) > 0, t  # a counter that never moves is not shown
                assert int(total.replace(",", "")) <= len(source), t  # no more than exist
        final = next(m for m in w.api.sent(GROUP) if m["message_id"] == calls[0].result["message_id"])
        shown = final["text"]
        assert "last 365 days" not in shown
        found = re.search(r"asked 365 days; the history available leaves (\d+\.\d) days to trade after the warm-up: (\S+ \S+) → (\S+ \S+) UTC · ([\d,]+) "
                          r"candles", shown)
        assert found, shown
        first, last = (int(datetime.strptime(x, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)
                       for x in found.group(2, 3))
        n = int(found.group(4).replace(",", ""))
        step = 15 * 60_000
        assert (last - first) // step + 1 == n and n < 800
        assert first >= source[0].open_time + 50 * step  # after the warm-up candles
        assert abs(float(found.group(1)) - n / 96) < 0.06
        # parse_mode=HTML: the table is a <pre> entity, not tags shown as text
        assert "<pre>" not in shown and any(e["type"] == "pre" for e in final.get("entities") or [])
        mark = w.say("/optimize fast=5..8 slow=20..30:5 365")
        photo_after(w, mark)
        calls = _bot_calls(w, mark)
        final = next(m for m in w.api.sent(GROUP) if m["message_id"] == calls[0].result["message_id"])["text"]
        assert "asked 365 days; the history available leaves" in final and "last 365 days" not in final
        cells = re.search(r"cells over ([\d,]+) candles", final)
        assert cells and int(cells.group(1).replace(",", "")) < 800 + 100, final
    finally:
        w.close()


def test_bad_input_posts_nothing_but_the_one_line(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        for text, expect in (("/backtest 3 speed=3", "unknown parameter 'speed'"),
                             ("/backtest 3 fast=30 slow=20", "must be smaller than slow"),
                             ("/optimize fast=5..", "is not a number"),
                             ("/optimize fast=2..200 slow=3..500", "at most 10,000")):
            mark = w.api.mark()
            w.reply(text, expect)
            sent = [c.params.get("text", "") for c in _bot_calls(w, mark)]
            assert len(sent) == 1 and "\n" not in sent[0], sent
    finally:
        w.close()


def test_optimize_a_10000_cell_grid_answers_with_progress_in_one_edited_message(source, tmp_path):  # noqa: F811
    """issue 31: /optimize takes the grid's compiled engine, so a 10,000-cell grid (the chat's
    limit) answers: every progress line edits the one message, which ends as the result
    (10,000 cells, the best re-run through the shared backtest), then the heatmap."""
    w = World(source, tmp_path)
    try:
        mark = w.say("/optimize fast=5..29 slow=30..49 leverage=1..10 stop_loss_pct=0,1.5 2")
        photo = photo_after(w, mark, timeout=120)
        calls = [c for c in _bot_calls(w, mark) if c.method != "sendPhoto"]
        assert len({c.result["message_id"] for c in calls}) == 1, [c.params.get("text") for c in calls]
        texts = [c.params.get("text", "") for c in calls]
        assert texts[0].startswith("Optimize: starting") and any("running 10,000 combinations" in t for t in texts)
        final = next(m for m in w.api.sent(GROUP) if m["message_id"] == calls[0].result["message_id"])["text"]
        assert "10,000 cells over" in final and "re-run through the shared backtest: identical (✓)" in final, final
        assert "through the shared backtest (" not in final  # every cell took the fast path
        assert photo["reply_markup"]["inline_keyboard"][0][0]["text"].startswith("✅ #1 fast=")
    finally:
        w.close()
