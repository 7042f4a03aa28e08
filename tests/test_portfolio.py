"""Portfolio: PnL, fees and equity equal an independent recomputation from the fills."""

from __future__ import annotations

from decimal import Decimal as D

from trading.core.portfolio import BUY, SELL, Fill, Portfolio


def fill(i: int, side: str, qty: str, price: str, fee_rate: str = "0.0005") -> Fill:
    q, p = D(qty), D(price)
    return Fill(f"id{i}", "BTCUSDT", side, q, p, q * p * D(fee_rate), i * 1000)


FILLS = [
    fill(1, BUY, "0.010", "60000"),  # open long 0.010
    fill(2, BUY, "0.005", "63000"),  # add: entry (600 + 315) / 0.015 = 61000
    fill(3, SELL, "0.006", "62000"),  # partial close: +6.000
    fill(4, SELL, "0.019", "59000"),  # close 0.009 (−18.000) and flip short 0.010 at 59000
    fill(5, BUY, "0.004", "58000"),  # partial close short: +4.000
    fill(6, BUY, "0.006", "60000"),  # close short: −6.000
]


def test_pnl_fees_and_trades_equal_a_hand_recomputation() -> None:
    p = Portfolio.replay(D("10000"), FILLS)
    fees = sum(f.fee for f in FILLS)
    assert p.fees == fees
    assert p.realized == D("6") - D("18") + D("4") - D("6")
    assert p.balance == D("10000") + p.realized - fees
    assert p.side("BTCUSDT") == 0
    long_trade, short_trade = p.trades
    assert (long_trade.side, long_trade.qty, long_trade.entry_price) == ("long", D("0.015"), D("61000"))
    # exits: 0.006 @ 62000 and 0.009 @ 59000
    assert long_trade.exit_price == (D("0.006") * 62000 + D("0.009") * 59000) / D("0.015")
    flip_fee = FILLS[3].fee
    long_fees = FILLS[0].fee + FILLS[1].fee + FILLS[2].fee + flip_fee * D("0.009") / D("0.019")
    assert long_trade.fees == long_fees
    assert long_trade.pnl == D("6") - D("18") - long_fees
    assert (short_trade.side, short_trade.qty, short_trade.entry_price) == ("short", D("0.010"), D("59000"))
    short_fees = flip_fee * D("0.010") / D("0.019") + FILLS[4].fee + FILLS[5].fee
    assert short_trade.fees == short_fees
    assert short_trade.pnl == D("4") - D("6") - short_fees
    assert (long_trade.open_time, long_trade.close_time) == (1000, 4000)
    assert (short_trade.open_time, short_trade.close_time) == (4000, 6000)
    # The trades' net PnL adds up to the wallet's change.
    assert long_trade.pnl + short_trade.pnl == p.balance - D("10000")


def test_unrealized_and_equity_at_a_mark() -> None:
    p = Portfolio.replay(D("10000"), FILLS[:2])  # long 0.015 @ 61000
    mark = {"BTCUSDT": D("62500")}
    assert p.unrealized(mark) == D("0.015") * D("1500")
    assert p.equity(mark) == p.balance + D("22.5")
    assert p.equity_f("BTCUSDT", 62500.0) == float(p.balance) + 22.5
    p2 = Portfolio.replay(D("10000"), FILLS[:4])  # short 0.010 @ 59000
    assert p2.unrealized({"BTCUSDT": D("58000")}) == D("10")


def test_replay_is_order_sensitive_and_deterministic() -> None:
    a = Portfolio.replay(D("10000"), FILLS)
    b = Portfolio.replay(D("10000"), list(FILLS))
    assert a.trades == b.trades and a.balance == b.balance


def test_the_exit_reason_is_the_first_leg_the_order_id_names() -> None:
    """exit_reason reads the id's dash-separated words once; it answers what the rule says (the
    first of EXIT_REASONS whose leg ends the id or stands between two dashes) on every id."""
    import itertools
    import random

    from trading.core.portfolio import EXIT_REASONS, exit_reason

    def by_the_rule(order_id: str) -> str:
        return next((r for leg, r in EXIT_REASONS.items() if order_id.endswith(leg) or leg + "-" in order_id), "signal")

    assert exit_reason("tg-BTCUSDT-1729657800000-sl") == "stop_loss"
    assert exit_reason("tg-ab12-kq3-t2-BTCUSDT") == "take_profit_2"
    assert exit_reason("tg-BTCUSDT-1-liq-l") == "liquidation"
    assert exit_reason("tg-BTCUSDT-1-c") == exit_reason("sl") == exit_reason("tg-BTCUSDT-1-t10") == "signal"
    words = ["tg", "BTCUSDT", "1729657800000", "sl", "tp", "liq", "end", "dd", "dl", "ts", "t1", "t9", "t10", "c", "o",
             "l", "", "slx"]  # fmt: skip
    rnd = random.Random(31)
    ids = ["-".join(p) for n in (1, 2, 3) for p in itertools.product(words, repeat=n)]
    ids += ["-".join(rnd.choice(words) for _ in range(rnd.randint(4, 8))) for _ in range(20_000)]
    assert [exit_reason(i) for i in ids] == [by_the_rule(i) for i in ids]
