"""Issue 26, one ledger: its invariants over random books (a seeded generator, ~2 s).

Random sequences of opens, adds, partial and whole closes, reversals, liquidations (with the
insurance clearance fee after them), ADL, funding, and fees in USDT and in BNB (their USDT
value booked), over two symbols and days to weeks. The generator keeps its own book (plain
average-cost arithmetic, nothing of trading/), so the ledger is checked against an
independent model, not against itself. After every sequence:

- wallet = start + Σ net (the model's cash, and the portfolio's balance);
- equity = wallet + unrealized;
- every view's total for a period equals the ledger's: /pnl (each period), /daily /weekly
  /monthly (each row, and their sum), /performance, the daily report, the equity chart's
  day bars;
- the equity curve includes funding and charges at their times: at every candle close it is
  the model's equity then.

A seeded generator rather than hypothesis: the sequences are cheap to make valid by
construction (a close only when something is held), 120 seeds cover every kind many times
in a bounded ~2 s, a failure names its seed (re-run it alone), and no new dependency.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading.charts.data import day_summary, equity_curve, ledger_of, utc_day
from trading.core.candles import Candle
from trading.core.pnl import PERIODS, performance, period_start, period_table, pnl_summary
from trading.core.portfolio import Fill, Portfolio

D = Decimal
IV = 900_000  # 15m
T0 = int(datetime(2025, 3, 29, tzinfo=UTC).timestamp() * 1000)  # a month's and a week's end inside the run
SYMBOLS = ("BTCUSDT", "ETHUSDT")
SEEDS = range(120)
BNB = D(600)  # the BNB price a BNB fee is valued at


@dataclass
class Model:
    """The test's own book: cash and, per symbol, signed quantity and average entry."""

    cash: Decimal
    qty: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(SYMBOLS, D(0)))
    entry: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(SYMBOLS, D(0)))
    net: dict[str, Decimal] = field(default_factory=dict)  # booked net per kind
    history: list[tuple[int, Decimal, dict[str, Decimal], dict[str, Decimal]]] = field(default_factory=list)

    def book(self, t: int, kind: str, amount: Decimal) -> None:
        self.cash += amount
        self.net[kind] = self.net.get(kind, D(0)) + amount
        self.history.append((t, self.cash, dict(self.qty), dict(self.entry)))

    def fill(self, t: int, s: str, signed: Decimal, price: Decimal, fee: Decimal) -> None:
        q, e = self.qty[s], self.entry[s]
        if q and (q > 0) != (signed > 0):  # reducing: realized on the part closed
            part = min(abs(q), abs(signed))
            self.cash += (price - e) * part * (1 if q > 0 else -1)
            self.net["gross"] = self.net.get("gross", D(0)) + (price - e) * part * (1 if q > 0 else -1)
            q += part if q < 0 else -part
            rest = abs(signed) - part
            if rest:
                q, e = (rest if signed > 0 else -rest), price
        else:
            e = (e * abs(q) + price * abs(signed)) / (abs(q) + abs(signed))
            q += signed
        self.qty[s], self.entry[s] = q, e if q else D(0)
        self.book(t, "fees", -fee)

    def equity_at(self, t: int, marks: dict[str, Decimal]) -> Decimal:
        """After every booking at or before t, marked at `marks`."""
        cash, qty, entry = self.cash0, dict.fromkeys(SYMBOLS, D(0)), dict.fromkeys(SYMBOLS, D(0))
        for ht, c, q, e in self.history:
            if ht > t:
                break
            cash, qty, entry = c, q, e
        return cash + sum(((marks[s] - entry[s]) * qty[s] for s in SYMBOLS if qty[s]), D(0))


def random_book(rng: random.Random) -> tuple[list[Fill], list[tuple[int, str, Decimal]], dict[str, list[Candle]], Model]:
    fills: list[Fill] = []
    funding: list[tuple[int, str, Decimal]] = []
    m = Model(D(10_000))
    m.cash0 = m.cash  # type: ignore[attr-defined]
    price = {"BTCUSDT": D(60_000), "ETHUSDT": D(3_000)}
    candles: dict[str, list[Candle]] = {s: [] for s in SYMBOLS}
    n = rng.randint(5, 30)
    step = rng.choice((1, 7, 30, 64))  # candles between events: minutes to most of a day
    for i in range(n * step):
        t = T0 + i * IV
        for s in SYMBOLS:
            o = price[s]
            price[s] = (o * (1 + D(rng.randint(-40, 40)) / 10_000)).quantize(D("0.1"))
            candles[s].append(Candle(s, "15m", t, t + IV - 1, float(o), float(max(o, price[s])),
                                     float(min(o, price[s])), float(price[s]), 1.0))  # fmt: skip
        if i % step:
            continue
        s = rng.choice(SYMBOLS)
        q = m.qty[s]
        at = t + rng.randint(0, IV - 1)  # an exchange fill or payment at any ms of the candle
        kind = rng.choice(("open", "add", "reduce", "close", "reverse", "liq", "adl", "funding", "funding"))
        if kind == "funding":
            if q:
                amount = (-q * price[s] * D(rng.randint(-10, 10)) / 10_000).quantize(D("0.00000001"))
                funding.append((t, s, amount))  # funding times are candle opens
                m.book(t, "funding", amount)
            continue
        qty, oid = D(rng.randint(1, 30)) / 1000, f"tg-{s}-{t}-o"
        if kind in ("reduce", "adl") and q:
            qty = min(qty, abs(q) - D("0.001")) or abs(q)
            side = "SELL" if q > 0 else "BUY"
            oid = f"adl_autoclose-{at}" if kind == "adl" else f"{s}-hand-{at}"
        elif kind in ("close", "liq") and q:
            qty, side = abs(q), ("SELL" if q > 0 else "BUY")
            oid = f"autoclose-{at}" if kind == "liq" else f"tg-{s}-{t}-c"
        elif kind == "reverse" and q:
            qty, side = abs(q) + qty, ("SELL" if q > 0 else "BUY")
        else:
            side = "BUY" if (q > 0 or (not q and rng.random() < 0.5)) else "SELL"
        px = price[s] + D(rng.randint(-20, 20)) / 10
        if rng.random() < 0.3:  # paid in BNB: its USDT value is the fee booked
            bnb = (qty * px * D("0.00045") / BNB).quantize(D("0.00000001"))
            fill = Fill(oid, s, side, qty, px, bnb * BNB, at, "", (f"{s}:t{len(fills)}",), "BNB", bnb)
        else:
            fill = Fill(oid, s, side, qty, px, (qty * px * D("0.0005")).quantize(D("0.00000001")), at)
        fills.append(fill)
        m.fill(at, s, fill.signed_qty, px, fill.fee)
        if kind == "liq" and q:  # the insurance clearance fee: a charge, not a fill
            fee = (qty * px * D("0.01")).quantize(D("0.01"))
            fills.append(Fill(f"liquidation-{s}-{at}", s, "SELL", D(0), D(0), fee, at, "liquidation"))
            m.book(at, "charges", -fee)
    return fills, funding, candles, m


def close(a: Decimal, b: Decimal) -> bool:
    """Equal to the 18th decimal: an average entry is a 28-digit quotient, so the same money
    summed in another order may differ in the last of 28 digits."""
    return abs(a - b) < D("1e-18")


def test_ledger_invariants_over_random_books() -> None:
    kinds: set[str] = set()
    for seed in SEEDS:
        rng = random.Random(seed)
        fills, funding, candles, model = random_book(rng)
        start = model.cash0  # type: ignore[attr-defined]
        kinds |= {k for k, v in model.net.items() if v}
        p = Portfolio.replay(start, fills, funding)
        ledger = p.ledger
        total = ledger.between()
        why = f"seed {seed}"
        # wallet = start + Σ net: the ledger's, the portfolio's, the model's
        assert close(ledger.wallet, start + total.net) and close(ledger.wallet, model.cash), why
        assert close(ledger.wallet, p.balance), why
        assert close(total.gross, model.net.get("gross", D(0))), why
        assert total.fees == -model.net.get("fees", D(0)) and total.funding == model.net.get("funding", D(0)), why
        assert total.charges == -model.net.get("charges", D(0)), why
        assert total.fills == sum(1 for f in fills if f.qty), why
        # equity = wallet + unrealized
        marks = {s: D(str(c[-1].close)) for s, c in candles.items()}
        unrealized = p.unrealized(marks)
        assert close(p.equity(marks), ledger.wallet + unrealized), why
        assert close(p.equity(marks), model.equity_at(2**62, marks)), why
        # the whole trades closed plus the open ones' booked part (partial closes, fees, funding) are Σ net
        open_part = sum((x.realized - x.fees + x.funding for x in p.positions.values() if x.qty), D(0))
        assert close(sum((t.pnl for t in p.trades), D(0)) + open_part, total.net), why
        assert total.trades == len(p.trades), why
        # every view's total for a period equals the ledger's
        now = candles["BTCUSDT"][-1].close_time + 1
        for period in PERIODS:
            s = pnl_summary(period, now, ledger, unrealized)
            t = ledger.between(period_start(period, now))
            assert (s.gross, s.fees, s.funding, s.charges, s.net, s.trades, s.unrealized) == (
                t.gross, t.fees, t.funding, t.charges, t.net, t.trades, unrealized), (why, period)
        for unit, n in (("daily", 90), ("weekly", 52), ("monthly", 24)):
            rows = period_table(unit, n, now, ledger)
            assert close(sum((r.net for r in rows), D(0)), total.net), (why, unit)
            assert close(sum((r.gross for r in rows), D(0)), total.gross), (why, unit)
            assert sum((r.fees for r in rows), D(0)) == total.fees, (why, unit)
            assert sum((r.funding for r in rows), D(0)) == total.funding, (why, unit)
            assert sum((r.charges for r in rows), D(0)) == total.charges, (why, unit)
            assert sum(r.trades for r in rows) == total.trades, (why, unit)
            for older, newer in zip(rows[1:], rows, strict=False):  # each row's wallet: the one before + its net
                assert close(older.start_balance + older.net, newer.start_balance), (why, unit)
            assert close(rows[0].start_balance + rows[0].net, ledger.wallet), (why, unit)
        perf = performance(ledger)
        assert close(sum((x.net for x in perf), D(0)), total.net), why
        assert sum(x.trades for x in perf) == total.trades and sum((x.charges for x in perf), D(0)) == total.charges, why
        first, last = utc_day(T0), utc_day(now)
        days = [day_summary(ledger, first + timedelta(days=i)) for i in range((last - first).days + 1)]
        assert close(sum((d.net for d in days), D(0)), total.net), why
        assert sum(d.fills for d in days) == total.fills and sum(d.trades for d in days) == total.trades, why
        # the equity curve: funding and charges at their times, ending on the book's equity
        curve = equity_curve(ledger, candles, now=(now, {k: float(v) for k, v in marks.items()}))
        assert abs(sum(curve.daily.values()) - float(total.net)) < 1e-6, why
        assert abs(curve.equity[-1] - float(p.equity(marks))) < 1e-6, why
        k, cash, qty, entry = 0, start, dict.fromkeys(SYMBOLS, D(0)), dict.fromkeys(SYMBOLS, D(0))
        for i, (c, value) in enumerate(zip(candles["BTCUSDT"], curve.equity, strict=False)):
            while k < len(model.history) and model.history[k][0] <= c.close_time:  # the model's book then
                _, cash, qty, entry = model.history[k]
                k += 1
            expected = cash + sum(((D(str(candles[s][i].close)) - entry[s]) * qty[s] for s in SYMBOLS if qty[s]), D(0))
            assert abs(value - float(expected)) < 1e-6, (why, c.close_time, value, expected)
    assert kinds == {"gross", "fees", "funding", "charges"}  # every kind of money was booked somewhere


def test_a_clearance_fee_is_an_other_charge_and_a_partial_close_is_realized_when_it_closes() -> None:
    fills = [
        Fill("tg-BTCUSDT-0-o", "BTCUSDT", "BUY", D("0.02"), D(100_000), D(1), 0),
        Fill("BTCUSDT-hand-1", "BTCUSDT", "SELL", D("0.005"), D(99_000), D("0.25"), IV),  # by hand
        Fill("adl_autoclose-2", "BTCUSDT", "SELL", D("0.005"), D(98_000), D("0.25"), 2 * IV),
        Fill("autoclose-3", "BTCUSDT", "SELL", D("0.01"), D(90_000), D("0.45"), 3 * IV, "liquidation"),
        Fill("liquidation-BTCUSDT-3", "BTCUSDT", "SELL", D(0), D(0), D("6.03"), 3 * IV, "liquidation"),
    ]
    p = Portfolio.replay(D(10_000), fills, [(IV, "BTCUSDT", D("-0.36"))])
    ledger = ledger_of(D(10_000), fills, [(IV, "BTCUSDT", D("-0.36"))])
    assert [e.gross for e in ledger.entries] == [0, 0, D(-5), D(-10), D(-100), 0]
    part = ledger.between(0, 3 * IV)  # before the liquidation: the partial closes and the open trade's costs
    assert (part.gross, part.fees, part.funding, part.charges, part.trades) == (D(-15), D("1.5"), D("-0.36"), 0, 0)
    t = ledger.between()
    assert (t.gross, t.fees, t.charges, t.trades) == (D(-115), D("1.95"), D("6.03"), 1)
    assert t.net == p.balance - 10_000 == p.trades[0].pnl  # the one whole trade carries every cost
    assert (p.fees, p.charges) == (D("1.95"), D("6.03"))


def test_a_backtest_reports_its_ledger_and_its_chart_ends_on_the_equity() -> None:
    """/backtest and the CLI: the stats are the run's ledger (gross, fees, funding, net = the
    wallet's change), the end equity is balance + net + unrealized, and the chart (from the
    first traded open, with the start) ends on it, its day bars adding up to the net."""
    from trading.backtest import BacktestOptions, run_backtest
    from trading.core.futures import FundingRates
    from trading.core.futures_model import FuturesModel
    from trading.live.whatif import equity_curve as backtest_curve

    seen = {"liquidation": 0, "open at the end": 0, "clearance fee charged": 0}
    for seed in range(5):
        rng = random.Random(seed)
        price, candles = 60_000.0, []
        for i in range(500):
            o, price = price, price * (1 + rng.uniform(-0.006, 0.006))
            t = T0 + i * IV
            candles.append(Candle("BTCUSDT", "15m", t, t + IV - 1, o, max(o, price) * 1.001, min(o, price) * 0.999,
                                  price, 1.0))  # fmt: skip
        values = {"fast": rng.randint(2, 6), "slow": rng.randint(8, 20), "stake_usdt": 100,
                  "leverage": rng.choice((5, 50, 125))}  # fmt: skip
        model = FuturesModel(fee_rate=D("0.0005"), funding=FundingRates({}, D(rng.choice(("0.0001", "-0.0003")))))
        r = run_backtest(candles, BacktestOptions(values=values, warmup=30, model=model))
        s, t = r.stats, r.trader.portfolio.ledger.between()
        why = f"seed {seed}"
        assert (s.gross, s.fees, s.funding, s.charges, s.trades, s.wins) == (
            t.gross, t.fees, t.funding, t.charges, t.trades, t.wins), why
        assert s.net_pnl == t.net == s.final_balance - D(10_000), why
        assert abs(s.end_equity - r.equity[-1]) < 1e-6, why
        curve = backtest_curve(r, 10_000.0)
        assert curve.equity[0] == 10_000.0 and curve.equity[-1] == r.equity[-1], why
        assert curve.times[0].timestamp() * 1000 == r.times[0], why  # the first traded candle's open
        assert abs(sum(curve.daily.values()) - float(s.net_pnl)) < 1e-6, why
        seen["liquidation"] += s.liquidations
        seen["clearance fee charged"] += s.charges > 0
        assert not s.charges or s.liquidations, why  # a charge only after a liquidation
        seen["open at the end"] += bool(s.open_pnl)
    assert all(seen.values()), seen  # the cases the issue met: an open position at the end, a liquidation
