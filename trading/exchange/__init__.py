"""Everything that speaks to Binance: REST market data, the kline stream, the broker that
places orders by client id, exits resting on the exchange and account reads.

The core (candles, feed, trader, strategies, paper broker, portfolio) never needs this
package to decide or to book; it is the one room that knows Binance's wire formats."""
