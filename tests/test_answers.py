"""The order path's typed answers (trading/live/answers.py) and their words (bot/texts.py):
every kind is worded, a proposal's stored final state reads back to the very same line, and a
row stored as text before answers were typed still shows its line (issue 27)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from bot.texts import answer_line, reconciled_line, result_line
from storage.db import open_db
from storage.proposals import ProposalStore
from trading.core.brokers.base import OrderRequest, Placement
from trading.core.findings import PositionDiffers
from trading.core.portfolio import ClosedTrade, Fill
from trading.core.reasons import Reason
from trading.core.symbols import SymbolFilters
from trading.live.answers import Answer, Kind, Placed
from trading.live.proposals import Confirmations, Proposal
from trading.live.recovery import Adopted, ForeignOrders, NotReconciled, Settled

BTC = SymbolFilters("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), D("1000"), D("0.001"), D("0.001"), D("120"), D("100"))
FILLS = [
    Fill("tgp-a-1-1", "BTCUSDT", "SELL", D("0.01"), D("69590.1"), D("0.3479505"), 1, fee_asset="USDT"),
    Fill("tgp-a-1-2", "BTCUSDT", "BUY", D("0.02"), D("69591"), D("0.41"), 2, keys=("BTCUSDT:t7",), fee_asset="BNB",
         fee_amount=D("0.00068"), position_side="LONG"),  # fmt: skip
]
CLOSED = [ClosedTrade("BTCUSDT", "long", D("0.01"), D("68000"), D("69590.1"), D("0.7"), D("15.2012"), 0, 1)]
PLACED = Placement(FILLS, CLOSED, Reason.said("-2019 Margin is insufficient."), -2019)


def test_every_kind_has_its_words() -> None:
    numbers = {k: D("1.5") for k in ("qty", "step", "drift", "ref", "price", "limit", "done", "total")}
    for kind in Kind:
        a = Answer(kind, symbol="BTCUSDT", proposal=3, status="filled", action="long", mode="paper", who="@al",
                   quoted="daily_loss", names=("@al",), numbers=numbers, placed=Placed(PLACED))  # fmt: skip
        assert answer_line(a), kind


def test_the_words_are_todays() -> None:
    """The sentences docs/orders.md quotes, byte for byte."""
    assert answer_line(Answer(Kind.NOT_PENDING, proposal=1, status="filled")) == "Proposal #1 is filled, no longer pending."
    assert answer_line(Answer(Kind.APPROVAL, names=("@alice",))) == "1 of 2 approvals (by @alice); a second admin's Confirm places it."
    assert answer_line(Answer(Kind.BELOW_STEP, symbol="BTCUSDT", numbers={"qty": D("1E-7"), "step": D("0.0010")})) == (
        "Not proposed: quantity 0.0000001 is below BTCUSDT's step 0.001 (LOT_SIZE)")
    assert answer_line(Answer(Kind.BLOCKED, symbol="ETHUSDT", quoted="cooldown")) == (
        "Not allowed: ETHUSDT is cooling down after a close (COOLDOWN_CANDLES): /protections says until when")
    assert answer_line(Answer(Kind.DRIFT, numbers={"drift": D("2.3456"), "ref": D("100.0"), "price": D("102.3456"),
                                                   "limit": D("1.50")})) == (  # fmt: skip
        "refused: the price moved 2.35 % since the proposal (100 → 102.3456; MAX_DRIFT_PCT 1.5)")
    assert answer_line(Answer(Kind.REJECTED, who="@bo", all=True)) == "rejected by @bo (Reject all)"
    line = answer_line(Answer(Kind.PLACED, placed=Placed(PLACED, ("long 0.010", "flat"), False, BTC)))
    assert line == (
        "filled: SELL 0.010 BTCUSDT at 69590.1 (fee 0.35 USDT); BUY 0.020 BTCUSDT at 69591.0 (fee 0.00068 BNB = 0.41 USDT)"
        " · closed long: PnL +15.20 USDT net of fees · then failed: -2019 Margin is insufficient."
        " · position: long 0.010 → flat"
    ), line
    nothing = Placement([], [], None, None)
    assert answer_line(Answer(Kind.PLACED, placed=Placed(nothing))) == "nothing to do: the position was already closed"


def test_a_confirms_position_and_the_hedge_refusals_are_data_worded_here() -> None:
    """issue 27: the core's hedge rules hand the position before and after a Confirm as sizes
    (core/hedge.position_sizes) and why an order is not proposed as a kind; the words are the
    ones core/hedge.py used to write, and a stored placement reads back to them."""
    net = Placed(PLACED, (), False, BTC, ({"BOTH": D("0.01")}, {"BOTH": D(0)}))
    legs = Placed(PLACED, (), True, BTC, ({"LONG": D("0.01"), "SHORT": D("-0.02")}, {"SHORT": D("-0.02")}))
    assert answer_line(Answer(Kind.PLACED, placed=net)).endswith(" · position: long 0.010 → flat")
    short = Placed(PLACED, (), False, None, ({"BOTH": D("-0.0100")}, {"BOTH": D("-0.02")}))
    assert answer_line(Answer(Kind.PLACED, placed=short)).endswith(" · position: short 0.01 → short 0.02")
    assert answer_line(Answer(Kind.PLACED, placed=legs)).endswith(" · legs: LONG 0.010 · SHORT 0.020 → SHORT 0.020")
    for placed in (net, legs):
        a = Answer(Kind.PLACED, symbol="BTCUSDT", placed=placed)
        back = Answer.from_json(a.to_json())
        assert back == a and answer_line(back, BTC) == answer_line(a)
    assert answer_line(Answer(Kind.LEG_IN_ONE_WAY, symbol="BTCUSDT", leg="SHORT")) == (
        "/close short: the account is in One-way Mode, one position per symbol: /close BTCUSDT")
    assert answer_line(Answer(Kind.NOTHING_TO_CLOSE, symbol="ETHUSDT")) == "No ETHUSDT position to close."
    assert answer_line(Answer(Kind.NOTHING_TO_CLOSE, symbol="ETHUSDT", leg="LONG")) == "No ETHUSDT LONG leg to close."


def test_a_stored_answer_reads_back_to_the_same_line() -> None:
    """A proposal's final state is stored as JSON and worded when its message is drawn: the
    same words as the press's answer (the rules come from whoever draws it)."""
    answers = [
        Answer(Kind.PLACED, symbol="BTCUSDT", placed=Placed(PLACED, ("LONG 0 · SHORT 0", "LONG 0.020 · SHORT 0"), True, BTC)),
        Answer(Kind.DRIFT, numbers={"drift": D("1") / D("3"), "ref": D("69590.10"), "price": D("69822.0"), "limit": D("0.3")}),
        Answer(Kind.FOUND_ON_EXCHANGE, names=("tgp-3f9a0c12-2-1", "tgp-3f9a0c12-2-2")),
        Answer(Kind.RESTART_BOOKED, numbers={"done": D(1), "total": D(2)}),
        Answer(Kind.LEG_REFUSED, quoted="nothing to close: the position is already flat"),
        Answer(Kind.SUPERSEDED, proposal=12),
    ]
    for a in answers:
        back = Answer.from_json(a.to_json())
        assert back == a and answer_line(back, BTC) == answer_line(a), a.kind
    assert back.placed is None and Answer.from_json(answers[0].to_json()).placed.placement == PLACED  # type: ignore[union-attr]


def test_a_line_stored_before_answers_were_typed_still_shows(tmp_path) -> None:  # noqa: ANN001
    conf = Confirmations(str(tmp_path / "p.db"), None, ttl_seconds=0, max_drift_pct=D(0))
    leg = OrderRequest("", "BTCUSDT", "BUY", "open", "/long", 0, qty=D("0.01"))
    p = conf.propose(symbol="BTCUSDT", action="long", legs=[leg], ref_price=D(1), reason="/long", source="manual",
                     requested_by=1, valid_until_open=None)  # fmt: skip
    old = "filled: BUY 0.010 BTCUSDT at 69590.0 (fee 0.35 USDT) · position: flat → long 0.010"
    ProposalStore(open_db(str(tmp_path / "p.db"))).transition(p.id, "pending", "filled", result=old)  # as stored before
    shown = conf.get(p.id)
    assert isinstance(shown, Proposal) and shown.result == Answer(Kind.SAID, quoted=old) and result_line(shown) == old


def test_why_two_admins_must_confirm_is_data_worded_after_the_reason(tmp_path) -> None:  # noqa: ANN001
    """issue 27: CONFIRM_ORDERS=off's four-eyes reason is stored as numbers (proposals.four_eyes)
    and worded after the proposal's reason as docs/orders.md and docs/binance.md quote it; a
    proposal stored before, with those words in its reason, shows its reason as stored."""
    from bot.texts import proposal_text, reason_words
    from trading.live.four_eyes import FourEyes, four_eyes_over

    conf = Confirmations(str(tmp_path / "p.db"), None, ttl_seconds=0, max_drift_pct=D(0), four_eyes_notional=D("500"))
    leg = OrderRequest("", "BTCUSDT", "BUY", "open", "/long 0.008", 0, qty=D("0.008"))
    why = four_eyes_over(D("0.005"), [leg], D("71890"), D("500"))
    assert why == FourEyes(D("934.570"), D("500"))
    assert conf.four_eyes_why(D("0.005"), [leg], D("71890")) == why
    assert four_eyes_over(D("0.005"), [leg], D("71890"), D("1000")) is None
    p = conf.propose(symbol="BTCUSDT", action="long", legs=[leg], ref_price=D("71890"), reason="/long 0.008",
                     source="manual", requested_by=1, valid_until_open=None, four_eyes=why)  # fmt: skip
    said = ("/long 0.008 · two admins must confirm: the position would be 934.57 USDT, above FOUR_EYES_NOTIONAL 500 "
            "(CONFIRM_ORDERS=off places only smaller orders at once)")  # fmt: skip
    back = conf.get(p.id)
    assert back is not None and back.reason == "/long 0.008" and back.four_eyes == why
    assert reason_words(back) == said and proposal_text(back).endswith(" · asked by user 1 · " + said)
    both = FourEyes(D("1441.478"), D("1000"), legs=True)
    assert reason_words(replace(back, four_eyes=both)) == (
        "/long 0.008 · two admins must confirm: both legs would be 1441.48 USDT, above FOUR_EYES_NOTIONAL 1000 "
        "(CONFIRM_ORDERS=off places only smaller orders at once)")
    old = conf.propose(symbol="BTCUSDT", action="long", legs=[leg], ref_price=D("71890"), reason=said, source="manual",
                       requested_by=1, valid_until_open=None)  # as a proposal was stored before  # fmt: skip
    assert old.four_eyes is None and reason_words(old) == said


def test_a_reconcile_reports_in_todays_words() -> None:
    assert reconciled_line(Settled(2, Answer(Kind.FOUND_ON_EXCHANGE, names=("tgp-3f9a0c12-2-1",)))) == (
        "proposal #2: filled (found on the exchange after a restart: tgp-3f9a0c12-2-1)")
    assert reconciled_line(Adopted(PositionDiffers("BTCUSDT", "BOTH", D("0.010"), D("70000.5"), D(0)))) == (
        "BTCUSDT: the exchange holds long 0.01 at 70000.5, the bot's book nothing; the book now follows the exchange")
    assert reconciled_line(Adopted(PositionDiffers("BTCUSDT", "SHORT", D(0), None, D("-0.002")))) == (
        "BTCUSDT SHORT: the exchange holds nothing, the bot's book short 0.002; the book now follows the exchange")
    assert reconciled_line(ForeignOrders("BTCUSDT", 6, (("LIMIT", "BUY", "web_1"), ("STOP_MARKET", "SELL", "x")))) == (
        "BTCUSDT: 6 open order(s) on the exchange (LIMIT BUY web_1, STOP_MARKET SELL x); left as they are")
    assert reconciled_line(NotReconciled("ExchangeUnavailable")) == (
        "could not reconcile with the exchange (ExchangeUnavailable); check /status before trading")


def test_the_start_check_and_the_warm_up_in_todays_words() -> None:
    """/status's line while the start's look-ahead check runs, and the start line's warm-up
    note: data from trading/live (CheckState, the socket_started notice's `warmup`), words here."""
    from bot.texts import check_line, text
    from trading.core.events import SocketStarted
    from trading.live.strategy_check import CheckState

    assert check_line(CheckState("slow.py:Slow")) == (
        "🔎 Checking slow.py:Slow for look-ahead (the full history first); the stream decides nothing until it passes")
    assert check_line(CheckState("sma_cross", 3, 40)).startswith("🔎 Checking sma_cross for look-ahead (3 of 40 end candles compared)")
    started = SocketStarted(("BTCUSDT",), "15m", warmup=(1100, 500))
    assert text(started) == ("socket started: streaming BTCUSDT 15m; warm-up 1,100 candles (the strategy's startup and "
                             "live window, above WARMUP_CANDLES 500)")  # fmt: skip
    assert text(SocketStarted(("BTCUSDT",), "15m", warmup=None)).endswith("15m")


def test_a_whatif_progress_in_todays_words() -> None:
    from bot.texts import step_line
    from trading.live.whatif import Step

    assert [step_line(s) for s in (Step("candles", total=2880), Step("candles", 1000, 2880), Step("funding", 1000),
                                   Step("check"), Step("running"), Step("grid", total=1200), Step("grid", 300, 1200))] == [
        "fetching 2,880 candles…", "fetching candles 1,000/2,880…", "fetching funding rates… 1,000",
        "checking look-ahead…", "running…", "running 1,200 combinations…", "running 300/1,200 combinations…"]  # fmt: skip


def test_missed_decisions_in_todays_words() -> None:
    """The catch-up's summary (core/missed.py collects, events.MissedSignals carries, texts words it)."""
    from bot.texts import text
    from trading.core.candles import Candle
    from trading.core.events import MissedSignals
    from trading.core.missed import Missed
    from trading.core.strategies import Decision

    def m(action: str, t: int, close: str) -> Missed:
        return Missed(Decision(action, f"{action} because"), Candle("BTCUSDT", "15m", t, t + 899_999, 1.0, 2.0, 0.5, float(close), 3.0))

    one = (m("long", 1_700_000_100_000, "42000.5"),)
    assert text(MissedSignals("BTCUSDT", one, proposed=False)) == (
        "missed: long BTCUSDT was decided on a candle that closed while the stream was down (2023-11-14 22:15 UTC, "
        "close 42000.5); not placed · long because")
    three = (*one, m("close", 1_700_000_100_000 + 900_000, "41999"), m("long", 1_700_000_100_000 + 1_800_000, "42001"))
    assert text(MissedSignals("BTCUSDT", three, proposed=True)) == (
        "missed: 3 BTCUSDT decisions on candles that closed while the stream was down (2023-11-14 22:15 – "
        "2023-11-14 22:45 UTC: 2 long, 1 close); none proposed or placed · the last: long at close 42001 · long because")


def test_the_one_way_switch_and_a_start_not_resumed_in_todays_words() -> None:
    """issue 27: the One-way switch returns what it did (exchange/account.ModeSwitch) and the
    start that does not resume the stream is a typed event; the words are the ones
    exchange/account.py and live/service.py wrote, byte for byte."""
    from bot.texts import switch_line, text
    from trading.core.events import StreamNotResumed
    from trading.exchange.account import ModeSwitch, SwitchResult

    said = {
        ModeSwitch(SwitchResult.SWITCHED): "switched the account to One-way Mode; /start now",
        ModeSwitch(SwitchResult.ALREADY): "the account is already in One-way Mode; /start",
        ModeSwitch(SwitchResult.HAS_ORDERS): "not switched: the account has open orders now (Binance -4067); cancel them first",
        ModeSwitch(SwitchResult.HAS_POSITION): "not switched: the account holds a position now (Binance -4068); close it first",
        ModeSwitch(SwitchResult.REFUSED, "-1022 Signature for this request is not valid."):
            "not switched: -1022 Signature for this request is not valid.",
        ModeSwitch(SwitchResult.NO_ANSWER, "ReadTimeout"): "not switched: Binance did not answer (ReadTimeout); /start shows the mode",
        ModeSwitch(SwitchResult.PAPER): "paper mode has no account mode",
    }
    assert {s: switch_line(s) for s in said} == said
    assert {s.result for s in said} == set(SwitchResult)
    assert ModeSwitch(SwitchResult.REFUSED, "-1022 x").outcome() == "refused: -1022 x"
    e = StreamNotResumed(Reason.said("the Binance account is in Hedge Mode (LONG and SHORT positions apart); …"))
    assert e.kind == "account_mode" and text(e) == (
        "stream not resumed: the Binance account is in Hedge Mode (LONG and SHORT positions apart); …")


def test_what_the_accounts_modes_mean_in_todays_words() -> None:
    """issue 27: /start's account check reports typed notes (core/events.AccountModeNote,
    kind account_mode as before) that bot/texts.py words as exchange/account.py did."""
    from bot.texts import text
    from trading.core.events import AccountModeNote

    assert text(AccountModeNote("multi_assets")) == (
        "the account is in Multi-Assets mode: every asset in it (not only USDT) margins the bot's positions and can be "
        "sold to cover a loss; the bot's balance and margin figures count USDT only")
    assert text(AccountModeNote("unread", "ReadTimeout")) == (
        "could not read the account's position mode (ReadTimeout); orders it refuses are shown as refusals")
    assert AccountModeNote("unread").kind == "account_mode"


def test_the_market_streams_notices_in_todays_words() -> None:
    """issue 27: the stream (exchange/stream.py, stream_faults.py) reports typed events; the
    words are the ones it wrote itself, byte for byte (docs/notices.md quotes them)."""
    from bot.texts import text
    from trading.core.events import (
        Reconnected,
        SocketError,
        SocketStarted,
        SocketStopped,
        StorageBusy,
        StorageFault,
        StreamStale,
    )

    said = {
        SocketStarted(("BTCUSDT", "ETHUSDT"), "15m"): "socket started: streaming BTCUSDT,ETHUSDT 15m",
        SocketStarted(("BTCUSDT",), "1m", resumed=True, backfilled=500):
            "bot restarted; resumed streaming BTCUSDT 1m (warm-up fetched 500 candles)",
        SocketStopped(): "socket stopped",
        SocketStopped(shutdown=True, code=1000): "bot stopping: socket closed; streaming resumes when the bot starts again",
        SocketError("boom"): "socket error: boom",
        SocketError("close code 1001 (going away)", "dropped"): "socket error: close code 1001 (going away); reconnecting",
        SocketError("HTTP 503", "backfill"): "socket error: backfill failed, HTTP 503",
        SocketError(None, "cannot_connect", delay=1.04): "socket error: cannot connect (no answer); retrying in 1.0s",
        SocketError("refused", "cannot_connect", delay=2.26): "socket error: cannot connect (refused); retrying in 2.3s",
        SocketError("x", "retry_failed", delay=8.0, attempt=5): "socket error: reconnect attempt 5 failed; retrying in 8.0s",
        Reconnected(1.23, 3): "reconnected after 1.2s; backfilled 3 candles",
        Reconnected(None, 1): "reconnected; backfilled 1 candle",
        StreamStale(60.4): "stream stale: no message for 60s, forcing reconnect",
        StorageBusy("/data/bot.db", "database is locked"):
            "storage: the database DB_PATH=/data/bot.db is locked by another process (database is locked); retrying, nothing is lost",
        StorageFault("unwritable", "/data/bot.db", "database or disk is full"):
            "storage: cannot write DB_PATH=/data/bot.db (database or disk is full); the stream stopped; nothing is traded: "
            "fix the disk, then /start",
    }  # fmt: skip
    assert {e: text(e) for e in said} == said


def test_the_accounts_notices_and_a_reconciles_findings_in_todays_words() -> None:
    """issue 27: the account stream, the account follower, the resting exits' check and the
    exchange's positions report typed values (core/events.py); the words are the ones
    exchange/user_stream.py, account_sync.py, protection.py and reconcile.py wrote, byte for byte."""
    from bot.texts import text
    from trading.core.events import (
        AccountStreamNote,
        MarginCall,
        MarginPosition,
        OtherModeFill,
        Reconciled,
    )
    from trading.core.findings import (
        ExitsResynced,
        FillsCaughtUp,
        FundingCaughtUp,
        HedgedPositions,
        TradesUnreadable,
    )

    said = {
        AccountStreamNote("lost", "connection closed"): "account stream lost (connection closed); reconnecting",
        AccountStreamNote("reconnected"): "account stream reconnected; checking fills and funding of the gap",
        AccountStreamNote("catch_up_failed", "ValueError: x"): "account stream: reconciliation failed (ValueError: x)",
        MarginCall(D("64") / D("80") * 100, D("64"), D("80"), (MarginPosition("BTCUSDT", D("-0.50"), D("70000.0"), D("-20")),)):
            "MARGIN CALL: margin ratio 80.0 % (maintenance 64.00 USDT of 80.00 USDT margin balance); BTCUSDT short 0.5 "
            "(mark 70000, uPnL -20.00 USDT): add margin or reduce the position before it is liquidated",
        MarginCall(None, D("1.5"), D("0"), ()):
            "MARGIN CALL: margin ratio over 100 % (maintenance 1.50 USDT of 0.00 USDT margin balance); no position: "
            "add margin or reduce the position before it is liquidated",
        OtherModeFill("BTCUSDT", "LONG", "BUY", D("0.004"), D("84200.0"), False):
            "BTCUSDT: a Hedge Mode fill (LONG leg: BUY 0.004 at 84200) is not booked: the bot's book holds one net "
            "position per symbol (One-way Mode), so it stays out of it (as at /start); the account's position mode changed",
        OtherModeFill("BTCUSDT", "BOTH", "SELL", D("0.01"), D("84000"), True):
            "BTCUSDT: a One-way Mode fill (SELL 0.01 at 84000) is not booked: the bot's book holds Hedge Mode legs, "
            "so it stays out of it (as at /start); the account's position mode changed",
        Reconciled(ExitsResynced("BTCUSDT", "BOTH", "orphans", 2)):
            "reconcile: BTCUSDT: cancelled 2 exit order(s) of the bot with no position behind them",
        Reconciled(ExitsResynced("BTCUSDT", "LONG", "replaced")):
            "reconcile: BTCUSDT LONG: the position's exits were not all on the exchange; placed again",
        Reconciled(FillsCaughtUp("BTCUSDT", 3)): "reconcile: BTCUSDT: 3 fill(s) made while the account stream was down, booked",
        Reconciled(FundingCaughtUp(2)): "reconcile: 2 funding payment(s) booked",
        Reconciled(TradesUnreadable("BTCUSDT", "ReadTimeout")):
            "reconcile: BTCUSDT: account trades unreadable (ReadTimeout); retried on the next reconnect",
        Reconciled(HedgedPositions("BTCUSDT", (("LONG", D("0.010"), D("70000")), ("SHORT", D("-0.020"), D("71000.0"))))):
            "reconcile: BTCUSDT: the exchange holds Hedge Mode positions (LONG 0.01 at 70000, SHORT 0.02 at 71000); the "
            "bot adopts neither (it trades one net position per symbol): switch the account to One-way Mode",
        Reconciled(NotReconciled("ExchangeUnavailable")):
            "reconcile: could not reconcile with the exchange (ExchangeUnavailable); check /status before trading",
    }  # fmt: skip
    assert {e: text(e) for e in said} == said


def test_the_database_guards_halt_and_the_live_bots_notices_in_todays_words() -> None:
    """issue 27: the database guard's halt is a typed StorageFault (live/guard.py), worded by the
    same bot/texts.py function in its notice, every order's refusal and /start's; the start's
    failed strategy check and the feed watch are typed too. The words are the ones
    live/guard.py, live/strategy_check.py and bot/app.py wrote, byte for byte."""
    from bot.texts import start_refusal, text
    from trading.core.events import FeedBack, FeedDown, StorageFault, StrategyCheckFailed
    from trading.core.strategies.check import CheckReport
    from trading.live.service import StartRefused

    halt = StorageFault("changed", "/data/bot.db", "deleted")
    line = ("the database DB_PATH=/data/bot.db was deleted while the bot ran; trading stopped (stream closed, no orders). "
            "Restore it and restart the bot")  # fmt: skip
    assert text(halt) == line
    assert answer_line(Answer(Kind.NOT_PROPOSED, why=halt.reason)) == f"Not proposed: {line}"
    assert answer_line(Answer(Kind.NOT_PLACED, why=halt.reason)) == f"Not placed: {line}"
    assert Answer.from_json(Answer(Kind.NOT_PLACED, why=halt.reason).to_json()) == Answer(Kind.NOT_PLACED, why=halt.reason)
    assert start_refusal(StartRefused(halt.reason)) == line and start_refusal(StartRefused("SYMBOLS: X")) == "SYMBOLS: X"
    assert text(StorageFault("changed", "/d.db", "replaced by another file")).startswith(
        "the database DB_PATH=/d.db was replaced by another file while the bot ran; trading stopped")
    damage = "*** in database main ***\nPage 2: btreeInitPage() returns error code 11" + "x" * 400
    assert text(StorageFault("damaged", "/d.db", damage)) == (
        f"storage: DB_PATH=/d.db failed SQLite's quick_check at start: {damage[:300]}; stored rows may be missing or "
        "wrong: stop the bot and restore a backup (or check the disk)")  # the finding cut at 300 characters, as before
    report = CheckReport("peek", False, 0, 0, 0, 0.0, error="ValueError: no")
    assert text(StrategyCheckFailed(report)) == (
        "STRATEGY: check peek: could not run: ValueError: no; not traded live: no strategy runs until /strategy chooses one")
    assert text(FeedDown(125.0, "close code 1006")) == "feed down: no market data for 2m05s (last error: close code 1006)"
    assert text(FeedDown(None)) == "feed down: no market data for —"
    assert text(FeedBack(4.25)) == "feed back after 4.2s"


def test_the_look_ahead_checks_line_in_todays_words() -> None:
    """issue 27: the check returns its report (core/strategies/check.py); bot/texts.check_words
    says it as CheckReport.line did, byte for byte (the chat, /status, /strategy, the CLI)."""
    from bot.texts import check_refusal, check_words
    from trading.core.strategies.check import CheckReport, Difference

    t = 1_700_000_100_000  # 2023-11-14 22:15 UTC
    said = {
        CheckReport("rsi_reversion", True, 40, 105, 100, 1.234, signal_ends=12, signal_rows=30, planned=60):
            "check rsi_reversion: passed (40 end candles: 28 evenly spaced, 12 of the 30 where it signals; time budget "
            "reached after 40 of 60; full vs cut history and 105-candle live windows, 1.23s)",
        CheckReport("p.py:P", False, 3, 105, 100, 0.5, Difference("look-ahead", t, "enter_long", 1.0, 0.0)):
            "check p.py:P: look-ahead: enter_long at 2023-11-14 22:15 UTC is True with the full history but False with "
            "the history ending there (populate uses later candles)",
        CheckReport("p.py:P", False, 3, 105, 10, 0.5, Difference("startup", t, "rsi", 41.2345678, float("nan"))):
            "check p.py:P: startup too short: rsi at 2023-11-14 22:15 UTC is 41.2346 with the full history but NaN in "
            "the 105-candle live window (startup_candles 10: raise it)",
        CheckReport("ema_cross", True, 0, 0, 0, 0.0, note="incremental (on_candle sees one candle at a time)"):
            "check ema_cross: incremental (on_candle sees one candle at a time)",
    }  # fmt: skip
    assert {r: check_words(r) for r in said} == said
    assert check_refusal(CheckReport("x", False, 0, 0, 0, 0.0, error="OSError: gone")) == "check x: could not run: OSError: gone; not traded live"
