"""Settings from the environment and `.env`: the bot's public configuration contract.

Every variable name here is documented in docs/configuration.md (tests/test_docs.py holds the
page to what load_settings reads) and `.env.example`; renaming one breaks users' deployments,
so treat them as an API. Validation happens once at start and
a bad value raises `ConfigError` whose message is one line naming the variable.

It is over 400 lines because it is the one place where every setting is read and validated:
splitting the contract across files would let a variable go undocumented or unchecked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time as dt_time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from trading.core.intervals import INTERVAL_MS
from trading.core.numbers import PLAIN
from trading.core.protections import ACTIONS, ProtectionRules, parse_daily_loss, parse_guard

MODES = ("paper", "demo", "live")
# Binance retired the futures testnet for Demo Trading (keys from demo.binance.com); the old
# word still means demo, so an existing .env keeps working.
MODE_ALIASES = {"testnet": "demo"}

DEFAULT_REST = {
    "paper": "https://fapi.binance.com",
    "live": "https://fapi.binance.com",
    "demo": "https://demo-fapi.binance.com",
}
DEFAULT_WS = {
    "paper": "wss://fstream.binance.com/market",
    "live": "wss://fstream.binance.com/market",
    "demo": "wss://fstream.binancefuture.com/market",
}
# Binance's futures stream hosts route by path since 2026-04-23: klines only under /market
# (/public carries depth and book tickers, /private user data; no path carries /public only).
BINANCE_WS_HOSTS = ("binance.com", "binancefuture.com")
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"


class ConfigError(ValueError):
    """A configuration value is wrong; the message is the one line shown to the user."""


@dataclass(frozen=True)
class Settings:
    telegram_token: str = field(default="", repr=False)
    telegram_chat_ids: tuple[int, ...] = ()
    telegram_admin_ids: frozenset[int] = frozenset()
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE_URL
    trading_mode: str = "paper"  # paper | demo | live ("testnet" is read as demo)
    binance_api_key: str = field(default="", repr=False)
    binance_api_secret: str = field(default="", repr=False)
    binance_rest_url: str = DEFAULT_REST["paper"]
    binance_ws_url: str = DEFAULT_WS["paper"]
    # Hard limits on exchange orders (enforced by the trader; docs/configuration.md).
    max_position_notional: Decimal = Decimal("1000")  # USDT, per symbol
    max_leverage: int = 10
    symbols: tuple[str, ...] = ("BTCUSDT",)
    interval: str = "15m"
    db_path: str = "data/bot.sqlite"
    log_level: str = "INFO"
    # Operational knobs (documented in docs/configuration.md, all optional).
    stream_stale_seconds: float = 60.0
    reconnect_delay: float = 1.0
    warmup_candles: int = 500
    status_post_minutes: float = 0.0
    notify_candles: bool = False
    # Daily report (docs/configuration.md): yesterday's trading and the equity chart,
    # posted to the notice chat at REPORT_TIME UTC.
    daily_report: bool = True
    report_time: dt_time = dt_time(0, 0)
    # The trading core (docs/configuration.md).
    strategy: str = "ema_cross"
    # The one folder /strategy, /backtest and /optimize load plugins from (file.py:Class);
    # relative to the working directory. STRATEGY itself may name any path or module.
    strategy_dir: str = "strategies"
    paper_balance: Decimal = Decimal("10000")
    paper_fee_pct: Decimal = Decimal("0.05")
    paper_slippage_bps: Decimal = Decimal(0)  # market fills this many basis points worse
    # Orders confirmed in the chat (docs/orders.md).
    confirm_orders: bool = True
    proposal_ttl: float = 0.0  # seconds; 0: a proposal lives until the next candle closes
    max_drift_pct: Decimal = Decimal("0.5")
    # Orders whose opening value exceeds this (USDT) need Confirm from two different admins;
    # None (FOUR_EYES_NOTIONAL=off, the default): one admin's Confirm is enough.
    four_eyes_notional: Decimal | None = None
    # Commands and presses older than this (s) when they reach the bot are not executed.
    stale_command_seconds: float = 120.0
    # Binance's position mode (docs/binance.md, "Hedge Mode"): auto trades the mode the account is in
    # (Hedge Mode: LONG and SHORT legs apart); off refuses a Hedge Mode account at /start.
    hedge_mode: str = "auto"
    paper_hedge_mode: bool = False  # paper: the paper account is in Hedge Mode (its book trades legs)
    # Exits on the exchange (docs/exits.md): the price Binance triggers
    # STOP_MARKET / TAKE_PROFIT_MARKET on, and the user data stream's base URL ("" = derived
    # from BINANCE_WS_URL: its trailing /market becomes /private).
    stop_working_type: str = "MARK_PRICE"
    binance_user_ws_url: str = ""
    # The dashboard Mini App (docs/dashboard.md): off unless webapp_url is set.
    webapp_url: str = ""  # the public base Telegram opens (https; http only on loopback)
    webapp_host: str = "0.0.0.0"  # where the bot's web server listens
    webapp_port: int = 8080  # WEBAPP_PORT, else the platform's PORT
    webapp_auth_max_age: float = 3600.0  # s: initData older than this is refused (401)
    # Account protections (issue 29; docs "Protections"): all off by default.
    protections: ProtectionRules = field(default_factory=ProtectionRules)

    @property
    def interval_ms(self) -> int:
        return INTERVAL_MS[self.interval]

    @property
    def notice_chat_id(self) -> int | None:
        """Notices from the trading thread go to the first allowed chat."""
        return self.telegram_chat_ids[0] if self.telegram_chat_ids else None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a dotenv file (KEY=VALUE, optional `export`, quotes, # comments).

    Written here rather than pulling in python-dotenv: the format we accept is a dozen
    lines of parsing and we never want variable interpolation in secrets.
    """
    values: dict[str, str] = {}
    p = Path(path)
    if not p.is_file():
        return values
    for lineno, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"{p.name} line {lineno}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def _int_list(name: str, raw: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ConfigError(
                f"{name}: {part!r} is not a numeric id (expected a comma list like -1001234,5678)"
            ) from None
    return tuple(out)


def is_plain_number(text: str) -> bool:
    """A setting's number as people write it, read as the chat reads one (trading/core/numbers.py):
    Python's int(), float() and Decimal() also take "1_0" (10), "１０", "nan" and "inf"."""
    return PLAIN.fullmatch(text) is not None


def _number(name: str, raw: str, *, minimum: float, integer: bool = False) -> float:
    try:
        if not is_plain_number(raw.strip()):  # "1_0" and "１０" are not numbers here
            raise ValueError(raw)
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}: {raw!r} is not {kind}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum:g}, got {raw}")
    return value


MAX_WARMUP = 10_000


def _warmup(raw: str) -> int:
    n = int(_number("WARMUP_CANDLES", raw, minimum=1, integer=True))
    if n > MAX_WARMUP:
        raise ConfigError(f"WARMUP_CANDLES: at most {MAX_WARMUP:,} (got {n:,}); strategies need far fewer")
    return n


def _leverage(raw: str) -> int:
    n = int(_number("MAX_LEVERAGE", raw, minimum=1, integer=True))
    if n > 125:
        raise ConfigError(f"MAX_LEVERAGE: at most 125 (Binance's highest), got {n}")
    return n


def _money(name: str, raw: str, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    try:
        if not is_plain_number(raw.strip()):  # "1_000" and "１０" are not numbers here
            raise InvalidOperation(raw)
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if not value.is_finite() or not minimum <= value <= maximum:
        raise ConfigError(f"{name}: must be from {minimum:,f} to {maximum:,f}, got {raw}")
    return value


def _four_eyes(raw: str) -> Decimal | None:
    """`off` (or 0): one admin confirms anything; a number: above it, two must."""
    if raw.strip().lower() in ("off", "0", ""):
        return None
    return _money("FOUR_EYES_NOTIONAL", raw.strip(), minimum=Decimal("0.01"), maximum=Decimal("1e12"))


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: {raw!r} is neither on nor off (use on or off)")


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    value = raw.strip().rstrip("/")
    if not value.startswith(tuple(s + "://" for s in schemes)):
        raise ConfigError(
            f"{name}: {raw!r} must start with {' or '.join(s + '://' for s in schemes)}"
        )
    return value


def _ws_url(raw: str) -> str:
    """BINANCE_WS_URL: a Binance host must be given with its /market route, else the bot
    would connect, hear no kline and reconnect every minute without saying why."""
    value = _url("BINANCE_WS_URL", raw, ("ws", "wss"))
    host, _, path = value.split("://", 1)[1].partition("/")
    host = host.split(":")[0].lower()
    binance = any(host == h or host.endswith("." + h) for h in BINANCE_WS_HOSTS)
    if binance and path != "market":
        root = value.split("://", 1)[0] + "://" + value.split("://", 1)[1].split("/")[0]
        raise ConfigError(
            f"BINANCE_WS_URL: {value} has no /market route; since 2026-04-23 Binance streams klines "
            f"only under /market: use {root}/market"
        )
    return value


def _webapp_url(raw: str) -> str:
    """WEBAPP_URL: Telegram opens Mini Apps over https only; http is allowed on a loopback
    host (the offline demo, tests). A path is kept (a platform may serve under one)."""
    if not raw:
        return ""
    value = _url("WEBAPP_URL", raw, ("https", "http"))
    if "?" in value or "#" in value:
        raise ConfigError(f"WEBAPP_URL: {raw[:64]!r} must be a base address without ? or #")
    host = value.split("://", 1)[1].split("/")[0].rsplit(":", 1)[0].strip("[]").lower()
    if value.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f"WEBAPP_URL: {value} is http; Telegram opens Mini Apps only over https "
            "(http is allowed on 127.0.0.1 or localhost)"
        )
    return value


def _port(name: str, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"{name}: {raw[:32]!r} is not a TCP port (0 to 65535)")
    return int(raw)


def _report_time(raw: str) -> dt_time:
    """REPORT_TIME: HH:MM on a 24-hour UTC clock."""
    hours, sep, minutes = raw.strip().partition(":")
    try:
        if not sep or len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
            raise ValueError
        return dt_time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(f"REPORT_TIME: {raw[:32]!r} is not a UTC time HH:MM from 00:00 to 23:59") from None


def _protections(daily_raw: str, action: str, dd: str, guard_raw: str, lock: str, cooldown: str) -> ProtectionRules:
    """MAX_DAILY_LOSS, DAILY_LOSS_ACTION, MAX_DRAWDOWN_PCT, STOPLOSS_GUARD(_LOCK), COOLDOWN_CANDLES
    (issue 29, trading/core/protections.py): all off by default."""
    try:
        daily, pct = parse_daily_loss(daily_raw)
    except ValueError as e:
        raise ConfigError(f"MAX_DAILY_LOSS: {e}") from None
    action = action.lower()
    if action not in ACTIONS:
        raise ConfigError(f"DAILY_LOSS_ACTION: {action!r} is not one of {', '.join(ACTIONS)}")
    if not is_plain_number(dd) or not 0 <= Decimal(dd) < 100:
        raise ConfigError(f"MAX_DRAWDOWN_PCT: {dd!r} is not a percentage from 0 (off) to below 100")
    try:
        guard = parse_guard(guard_raw)
    except ValueError as e:
        raise ConfigError(f"STOPLOSS_GUARD: {e}") from None
    if lock and not (lock.isascii() and lock.isdigit() and int(lock) >= 1):
        raise ConfigError(f"STOPLOSS_GUARD_LOCK: {lock!r} is not a whole number of candles (1 or more)")
    if not (cooldown.isascii() and cooldown.isdigit()):
        raise ConfigError(f"COOLDOWN_CANDLES: {cooldown!r} is not a whole number of candles (0 = off)")
    return ProtectionRules(daily_loss=daily, daily_loss_pct=pct, daily_loss_action=action,
                           max_drawdown_pct=Decimal(dd) or None, stoploss_guard=guard,
                           stoploss_guard_lock=int(lock) if lock else None, cooldown_candles=int(cooldown))  # fmt: skip


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = ".env"
) -> Settings:
    """Build validated settings; the process environment wins over `.env`."""
    env: dict[str, str] = {}
    if env_file is not None:
        if str(env_file) != ".env" and not Path(env_file).exists():
            # .env is optional; a file someone named on the command line is not
            raise ConfigError(f"--env-file: {env_file} does not exist")
        env.update(read_env_file(env_file))
    env.update(os.environ if environ is None else environ)

    def get(name: str, default: str = "") -> str:
        return env.get(name, "").strip() or default

    mode = get("TRADING_MODE", "paper").lower()
    mode = MODE_ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ConfigError(f"TRADING_MODE: {mode!r} is not one of {', '.join(MODES)} (testnet = demo)")
    if mode == "live" and get("LIVE_TRADING_CONFIRMED").lower() != "yes":
        raise ConfigError(
            "LIVE_TRADING_CONFIRMED: set it to yes to trade real money with TRADING_MODE=live"
        )

    interval = get("INTERVAL", "15m")
    if interval not in INTERVAL_MS:
        if interval == "1M":
            raise ConfigError("INTERVAL: 1M (calendar month) is not supported; use 1w or shorter")
        raise ConfigError(
            f"INTERVAL: {interval!r} is not a Binance interval ({', '.join(INTERVAL_MS)})"
        )

    symbols = tuple(s.strip().upper() for s in get("SYMBOLS", "BTCUSDT").split(",") if s.strip())
    if not symbols:
        raise ConfigError("SYMBOLS: empty; give at least one symbol, e.g. BTCUSDT")
    for s in symbols:
        if not s.isalnum():
            raise ConfigError(f"SYMBOLS: {s!r} is not a Binance symbol (letters and digits only)")
    if len(set(symbols)) != len(symbols):
        raise ConfigError("SYMBOLS: a symbol is listed twice")

    key, secret = get("BINANCE_API_KEY"), get("BINANCE_API_SECRET")
    if mode in ("demo", "live"):
        if not key:
            raise ConfigError(
                f"BINANCE_API_KEY: required when TRADING_MODE={mode}"
                + (" (create one on demo.binance.com)" if mode == "demo" else "")
            )
        if not secret:
            raise ConfigError(f"BINANCE_API_SECRET: required when TRADING_MODE={mode}")

    level = get("LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL: {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

    chat_ids = _int_list("TELEGRAM_CHAT_ID", get("TELEGRAM_CHAT_ID"))
    admin_ids = frozenset(_int_list("TELEGRAM_ADMIN_IDS", get("TELEGRAM_ADMIN_IDS")))

    working_type = get("STOP_WORKING_TYPE", "MARK_PRICE").upper()
    if working_type not in ("MARK_PRICE", "CONTRACT_PRICE"):
        raise ConfigError(f"STOP_WORKING_TYPE: {working_type!r} is not one of MARK_PRICE, CONTRACT_PRICE")
    hedge_mode = get("HEDGE_MODE", "auto").strip().lower()
    if hedge_mode not in ("auto", "off"):
        raise ConfigError(f"HEDGE_MODE: {hedge_mode!r} is not one of auto, off")
    user_ws = get("BINANCE_USER_WS_URL")
    if user_ws:
        user_ws = _url("BINANCE_USER_WS_URL", user_ws, ("ws", "wss"))

    from trading.core.strategies import (  # late: strategies import config's neighbours
        normalize_name,
        strategy_class,
    )

    strategy = normalize_name(get("STRATEGY", "ema_cross"))
    try:
        strategy_class(strategy)  # a plugin is imported here: its mistakes stop the start in one line
    except ValueError as e:
        raise ConfigError(f"STRATEGY: {e}") from None

    return Settings(
        telegram_token=get("TELEGRAM_TOKEN"),
        telegram_chat_ids=chat_ids,
        telegram_admin_ids=admin_ids,
        telegram_base_url=_url(
            "TELEGRAM_BASE_URL",
            get("TELEGRAM_BASE_URL", DEFAULT_TELEGRAM_BASE_URL),
            ("http", "https"),
        ),
        trading_mode=mode,
        binance_api_key=key,
        binance_api_secret=secret,
        binance_rest_url=_url(
            "BINANCE_REST_URL", get("BINANCE_REST_URL", DEFAULT_REST[mode]), ("http", "https")
        ),
        binance_ws_url=_ws_url(get("BINANCE_WS_URL", DEFAULT_WS[mode])),
        max_position_notional=_money(
            "MAX_POSITION_NOTIONAL",
            get("MAX_POSITION_NOTIONAL", "1000"),
            minimum=Decimal(1),
            maximum=Decimal("1e9"),
        ),
        max_leverage=_leverage(get("MAX_LEVERAGE", "10")),
        symbols=symbols,
        interval=interval,
        db_path=get("DB_PATH", "data/bot.sqlite"),
        log_level=level,
        stream_stale_seconds=_number(
            "STREAM_STALE_SECONDS", get("STREAM_STALE_SECONDS", "60"), minimum=1
        ),
        reconnect_delay=_number("RECONNECT_DELAY", get("RECONNECT_DELAY", "1"), minimum=0.05),
        warmup_candles=_warmup(get("WARMUP_CANDLES", "500")),
        notify_candles=_flag("NOTIFY_CANDLES", get("NOTIFY_CANDLES", "0")),
        status_post_minutes=_number(
            "STATUS_POST_MINUTES", get("STATUS_POST_MINUTES", "0"), minimum=0
        ),
        daily_report=_flag("DAILY_REPORT", get("DAILY_REPORT", "on")),
        report_time=_report_time(get("REPORT_TIME", "00:00")),
        strategy=strategy,
        strategy_dir=get("STRATEGY_DIR", "strategies") or "strategies",
        paper_balance=_money(
            "PAPER_BALANCE", get("PAPER_BALANCE", "10000"), minimum=Decimal(0), maximum=Decimal("1e12")
        ),
        paper_fee_pct=_money(
            "PAPER_FEE_PCT", get("PAPER_FEE_PCT", "0.05"), minimum=Decimal(0), maximum=Decimal(5)
        ),
        paper_slippage_bps=_money(
            "PAPER_SLIPPAGE_BPS", get("PAPER_SLIPPAGE_BPS", "0"), minimum=Decimal(0), maximum=Decimal(1000)
        ),
        confirm_orders=_flag("CONFIRM_ORDERS", get("CONFIRM_ORDERS", "on")),
        proposal_ttl=_number("PROPOSAL_TTL", get("PROPOSAL_TTL", "0"), minimum=0),
        max_drift_pct=_money(
            "MAX_DRIFT_PCT", get("MAX_DRIFT_PCT", "0.5"), minimum=Decimal(0), maximum=Decimal(100)
        ),
        four_eyes_notional=_four_eyes(get("FOUR_EYES_NOTIONAL", "off")),
        stale_command_seconds=_number(
            "STALE_COMMAND_SECONDS", get("STALE_COMMAND_SECONDS", "120"), minimum=1
        ),
        stop_working_type=working_type,
        hedge_mode=hedge_mode,
        paper_hedge_mode=_flag("PAPER_HEDGE_MODE", get("PAPER_HEDGE_MODE", "off")),
        binance_user_ws_url=user_ws,
        webapp_url=_webapp_url(get("WEBAPP_URL")),
        webapp_host=get("WEBAPP_HOST", "0.0.0.0"),
        webapp_port=_port("WEBAPP_PORT" if get("WEBAPP_PORT") else "PORT", get("WEBAPP_PORT") or get("PORT", "8080")),
        webapp_auth_max_age=_number("WEBAPP_AUTH_MAX_AGE", get("WEBAPP_AUTH_MAX_AGE", "3600"), minimum=10),
        protections=_protections(
            get("MAX_DAILY_LOSS"), get("DAILY_LOSS_ACTION", "pause"), get("MAX_DRAWDOWN_PCT", "0"),
            get("STOPLOSS_GUARD"), get("STOPLOSS_GUARD_LOCK"), get("COOLDOWN_CANDLES", "0"),
        ),
    )
