"""Words that trading/ used to write and bot/ writes now (issue 27): a candle's line, /balance's
heading and its unreadable-Binance line (told by a flag: the old code searched the heading for
"book"), /strategy's list."""

from __future__ import annotations

from decimal import Decimal as D

from bot.texts import ohlcv_line, strategy_summary, wallet_title
from bot.views import wallet_html
from trading.core.candles import Candle
from trading.core.pnl import Wallet
from trading.core.symbols import SymbolFilters


def test_a_candles_line() -> None:
    c = Candle("BTCUSDT", "15m", 0, 899_999, 67220.0, 67250.5, 67100.0, 67200.1, 12.345)
    assert ohlcv_line(c) == "O 67220  H 67250.5  L 67100  C 67200.1  V 12.345"
    f = SymbolFilters.btcusdt()
    assert ohlcv_line(c, f.fmt_price, f.fmt_qty) == "O 67220.0  H 67250.5  L 67100.0  C 67200.1  V 12.345"


def test_the_balance_heading_and_an_unreadable_binance_wallet() -> None:
    paper = Wallet("paper", D(10_000), D(10_000), D(0), D(10_000))
    assert wallet_title(paper) == "paper" and "unreadable" not in wallet_html(paper)
    book = Wallet("demo", D(10_000), D(10_000), D(0), D(10_000), exchange_account=True)
    assert wallet_title(book) == "demo (the bot's book)"
    assert wallet_html(book).splitlines()[0] == "<b>Balance · demo (the bot&#x27;s book)</b>"
    assert wallet_html(book).splitlines()[-1] == "Binance's wallet: unreadable right now"


def test_the_strategy_list() -> None:
    assert strategy_summary("ema_cross", False) == "EMA(fast)/EMA(slow) cross, long and short (incremental)"
    assert strategy_summary("none", False) == "observe only: the stream runs, nothing is decided"
    assert strategy_summary("sma.py:Sma", True) == "a plugin in STRATEGY_DIR"
