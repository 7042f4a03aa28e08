"""Real Binance accounts are not one fresh default account on one clock (issue 18): client
order ids shared by several databases, position and margin modes, a drifting host clock.
Each test drives the real bot (PTB, polling) against the replay exchange set into that state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.runner import BotThread
from sim.binance import ReplayExchange
from sim.telegram.local_api import LocalBotApi
from tests.helpers import leg_id
from tests.test_bot_e2e import ADMIN, GROUP, LOOSE, START, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen
from trading.config import load_settings
from trading.confirmations import Proposal

DEMO = {"TRADING_MODE": "demo", "BINANCE_API_KEY": "replay-key", "BINANCE_API_SECRET": "replay-secret"}


class Account:
    """One replay exchange account and one chat; bots come and go on them."""

    def __init__(self, candles, **exchange: object) -> None:  # type: ignore[no-untyped-def]
        self.ex = ReplayExchange(candles, start_index=START, seconds_per_candle=0.02, **exchange).start()  # type: ignore[arg-type]
        self.api = LocalBotApi().start()
        self.api.add_chat(GROUP, "supergroup", "Traders")
        self.bot: BotThread | None = None

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


def long_once(acc: Account) -> Decimal:
    """/start, then a 0.01 long proposed and confirmed; the order's client id is returned."""
    engine = acc.bot.engine  # type: ignore[union-attr]
    seen = engine.stream.feed.sink = Seen(engine.stream.feed.sink)
    acc.say("/start", "socket started")
    acc.ex.pause()  # the market stands still while the order is proposed and confirmed…
    while True:  # …once the trader has every candle the exchange closed
        index = acc.ex.current_index
        assert seen.wait(acc.ex.candles[index - 1].open_time)
        if acc.ex.current_index == index:
            break
    proposal = engine.propose_order("long", None, Decimal("0.01"), ADMIN)
    assert isinstance(proposal, Proposal), proposal
    outcome = engine.confirm(proposal.id, ADMIN)
    assert outcome.ok and outcome.line.startswith("filled: BUY 0.010 BTCUSDT"), outcome.line
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

