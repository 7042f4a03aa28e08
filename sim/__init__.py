"""The offline world, apart from the product: a replay Binance exchange and a local Telegram
Bot API (with a terminal chat), both on loopback and speaking the real wire formats.

The product (bot/, trading/, storage/) never imports this package, except at the entry
points that start the demo (`python -m bot --demo`, `python -m trading --data`).
"""
