"""Hedge Mode end to end (issue 28): the real bot through the local Bot API and the replay
exchange in Hedge Mode. /long 0.01 and /short 0.01 confirmed → both legs at the exchange
and in /status, both legs' exits resting; the LONG stop fills → only the LONG leg closes,
the SHORT leg and its exits stay, the chat says which; a restart reconciles both legs; a
trade by hand on the LONG leg is booked into it; /close short closes the rest. The mode
switched in Binance's app while running is said once and no order is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import exchange_client, observe, past_connect
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import DEMO, next_candle, open_algo, settle
from tests.test_orders_e2e import Seen, press


def hedge_world(source, tmp_path, **env: str) -> World:  # noqa: F811
    w = World(source, tmp_path, **{"STRATEGY": "ema_cross", "CONFIRM_ORDERS": "on", "MAX_POSITION_NOTIONAL": "2000", **DEMO, **env})
    w.ex.set_account_modes(hedge=True)  # as its owner set it up in Binance's app
    w.seen = observe(w.engine, Seen)
    w.reply("/start", "Starting")
    assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
    past_connect(w)
    settle(w)
    return w


def legs_at_exchange(w: World) -> dict[str, str]:
    rows = exchange_client(w.settings).futures_position_information(symbol="BTCUSDT")
    return {r["positionSide"]: r["positionAmt"] for r in rows if Decimal(r["positionAmt"])}


def confirmed(w: World, command: str, expect: str) -> str:
    mark = w.api.mark()
    w.say(command)
    msg = w.api.wait_for_text(GROUP, f"{command}", start=mark, timeout=10)
    while msg is not None and "Order proposal #" not in msg["text"]:  # a reply first: read on
        msg = w.api.wait_for_text(GROUP, "Order proposal #", start=mark, timeout=10)
    assert msg is not None and command in msg["text"], f"no proposal for {command}: {[m.get('text') for m in w.api.sent(GROUP)[-4:]]}"
    answer = press(w, ADMIN, msg, 0)
    assert answer.startswith(expect), answer
    return answer


def stop_pct_long_first(w: World, long_entry: Decimal, short_entry: Decimal) -> Decimal:
    """A stop distance the replayed path meets on the LONG leg's side first, and the SHORT
    leg's stop not within the next candles: so the scenario is the same on every run."""
    candles = w.source[w.ex.current_index + 1 :]  # from the candle that applies the levels
    for tenths in range(3, 60):
        pct = Decimal(tenths) / 10
        down, up = float(long_entry * (1 - pct / 100)), float(short_entry * (1 + pct / 100))
        lows, highs = [float(c.low) for c in candles], [float(c.high) for c in candles]
        hit = next((i for i in range(len(candles)) if lows[i] <= down or highs[i] >= up), None)
        if hit is not None and hit >= 3 and lows[hit] <= down and all(h < up for h in highs[: hit + 4]):
            return pct
    raise AssertionError("no stop distance the LONG leg meets first")


@pytest.mark.slow  # a multi-second end-to-end run: make test-slow (CI runs it)
def test_hedge_mode_legs_end_to_end(source, tmp_path) -> None:  # noqa: F811
    w = hedge_world(source, tmp_path)
    try:
        assert w.engine.hedge_mode()
        confirmed(w, "/long 0.01", "filled: BUY 0.010 BTCUSDT")
        answer = confirmed(w, "/short 0.01", "filled: SELL 0.010 BTCUSDT")
        assert "legs: LONG 0.010 → LONG 0.010 · SHORT 0.010" in answer
        assert legs_at_exchange(w) == {"LONG": "0.010", "SHORT": "-0.010"}
        status = w.reply("/status", "long 0.010 BTCUSDT (LONG leg)")["text"]
        assert "short 0.010 BTCUSDT (SHORT leg)" in status
        trades = w.reply("/trades", "Last 2 fills")["text"]  # each leg its own position: two opens
        assert "open    BUY  0.010 BTCUSDT LONG leg" in trades and "open    SELL 0.010 BTCUSDT SHORT leg" in trades
        orders = w.ex.orders()
        assert [(o["side"], o["positionSide"], o["reduceOnly"]) for o in orders] == [
            ("BUY", "LONG", False), ("SELL", "SHORT", False)]  # fmt: skip
        # both legs' exits rest on the exchange, each with its leg
        pct = stop_pct_long_first(w, w.engine.position("BTCUSDT", "LONG").entry, w.engine.position("BTCUSDT", "SHORT").entry)
        w.engine.set_params({"stop_loss_pct": str(pct), "take_profit_pct": "30"}, ADMIN)
        next_candle(w)  # the levels apply from the next closed candle
        resting = sorted((o["positionSide"], o["side"], o["orderType"]) for o in open_algo(w))
        assert resting == [("LONG", "SELL", "STOP_MARKET"), ("LONG", "SELL", "TAKE_PROFIT_MARKET"),
                           ("SHORT", "BUY", "STOP_MARKET"), ("SHORT", "BUY", "TAKE_PROFIT_MARKET")]  # fmt: skip
        # a restart in the middle: both legs reconciled, no second pair of exits
        w.bot.stop()
        w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
        w.seen = observe(w.engine, Seen)
        assert w.api.wait_for_text(GROUP, "resumed streaming", timeout=15)
        assert w.engine.hedge_mode() and w.engine.position("BTCUSDT", "LONG").qty == Decimal("0.010")
        assert w.engine.position("BTCUSDT", "SHORT").qty == Decimal("-0.010")
        # the LONG stop fills on the exchange: only the LONG leg closes
        mark = w.api.mark()
        w.ex.resume()
        long_leg = w.ex.account.legs["BTCUSDT"]["LONG"]  # read on the replay's Condition (no request from inside it)
        assert w.ex.wait_until(lambda: not long_leg.amt, timeout=30)
        said = w.api.wait_for_text(GROUP, "stop-loss filled: SELL 0.010 BTCUSDT LONG leg", start=mark, timeout=15)
        assert said is not None and said["text"].endswith("LONG leg closed"), said
        w.ex.pause()
        assert legs_at_exchange(w) == {"SHORT": "-0.010"}
        assert w.engine.position("BTCUSDT", "LONG") is None
        assert sorted(o["positionSide"] for o in open_algo(w)) == ["SHORT", "SHORT"]  # the SHORT leg's exits stay
        # a trade by hand in Binance's app on the LONG leg is booked into it
        mark = w.api.mark()
        w.ex.trade_by_hand("BUY", "0.005", position_side="LONG")
        assert w.api.wait_for_text(GROUP, "BUY 0.005", start=mark, timeout=10)
        assert w.engine.position("BTCUSDT", "LONG").qty == Decimal("0.005")
        # funding is paid per leg (LONG 0.005 pays, SHORT 0.010 receives): each booked into its leg
        before, mark = w.engine.funding_booked(), w.api.mark()
        income = exchange_client(w.settings)
        rows_before = len(income.futures_income_history(incomeType="FUNDING_FEE", startTime=0, limit=1000))
        paid = w.ex.control("funding", rate="0.001")["paid"]
        assert len(paid) == 2 and w.api.wait_for_text(GROUP, "funding BTCUSDT SHORT leg: received", start=mark, timeout=20)
        assert w.api.wait_for_text(GROUP, "funding BTCUSDT LONG leg: paid", start=mark, timeout=20)
        # every payment since (a regular funding time the market stood on is paid first, in time order)
        new = income.futures_income_history(incomeType="FUNDING_FEE", startTime=0, limit=1000)[rows_before:]
        assert sum(Decimal(p) for p in paid) > 0 and len(new) in (2, 4), new
        assert w.engine.wait_account(lambda a: w.engine.funding_booked() - before == sum(Decimal(r["income"]) for r in new), timeout=10)
        # /close short closes the SHORT leg only, then /close long the rest
        confirmed(w, "/close short", "filled: BUY 0.010 BTCUSDT")
        assert legs_at_exchange(w) == {"LONG": "0.005"}
        confirmed(w, "/close long", "filled: SELL 0.005 BTCUSDT")
        assert legs_at_exchange(w) == {}
        mine = [o for o in w.ex.orders() if str(o["clientOrderId"]).startswith(("tg-", "tgp-"))]
        assert len(mine) == 4 and all(o["reduceOnly"] is False for o in mine)  # never reduceOnly in Hedge Mode
    finally:
        w.close()


def test_a_mode_switched_in_the_app_is_said_once_and_no_order_is_sent(source, tmp_path) -> None:  # noqa: F811
    w = hedge_world(source, tmp_path)
    try:
        mark = w.api.mark()
        w.ex.switch_position_mode(False)  # the owner switches the idle account to One-way Mode
        said = w.api.wait_for_text(GROUP, "was switched to One-way Mode", start=mark, timeout=10)
        assert said is not None
        sent = len(w.ex.orders())
        w.reply("/long 0.01", "Not proposed: the account was switched to One-way Mode")
        w.ex.switch_position_mode(True, event=False)  # and back, silently; then once more with the event
        w.ex.switch_position_mode(False)
        said = [t for m in w.api.sent(GROUP) if "while the bot trades" in (t := m.get("text", "")) and "Not proposed" not in t]
        assert len(said) == 1, said  # said once: the same mismatch seen again is not said again
        assert len(w.ex.orders()) == sent
    finally:
        w.close()


def test_a_start_after_the_account_went_back_to_the_books_mode_starts(source, tmp_path) -> None:  # noqa: F811
    """The mode switched under the running bot (orders stop), /stop, switched back in the
    app, /start: the modes agree again, so the stream starts and the chat is told orders go
    out again (it was refused once, with the good news as its reason)."""
    w = hedge_world(source, tmp_path)
    try:
        mark = w.api.mark()
        w.ex.switch_position_mode(False)
        assert w.api.wait_for_text(GROUP, "was switched to One-way Mode", start=mark, timeout=10)
        w.reply("/stop", "Stream stopped")
        w.ex.switch_position_mode(True, event=False)
        mark = w.api.mark()
        assert "cannot start" not in w.reply("/start", "Starting")["text"]
        assert w.api.wait_for_text(GROUP, "the account is in Hedge Mode (LONG and SHORT legs) again", start=mark, timeout=10)
        assert w.api.wait_for_text(GROUP, "socket started", start=mark, timeout=15)
        assert "Orders stopped" not in w.reply("/status", "Status")["text"]
    finally:
        w.close()


def test_a_mode_switched_without_any_event_is_found_by_the_periodic_check(source, tmp_path) -> None:  # noqa: F811
    """Binance has been seen to send no ACCOUNT_CONFIG_UPDATE for a mode switched in its
    app: the periodic check (a JobQueue job, run here on the bot's loop at once, no
    sleep) reads the mode again, says it once, and entries stop until the modes agree."""
    import asyncio

    from bot.app import MODE_CHECK_JOB

    w = hedge_world(source, tmp_path)
    try:
        (job,) = w.bot.app.job_queue.get_jobs_by_name(MODE_CHECK_JOB)
        assert job.trigger.interval.total_seconds() == 300

        def run_check() -> None:  # the job's own callback, on the bot's loop, now (not its schedule)
            asyncio.run_coroutine_threadsafe(job.run(w.bot.app), w.bot._loop).result(10)

        mark = w.api.mark()
        w.ex.switch_position_mode(False, event=False)  # no ACCOUNT_CONFIG_UPDATE at all
        assert not w.api.wait_for_text(GROUP, "was switched to One-way Mode", start=mark, timeout=0.5)
        run_check()
        said = w.api.wait_for_text(GROUP, "was switched to One-way Mode", start=mark, timeout=10)
        assert said is not None and "no order is sent" in said["text"]
        run_check()  # the same mismatch again: not said again
        sent = len(w.ex.orders())
        w.reply("/long 0.01", "Not proposed: the account was switched to One-way Mode")
        said = [t for m in w.api.sent(GROUP) if "while the bot trades" in (t := m.get("text", ""))
                and "Not proposed" not in t and "Orders stopped" not in t]  # fmt: skip
        assert len(said) == 1, said
        w.reply("/status", "⛔ Orders stopped: the account was switched to One-way Mode")  # while it lasts
        # back in Hedge Mode (again without an event): the check finds it, entries go on
        mark = w.api.mark()
        w.ex.switch_position_mode(True, event=False)
        run_check()
        assert w.api.wait_for_text(GROUP, "the account is in Hedge Mode (LONG and SHORT legs) again", start=mark, timeout=10)
        assert "Orders stopped" not in w.reply("/status", "Status")["text"]
        confirmed(w, "/long 0.01", "filled: BUY 0.010 BTCUSDT")
        assert len(w.ex.orders()) == sent + 1
    finally:
        w.close()


def test_four_eyes_counts_both_legs_notional(source, tmp_path) -> None:  # noqa: F811
    """FOUR_EYES_NOTIONAL holds per account in Hedge Mode: the sum of both legs' notional.
    0.01 BTC (~670 USDT) on one leg is below 1000, so one Confirm places it; the SHORT 0.01
    beside the LONG 0.01 makes ~1340 USDT, so it waits for a second admin."""
    second = 1003
    w = hedge_world(source, tmp_path, FOUR_EYES_NOTIONAL="1000", TELEGRAM_ADMIN_IDS=f"{ADMIN},{second}")
    try:
        confirmed(w, "/long 0.01", "filled: BUY 0.010 BTCUSDT")
        answer = confirmed(w, "/short 0.01", "1 of 2 approvals")
        assert legs_at_exchange(w) == {"LONG": "0.010"}, answer
        p = w.engine.open_proposals()[-1]
        assert press_by(w, second, p).startswith("filled: SELL 0.010 BTCUSDT")
        assert legs_at_exchange(w) == {"LONG": "0.010", "SHORT": "-0.010"}
        # closing a leg only lowers the account's notional: one Confirm
        confirmed(w, "/close short", "filled: BUY 0.010 BTCUSDT")
    finally:
        w.close()


def press_by(w: World, user: int, p) -> str:  # noqa: ANN001
    msg = next(m for m in w.api.sent(GROUP) if m["message_id"] == p.message_id)
    return press(w, user, msg, 0)


def test_status_balance_and_pnl_show_each_legs_margin_and_funding_as_the_ledger(source, tmp_path) -> None:  # noqa: F811
    """Funding per leg on the exchange path: the replay charges each leg on its own notional
    (two FUNDING_FEE income rows, which name no leg, as Binance's); the bot books each into
    its leg. /status, /balance and /pnl say each leg's margin and funding, equal to the
    ledger's to the cent; a restart replays each leg's funding into it."""
    w = hedge_world(source, tmp_path)
    try:
        period, interval = 8 * 3600 * 1000, w.settings.interval_ms
        while -w.source[w.ex.current_index].open_time % period <= 3 * interval:  # no regular funding time
            next_candle(w)  # in the few candles ahead: the only payments are the one made below
        confirmed(w, "/long 0.005", "filled: BUY 0.005 BTCUSDT")
        confirmed(w, "/short 0.01", "filled: SELL 0.010 BTCUSDT")
        next_candle(w)  # the legs held into the funding time (a payment at a fill's own ms replays before it)
        mark = w.api.mark()
        paid = [Decimal(p) for p in w.ex.control("funding", rate="0.001")["paid"]]
        assert len(paid) == 2 and w.api.wait_for_text(GROUP, "funding BTCUSDT", start=mark, timeout=10)
        assert w.engine.wait_account(lambda a: w.engine.funding_booked() == sum(paid), timeout=10)
        long_leg, short_leg = w.engine.position("BTCUSDT", "LONG"), w.engine.position("BTCUSDT", "SHORT")
        assert long_leg.funding == min(paid) < 0 < max(paid) == short_leg.funding  # the long pays, the short receives
        cent = Decimal("0.01")
        ledger = w.engine.ledger()
        for ps, leg in (("LONG", long_leg), ("SHORT", short_leg)):
            assert ledger.between(symbol="BTCUSDT", position_side=ps).funding == leg.funding
        status = w.reply("/status", "LONG leg")["text"]
        lev = int(w.engine.snapshot().values.get("leverage", 1))
        for leg in (long_leg, short_leg):
            margin = (abs(leg.qty) * leg.entry / lev).quantize(cent)
            assert f"margin {margin} USDT · funding {leg.funding.quantize(cent):+} USDT" in status, status
        balance = w.reply("/balance", "Balance")["text"]
        binance = balance.split("Binance", 1)[1]  # each leg as Binance keeps it, too: margin and liquidation price
        rows = {r["positionSide"]: r for r in exchange_client(w.settings).futures_position_information(symbol="BTCUSDT")}
        for ps in ("LONG", "SHORT"):
            r, liq = rows[ps], Decimal(rows[ps]["liquidationPrice"])
            margin = Decimal(r["isolatedMargin"]) or Decimal(r["positionInitialMargin"])
            said = f"BTCUSDT {ps} leg: margin {margin.quantize(cent)} USDT" + (f" · liq {liq.quantize(cent)}" if liq else "")
            assert f"{said}\n" in binance, binance
        assert f"BTCUSDT SHORT leg: margin {(abs(short_leg.qty) * short_leg.entry / lev).quantize(cent)} USDT · funding {short_leg.funding.quantize(cent):+} USDT" in balance, balance
        pnl = w.reply("/pnl all", "PnL")["text"]
        for ps in ("LONG", "SHORT"):
            tot = ledger.between(symbol="BTCUSDT", position_side=ps)
            line = f"BTCUSDT {ps} leg: gross {tot.gross.quantize(cent):+} · fees {tot.fees.quantize(cent)} · funding {tot.funding.quantize(cent):+} · net {tot.net.quantize(cent):+} USDT"
            assert line in pnl, (line, pnl)
        # a restart: the book replayed from the journal has each leg's funding where it was booked
        w.bot.stop()
        w.bot = type(w.bot)(w.settings, **w.bot.kwargs).start()
        assert w.engine.position("BTCUSDT", "LONG").funding == min(paid)
        assert w.engine.position("BTCUSDT", "SHORT").funding == max(paid)
        assert w.engine.ledger().legs() == ledger.legs()
    finally:
        w.close()


def test_a_pause_holds_for_the_account_both_legs(source, tmp_path) -> None:  # noqa: F811
    """/pause and the chat-unreachable pause hold per account in Hedge Mode: neither leg
    opens or adds while paused; closing a leg still works."""
    from bot.texts import PAUSED_LINE

    w = hedge_world(source, tmp_path)
    try:
        confirmed(w, "/long 0.01", "filled: BUY 0.010 BTCUSDT")
        w.reply("/pause", "Paused: no new entries")
        w.reply("/short 0.01", PAUSED_LINE)  # the other leg is an entry of the same account
        w.reply("/long 0.01", PAUSED_LINE)
        w.engine.resume("admin", ADMIN)
        w.engine.pause("chat_unreachable", None)  # the bot could not post to its chat
        w.reply("/short 0.01", PAUSED_LINE)
        confirmed(w, "/close long", "filled: SELL 0.010 BTCUSDT")  # closes run while paused
        assert legs_at_exchange(w) == {}
    finally:
        w.close()
