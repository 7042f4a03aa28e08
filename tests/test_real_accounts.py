"""Real Binance accounts are not one fresh default account on one clock (issue 18): client
order ids shared by several databases, position and margin modes, a drifting host clock.
Each test drives the real bot (PTB, polling) against the replay exchange set into that state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.runner import BotThread
from bot.texts import outcome_line, reason_line, switch_line
from sim.binance import ReplayExchange
from sim.telegram.local_api import LocalBotApi
from tests.helpers import leg_id, observe
from tests.test_bot_e2e import ADMIN, GROUP, LOOSE, START, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen
from trading.config import load_settings
from trading.live.proposals import Proposal

DEMO = {"TRADING_MODE": "demo", "BINANCE_API_KEY": "replay-key", "BINANCE_API_SECRET": "replay-secret"}


class Account:
    """One replay exchange account and one chat; bots come and go on them."""

    def __init__(self, candles, **exchange: object) -> None:  # type: ignore[no-untyped-def]
        self.ex = ReplayExchange(candles, start_index=START, seconds_per_candle=0.02, **exchange).start()  # type: ignore[arg-type]
        self.api = LocalBotApi().start()
        self.api.add_chat(GROUP, "supergroup", "Traders")
        self.bot: BotThread | None = None
        self.seen: Seen | None = None

    def start_bot(self, db_path: str, **extra: str) -> BotThread:
        settings = load_settings(
            environ={
                "TELEGRAM_TOKEN": self.api.token, "TELEGRAM_BASE_URL": self.api.base_url,
                "TELEGRAM_CHAT_ID": str(GROUP), "TELEGRAM_ADMIN_IDS": str(ADMIN),
                "BINANCE_REST_URL": self.ex.rest_url, "BINANCE_WS_URL": self.ex.ws_url, "DB_PATH": db_path,
                "RECONNECT_DELAY": "0.05", "WARMUP_CANDLES": "50", "STRATEGY": "none", "MAX_POSITION_NOTIONAL": "5000",
                # the proposal is priced at the last close, the Confirm at the forming candle:
                # these tests are about ids and clocks, not about the drift guard
                "MAX_DRIFT_PCT": "20", **DEMO, **extra,
            },
            env_file=None,
        )  # fmt: skip
        self.bot = BotThread(settings, rate_limits=LOOSE, poll_timeout=1).start()
        return self.bot

    def say(self, text: str, expect: str, timeout: float = 15.0) -> dict:
        mark = self.api.mark()
        self.api.send_message(GROUP, ADMIN, text)
        msg = self.api.wait_for_text(GROUP, expect, timeout=timeout, start=mark)
        assert msg is not None, f"no {expect!r} after {text!r}: {[m.get('text') for m in self.api.sent(GROUP)][-6:]}"
        return msg

    def chat(self) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.api.sent(GROUP))

    def stop_bot(self) -> None:
        if self.bot is not None:
            self.bot.stop()
            self.bot = None

    def close(self) -> None:
        self.stop_bot()
        self.api.stop()
        self.ex.stop()


@pytest.fixture
def account(source):  # noqa: F811
    acc = Account(source)
    yield acc
    acc.close()


def started(acc: Account):  # type: ignore[no-untyped-def]
    """/start, then the market paused once the trader has every candle the exchange closed."""
    engine = acc.bot.engine  # type: ignore[union-attr]
    seen = acc.seen = observe(engine, Seen)
    acc.say("/start", "socket started")
    acc.ex.pause()  # the market stands still while orders are proposed and confirmed…
    while True:  # …once the trader has every candle the exchange closed
        index = acc.ex.current_index
        assert seen.wait(acc.ex.candles[index - 1].open_time)
        if acc.ex.current_index == index:
            return engine


def long_once(acc: Account) -> Decimal:
    """/start, then a 0.01 long proposed and confirmed; the order's client id is returned."""
    engine = started(acc)
    proposal = engine.propose_order("long", None, Decimal("0.01"), ADMIN)
    assert isinstance(proposal, Proposal), proposal
    outcome = engine.confirm(proposal.id, ADMIN)
    assert outcome.ok and outcome_line(outcome).startswith("filled: BUY 0.010 BTCUSDT"), outcome_line(outcome)
    return proposal.legs[0].id


def test_two_bots_with_fresh_databases_never_share_a_client_id(account: Account, tmp_path) -> None:
    """Ids restarted at tgp-1-1 with every database: the second bot's order was refused as a
    duplicate or, once the first was filled, its lookup found the first bot's fill."""
    first_db, second_db = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    account.start_bot(first_db)
    first = long_once(account)
    account.stop_bot()
    account.ex.resume()
    account.start_bot(second_db)
    second = long_once(account)
    assert first == leg_id(first_db, 1) and second == leg_id(second_db, 1) and first != second
    orders = account.ex.orders()
    assert [o["clientOrderId"] for o in orders] == [first, second]
    assert all(o["status"] == "FILLED" and o["executedQty"] == "0.010" for o in orders)
    assert account.ex.stats.order_posts == {first: 1, second: 1}


@pytest.mark.parametrize("offset_ms", [3000, -3000])
def test_a_drifting_host_clock_never_meets_minus_1021(source, tmp_path, offset_ms: int) -> None:  # noqa: F811
    """Binance's clock 3 s ahead of the host (timestamps 3 s old, inside recvWindow) or
    behind it (timestamps from Binance's future: -1021 until the offset is measured)."""
    acc = Account(source, clock_offset_ms=offset_ms)
    try:
        acc.start_bot(str(tmp_path / "bot.sqlite"))
        long_once(acc)
        chat = acc.chat()
        assert "-1021" not in chat and "could not reconcile" not in chat, chat
        assert acc.bot.engine.clock_offset_ms() is not None  # type: ignore[union-attr]
        assert len(acc.ex.orders()) == 1
    finally:
        acc.close()



def press(acc: Account, msg: dict, row: int = 0, col: int = 0) -> str:
    mark = acc.api.mark()
    data = msg["reply_markup"]["inline_keyboard"][row][col]["callback_data"]
    acc.api.press_button(GROUP, ADMIN, msg["message_id"], data)
    answer = acc.api.wait_for(lambda c: c.method == "answerCallbackQuery", start=mark, timeout=15)
    assert answer is not None
    return answer.params.get("text", "")


def test_a_hedge_mode_account_is_refused_clearly_and_switched_by_an_admin(account: Account, tmp_path) -> None:
    """Hedge Mode: every order the bot sends would be -4061 (closes -1106). The stream does not
    start, the chat names the mode, nothing is sent; the idle account gets a switch button."""
    account.ex.set_account_modes(hedge=True)
    account.start_bot(str(tmp_path / "bot.sqlite"), HEDGE_MODE="off")  # auto would trade its legs (test_hedge_e2e)
    msg = account.say("/start", "cannot start")
    assert "Hedge Mode" in msg["text"] and "One-way Mode" in msg["text"], msg["text"]
    account.say("/long 0.01", "/start the stream first")
    assert account.ex.stats.order_posts == {} and not account.bot.engine.stream_status().running  # type: ignore[union-attr]
    assert "switched the account to One-way Mode" in press(account, msg)
    assert account.ex.call(lambda: account.ex.account.hedge) is False
    assert "already in One-way Mode" in press(account, msg)  # Binance's -4059, said plainly
    long_once(account)
    audit = account.bot.engine.audit_log(10)  # type: ignore[union-attr]
    assert any(a["action"] == "position_mode" and "switched" in a["outcome"] for a in audit), audit


def test_a_busy_hedge_mode_account_gets_no_switch_button(account: Account, tmp_path) -> None:
    from binance.client import Client

    client = Client("replay-key", "replay-secret", ping=False)
    client.FUTURES_URL = account.ex.rest_url + "/fapi"
    price = Decimal(account.ex.call(lambda: account.ex.clock.price("BTCUSDT")))
    client.futures_create_order(  # an order resting on the account: Binance will not switch it
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010",
        price=str((price * Decimal("0.97")).quantize(Decimal("0.1"))),
    )  # fmt: skip
    account.ex.set_account_modes(hedge=True)
    account.start_bot(str(tmp_path / "bot.sqlite"), HEDGE_MODE="off")
    msg = account.say("/start", "cannot start")
    assert "Hedge Mode" in msg["text"] and "reply_markup" not in msg, msg
    done = account.bot.engine.switch_to_one_way(ADMIN)  # type: ignore[union-attr]
    assert switch_line(done).endswith("cancel them first") and done.outcome() == "has_orders"  # the audit's outcome


def test_a_restart_onto_an_account_switched_to_hedge_mode_says_the_stream_is_not_resumed(account: Account, tmp_path) -> None:
    """The last request was /start; while the bot was down the account went to Hedge Mode
    (HEDGE_MODE=off): the restart does not resume the stream and says why (docs/notices.md's
    account_mode row: `stream not resumed: …`, a typed event worded by bot/texts.py)."""
    db = str(tmp_path / "bot.sqlite")
    account.start_bot(db)
    account.say("/start", "socket started")
    account.stop_bot()
    account.ex.set_account_modes(hedge=True)
    account.start_bot(db, HEDGE_MODE="off")
    msg = account.api.wait_for_text(GROUP, "stream not resumed: ", timeout=15)
    assert msg is not None, account.chat()[-600:]
    assert "ℹ️ stream not resumed: the Binance account is in Hedge Mode (LONG and SHORT positions apart)" in msg["text"], msg
    assert not account.bot.engine.stream_status().running  # type: ignore[union-attr]


def test_multi_assets_mode_is_allowed_with_a_line_saying_what_it_changes(account: Account, tmp_path) -> None:
    account.ex.set_account_modes(multi_assets=True)
    account.start_bot(str(tmp_path / "bot.sqlite"))
    long_once(account)
    assert "ℹ️ the account is in Multi-Assets mode: every asset in it (not only USDT) margins" in account.chat(), account.chat()[-600:]


def test_an_account_switched_to_hedge_mode_while_running_gets_its_own_line(account: Account, tmp_path) -> None:
    """Someone switches the idle account to Hedge Mode on the website while the bot streams:
    Binance refuses the next order with -4061, and the chat says what to do."""
    account.start_bot(str(tmp_path / "bot.sqlite"))
    engine = started(account)
    account.ex.set_account_modes(hedge=True)
    proposal = engine.propose_order("long", None, Decimal("0.01"), ADMIN)
    outcome = engine.confirm(proposal.id, ADMIN)
    assert not outcome.ok and "Hedge Mode" in outcome_line(outcome) and "One-way Mode" in outcome_line(outcome) and "(-4061)" in outcome_line(outcome)
    assert account.ex.orders() == []


def test_a_leverage_call_that_gets_no_clear_answer_is_the_orders_refusal(account: Account, tmp_path) -> None:
    account.start_bot(str(tmp_path / "bot.sqlite"))
    engine = started(account)
    account.ex.faults.rest_errors(504, route="POST /fapi/v1/leverage")
    proposal = engine.propose_order("long", None, Decimal("0.01"), ADMIN)
    outcome = engine.confirm(proposal.id, ADMIN)
    assert not outcome.ok and outcome_line(outcome).startswith("failed: not placed: setting BTCUSDT leverage"), outcome_line(outcome)
    assert "propose again" in outcome_line(outcome) and engine.proposal(proposal.id).status == "failed"
    assert account.ex.stats.order_posts == {}


def test_a_network_error_on_the_leverage_call_is_a_refusal_not_a_crash() -> None:
    import requests

    from trading.core.brokers.base import OrderRefused
    from trading.exchange.broker import BinanceBroker

    class Down:
        def futures_change_leverage(self, **params: object) -> None:
            raise requests.ConnectionError("connection reset")

    with pytest.raises(OrderRefused) as err:
        BinanceBroker(Down(), {}).set_leverage("BTCUSDT", 5)  # type: ignore[arg-type]
    assert reason_line(err.value.reason).startswith("not placed: setting BTCUSDT leverage to 5x failed (ConnectionError")


def test_hedge_mode_legs_are_kept_apart_and_never_adopted() -> None:
    """positionRisk of a Hedge Mode account has a LONG and a SHORT row per symbol; the book
    must not take either (or whichever came last) as the net position."""
    from bot.texts import reconciled_line
    from trading.core.brokers.base import ExchangePosition
    from trading.exchange.reconcile import differences, hedged, reconcile

    class Reader:
        def positions(self, symbols):  # type: ignore[no-untyped-def]
            return [
                ExchangePosition("BTCUSDT", Decimal("0.010"), Decimal("70000"), 5, "LONG"),
                ExchangePosition("BTCUSDT", Decimal("-0.020"), Decimal("71000"), 5, "SHORT"),
                ExchangePosition("ETHUSDT", Decimal("0.5"), Decimal("2500"), 5, "BOTH"),
            ]

        def open_orders(self, symbol):  # type: ignore[no-untyped-def]
            return []

    state = reconcile(Reader(), ["BTCUSDT", "ETHUSDT"])
    assert state.qty("BTCUSDT") == 0 and [p.position_side for p in state.hedged["BTCUSDT"]] == ["LONG", "SHORT"]
    assert [reconciled_line(d) for d in differences(state, {"BTCUSDT": Decimal("0.010")})] == [
        "ETHUSDT: the exchange holds long 0.5 at 2500, the bot's book nothing"
    ]
    (line,) = map(reconciled_line, hedged(state))
    assert "LONG 0.01 at 70000" in line and "SHORT 0.02 at 71000" in line and "adopts neither" in line


def test_set_leverage_is_checked_against_the_symbols_brackets(source, tmp_path) -> None:  # noqa: F811
    """A small coin's brackets allow 20x only up to 5,000 USDT: /set leverage=20 with a 1,000
    USDT stake (a 20,000 USDT position) is refused at /set with the highest leverage that fits."""
    acc = Account(source, symbol="SOLUSDT")
    try:
        acc.start_bot(str(tmp_path / "bot.sqlite"), SYMBOLS="SOLUSDT", STRATEGY="ema_cross", MAX_LEVERAGE="20",
                      MAX_POSITION_NOTIONAL="100000")  # the brackets, not this limit, are tested
        msg = acc.say("/set leverage=20 stake_usdt=1000", "leverage: at most 10x for SOLUSDT")
        assert "20000 USDT position is limited to 10x" in msg["text"] and "nothing changed" in msg["text"], msg["text"]
        assert acc.bot.engine.params()[1]["leverage"] == 3  # type: ignore[union-attr]
        acc.say("/set leverage=10 stake_usdt=1000", "leverage")
        assert acc.bot.engine.params()[1]["leverage"] == 10  # type: ignore[union-attr]
        acc.say("/set leverage=20", "leverage: at most 10x for SOLUSDT")  # the stored stake counts too
    finally:
        acc.close()


def test_a_manual_order_above_its_leverage_bracket_is_refused_when_proposed(source, tmp_path) -> None:  # noqa: F811
    acc = Account(source, symbol="SOLUSDT")
    try:
        acc.start_bot(str(tmp_path / "bot.sqlite"), SYMBOLS="SOLUSDT", STRATEGY="ema_cross", MAX_LEVERAGE="20",
                      MAX_POSITION_NOTIONAL="100000")  # fmt: skip
        acc.say("/set leverage=20 stake_usdt=100", "leverage")  # 2,000 USDT: within 20x's bracket
        engine = started(acc)
        assert acc.ex.advance(1) and acc.seen.wait(acc.ex.candles[acc.ex.current_index - 1].open_time)
        assert engine.snapshot().values["leverage"] == 20  # a candle closed: the new leverage is in force
        outcome = engine.propose_order("long", None, Decimal("0.1"), ADMIN)  # ~7,000 USDT at 20x
        assert not isinstance(outcome, Proposal) and "limited to 10x by Binance's leverage brackets" in outcome_line(outcome)
        assert acc.ex.stats.order_posts == {}
    finally:
        acc.close()
