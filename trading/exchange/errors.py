"""An exchange's own error message as people may see it (masked, bounded).

A refusal leaves the exchange adapter as data (core/reasons.py: What.BINANCE with Binance's
code and this message); bot/texts.py holds the chat's line for each code the bot can meet
(BINANCE_REFUSALS) and shows this message for a code without one (issue 27).
"""

from __future__ import annotations

from trading.logsafe import mask_bounded

MESSAGE_LIMIT = 160  # characters of an exchange's own message shown to people


def error_message(message: object) -> str:
    """An exchange's own error message as people may see it: masked, then cut to
    MESSAGE_LIMIT (a gateway's error page can quote the request, headers and key included)."""
    text = " ".join(str(message or "").split())
    return mask_bounded(text, MESSAGE_LIMIT)
