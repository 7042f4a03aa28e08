"""Who may see the dashboard: a member of a served chat, as Telegram says (getChatMember),
asked once and remembered for MEMBER_TTL seconds so a page's requests do not each cost a
Bot API call. An admin (TELEGRAM_ADMIN_IDS) still has to be in a served chat to see it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)

MEMBER_TTL = 60.0  # s a membership answer is trusted
IN_CHAT = frozenset({"creator", "administrator", "member"})


class Members:
    def __init__(self, bot: Any, chats: Callable[[], tuple[int, ...]], ttl: float = MEMBER_TTL) -> None:
        """`chats`: the served chats now (a group upgraded to a supergroup changes its id)."""
        self._bot = bot
        self._chats = chats
        self._ttl = ttl
        self._known: dict[int, tuple[float, bool]] = {}

    async def allowed(self, user_id: int) -> bool:
        """True when the user is in one of the served chats (a private one: is that chat)."""
        now = time.monotonic()
        hit = self._known.get(user_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        member: bool | None = False
        unknown = False
        for chat_id in self._chats():
            if chat_id > 0:  # a private chat: its one person
                member = chat_id == user_id
            else:
                member = await self._in_group(chat_id, user_id)
                unknown = unknown or member is None
            if member:
                break
        if not member and unknown:
            return False  # Telegram did not answer: refused now, asked again next time
        self._known[user_id] = (now, bool(member))
        if len(self._known) > 10_000:
            self._known.clear()
        return bool(member)

    async def _in_group(self, chat_id: int, user_id: int) -> bool | None:
        """None when Telegram did not say (down, or the bot removed from the chat)."""
        try:
            m = await self._bot.get_chat_member(chat_id, user_id)
        except BadRequest as e:  # "user not found" / "PARTICIPANT_ID_INVALID": not a member
            log.info("dashboard: %s is not in %s (%s)", user_id, chat_id, e)
            return False
        except TelegramError as e:
            log.info("dashboard: membership of %s in %s not known (%s)", user_id, chat_id, e)
            return None
        return m.status in IN_CHAT or (m.status == "restricted" and bool(getattr(m, "is_member", False)))

    def forget(self) -> None:
        self._known.clear()
