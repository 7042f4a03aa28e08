"""The deterministic core: no I/O, no chat words; the only code the backtest runs."""
