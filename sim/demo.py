"""The offline demo: replay exchange + local Bot API + the real bot + a terminal chat.

Nothing here is special-cased in the bot: it gets a configuration whose URLs point at the
two loopback servers, exactly as a user would set BINANCE_REST_URL, BINANCE_WS_URL and
TELEGRAM_BASE_URL by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from bot.app import RateLimits
from bot.runner import BotThread
from bot.texts import config_error
from sim.binance import ReplayExchange, SourceCandle, generate, load_csv
from sim.binance.server import GENERATED_CANDLES_AFTER_START
from sim.demo_error import DemoError
from sim.demo_exchange import (
    BANNER_EXCHANGE,
    BANNER_HEDGE,
    choose_broker,
    console_commands,
    exchange_settings,
)
from sim.telegram.console import ConsoleChat, make_console, run_script, silence_stdout
from sim.telegram.local_api import LocalBotApi
from trading.config import ConfigError, load_settings
from trading.core.intervals import INTERVAL_MS
from trading.logsafe import setup_logging

DEMO_DIR = Path("demo")
DEMO_CHAT = -4012345678  # a basic group, as a new group starts: /upgrade makes it a supergroup
DEMO_ADMIN = 111111
DEMO_GUEST = 222222
DEFAULT_SYMBOL = "BTCUSDT"
DEFAULT_INTERVAL = "15m"
# The local Bot API has no flood control of its own; keep the bot's limiter but let the
# demo group talk faster than Telegram's 20 messages a minute.
DEMO_LIMITS = RateLimits(overall_per_second=100, group_per_minute=600, max_retries=3)
_WARM_UP = 500  # candles before the replay's "now", for the bot's warm-up fetch
# Generated walks start near real prices so the numbers look familiar.
_START_PRICES = {"BTCUSDT": 50000.0, "ETHUSDT": 3000.0, "BNBUSDT": 500.0, "SOLUSDT": 150.0}
# Trading settings taken from the environment when set there (docs/quickstart.md, "The offline demo"). Never
# TELEGRAM_*, BINANCE_*, TRADING_MODE or DB_PATH: the demo is always offline, in demo/, paper
# unless --exchange or DEMO_BROKER=exchange runs it in demo mode against the replay exchange.
PASSED_THROUGH = (
    "STRATEGY",
    "CONFIRM_ORDERS",
    "PROPOSAL_TTL",
    "MAX_DRIFT_PCT",
    "PAPER_BALANCE",
    "PAPER_FEE_PCT",
    "MAX_LEVERAGE",
    "MAX_POSITION_NOTIONAL",
    "WARMUP_CANDLES",
    "NOTIFY_CANDLES",
    "STATUS_POST_MINUTES",
    "DAILY_REPORT",
    "REPORT_TIME",
)
# The demo's own values where the environment sets none: a replayed candle lasts a fraction
# of a second, so give people time to press Confirm, and room for the price to move meanwhile.
DEMO_DEFAULTS = {"PROPOSAL_TTL": "60", "MAX_DRIFT_PCT": "10"}

BANNER = """\
Offline demo: a replay exchange is serving {source}, {pace},
and a local Telegram Bot API is in front of this terminal. You are user {admin} (an admin)
in the group "Demo traders" ({chat}); the bot is @{bot}.
{notes}
Try:  /start   /status   /klines 5   /chart   /equity   /params   /help   /stop   (or /status@{bot}, as in a group)
      /long 0.01 then Confirm, /pnl, /close; the strategy proposes orders too ({proposals})
      type a number to press a button of the latest message with buttons; /buttons lists older ones
      (press those with /press <message #> <n>); /as {guest} to speak as a non-admin, /as {admin} to switch back
      /quit (or Ctrl-D) to leave.   Photos the bot sends are saved under {photos}/; each start clears {folder}/.
"""


class Market:
    """What the replay exchange serves: symbols, interval, and what was asked but not given."""

    def __init__(self, symbols: list[str], interval: str, note: str = "") -> None:
        self.symbols = symbols
        self.interval = interval
        self.note = note


def choose_market(environ: Mapping[str, str], data: str | None) -> Market:
    """SYMBOLS/INTERVAL from the environment, as far as the replay data allows.

    Generated candles exist for any symbol and interval. A CSV holds one symbol on one
    interval, so with --data those two are what is served whatever SYMBOLS/INTERVAL say,
    and `note` says so in one line.
    """
    wanted_interval = environ.get("INTERVAL", "").strip()
    if wanted_interval and wanted_interval not in INTERVAL_MS:
        raise DemoError(f"config error: INTERVAL: {wanted_interval!r} is not a Binance interval ({', '.join(INTERVAL_MS)})")
    wanted_symbols = [s.strip().upper() for s in environ.get("SYMBOLS", "").split(",") if s.strip()]
    for symbol in wanted_symbols:
        if not re.fullmatch(r"[A-Z0-9]{2,20}", symbol):
            raise DemoError(f"config error: SYMBOLS: {symbol!r} is not a Binance symbol")
    if data is None:
        symbols = list(dict.fromkeys(wanted_symbols)) or [DEFAULT_SYMBOL]
        return Market(symbols, wanted_interval or DEFAULT_INTERVAL)
    symbol = _symbol_in_name(Path(data).name) or DEFAULT_SYMBOL
    market = Market([symbol], "")  # the interval comes from the file
    ignored = []
    if wanted_symbols and wanted_symbols != [symbol]:
        ignored.append(f"SYMBOLS={','.join(wanted_symbols)}")
    if wanted_interval:
        ignored.append(f"INTERVAL={wanted_interval}")
    market.note = ", ".join(ignored)
    return market


def _symbol_in_name(name: str) -> str | None:
    match = re.search(r"(?<![A-Z0-9])([A-Z0-9]{2,15}(?:USDT|USDC|BUSD))(?![A-Z0-9])", name)
    return match[1] if match else None


def _generated(symbol: str, interval: str, seed: int) -> list[SourceCandle]:
    price = _START_PRICES.get(symbol, 100.0)
    return generate(
        _WARM_UP + GENERATED_CANDLES_AFTER_START, interval=interval, seed=seed, start_price=price
    )


def start_exchange(market: Market, data: str | None, speed: float, broker: str = "paper") -> ReplayExchange:
    margin = "ISOLATED" if broker == "exchange" else "CROSSED"
    if data:
        try:
            candles = load_csv(data)
        except (OSError, ValueError) as e:
            raise DemoError(f"cannot replay --data {data}: {e}") from None
        ex = ReplayExchange(candles, symbol=market.symbols[0], seconds_per_candle=speed, margin_type=margin)
    else:
        first, *others = market.symbols
        extra = {s: _generated(s, market.interval, seed=i + 2) for i, s in enumerate(others)}
        ex = ReplayExchange(
            _generated(first, market.interval, seed=1),
            symbol=first,
            interval=market.interval,
            extra_symbols=extra,
            start_index=_WARM_UP,
            seconds_per_candle=speed,
            margin_type=margin,
        )
    market.interval = ex.interval
    if market.note:
        market.note = (
            f"{market.note} not honoured: --data replays one file, which holds only "
            f"{market.symbols[0]} {ex.interval}."
        )
    return ex.start()


def demo_settings(
    ex: Any, api: Any, db_path: Path, market: Market, environ: Mapping[str, str] | None = None,
    broker: str = "paper", webapp_port: int = 0,
) -> Any:
    """The bot's settings: loopback URLs, the demo chat, paper mode (or, with broker
    "exchange", demo mode against the replay exchange: demo_exchange.py), demo/ for the
    database, and the trading settings of PASSED_THROUGH from `environ` (os.environ if
    None) where set. A bad value is a DemoError whose one line is the config error."""
    environ = os.environ if environ is None else environ
    chosen = {**DEMO_DEFAULTS}
    chosen.update({k: environ[k] for k in PASSED_THROUGH if environ.get(k, "").strip()})
    try:
        return load_settings(
            environ={
                **chosen,
                "TELEGRAM_TOKEN": api.token,
                "TELEGRAM_BASE_URL": api.base_url,
                "TELEGRAM_CHAT_ID": str(DEMO_CHAT),
                "TELEGRAM_ADMIN_IDS": str(DEMO_ADMIN),
                "TRADING_MODE": "paper",
                "BINANCE_REST_URL": ex.rest_url,
                "BINANCE_WS_URL": ex.ws_url,
                "SYMBOLS": ",".join(market.symbols),
                "INTERVAL": market.interval,
                "DB_PATH": str(db_path),
                "LOG_LEVEL": "WARNING",
                "STREAM_STALE_SECONDS": "10",
                # The dashboard on a loopback port (docs/dashboard.md).
                "WEBAPP_URL": f"http://127.0.0.1:{webapp_port}",
                "WEBAPP_HOST": "127.0.0.1",
                "WEBAPP_PORT": str(webapp_port),
                **(exchange_settings(ex) if broker == "exchange" else {}),
            },
            env_file=None,
        )
    except ConfigError as e:
        raise DemoError(f"config error: {e}") from None


class _Placeholder:
    """Stand-in URLs to check the settings before anything is started."""

    token = "123456:LOCAL-DEMO-TOKEN"
    base_url = "http://127.0.0.1:1/bot"
    rest_url = "http://127.0.0.1:1"
    ws_url = "ws://127.0.0.1:1/market"


def free_port() -> int:
    """A loopback port nobody listens on now (the dashboard's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lock_demo_dir(folder: Path = DEMO_DIR) -> IO[str]:
    """An exclusive lock on `folder` for one demo: the open lock file, to keep open while the
    demo runs (closing it, exiting, or being killed releases it; the kernel sees to the
    last). A demo already running there is a DemoError naming its pid."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = open(folder / ".lock", "a+", encoding="ascii")  # noqa: SIM115 (kept open)
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock_file.seek(0)
        pid = lock_file.read().strip() or "unknown"
        lock_file.close()
        raise DemoError(
            f"another demo (pid {pid}) is running in {folder.resolve()}/; stop it first, "
            "or start this one from another folder"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"{os.getpid()}\n")
    lock_file.flush()
    return lock_file


def _fresh_demo_dir() -> tuple[Path, Path]:
    """Empties demo/ (the database and the photos): the caller holds lock_demo_dir()."""
    db_path = DEMO_DIR / "demo.sqlite"
    for suffix in ("", "-wal", "-shm"):  # every demo starts from an empty database
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    photos = DEMO_DIR / "photos"
    shutil.rmtree(photos, ignore_errors=True)
    return db_path, photos


def start(script: str | None, data: str | None, speed: float, exchange: bool = False, hedge_mode: bool = False) -> int:
    """The one start of the demo, for `python -m sim` and `python -m bot --demo`: a bad
    option is one line on stderr and exit 2."""
    if speed < 0:
        print("demo: --speed must be 0 (as fast as possible) or more seconds per candle", file=sys.stderr)
        return 2
    # What a person must see is flushed line by line even into a pipe (`python -m sim | tee
    # demo.log`), whether or not PYTHONUNBUFFERED is set where they run it.
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        return run_demo(script=script, data=data, speed=speed, exchange=exchange, hedge_mode=hedge_mode)
    except DemoError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left early (`python -m sim | head`): end quietly
        silence_stdout()
        return 0


def run_demo(
    *, script: str | None = None, data: str | None = None, speed: float = 0.5, exchange: bool = False,
    hedge_mode: bool = False,
) -> int:
    market = choose_market(os.environ, data)
    broker = choose_broker(os.environ, exchange)
    # Everything that can be refused is refused before demo/ is touched.
    demo_settings(_Placeholder, _Placeholder, DEMO_DIR / "demo.sqlite", market, broker=broker)
    lines = None
    if script:
        try:
            lines = Path(script).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DemoError(f"cannot read --script {script}: {e}") from None
    with contextlib.closing(lock_demo_dir(DEMO_DIR)):
        log_handler = setup_logging("WARNING", [])
        logging.getLogger("bot").setLevel(logging.WARNING)
        db_path, photos = _fresh_demo_dir()
        ex = start_exchange(market, data, speed, broker)
        if hedge_mode:  # the account as its owner set it up: LONG and SHORT legs (HEDGE_MODE=auto trades it)
            ex.set_account_modes(hedge=True)
        try:
            api = LocalBotApi().start()
        except BaseException:
            ex.stop()
            raise
        try:
            api.add_chat(DEMO_CHAT, "group", "Demo traders")
            api.add_member(DEMO_CHAT, DEMO_ADMIN)
            api.add_member(DEMO_CHAT, DEMO_GUEST)
            settings = demo_settings(ex, api, db_path, market, broker=broker, webapp_port=free_port())
            bot = BotThread(
                settings, rate_limits=DEMO_LIMITS, poll_timeout=2, feed_check_seconds=2.0
            )
        except ConfigError as e:  # found while building the engine (STRATEGY failing its check)
            api.stop()
            ex.stop()
            raise DemoError(f"config error: {config_error(e)}") from None
        except BaseException:
            api.stop()
            ex.stop()
            raise
        chat: ConsoleChat | None = None
        try:
            bot.start()
            if lines is not None:
                if market.note:
                    print(f"demo: {market.note}")
                return 0 if run_script(api, lines, DEMO_CHAT, DEMO_ADMIN, out=sys.stdout).ok else 1
            print(_banner(market, data, speed, api.bot_username, photos, settings))
            if broker == "exchange":
                print(BANNER_EXCHANGE)
            if hedge_mode:
                print(BANNER_HEDGE)
            page = f"{settings.webapp_url}/"
            print(
                f"The dashboard (open it in a browser; as user {DEMO_ADMIN}, for an hour; "
                f"/as {DEMO_GUEST} prints a non-admin's):\n  "
                + api.open_web_app(page, DEMO_ADMIN, start_param=str(DEMO_CHAT))
            )
            commands = console_commands(ex) if broker == "exchange" else None
            chat = make_console(api, DEMO_CHAT, DEMO_ADMIN, photo_dir=str(photos), commands=commands, dashboard=page)
            _log_above_prompt(log_handler, chat)
            chat.run(sys.stdin)
            return 0
        except KeyboardInterrupt:
            return 130
        finally:
            if chat is not None:  # Ctrl-C, /quit: the bot's last words ("⏹ bot stopping") still reach the screen
                chat.attach()
            bot.stop()
            if chat is not None:
                chat.detach()
            api.stop()
            ex.stop()


def _banner(
    market: Market, data: str | None, speed: float, bot: str, photos: Path, settings: Any
) -> str:
    pairs = ", ".join(market.symbols)
    if data:
        source = f"{Path(data).name} as {pairs} {market.interval} candles"
    else:
        source = f"generated {pairs} {market.interval} candles"
    return BANNER.format(
        source=source,
        pace=f"one every {speed:g}s" if speed > 0 else "as fast as the bot reads them",
        admin=DEMO_ADMIN,
        guest=DEMO_GUEST,
        chat=DEMO_CHAT,
        bot=bot,
        notes=f"Note: {market.note}\n"
        if market.note
        else "(SYMBOLS=… INTERVAL=… choose what is generated; DATA=file.csv.gz replays real candles)\n",
        photos=photos,
        folder=DEMO_DIR,
        proposals=_proposal_note(settings),
    )


def _proposal_note(settings: Any) -> str:
    if not settings.confirm_orders:
        return "CONFIRM_ORDERS is off: orders are placed without asking"
    if settings.proposal_ttl > 0:
        return f"proposals wait {settings.proposal_ttl:g} s here"
    return "a proposal waits until the next candle closes"


def _log_above_prompt(handler: logging.Handler | None, chat: ConsoleChat) -> None:
    """Log lines go through the chat, which prints them above the prompt line."""
    handlers = [handler] if handler is not None else logging.getLogger().handlers
    for h in handlers:
        if isinstance(h, logging.StreamHandler) and h.stream in (sys.stderr, sys.stdout):
            h.setStream(chat.log_stream())
