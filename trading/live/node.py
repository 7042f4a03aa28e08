"""The one place that builds the live bot's object graph, once, in order: the secrets every
boundary masks, the database (checked, migrated, its identity), the mode, the strategy and
its stored parameters, the book replayed from this mode's fills, the broker for the mode, the
proposals, the trader, the account follower, the two streams and the parts the service is
made of (trading/live/service.py). Every part gets what it needs as constructor arguments;
nothing is wired afterwards by setting attributes, and the mode is decided here once (Mode).

On every start the portfolio is replayed from the stored fills of the current mode, the
trader's per-symbol state (cursor, orders waiting for the next open, stop and take levels)
is read back, and the parameters are the stored ones: a crash or a redeploy resumes the same
book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from storage.guard import FileIdentity
from storage.state import instance_id
from storage.trades import TradeJournal
from trading.config import Settings
from trading.core.brokers import Broker, PaperBroker
from trading.core.candles import Candle
from trading.core.events import Notifier
from trading.core.futures_model import FuturesModel
from trading.core.pause import STATE_KEY, PauseGate
from trading.core.portfolio import Portfolio, position_key
from trading.core.strategies import strategy_class
from trading.core.symbols import SymbolFilters
from trading.core.trader import Trader
from trading.exchange.account_sync import AccountFollower
from trading.exchange.brackets import BracketCache
from trading.exchange.funding import paper_funding_rate
from trading.exchange.protection import ExchangeExits
from trading.exchange.rest import make_client
from trading.exchange.stream import KlineStream
from trading.exchange.user_stream import NoUserStream, UserStream
from trading.live.feed import CandleAnnouncer, kline_stream
from trading.live.follow import Follow
from trading.live.guard import DatabaseGuard, check_integrity
from trading.live.mode import Mode
from trading.live.orders import MarketClock, Orders
from trading.live.params import Params, chosen_strategy, stored_candles
from trading.live.proposals import Confirmations
from trading.live.protections import ProtectionAudit, live_protections
from trading.live.recovery import Recovery
from trading.live.reports import Reports
from trading.live.rules import SymbolRules
from trading.live.store import Db, stored_fills
from trading.live.strategy_check import StartCheck, refuse_late
from trading.live.whatif import WhatIf
from trading.logsafe import register


@dataclass(frozen=True)
class Node:
    """The built bot: what the service holds (each part owns its state)."""

    settings: Settings
    mode: Mode
    notifier: Notifier
    db: Db
    instance: str  # this database's identity, carried by proposal buttons and client ids
    rules: SymbolRules
    journal: TradeJournal
    broker: Broker
    trader: Trader
    pause: PauseGate
    confirmations: Confirmations | None
    follower: AccountFollower | None  # demo/live: the account's events, booked through `Follow`
    stream: KlineStream
    user_stream: UserStream | NoUserStream
    guard: DatabaseGuard
    clock: MarketClock
    params: Params
    start_check: StartCheck  # the start's look-ahead check, beside the bot (trading/live/strategy_check.py)
    orders: Orders
    recovery: Recovery
    whatif: WhatIf
    reports: Reports


def make_broker(settings: Settings, mode: Mode, rules: Mapping[str, SymbolFilters], portfolio: Portfolio) -> Broker:
    """Paper fills on live prices by default; real orders only in demo or live mode."""
    if not mode.exchange:
        return PaperBroker(rules, settings.paper_fee_pct / 100, portfolio, settings.paper_slippage_bps)
    from trading.exchange.broker import (
        BinanceBroker,  # python-binance order calls: exchange modes only
    )

    return BinanceBroker(make_client(settings), rules, mode.name)


def build(settings: Settings, notifier: Notifier) -> Node:
    # Before anything is written or said: every boundary masks these (trading/logsafe.py).
    register([settings.telegram_token, settings.binance_api_key, settings.binance_api_secret])
    check_integrity(settings.db_path, notifier)  # before anything reads the file
    mode = Mode(settings.trading_mode)
    db = Db(settings.db_path)
    conn = db.conn()  # creates/migrates the schema now, so a bad DB_PATH fails at start, not on /start
    identity, instance = FileIdentity.of(settings.db_path, conn), instance_id(conn)

    strategy = chosen_strategy(db.state(), settings.strategy, settings.strategy_dir)
    values = strategy_class(strategy).schema.load(db.params().current(strategy))
    # ConfigError (not traded) when it fails within its grace; else it goes on beside the bot
    start_check = StartCheck(strategy, values, stored_candles(db, settings)).or_refuse()
    journal = TradeJournal(settings.db_path, mode.name)
    # funding booked in this mode: the paper trader's own, or the exchange's (user stream)
    portfolio = Portfolio.replay(settings.paper_balance, stored_fills(journal), journal.funding())
    rules = SymbolRules(settings)
    broker = make_broker(settings, mode, rules, portfolio)
    # The market's clock reads the trader's last live close: `trader` is bound below, before
    # anything can ask (a proposal is made only once the bot runs).
    clock = MarketClock(settings, mode, broker, lambda: trader.market_offset_ms)
    confirmations = (
        Confirmations(
            settings.db_path, notifier, ttl_seconds=settings.proposal_ttl, max_drift_pct=settings.max_drift_pct,
            four_eyes_notional=settings.four_eyes_notional, interval_ms=settings.interval_ms,
            market_offset=clock.offset_ms,
        )
        # CONFIRM_ORDERS=off still proposes an order four-eyes must approve (Orders.propose_order)
        if settings.confirm_orders or settings.four_eyes_notional is not None
        else None
    )
    pause = PauseGate(lambda: db.state().get(STATE_KEY), lambda v: db.state().set(STATE_KEY, v))
    # demo/live: the exits rest on the exchange, client ids carry the instance, /set meets the brackets
    brackets = BracketCache(broker) if mode.exchange else None
    exits = ExchangeExits(broker.exits, instance, settings.stop_working_type) if mode.exchange else None  # type: ignore[attr-defined]

    def history(symbol: str, n: int, last_open: int) -> list[Candle]:
        """The n closed candles up to last_open, for a parameter change that needs more."""
        iv = settings.interval_ms
        rows = db.klines().between(symbol, settings.interval, last_open - (n - 1) * iv, last_open)
        return [Candle.from_row(r) for r in rows][-n:]

    trader = Trader(
        symbols=settings.symbols,
        interval_ms=settings.interval_ms,
        strategy=strategy,
        values=values,
        filters=rules,
        portfolio=portfolio,
        broker=broker,
        min_warmup=settings.warmup_candles,
        notifier=ProtectionAudit(notifier, db.conn),  # a protection's trip is audited too
        journal=journal,
        history_loader=history,
        mode=mode.name,
        approver=confirmations,
        model=FuturesModel(fee_rate=settings.paper_fee_pct / 100, slippage_bps=settings.paper_slippage_bps,
                           max_leverage=settings.max_leverage, max_notional=settings.max_position_notional,
                           funding=paper_funding_rate(settings) if mode.paper else None),  # paper: we are the exchange
        exits=exits,
        instance=instance if mode.exchange else "",
        booked_keys=journal.exchange_keys() | {f"funding:{position_key(sym, leg)}-{ts}" for ts, sym, _, leg in journal.funding()},
        pause=pause,
        confirm_all=settings.confirm_orders,
        hedge=mode.paper and settings.paper_hedge_mode,  # the paper account's mode; exchange: /start reads it
        protections=live_protections(settings, db.conn),  # issue 29: state in runtime_state
        on_exchange=mode.exchange,
    )
    follower = (
        AccountFollower(Follow(trader, journal), broker.client, settings.symbols, notifier, exits,  # type: ignore[attr-defined]
                        broker._call, broker.keep_clock)  # type: ignore[attr-defined]
        if mode.exchange else None
    )  # fmt: skip
    sink = CandleAnnouncer(trader, notifier, rules.lookup) if settings.notify_candles else trader
    stream = kline_stream(settings, notifier, sink)
    user_stream = UserStream(settings, notifier, follower) if follower is not None else NoUserStream()
    guard = DatabaseGuard(settings.db_path, identity, notifier, stream.stop)
    params = Params(settings, db, trader, strategy, values, brackets)
    start_check.bind(lambda report: refuse_late(params, notifier, report))  # still running: refused later
    recovery = Recovery(settings, mode, trader, broker, journal, confirmations, exits, follower)
    recovery.recover()  # paper: proposals a crash left confirmed or being placed, settled now
    return Node(
        settings=settings, mode=mode, notifier=notifier, db=db, instance=instance, rules=rules, journal=journal,
        broker=broker, trader=trader, pause=pause, confirmations=confirmations, follower=follower,
        stream=stream, user_stream=user_stream, guard=guard, clock=clock, params=params, start_check=start_check,
        orders=Orders(settings, db, trader, confirmations, pause, stream, guard, brackets),
        recovery=recovery,
        whatif=WhatIf(settings, db.klines, lambda: params.values, rules.lookup, strategy=lambda: params.strategy),
        reports=Reports(settings, mode, trader, broker, journal, stream, user_stream, db, clock.broker_offset),
    )
