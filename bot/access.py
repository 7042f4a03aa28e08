"""Who may talk to the bot and who may make it act.

Chats not in TELEGRAM_CHAT_ID get silence (a reply would confirm the bot exists) and one
log line per chat. Read-only commands are for anyone in an allowed chat; control and
trading are for TELEGRAM_ADMIN_IDS only.
"""

from __future__ import annotations

import logging

from trading.config import ConfigError, Settings

log = logging.getLogger(__name__)


class Access:
    def __init__(self, settings: Settings) -> None:
        self.chats = frozenset(settings.telegram_chat_ids)
        self.admins = settings.telegram_admin_ids
        # The private chats configured at start: their owners are the admins when none are
        # listed. Never the chats added later (a group's move adds one): that cannot make anyone an admin.
        self.owners = frozenset(c for c in settings.telegram_chat_ids if c > 0)
        self._ignored: set[int] = set()

    @staticmethod
    def check_config(settings: Settings) -> None:
        """Refuse to run in a shape that would let anyone in a group trade, or serve nobody."""
        if not settings.telegram_chat_ids:
            raise ConfigError("TELEGRAM_CHAT_ID: required (the group or chat ids the bot serves)")
        groups = [c for c in settings.telegram_chat_ids if c < 0]
        if groups and not settings.telegram_admin_ids:
            raise ConfigError(
                f"TELEGRAM_ADMIN_IDS: required when an allowed chat is a group ({groups[0]}); "
                "list the user ids allowed to control and trade"
            )

    def chat_allowed(self, chat_id: int | None) -> bool:
        if chat_id in self.chats:
            return True
        if chat_id is not None and chat_id not in self._ignored:
            self._ignored.add(chat_id)
            log.warning("ignoring updates from chat %s (not in TELEGRAM_CHAT_ID)", chat_id)
        return False

    def is_admin(self, user_id: int | None) -> bool:
        # In a private allowed chat with no admins configured, the chat owner is the admin.
        return user_id is not None and (user_id in self.admins or (not self.admins and user_id in self.owners))
