"""Charts as PNG bytes from plain data (candles, fills, values): no Telegram, no I/O.

The bot posts them, command-line tools may write them; `style` holds the shared look.
"""
