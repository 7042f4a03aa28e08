"""The dashboard Mini App over HTTP, the real bot polling the local Bot API and trading on the
replay exchange: who may see it (initData validated on every request, members only), that
its figures are /status's, /pnl's and /balance's to the cent, that an admin's Confirm from
the page places one order and edits the proposal's chat message exactly as the button
would, that everyone else's POST is refused and audited, and that no secret reaches it."""

from __future__ import annotations

import json
import time

from tests.dashboard import PUBLIC, base, dashboard_world, http, init_data, state
from tests.helpers import observe
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen, press, proposal_message

STRANGER = 4242  # a Telegram user in no served chat


def one_candle(w: World) -> None:
    """Let the paused market close a candle or two live, then stand still again once the
    trader has taken in every candle the exchange closed."""
    seen = observe(w.engine, Seen)
    w.ex.resume()
    assert w.ex.wait_for_index(w.ex.current_index + 2, timeout=10)
    w.ex.pause()
    while True:
        index = w.ex.current_index
        assert seen.wait(w.source[index - 1].open_time)
        if w.ex.current_index == index:
            return


def text_after(message: str, head: str) -> str:
    return next(line for line in message.split("\n") if line.startswith(head))[len(head):]


def test_initdata_is_checked_on_every_request(source, tmp_path):  # noqa: F811
    w = dashboard_world(source, tmp_path)
    try:
        good = init_data(w, ADMIN)
        assert http(w, "GET", "/api/state", good)[0] == 200
        tampered = good.replace("Ada", "Eve")
        expired = init_data(w, ADMIN, auth_date=int(time.time()) - 3601)
        foreign = init_data(w, ADMIN, token="999:ANOTHER-BOT-TOKEN")
        future = init_data(w, ADMIN, auth_date=int(time.time()) + 3600)
        no_hash = good.rsplit("&hash=", 1)[0]
        for bad in (None, "", tampered, expired, foreign, future, no_hash, good + "&hash=00", "x" * 5000):
            for path in ("/api/state", "/api/events", "/api/chart.png", "/api/equity.png"):
                status, _, body = http(w, "GET", path, bad)
                assert (status, body) == (401, b"unauthorized"), (path, bad and bad[:40], status, body)
            status, _, body = http(w, "POST", "/api/proposals/1/confirm", bad, {"instance": "x"})
            assert (status, body) == (401, b"unauthorized")
        # A valid initData, but its user is in no served chat: nothing shown either.
        w.api.add_member(-100777, STRANGER, "Sam")  # known to Telegram, not in the group
        status, _, body = http(w, "GET", "/api/state", init_data(w, STRANGER))
        assert status == 403 and b"not a member" in body
        w.api.add_member(GROUP, STRANGER, "Sam")
        w.bot.app.bot_data["dashboard"].members.forget()
        assert http(w, "GET", "/api/state", init_data(w, STRANGER))[0] == 200
        assert state(w, GUEST)["me"] == {"id": GUEST, "who": "@gus", "admin": False}
        assert state(w, ADMIN)["me"]["admin"] is True
    finally:
        w.close()


def test_the_page_shows_the_chats_numbers_to_the_cent(source, tmp_path):  # noqa: F811
    w = dashboard_world(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled: BUY 0.010 BTCUSDT")
        s = state(w)
        status = w.reply("/status", "Position:")["text"]
        assert s["positions"][0]["line"] == text_after(status, "Position: ")
        assert s["status_text"].split("\n")[-2:] == status.split("\n")[-2:]
        pos = s["positions"][0]
        assert (pos["side"], pos["qty"]) == ("long", "0.010")
        assert f"@ {pos['entry']} · mark {pos['mark']} · uPnL {pos['upnl']} USDT" in pos["line"]
        pnl = w.reply("/pnl", "PnL · today")["text"].split("\n")
        assert s["pnl"]["today"]["lines"] == pnl[1:3]
        assert s["pnl"]["today"]["unrealized"] + " USDT" == text_after(pnl[2], "Unrealized (open position): ")
        balance = w.reply("/balance", "Balance · paper")["text"].split("\n")
        assert s["account"]["lines"] == balance
        a = s["account"]
        assert balance[1] == f"Wallet: {a['wallet']} USDT" and balance[2] == f"Equity: {a['equity']} USDT"
        assert balance[3] == f"Margin used: {a['margin']} USDT · available {a['available']} USDT"
        trades = w.reply("/trades", "Last 1 fill")["text"]
        t = s["trades"][0]
        assert f"{t['leg']:<7} {t['side']:<4} {t['qty']} {t['symbol']} @ {t['price']}  fee {t['fee']} USDT" in trades
        schema, values = w.engine.params()
        assert s["strategy"] == w.engine.strategy and len(s["params"]) == len(schema.params)
    finally:
        w.close()


def test_confirm_from_the_page_places_once_and_edits_the_chat_message(source, tmp_path):  # noqa: F811
    w = dashboard_world(source, tmp_path)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        msg = proposal_message(w, mark, 1)
        s = state(w)
        assert [p["id"] for p in s["proposals"]] == [1] and s["proposals"][0]["actionable"]
        assert "Order proposal #1: long BTCUSDT" in s["proposals"][0]["text"]
        body = {"instance": s["instance"]}
        # Refused, each with nothing placed: a guest's valid initData, a cross-origin request,
        # a form post (no JSON), another database's proposal.
        status, _, answer = http(w, "POST", "/api/proposals/1/confirm", init_data(w, GUEST), body)
        assert status == 403 and json.loads(answer)["note"] == "Not allowed: only admins can do that."
        evil = {"Origin": "https://evil.example"}
        assert http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), body, evil)[0] == 403
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), body, form)[0] == 415
        status, _, answer = http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), {"instance": "0ld"})
        assert json.loads(answer)["note"] == "This button belongs to an older proposal."
        assert w.engine.proposal(1).status == "pending" and w.engine.recent_fills(5) == []

        mark = w.api.mark()
        status, _, answer = http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), body,
                                 {"Origin": PUBLIC})
        assert status == 200 and json.loads(answer)["note"].startswith("filled: BUY 0.010 BTCUSDT"), answer
        edit = w.api.wait_for(lambda c: c.method == "editMessageText" and c.ok, start=mark, timeout=10)
        assert edit is not None and int(edit.params["message_id"]) == msg["message_id"]
        shown = next(m for m in w.api.sent(GROUP) if m["message_id"] == msg["message_id"])
        assert "filled: BUY 0.010 BTCUSDT" in shown["text"] and "reply_markup" not in shown
        # Again, from the page or the chat: nothing more is placed.
        status, _, answer = http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), body)
        assert "no longer pending" in json.loads(answer)["note"]
        assert "no longer pending" in press(w, ADMIN, msg, 0)
        assert len(w.engine.recent_fills(5)) == 1
        audit = [(r["user_id"], r["action"], r["detail"], r["outcome"]) for r in w.engine.audit_log(20)]
        assert (GUEST, "dashboard", "confirm #1", "refused: not admin") in audit
        assert (ADMIN, "dashboard", "confirm #1", "confirm #1: filled") in audit
        assert state(w)["proposals"] == []

        # Reject from the page: the message says who, as the chat's Reject does.
        mark = w.api.mark()
        w.say("/close")
        close_msg = proposal_message(w, mark, 2)
        status, _, answer = http(w, "POST", "/api/proposals/2/reject", init_data(w, ADMIN), body)
        assert json.loads(answer)["note"] == f"rejected by user {ADMIN}"  # (the admin has no @username now)
        assert w.api.wait_for_text(GROUP, f"rejected by user {ADMIN}", start=mark)
        shown = next(m for m in w.api.sent(GROUP) if m["message_id"] == close_msg["message_id"])
        assert "reply_markup" not in shown and w.engine.proposal(2).status == "rejected"
        assert w.engine.side("BTCUSDT") == 1
    finally:
        w.close()


def test_no_secret_reaches_the_page(source, tmp_path):  # noqa: F811
    key, secret = "KEY-a8f3e1d2c4b5", "SECRET-9c7d6e5f4a3b"
    w = dashboard_world(source, tmp_path, BINANCE_API_KEY=key, BINANCE_API_SECRET=secret)
    try:
        mark = w.api.mark()
        w.say("/long 0.01")
        assert press(w, ADMIN, proposal_message(w, mark, 1), 0).startswith("filled")
        w.say("/short 0.01")
        assert w.api.wait_for_text(GROUP, "Order proposal #2", start=mark)
        dash = w.bot.app.bot_data["dashboard"]
        token = w.settings.telegram_token
        forbidden = [token, token.split(":")[1], key, secret, dash._key.hex(), w.bot.app.bot_data["signer"]._key.hex()]
        init = init_data(w, ADMIN)
        bodies = []
        for path in ("/", "/static/app.js", "/static/app.css", "/api/state", "/api/chart.png", "/api/equity.png"):
            status, headers, body = http(w, "GET", path, init)
            assert status == 200, path
            bodies.append(body + json.dumps(headers).encode())
        status, headers, body = http(w, "GET", "/api/events", init, read=65536)
        assert status == 200 and headers["Content-Type"] == "text/event-stream" and body.startswith(b"event: state")
        bodies.append(body)
        for body in bodies:
            for s in forbidden:
                assert s.encode() not in body and s.lower().encode() not in body.lower()
    finally:
        w.close()


def test_dashboard_command_and_menu_button(source, tmp_path):  # noqa: F811
    w = dashboard_world(source, tmp_path)
    try:
        msg = w.reply("/dashboard", "The dashboard")
        button = msg["reply_markup"]["inline_keyboard"][0][0]
        assert button["url"] == f"https://t.me/{w.api.bot_username}?startapp={GROUP}"
        assert w.api.web_apps.get_chat_menu_button({}, None)[0] == {
            "type": "web_app", "text": "Dashboard", "web_app": {"url": PUBLIC + "/"},
        }
        status, headers, page = http(w, "GET", "/")
        assert status == 200 and b"static/app.js" in page and "script-src 'self'" in headers["Content-Security-Policy"]
        assert base(w).startswith("http://127.0.0.1:")
    finally:
        w.close()


def test_dashboard_off_says_how_to_turn_it_on(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        assert "dashboard" not in w.bot.app.bot_data
        msg = w.reply("/dashboard", "The dashboard is off")
        assert "WEBAPP_URL" in msg["text"] and "reply_markup" not in msg
        assert w.api.web_apps.get_chat_menu_button({}, None)[0] == {"type": "default"}
    finally:
        w.close()


def test_a_confirm_before_the_proposal_message_is_recorded_still_edits_it(source, tmp_path):  # noqa: F811
    """The page lists a proposal as soon as it is stored; its chat message may still be on its
    way (here Telegram answers the first send with 429). The press waits for the message, so
    the message ends filled and without buttons, as after a button press."""
    w = dashboard_world(source, tmp_path)
    try:
        w.api.flood(count=1, retry_after=1, methods=("sendMessage",))
        mark = w.api.mark()
        w.say("/long 0.01")
        deadline = time.monotonic() + 10
        while w.engine.proposal(1) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a condition: the proposal stored, its message not yet posted
        assert w.engine.proposal(1).message_id is None
        status, _, answer = http(w, "POST", "/api/proposals/1/confirm", init_data(w, ADMIN), {"instance": w.engine.instance_id})
        assert json.loads(answer)["note"].startswith("filled: BUY 0.010 BTCUSDT"), answer
        msg = proposal_message(w, mark, 1)
        assert w.api.wait_for_text(GROUP, "filled: BUY 0.010 BTCUSDT", start=mark)
        shown = next(m for m in w.api.sent(GROUP) if m["message_id"] == msg["message_id"])
        assert "filled: BUY 0.010" in shown["text"] and "reply_markup" not in shown, shown
    finally:
        w.close()


def test_an_open_page_does_not_hold_the_bots_shutdown_up(source, tmp_path):  # noqa: F811
    import http.client

    w = dashboard_world(source, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", w.bot.app.bot_data["dashboard"].port, timeout=10)
    try:
        conn.request("GET", "/api/events", headers={"Authorization": "tma " + init_data(w, ADMIN)})
        response = conn.getresponse()
        assert response.status == 200 and response.read1(65536).startswith(b"event: state")
        w.bot.stop(timeout=10)  # the page stays open meanwhile
        assert w.bot._thread is not None and not w.bot._thread.is_alive()
    finally:
        conn.close()
        w.close()


def test_the_page_shows_the_account_protections_and_locks_as_protections_says(source, tmp_path):  # noqa: F811
    """Issue 29's protections on the page (issue 30: "the day's net against any loss limit",
    "the active protections"): /protections' lines word for word, the loss limit on the
    account card, a cooldown's lock after a close, gone after /unlock."""
    from tests.test_exits_e2e import confirm

    w = dashboard_world(source, tmp_path, MAX_DAILY_LOSS="50", COOLDOWN_CANDLES="4", STOPLOSS_GUARD="2/10")
    try:
        one_candle(w)  # a candle closes live, so the protections have measured
        s = state(w)
        said = w.reply("/protections", "Protections")["text"].split("\n")[1:]
        assert said and all(line in s["protections"] for line in said), (said, s["protections"])
        assert s["account"]["loss_limit"]["limit"] == "-50.00" and s["account"]["loss_limit"]["tripped"] is False
        from bot.views import utc

        closed = w.source[w.ex.current_index - 1].open_time + 900_000  # measured at the latest close, and said so
        assert any(f"today's net +0.00 USDT at the {utc(closed)} UTC close" in line for line in said), said
        assert s["locks"] == []
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        mark = w.api.mark()
        assert confirm(w, "close", None).startswith("filled: SELL 0.010 BTCUSDT")
        assert w.api.wait_for_text(GROUP, "cooldown after a close", timeout=10, start=mark)
        s = state(w)
        said = w.reply("/protections", "🔒 BTCUSDT")["text"].split("\n")[1:]
        assert all(line in s["protections"] for line in said), (said, s["protections"])
        assert [lk["symbol"] for lk in s["locks"]] == ["BTCUSDT"]
        assert s["locks"][0]["why"] == "cooldown, COOLDOWN_CANDLES" and s["locks"][0]["until"] in said[-1]
        w.reply("/unlock BTCUSDT", "Unlocked: BTCUSDT")
        s = state(w)
        assert s["locks"] == [] and "Locks: none" in s["protections"]
    finally:
        w.close()


def test_the_page_says_when_no_account_protection_is_on(source, tmp_path):  # noqa: F811
    w = dashboard_world(source, tmp_path)
    try:
        s = state(w)
        assert s["account"]["loss_limit"] is None and s["locks"] == []
        assert s["protections"][-1].startswith("Account protections: all off")
    finally:
        w.close()


def test_the_page_shows_a_trailing_stop_and_each_hedge_mode_leg_apart(source, tmp_path):  # noqa: F811
    """Issue 30's "resting stop/take-profit/trailing levels", and a Hedge Mode account's two
    legs of one symbol as two cards (each /status's own line), not one overwriting the other."""
    from tests.test_exits_e2e import confirm

    w = dashboard_world(source, tmp_path, PAPER_HEDGE_MODE="on", MAX_POSITION_NOTIONAL="5000",  # both legs count
                        STRATEGY="ema_cross")  # (exits are strategy parameters)
    try:
        said = w.reply("/set trailing_stop_pct=1.5 trailing_activation_pct=0.5", "trailing_stop_pct")["text"]
        assert "trailing_stop_pct: 0 → 1.5" in said, said
        one_candle(w)  # parameters change from the next closed candle
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        assert confirm(w, "short").startswith("filled: SELL 0.010 BTCUSDT")  # the SHORT leg, the LONG one stays
        s = state(w)
        status = w.reply("/status", "Position:")["text"]
        legs = {p["key"]: p for p in s["positions"]}
        assert set(legs) == {"BTCUSDT-LONG", "BTCUSDT-SHORT"}, legs
        for key, side in (("BTCUSDT-LONG", "long"), ("BTCUSDT-SHORT", "short")):
            p = legs[key]
            assert p["side"] == side and p["leg"] == key.split("-")[1]
            assert p["line"] in status, (p["line"], status)
            assert p["trail"] is not None and p["trail"].startswith("1.5% · activates at "), p
            assert " · trailing 1.5% (activates at " in p["line"], p
    finally:
        w.close()
