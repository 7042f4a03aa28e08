"""Account protections end to end (issue 29): the real bot through the local Bot API and the
replay exchange, paper and demo. Each trips on the candle where the numbers cross (worked
out here from the replayed candles and the fill), the chat says so with the numbers, entries
are refused, /protections and /status show it, it lifts when it should (/resume, /unlock,
the next UTC day) and it survives a restart; the drawdown hard stop closes an open position
at once without a proposal, and in demo the account is flat at the exchange."""

from __future__ import annotations

from decimal import Decimal

from bot.runner import BotThread
from bot.views import utc
from tests.helpers import exchange_client, observe, past_connect
from tests.test_bot_e2e import ADMIN, GROUP, GUEST, LOOSE, World, source  # noqa: F401  (fixture)
from tests.test_exits_e2e import DEMO, confirm, settle
from tests.test_orders_e2e import Seen
from trading.core.protections import DAY_MS

BIG = {"MAX_POSITION_NOTIONAL": "100000", "STRATEGY": "none"}


def world(source, tmp_path, **env: str) -> World:  # noqa: F811
    w = World(source, tmp_path, exchange={"updates_per_candle": 1}, **{**BIG, **env})
    w.seen = observe(w.engine, Seen)
    w.reply("/start", "Starting")
    assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
    past_connect(w)
    settle(w)
    return w


def restart(w: World) -> None:
    """A redeploy while the market is paused: the new process resumes streaming; the
    candles it already took in are not delivered again (next_candle() moves on)."""
    mark = w.api.mark()
    w.bot.stop()
    w.bot = BotThread(w.settings, rate_limits=LOOSE, poll_timeout=1).start()
    w.seen = observe(w.engine, Seen)
    assert w.api.wait_for_text(GROUP, "resumed streaming", timeout=15, start=mark)


def close_of(w: World, i: int) -> Decimal:
    return Decimal(w.source[i].close)


def drawdown_crossings(w: World, first: int, qty: Decimal, entry: Decimal, wallet: Decimal, limit: Decimal,
                       peak: Decimal | None) -> tuple[int, dict[int, int]]:  # fmt: skip
    """The candle index where the drawdown from the equity peak (equity = wallet + the long's
    unrealized at each close; `peak`: the one measured before, None when no candle closed
    live yet) first reaches the limit, and how many warnings at 50 % and 75 % of it come
    before (each once per peak: a new peak starts them again)."""
    warned, count = set(), {50: 0, 75: 0}
    for i in range(first, first + 2000):
        eq = wallet + qty * (close_of(w, i) - entry)
        if peak is None or eq > peak:
            peak, warned = eq, set()
        dd = (peak - eq) / peak * 100
        if dd >= limit:
            return i, count
        for level in (50, 75):
            if level not in warned and dd >= limit * level / 100:
                warned.add(level)
                count[level] += 1
    raise AssertionError("the replayed prices never fell that far")


def step(w: World) -> None:
    """Exactly one more candle closes (the market is paused) and the trader takes it in."""
    i = w.ex.current_index
    assert w.ex.advance(1)
    assert w.seen.wait(w.source[i].open_time)


def advance_to(w: World, i: int) -> None:
    """Until candle i has closed and been taken in."""
    while w.ex.current_index <= i:
        step(w)


def test_drawdown_hard_stop_closes_at_once_refuses_entries_survives_a_restart_and_lifts_on_resume(source, tmp_path) -> None:  # noqa: F811
    limit = Decimal("0.3")
    w = world(source, tmp_path, MAX_DRAWDOWN_PCT=str(limit))
    try:
        w.reply("/protections", "MAX_DRAWDOWN_PCT=0.3%")
        first, peak = w.ex.current_index, w.engine.protections().peak
        assert confirm(w, "long", "0.1").startswith("filled: BUY 0.100 BTCUSDT")
        fill = w.engine.recent_fills(1)[-1]
        trip, warnings = drawdown_crossings(w, first, fill.qty, fill.price, Decimal(10000) - fill.fee, limit, peak)
        mark = w.api.mark()
        advance_to(w, trip - 1)
        assert w.engine.side("BTCUSDT") == 1 and w.engine.paused_reasons() == frozenset()  # not before its candle
        advance_to(w, trip)
        stop = w.api.wait_for_text(GROUP, "drawdown hard stop", timeout=10, start=mark)
        assert stop is not None and "(MAX_DRAWDOWN_PCT=0.3): closing every position now" in stop["text"]
        said = [c.params.get("text", "") for c in w.api.calls[mark:] if c.method == "sendMessage"]
        for level in (50, 75):  # once per peak, before the stop (none on the stop's own candle)
            warned = [t for t in said if f"{level}% of the 0.3% limit (MAX_DRAWDOWN_PCT)" in t]
            assert len(warned) == warnings[level], (level, warnings, said)
        closed = w.api.wait_for_text(GROUP, "paper SELL 0.100 BTCUSDT", timeout=10, start=mark)
        assert closed is not None and "closed long" in closed["text"]
        assert w.engine.side("BTCUSDT") == 0
        (trade,) = w.engine.closed_trades()
        assert trade.exit_reason == "drawdown" and trade.exit_price == close_of(w, trip)
        assert w.engine.open_proposals() == []  # no proposal: nobody is asked to confirm a stop
        # entries refused, shown, kept across a restart
        w.reply("/long 0.01", "drawdown hard stop tripped (MAX_DRAWDOWN_PCT)")
        w.reply("/protections", "tripped: positions closed, no new entries until an admin's /resume")
        w.reply("/status", "Paused: no new entries (the drawdown hard stop, MAX_DRAWDOWN_PCT)")
        restart(w)
        assert w.engine.paused_reasons() == {"drawdown"}
        w.reply("/long 0.01", "drawdown hard stop tripped")
        w.reply("/resume", "Not allowed", user=GUEST)
        w.reply("/resume", "Resumed: new entries allowed")
        assert w.engine.paused_reasons() == frozenset()
        mark = w.api.mark()
        w.say("/long 0.01")
        assert w.api.wait_for_text(GROUP, "Confirm", timeout=10, start=mark)
        audit = [(a["action"], a["detail"], a["outcome"]) for a in w.engine.audit_log(60)]
        assert any(a == "protection" and d == "drawdown" and o.startswith("tripped (close)") for a, d, o in audit)
        assert ("resume", "drawdown", "lifted") in audit
    finally:
        w.close()


def test_drawdown_hard_stop_in_demo_leaves_the_account_flat_at_the_exchange(source, tmp_path) -> None:  # noqa: F811
    limit = Decimal("0.1")
    w = world(source, tmp_path, MAX_DRAWDOWN_PCT=str(limit), **DEMO)
    try:
        first, peak = w.ex.current_index, w.engine.protections().peak
        assert confirm(w, "long", "0.1").startswith("filled: BUY 0.100 BTCUSDT")
        fill = w.engine.recent_fills(1)[-1]
        trip, _ = drawdown_crossings(w, first, fill.qty, fill.price, Decimal(10000) - fill.fee, limit, peak)
        mark = w.api.mark()
        advance_to(w, trip)
        assert w.api.wait_for_text(GROUP, "drawdown hard stop", timeout=10, start=mark)
        assert w.api.wait_for_text(GROUP, "demo SELL 0.100 BTCUSDT", timeout=10, start=mark)
        client = exchange_client(w.settings)
        (pos,) = client.futures_position_information(symbol="BTCUSDT", version=2)
        assert pos["positionAmt"] == "0.000"
        assert client.futures_get_open_algo_orders(symbol="BTCUSDT") == []
        assert w.engine.side("BTCUSDT") == 0 and w.engine.open_proposals() == []
        w.reply("/long 0.01", "drawdown hard stop tripped")
    finally:
        w.close()


def test_cooldown_locks_the_symbol_after_a_close_unlock_lifts_it_and_it_survives_a_restart(source, tmp_path) -> None:  # noqa: F811
    w = world(source, tmp_path, COOLDOWN_CANDLES="4")
    try:
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        closed_in = w.ex.current_index  # the forming candle the close fills in
        mark = w.api.mark()
        assert confirm(w, "close", None).startswith("filled: SELL 0.010 BTCUSDT")
        until = w.source[closed_in].open_time + 5 * 900_000
        notice = w.api.wait_for_text(GROUP, "cooldown after a close", timeout=10, start=mark)
        assert notice is not None and "(COOLDOWN_CANDLES=4)" in notice["text"]
        assert f"until {utc(until)} UTC" in notice["text"]
        w.reply("/long 0.01", "BTCUSDT is cooling down after a close (COOLDOWN_CANDLES)")
        w.reply("/protections", f"🔒 BTCUSDT: no new entries until {utc(until)} UTC (cooldown, COOLDOWN_CANDLES)")
        w.reply("/status", f"Locked: BTCUSDT until {utc(until)} UTC")
        restart(w)
        w.reply("/long 0.01", "cooling down")
        w.reply("/unlock BTCUSDT", "Not allowed", user=GUEST)
        w.reply("/unlock ETHUSDT", "not traded")
        w.reply("/unlock BTCUSDT", "Unlocked: BTCUSDT")
        w.reply("/unlock all", "No active lock")
        assert "Locked" not in w.reply("/status", "Status")["text"]
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
        audit = [(a["action"], a["detail"], a["outcome"]) for a in w.engine.audit_log(60)]
        assert ("unlock", "BTCUSDT", "unlocked BTCUSDT") in audit
        assert any(a == "protection" and d == "cooldown BTCUSDT" for a, d, _ in audit)
    finally:
        w.close()


def test_the_lock_ends_on_its_candle(source, tmp_path) -> None:  # noqa: F811
    w = world(source, tmp_path, COOLDOWN_CANDLES="2")
    try:
        confirm(w, "long")
        closed_in = w.ex.current_index
        confirm(w, "close", None)
        for _ in range(2):  # candles closed_in and closed_in + 1 close: still locked
            step(w)
            w.reply("/long 0.01", "cooling down")
        step(w)  # closed_in + 2 closed: the lock's end
        assert w.ex.current_index == closed_in + 3
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
    finally:
        w.close()


def test_daily_loss_trips_on_its_candle_and_lifts_the_next_utc_day(source, tmp_path) -> None:  # noqa: F811
    w = world(source, tmp_path, MAX_DAILY_LOSS="8")
    try:
        first, before = w.ex.current_index, w.engine.protections()
        assert confirm(w, "long", "0.1").startswith("filled: BUY 0.100 BTCUSDT")
        fill = w.engine.recent_fills(1)[-1]
        # today's net at each close: the wallet's change since the day's first candle (the fee,
        # when it was paid today) + the long's unrealized
        wallet, day, k = Decimal(10000) - fill.fee, None, first
        while True:
            d = w.source[k].open_time // DAY_MS
            if d != day:  # a day's start: what was measured before the fill if that was today, else the wallet now
                same = day is None and before.day_end == (d + 1) * DAY_MS
                day, start = d, (before.day_start if same else wallet)
            if (wallet - start) + fill.qty * (close_of(w, k) - fill.price) <= -8:
                break
            k += 1
        mark = w.api.mark()
        advance_to(w, k - 1)
        assert w.engine.paused_reasons() == frozenset()
        advance_to(w, k)
        trip = w.api.wait_for_text(GROUP, "daily loss limit reached", timeout=10, start=mark)
        assert trip is not None and "limit -8.00 USDT (MAX_DAILY_LOSS)" in trip["text"]
        assert f"until {utc((day + 1) * DAY_MS)} UTC" in trip["text"]
        assert w.engine.side("BTCUSDT") == 1  # DAILY_LOSS_ACTION=pause: the position is kept, managed
        w.reply("/long 0.01", "daily loss limit is reached (MAX_DAILY_LOSS)")
        w.reply("/protections", "today's net")
        assert confirm(w, "close", None).startswith("filled: SELL 0.100 BTCUSDT")  # closes still pass
        restart(w)
        assert w.engine.paused_reasons() == {"daily_loss"}
        mark = w.api.mark()
        while w.source[w.ex.current_index].open_time // DAY_MS == day:
            step(w)
        step(w)  # the next UTC day's first candle
        assert w.api.wait_for_text(GROUP, "daily loss limit lifted: a new UTC day", timeout=10, start=mark)
        assert w.engine.paused_reasons() == frozenset()
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
    finally:
        w.close()


def test_stoploss_guard_locks_after_two_stop_losses_in_the_window(source, tmp_path) -> None:  # noqa: F811
    # ema_cross with slow=400 never warms up here: it decides nothing, only its stop-loss acts
    w = world(source, tmp_path, STOPLOSS_GUARD="2/500", STOPLOSS_GUARD_LOCK="10", STRATEGY="ema_cross")
    try:
        w.engine.set_params({"fast": "100", "slow": "400", "stop_loss_pct": "0.1"}, ADMIN)
        step(w)  # parameters apply from the next closed candle
        stops: list[int] = []
        mark = w.api.mark()
        for n in (1, 2):
            assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
            for _ in range(200):
                step(w)
                if not w.engine.side("BTCUSDT"):
                    break
            trade = w.engine.closed_trades()[-1]
            assert trade.exit_reason == "stop_loss", trade
            stops.append(trade.close_time)
            if n == 1:
                w.reply("/protections", "Locks: none")
        assert stops[1] - stops[0] < 500 * 900_000  # at most 400 candles apart (the loops above)
        until = stops[1] + 11 * 900_000
        lock = w.api.wait_for_text(GROUP, "BTCUSDT locked: 2 stop-losses within 500 candles", timeout=10, start=mark)
        assert lock is not None and f"until {utc(until)} UTC (/unlock BTCUSDT lifts it)" in lock["text"]
        assert "(STOPLOSS_GUARD=2/500)" in lock["text"]
        w.reply("/long 0.01", "BTCUSDT is locked after its stop-losses (STOPLOSS_GUARD)")
        w.reply("/protections", f"🔒 BTCUSDT: no new entries until {utc(until)} UTC (stop-losses, STOPLOSS_GUARD)")
        w.reply("/status", f"Locked: BTCUSDT until {utc(until)} UTC (stop-losses, STOPLOSS_GUARD)")
        audit = [(a["action"], a["detail"]) for a in w.engine.audit_log(60)]
        assert ("protection", "stoploss_guard BTCUSDT") in audit
        # it survives a restart and lifts at the lock's end: refused while the candle before it
        # is the last closed one, allowed once the market's time reaches `until`
        restart(w)
        w.reply("/long 0.01", "BTCUSDT is locked after its stop-losses (STOPLOSS_GUARD)")
        w.reply("/protections", f"🔒 BTCUSDT: no new entries until {utc(until)} UTC (stop-losses, STOPLOSS_GUARD)")
        while w.source[w.ex.current_index - 1].open_time < until - 2 * 900_000:
            step(w)
        w.reply("/long 0.01", "BTCUSDT is locked after its stop-losses (STOPLOSS_GUARD)")
        step(w)
        assert "Locked" not in w.reply("/status", "Status")["text"]
        assert confirm(w, "long").startswith("filled: BUY 0.010 BTCUSDT")
    finally:
        w.close()
