"""Telegram side of the bot: the only package that imports telegram.*"""

import os

# Opt in to PTB's future API now: durations (RetryAfter.retry_after) as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")
