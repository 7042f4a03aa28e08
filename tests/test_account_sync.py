"""The account follower's pieces that need no exchange: who placed a fill (by client id),
MARGIN_CALL's chat warning, a BNB fee in USDT at BNB's price (asset and amount kept, and
never a wrong number when no price can be had), the user-stream URL routing."""

from __future__ import annotations

from decimal import Decimal

from bot.texts import fee_words, text
from tests.helpers import RecordingNotifier
from trading.config import load_settings
from trading.core.portfolio import Fill
from trading.exchange.account_sync import AccountFollower
from trading.exchange.fees import fee_in_usdt
from trading.exchange.protection import ExchangeExits
from trading.exchange.user_stream import user_ws_base

EXITS = ExchangeExits(broker=None, instance_id="abcd1234")  # type: ignore[arg-type]


class _Prices:
    def __init__(self, price: str | None) -> None:
        self.price = price

    def futures_symbol_ticker(self, symbol: str) -> dict:
        if self.price is None:
            raise OSError("no route")
        return {"symbol": symbol, "price": self.price}

    def futures_klines(self, **kw: object) -> list:
        if self.price is None:
            raise OSError("no route")
        start = int(kw["startTime"])  # type: ignore[arg-type]
        return [[start, "1", "1", "1", "1"], [start + 60_000, "1", "1", "1", self.price]]


def test_who_placed_a_fill_is_read_from_its_client_id() -> None:
    f = AccountFollower(None, None, ["BTCUSDT"], RecordingNotifier(), EXITS)  # type: ignore[arg-type]
    sl, tp, _ = EXITS.exit_ids("BTCUSDT", 1_700_000_000_000, 0)
    assert [f.what(c) for c in (sl, tp)] == ["stop_loss", "take_profit"]
    assert f.what("autoclose-1700000000000") == "liquidation"
    assert f.what("adl_autoclose") == "adl"
    assert f.what("tgp-abcd1234-3-1") == "own"
    assert f.what("web_Xy12") == "outside" and f.what("tgx-ffff0000-x-sl") == "outside"  # another bot's


def test_margin_call_warns_with_the_position_and_the_margin_ratio() -> None:
    notes = RecordingNotifier()
    f = AccountFollower(None, None, ["BTCUSDT"], notes, EXITS)  # type: ignore[arg-type]
    f.on_event({"e": "MARGIN_CALL", "E": 1, "cw": "100", "p": [
        {"s": "BTCUSDT", "ps": "BOTH", "pa": "-0.5", "mt": "CROSSED", "iw": "0", "mp": "70000",
         "up": "-20", "mm": "64"}]})  # fmt: skip
    (n,) = notes.notices
    assert n.kind == "margin_call"
    assert "margin ratio 80.0 %" in text(n) and "BTCUSDT short 0.5" in text(n) and "uPnL -20.00" in text(n)


def test_an_isolated_margin_call_uses_the_positions_own_wallet() -> None:
    """Binance sends no cw for an isolated position's margin call: its margin balance is iw + up."""
    notes = RecordingNotifier()
    f = AccountFollower(None, None, ["BTCUSDT"], notes, EXITS)  # type: ignore[arg-type]
    f.on_event({"e": "MARGIN_CALL", "E": 1, "p": [
        {"s": "BTCUSDT", "ps": "BOTH", "pa": "0.1", "mt": "ISOLATED", "iw": "50", "mp": "65000",
         "up": "-30", "mm": "16"}]})  # fmt: skip
    (n,) = notes.notices
    assert "margin ratio 80.0 %" in text(n) and "of 20.00 USDT margin balance" in text(n)


def test_a_bnb_fee_is_booked_in_usdt_at_the_bnb_price_with_asset_and_amount() -> None:
    trades = [{"commission": "0.0003", "commissionAsset": "BNB", "time": 1_000}]
    usdt, asset, amount = fee_in_usdt(_Prices("600.5"), trades)
    assert fee_in_usdt(_Prices("600.5"), trades, recent=False)[0] == usdt  # its 1-minute candle
    assert (usdt, asset, amount) == (Decimal("0.18015000"), "BNB", Decimal("0.0003"))
    fill = Fill("x", "BTCUSDT", "BUY", Decimal(1), Decimal(1), usdt, 0, "", (), asset, amount)
    assert fee_words(fill) == "0.0003 BNB = 0.18 USDT"
    # No BNB price: 0 USDT booked, and the chat line says so (never a wrong number silently).
    usdt, asset, amount = fee_in_usdt(_Prices(None), trades)
    assert usdt == 0 and amount == Decimal("0.0003")
    fill = Fill("x", "BTCUSDT", "BUY", Decimal(1), Decimal(1), usdt, 0, "", (), asset, amount)
    assert fee_words(fill) == "0.0003 BNB (no BNB price: booked as 0 USDT)"


def test_the_user_stream_url_follows_the_2026_routing() -> None:
    def base(**env: str) -> str:
        return user_ws_base(load_settings(environ=env, env_file=None))

    assert base() == "wss://fstream.binance.com/private"
    assert base(BINANCE_WS_URL="ws://127.0.0.1:8081/market") == "ws://127.0.0.1:8081/private"
    assert base(BINANCE_USER_WS_URL="wss://elsewhere.example/private/") == "wss://elsewhere.example/private"


class _Sink:
    """What the follower hands on (trading/live/follow.py books it): recorded, nothing booked."""

    def __init__(self, known: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fills: list[tuple[Fill, str, str]] = []
        self.known = known

    def fill(self, fill: Fill, what: str, order_key: str) -> bool:
        self.fills.append((fill, what, order_key))
        return not (set(fill.keys) | {order_key}) & self.known

    def hedge(self) -> bool:
        return False  # a One-way book

    def account_mode(self, hedge: bool) -> str | None:
        return None


def test_an_order_update_is_decoded_into_one_fill_handed_to_the_sink() -> None:
    """The exchange side decodes; it never reads or books into a trader (issue 27)."""
    sink = _Sink()
    sl, _, _ = EXITS.exit_ids("BTCUSDT", 1_700_000_000_000, 0)
    f = AccountFollower(sink, None, ["BTCUSDT"], RecordingNotifier(), EXITS)  # type: ignore[arg-type]
    update = {"s": "BTCUSDT", "c": sl, "S": "SELL", "x": "TRADE", "X": "FILLED", "i": 42, "l": "0.010",
              "L": "65000.5", "T": 1_700_000_900_000, "t": 7, "n": "0.325", "N": "USDT", "ps": "BOTH"}
    f.on_event({"e": "ORDER_TRADE_UPDATE", "o": update})
    f.on_event({"e": "ORDER_TRADE_UPDATE", "o": {**update, "x": "AMENDMENT"}})  # nothing traded
    f.on_event({"e": "TRADE_LITE", "s": "BTCUSDT", "c": sl, "l": "0.010", "L": "65000.5", "t": 7})
    ((fill, what, order_key),) = sink.fills
    assert (fill.symbol, fill.side, fill.qty, fill.price, fill.fee) == (
        "BTCUSDT", "SELL", Decimal("0.010"), Decimal("65000.5"), Decimal("0.325"))
    assert fill.keys == ("BTCUSDT:t7",) and fill.order_id == sl and fill.time == 1_700_000_900_000
    assert (what, order_key) == ("stop_loss", "BTCUSDT:o42")
    assert f.booked == 1


def test_a_fill_the_sink_knows_is_not_counted() -> None:
    sink = _Sink(known={"BTCUSDT:o42"})  # its order was booked whole when its trades were unreadable
    f = AccountFollower(sink, None, ["BTCUSDT"], RecordingNotifier(), EXITS)  # type: ignore[arg-type]
    f.on_event({"e": "ORDER_TRADE_UPDATE", "o": {"s": "BTCUSDT", "c": "web_1", "S": "BUY", "x": "TRADE", "i": 42,
                                                 "l": "0.002", "L": "65000", "T": 1, "t": 8, "n": "0", "N": "USDT"}})
    assert len(sink.fills) == 1 and f.booked == 0
