"""The BNB fee discount: commissions paid in BNB at Binance's 10 % discount.

Switched like on Binance with `POST /fapi/v1/feeBurn` (`feeBurn=true|false`, answers
`{"code":200,"msg":"success"}`; `GET` answers `{"feeBurn":true}`, also shown as `feeBurn`
in `/fapi/v2/account`), or with `fee_burn=True` on the exchange. The BNB comes from the
futures wallet (`bnb_balance=` at start, control `bnb-deposit?amount=`); with too little
BNB the fee is charged in USDT without discount, as Binance does. The BNB price is the
replayed BNBUSDT price when that symbol is served, else `bnb_price` (default 600).

A fill's commission is then `notional × fee rate × 0.9 / BNB price` BNB (8 decimals):
`N`="BNB" and `n` on ORDER_TRADE_UPDATE, `commissionAsset` BNB in userTrades, a COMMISSION
income row in BNB, the BNB balance in ACCOUNT_UPDATE and `/balance`, and the USDT wallet
untouched by the fee. `commissionRate` stays the undiscounted rates, as on Binance.
When BNBUSDT is not replayed, `ticker/price` and `klines` (any interval, flat candles) for
BNBUSDT answer at `bnb_price`, so a client converting a BNB fee meets the same price.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from sim.binance.account import Account
from sim.binance.errors import BinanceError, mandatory
from sim.binance.intervals import INTERVAL_MS
from sim.binance.orders import ZERO, Trade, bool_param, decimal_param
from sim.binance.user_events import AccountWatcher

BNB_DISCOUNT = Decimal("0.9")
DEFAULT_BNB_PRICE = Decimal("600")


class BnbFees:
    def __init__(
        self,
        account: Account,
        watcher: AccountWatcher,
        price: Callable[[str], str],
        *,
        fee_burn: bool = False,
        bnb_balance: Decimal = ZERO,
        bnb_price: Decimal | None = None,
    ) -> None:
        self.account = account
        self.watcher = watcher
        self._price = price
        self.fee_burn = fee_burn
        self.bnb_price_setting = bnb_price
        account.other_assets["BNB"] = bnb_balance
        account.fee_burn = lambda: self.fee_burn
        self.priced: dict[str, Callable[[], Decimal]] = {}
        if "BNBUSDT" not in account.specs:
            self.priced["BNBUSDT"] = self.bnb_price
        watcher.on_trade.append(self._on_trade)

    def bnb_price(self) -> Decimal:
        if "BNBUSDT" in self.account.specs:
            return Decimal(self._price("BNBUSDT"))
        return self.bnb_price_setting or DEFAULT_BNB_PRICE

    def _on_trade(self, t: Trade) -> None:
        if not self.fee_burn or not t.commission:
            return
        bnb = (t.commission * BNB_DISCOUNT / self.bnb_price()).quantize(Decimal("0.00000001"))
        balances = self.account.other_assets
        if bnb <= 0 or balances["BNB"] < bnb:
            return  # not enough BNB: USDT without discount
        balances["BNB"] -= bnb
        self.account.wallet += t.commission  # the USDT the fill took back: BNB paid it
        self.account.fee_assets[t.trade_id] = ("BNB", bnb)

    # ---- endpoints and controls ------------------------------------------------------------------

    def set_fee_burn(self, params: Mapping[str, str]) -> dict[str, object]:
        if not params.get("feeBurn"):
            raise mandatory("feeBurn")
        self.fee_burn = bool_param(params, "feeBurn")
        return {"code": 200, "msg": "success"}

    def get_fee_burn(self, params: Mapping[str, str]) -> dict[str, object]:
        return {"feeBurn": self.fee_burn}

    def deposit(self, params: Mapping[str, str]) -> dict[str, object]:
        amount = decimal_param(params, "amount")
        if amount is None:
            raise mandatory("amount")
        if amount <= 0:
            raise BinanceError(-1100, "Illegal characters found in parameter 'amount'.")
        self.account.other_assets["BNB"] += amount
        now = self.watcher.now()
        self.watcher.income.add("TRANSFER", amount, "BNB", now)
        self.watcher.publish(self.watcher.account_update("DEPOSIT", now))
        return {"BNB": str(self.account.other_assets["BNB"])}


def priced_klines(params: Mapping[str, str], price: Decimal, now_ms: int) -> list[list[object]]:
    """Flat closed candles at `price` for a symbol the replay prices but does not replay:
    Binance's window rule (from startTime the first `limit`, else the last up to endTime/now)."""
    step = INTERVAL_MS.get(params.get("interval", ""))
    if step is None:
        raise BinanceError(-1120, "Invalid interval.")
    for name in ("limit", "startTime", "endTime"):
        if params.get(name) and not params[name].isdigit():
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    limit = min(max(int(params.get("limit") or 500), 1), 1500)
    end = min(int(params["endTime"]), now_ms) if params.get("endTime") else now_ms
    last = end - end % step
    if params.get("startTime"):
        first = int(params["startTime"]) - int(params["startTime"]) % step
        first += step if first < int(params["startTime"]) else 0
        times = list(range(first, last + 1, step))[:limit]
    else:
        times = list(range(last - (limit - 1) * step, last + 1, step))
    p = str(price)
    return [[t, p, p, p, p, "0", t + step - 1, "0", 0, "0", "0", "0"] for t in times]
