"""The trading mode, decided once from TRADING_MODE and handed to every part that acts on it.

demo and live trade on an exchange: orders go to Binance, the account is followed on its user
data stream, the exits rest there, client order ids carry this database's instance id and a
/set meets Binance's leverage brackets. In paper this process is the exchange (its broker
fills on live prices, its trader books funding and liquidation). Parts read `mode.exchange`
instead of guessing from the objects they were given (no `hasattr(broker, …)` probes).
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("paper", "demo", "live")


@dataclass(frozen=True)
class Mode:
    name: str  # paper | demo | live (TRADING_MODE)

    def __post_init__(self) -> None:
        if self.name not in MODES:
            raise ValueError(f"TRADING_MODE={self.name}: one of {', '.join(MODES)}")

    @property
    def exchange(self) -> bool:
        """Orders, fills, funding and the resting exits live on Binance (demo/live)."""
        return self.name != "paper"

    @property
    def paper(self) -> bool:
        return self.name == "paper"
