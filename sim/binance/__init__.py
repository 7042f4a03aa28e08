"""A loopback Binance USDⓈ-M futures exchange that replays real (or generated) candles.

Speaks the real wire formats (REST under /fapi, market streams under /market) so the
bot's live code path can run offline: demos, history replays, tests and benchmarks.
"""

from sim.binance.data import SourceCandle, generate, load_csv
from sim.binance.server import ReplayExchange

__all__ = ["ReplayExchange", "SourceCandle", "generate", "load_csv"]
