"""A local Telegram Bot API server on loopback, and the terminal chat in front of it."""

from sim.telegram.local_api import LocalBotApi

__all__ = ["LocalBotApi"]
