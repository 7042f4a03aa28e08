"""Which updates run at all, decided before an update holds anything (bot/concurrency.py).

Telegram's own service updates and admins' commands and presses run at once; a member's run
within their per-person budget (bot/throttle.py) in the members' slots; a member's excess is
dropped here, so a flood never holds a slot or a lock that an admin's update needs. An update
that is stale (typed while the bot was down) is let through to be told as such, not counted
as a flood. Over the budget, the person is told at most once a minute (a toast on a press,
one line for a command); nothing else of the excess is sent.
"""

from __future__ import annotations

import asyncio
import contextlib

from telegram import Update
from telegram.constants import ParseMode

from bot import views
from bot.access import Access
from bot.concurrency import Admit
from bot.stale import StaleGate
from bot.throttle import Throttle, slow_down_line


class Admission:
    def __init__(self, access: Access, stale: StaleGate, throttle: Throttle) -> None:
        self._access, self._stale, self._throttle = access, stale, throttle
        self._told: set[asyncio.Task[None]] = set()

    def __call__(self, update: object) -> Admit:
        if not isinstance(update, Update):
            return Admit.ADMIN
        message = update.message
        if update.my_chat_member is not None or (
            message is not None and (message.migrate_from_chat_id or message.migrate_to_chat_id)
        ):
            return Admit.ADMIN  # Telegram's service updates: the gate judges them
        chat, user = update.effective_chat, update.effective_user
        if not self._access.chat_allowed(chat.id if chat else None):
            return Admit.DROP
        assert chat is not None
        if user is None or self._access.is_admin(user.id):
            return Admit.ADMIN
        if not (message or update.callback_query) or self._stale.age(update) is not None:
            return Admit.MEMBER
        run, tell = self._throttle.allow(chat.id, user.id)
        if run:
            return Admit.MEMBER
        if tell:
            task = asyncio.get_running_loop().create_task(_slow_down(update))
            self._told.add(task)
            task.add_done_callback(self._told.discard)
        return Admit.DROP


async def _slow_down(update: Update) -> None:
    user = update.effective_user
    who = views.who(user) if user and user.username else (views.one_line(user.first_name or "") or "someone" if user else "someone")
    with contextlib.suppress(Exception):
        if update.callback_query is not None:
            await update.callback_query.answer("Slow down: too many presses.")
        elif update.message is not None:
            await update.message.reply_text(slow_down_line(views.escape(who)), parse_mode=ParseMode.HTML, do_quote=False)
