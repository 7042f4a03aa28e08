"""`ReplayExchange`: the replay market, its REST and websocket API, run in a background thread.

Everything mutable (clock, connections, account) lives on the server's own event loop;
other threads talk to it through thread-safe calls and a Condition that the loop
notifies on every closed candle and every connection change, so callers can wait for a
state instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from aiohttp import web

from sim.binance.account import Account
from sim.binance.auth import ClientClocks, Signer
from sim.binance.clock import ReplayClock, Step
from sim.binance.controls import Controls
from sim.binance.data import SourceCandle, generate
from sim.binance.errors import Handler, binance_errors
from sim.binance.faults import Faults
from sim.binance.fees import BnbFees
from sim.binance.funding import DEFAULT_RATE, FundingPayer, FundingRates
from sim.binance.klines import closed_fields, rest_row
from sim.binance.liquidation import Liquidator
from sim.binance.market import Series
from sim.binance.order_json import order_json
from sim.binance.rest import PublicApi
from sim.binance.stats import Stats, StatsSnapshot
from sim.binance.trading import TradingApi
from sim.binance.user_events import AccountWatcher
from sim.binance.user_stream import LISTEN_KEY_TTL, UserStream
from sim.binance.ws import Hub, add_routes

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERATED_CANDLES_AFTER_START = 20_000  # ~67 minutes of demo at the default speed


class ReplayExchange:
    """A loopback Binance USDⓈ-M futures exchange replaying candles.

    `candles=None` replays a seeded random walk. Extra symbols must be on the primary's
    interval; they are replayed in step with it, matched by open time. `rest_forming=False`
    makes klines answers closed-only (Binance, and the default, end them with the forming
    candle). `/time` serves the market clock; see auth.ClientClocks for why signed
    requests are also accepted on the wall clock.
    """

    def __init__(
        self,
        candles: list[SourceCandle] | None = None,
        *,
        symbol: str = "BTCUSDT",
        interval: str | None = None,
        extra_symbols: dict[str, list[SourceCandle]] | None = None,
        start_index: int = 500,
        seconds_per_candle: float = 0.2,
        updates_per_candle: int = 4,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "replay-key",
        api_secret: str = "replay-secret",
        ping_interval: float | None = 20.0,
        paused: bool = False,
        rest_forming: bool = True,
        queue_size: int = 1024,
        listen_key_ttl: float = LISTEN_KEY_TTL,
        clock_offset_ms: int = 0,
        margin_type: str = "CROSSED",
        margin_call_ratio: float = 0.8,
        funding_rate: Decimal | str | float = DEFAULT_RATE,
        funding_csv: str | None = None,
        fee_burn: bool = False,
        bnb_balance: Decimal | str | float = 0,
        bnb_price: Decimal | str | float | None = None,
    ) -> None:
        if candles is None:
            candles = generate(max(0, start_index) + GENERATED_CANDLES_AFTER_START, interval=interval or "15m")
        primary = Series(symbol, candles, interval)
        self.series: dict[str, Series] = {symbol: primary}
        for sym, extra in (extra_symbols or {}).items():
            if sym in self.series:
                raise ValueError(f"symbol {sym} given twice")
            s = Series(sym, extra, primary.interval)
            if s.times[-1] < primary.times[0] or s.times[0] > primary.times[-1]:
                raise ValueError(f"{sym}: candles do not overlap {symbol}'s time range")
            self.series[sym] = s
        self.symbol = symbol
        self.interval = primary.interval
        self.host = host
        self.port = port
        self._changed = threading.Condition()
        self.clock = ReplayClock(
            list(self.series.values()),
            start_index=start_index,
            seconds_per_candle=seconds_per_candle,
            updates_per_candle=updates_per_candle,
            paused=paused,
            changed=self._changed,
        )
        self._stats = Stats()
        self.faults = Faults(self._stats)
        self.account = Account(
            {s: ser.spec for s, ser in self.series.items()},
            self.clock.price,
            self.clock.market_time_ms,
        )
        self.client_clocks = ClientClocks(self.clock.market_time_ms, offset_ms=clock_offset_ms)
        self.signer = Signer(api_key, api_secret, self.client_clocks)
        self.api_key, self.api_secret = api_key, api_secret
        self.hub = Hub(self.faults, self._stats, self._changed, ping_interval=ping_interval, queue_size=queue_size)
        self._public = PublicApi(
            self.series, self.clock, self.client_clocks, rest_forming=rest_forming
        )
        self._trading = TradingApi(self.account, self.signer, self.faults, self._stats)
        self.user_stream = UserStream(api_key, self.clock.market_time_ms, self._changed, ttl=listen_key_ttl)
        self.watcher = AccountWatcher(
            self.account, self._trading.algo, self.user_stream.publish, self.clock.market_time_ms
        )
        self._trading.changed = self.watcher.sync
        self._config_events = True
        self.account.mode_changed = self._mode_changed
        self.controls = Controls(self.account, self.user_stream, symbol)
        self.controls.add("position-mode", self._switch_mode_in_app)
        if margin_type not in ("CROSSED", "ISOLATED"):
            raise ValueError("margin_type must be CROSSED or ISOLATED")
        self.account.margin_types.update(dict.fromkeys(self.series, margin_type))
        self.liquidator = Liquidator(
            self.account, self._trading.algo, self.watcher, margin_call_ratio=Decimal(str(margin_call_ratio))
        )
        for name, action in self.liquidator.controls(symbol).items():
            self.controls.add(name, action)  # type: ignore[arg-type]
        self.funding = FundingRates(funding_rate, funding_csv)
        self._public.funding = self.funding
        self.funding_payer = FundingPayer(
            self.funding, self.account, self.watcher, self.series, self.clock.market_time_ms()
        )
        self.controls.add("funding", self.funding_payer.control)
        self.bnb_fees = BnbFees(
            self.account, self.watcher, self.clock.price, fee_burn=fee_burn, bnb_balance=Decimal(str(bnb_balance)),
            bnb_price=None if bnb_price is None else Decimal(str(bnb_price)),
        )  # fmt: skip
        self.controls.add("bnb-deposit", self.bnb_fees.deposit)
        self._public.priced.update(self.bnb_fees.priced)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- public surface ------------------------------------------------------------------

    @property
    def candles(self) -> list[SourceCandle]:
        return self.series[self.symbol].candles

    @property
    def current_index(self) -> int:
        """Index of the forming candle: candles[:current_index] are closed."""
        return self.clock.current_index

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/market"

    @property
    def user_ws_url(self) -> str:
        """The user-data base (BINANCE_USER_WS_URL); streams at /ws/<listenKey>."""
        return f"ws://{self.host}:{self.port}/private"

    @property
    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot()

    def kline_row(self, index: int, symbol: str | None = None) -> list[object]:
        """The REST row (and final stream fields) the exchange serves for a candle."""
        s = self.series[symbol or self.symbol]
        return rest_row(closed_fields(s.candles[index], s.interval_ms))

    def orders(self) -> list[dict[str, object]]:
        """Every order the account holds, oldest first, as GET /fapi/v1/allOrders shows it:
        what tests read to see what the exchange really did."""
        acc = self.account
        return self.call(lambda: [order_json(acc, o, with_time=True) for o in acc.orders.values()])

    def control(self, name: str, **params: object) -> object:
        """Run a `/_sim/<name>` control (controls.py) from Python, on the server loop; a
        refusal raises BinanceError. What it changed goes out on the user stream."""
        action = self.controls.actions[name]

        def run() -> object:
            try:
                return action({k: str(v) for k, v in params.items()})
            finally:
                self.watcher.sync()

        return self.call(run)

    def trade_by_hand(
        self, side: str = "", quantity: object = "", *, close: bool = False, symbol: str = "", source: str = "web",
        position_side: str = "",
    ) -> object:  # fmt: skip
        """A MARKET order as if from Binance's app (client id `web_…`); close=True closes
        the whole position (in Hedge Mode the leg `position_side` names)."""
        params: dict[str, object] = {"side": side, "quantity": quantity, "source": source}
        if close:
            params["close"] = "true"
        if symbol:
            params["symbol"] = symbol
        if position_side:
            params["positionSide"] = position_side
        return self.control("trade", **params)

    def switch_position_mode(self, hedge: bool, *, event: bool = True) -> object:
        """The owner switches the position mode in Binance's app (the `position-mode`
        control): refused like the API when the account is not idle."""
        return self.control("position-mode", dual=str(hedge).lower(), event=str(event).lower())

    def _mode_changed(self, when: int) -> None:
        if self._config_events:
            self.user_stream.publish(self.watcher.config_update(when))

    def _switch_mode_in_app(self, params: dict[str, str]) -> object:
        self._config_events = params.get("event", "true").lower() != "false"
        try:
            open_algo = len(self._trading.algo.open_orders({}))
            return self.account.change_position_mode({"dualSidePosition": params.get("dual", "")}, open_algo)
        finally:
            self._config_events = True

    def market_time_ms(self) -> int:
        return self.clock.market_time_ms()

    def start(self) -> ReplayExchange:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="replay-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=15):
            raise RuntimeError("replay exchange did not start within 15 s")
        if self._startup_error is not None:
            self._thread.join(timeout=2)
            raise RuntimeError(f"replay exchange failed to start: {self._startup_error}") from self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._stopping:
            return
        self._stopping = True
        with self._changed:
            self._changed.notify_all()
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def __enter__(self) -> ReplayExchange:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Block until `predicate()` holds; re-checked on every candle close and connection change."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate() or self._stopping, timeout) and predicate()

    def wait_for_index(self, index: int, timeout: float | None = None) -> bool:
        clock = self.clock
        return self.wait_until(lambda: clock.current_index >= index or clock.finished, timeout) and (
            clock.current_index >= index
        )

    def wait_for_connections(self, n: int, timeout: float | None = None) -> bool:
        return self.wait_until(lambda: self.hub.connection_count >= n, timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn` on the server's loop (where all state lives) and return its result."""
        loop = self._loop
        if loop is None or self._stopping or loop.is_closed():
            return fn()  # nothing else runs on that loop any more

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def on_closed_frame_written(self, callback: Callable[[int, float], None]) -> None:
        """Call `callback(open_time_ms, time.monotonic())` as each closed-candle frame is
        handed to the connections (for latency measurements; runs on the server loop)."""
        clock, series = self.clock, next(iter(self.series.values()))

        class _Sink:
            async def ready(self) -> None:
                return None

            def on_step(self, step: Step) -> None:
                if step.closed:
                    callback(series.candles[step.index].open_time, time.monotonic())

        self.call(lambda: clock.add_sink(_Sink()))

    @property
    def seconds_per_candle(self) -> float:
        return self.clock.seconds_per_candle

    def set_clock_offset(self, ms: int) -> None:
        """The exchange's clock runs `ms` ahead of this host (negative: behind): a signed
        request stamped with the host's clock is judged against it (-1021 outside recvWindow)."""
        self.call(lambda: setattr(self.client_clocks, "offset_ms", int(ms)))

    def set_account_modes(self, *, hedge: bool | None = None, multi_assets: bool | None = None) -> None:
        """Put the account in Hedge Mode / Multi-Assets mode (or out), as its owner could on
        the website: what a bot meets on an account it did not set up."""
        acc = self.account

        def apply() -> None:
            if hedge is not None:
                acc.hedge = hedge
            if multi_assets is not None:
                acc.multi_assets = multi_assets

        self.call(apply)

    def pause(self) -> None:
        self.call(self.clock.pause)

    def resume(self) -> None:
        self.call(self.clock.resume)

    def set_speed(self, seconds_per_candle: float) -> None:
        self.call(lambda: self.clock.set_speed(seconds_per_candle))

    def advance(self, candles: int = 1, timeout: float | None = 10.0) -> bool:
        """While paused: replay `candles` more candles at full speed; True once closed."""

        def plan() -> int:
            if self.clock.paused:
                return self.clock.add_budget(candles)
            return min(len(self.candles), self.clock.current_index + candles)

        return self.wait_for_index(self.call(plan), timeout)

    # ---- the server thread ---------------------------------------------------------------

    @web.middleware
    async def _sync_after_request(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Whatever a request changed on the account goes out on the user stream."""
        try:
            return await handler(request)
        finally:
            self.watcher.sync()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # report to start(), whatever it was
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._shutdown())
            except Exception:
                log.exception("replay exchange shutdown failed")
            loop.close()

    async def _startup(self) -> None:
        loop = asyncio.get_running_loop()
        self.faults.attach(loop, self.hub)
        self.clock.add_sink(self.hub)
        self.clock.add_sink(self.account)
        self.clock.add_sink(self.funding_payer)
        self.clock.add_sink(self.liquidator)  # before the algo book: see Liquidator.on_step
        self.clock.add_sink(self._trading.algo)
        self.clock.add_sink(_SyncSink(self.watcher.sync))
        app = web.Application(
            middlewares=[
                self._stats.middleware(),
                self.faults.rest_middleware(),
                self._sync_after_request,
                binance_errors,
            ]
        )
        app.add_routes(self._public.routes())
        app.add_routes(self._trading.routes())
        app.add_routes(self.user_stream.routes())
        app.add_routes(self.controls.routes())
        signed = self._trading.signed
        app.add_routes(
            [
                web.get("/fapi/v1/income", signed(self.watcher.income.query)),
                web.post("/fapi/v1/feeBurn", signed(self.bnb_fees.set_fee_burn)),
                web.get("/fapi/v1/feeBurn", signed(self.bnb_fees.get_fee_burn)),
            ]
        )
        add_routes(app, self.hub)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._tasks = [
            loop.create_task(self.clock.run()),
            loop.create_task(self.hub.ping_loop()),
            loop.create_task(self.user_stream.expiry_loop()),
        ]
        for task in self._tasks:
            task.add_done_callback(_report_crash)
        log.info("replay exchange on %s (ws %s)", self.rest_url, self.ws_url)

    async def _shutdown(self) -> None:
        started = time.monotonic()
        self.faults.detach()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.shutdown()
        await self.user_stream.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("replay exchange stopped in %.2f s", time.monotonic() - started)


class _SyncSink:
    """Tells the user stream what a replayed step did (after matching and triggering)."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync

    async def ready(self) -> None:
        return None

    def on_step(self, step: Step) -> None:
        self.sync()


def _report_crash(task: asyncio.Task[None]) -> None:
    """A dead clock would look like a quiet market; make it loud instead."""
    if not task.cancelled() and task.exception() is not None:
        log.error("replay exchange task %s crashed", task.get_name(), exc_info=task.exception())
