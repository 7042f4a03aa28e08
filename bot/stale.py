"""Old commands and presses are not executed.

Telegram keeps a bot's undelivered updates for up to 24 hours, so a bot that was down gets,
at its next start, the `/long` or `/stop` someone typed hours ago; run now, it would trade at
today's price on yesterday's intent. A command's message carries its date, so one typed more
than STALE_COMMAND_SECONDS before this run started is not run. What was typed while the bot
ran is never stale, however long it waited behind others in the bot's own queue. A button press carries no date of its own: a press that
was already waiting when the bot started (the start's backlog) happened while the bot was
down, at the earliest when the message it was pressed on was last shown and at the latest
when the bot came back; if the earliest is older than the limit it is not run either.
The ignored ones are told to the chat in one line per burst and audited in one row per sender
and burst (with the count: a flood of old updates is a few rows, not thousands).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot import views

log = logging.getLogger(__name__)

FLUSH_AFTER = 1.0  # seconds: ignored updates arriving together are told in one line
LISTED = 8  # at most this many named in the line; the rest are counted
HEARTBEAT_SECONDS = 30.0  # how often the bot writes down that it is alive (its downtime's start)


AUDIT_LISTED = 5  # what an audit row of a burst names; the rest is counted
BACKLOG_PAGES = 1000  # getUpdates pages of 100 read at start (Telegram keeps 24 h of updates)


@dataclass(frozen=True)
class Ignored:
    what: str  # "/long 0.01" or "a button press"
    who: str
    age: float  # seconds (at least; for presses, the earliest it can have been)
    user_id: int | None = None


Audit = Callable[[int, "int | None", str, str], Awaitable[object]]  # chat, user, detail, outcome


async def _no_audit(chat_id: int, user_id: int | None, detail: str, outcome: str) -> None:
    return None


class StaleGate:
    def __init__(self, max_age: float, say: Callable[[int, str], Awaitable[object]], audit: Audit = _no_audit) -> None:
        """`say(chat, html)` tells a chat; `audit(chat, user, detail, outcome)` writes one
        row per sender and burst."""
        self.max_age = max_age
        self._say = say
        self._audit = audit
        self._batches: dict[int, list[Ignored]] = {}
        self._flush: dict[int, asyncio.TimerHandle] = {}
        self.backlog_until: int | None = None  # highest update_id waiting when the bot started
        self.alive_before: float | None = None  # wall time the previous run last said it was alive
        self.started_at = time.time()

    def age(self, update: Update, now: float | None = None) -> float | None:
        """How old the update is when it is too old to run; None: run it."""
        message = update.message
        if message is not None:
            if not (message.text or "").startswith("/") or message.date is None:
                return None
            typed = message.date.timestamp()
            # Stale is typed while the bot was down, never "waited in our own queue": only
            # what was typed more than the limit before this run started.
            if self.started_at - typed <= self.max_age:
                return None
            return (time.time() if now is None else now) - typed
        query = update.callback_query
        if query is None or self.backlog_until is None or update.update_id > self.backlog_until:
            return None
        # Pressed while the bot was down: not before the message was last shown, nor before
        # the previous run's last sign of life. If even that earliest moment is recent
        # enough, it is run; if nothing tells, it is not (its age is unknown).
        shown = None
        if query.message is not None:
            when = getattr(query.message, "edit_date", None) or getattr(query.message, "date", None)
            shown = when.timestamp() if when is not None else None
        marks = [t for t in (shown, self.alive_before) if t]
        if not marks:
            return float("inf")
        age = self.started_at - max(marks)
        return age if age > self.max_age else None

    def ignore(self, chat_id: int, update: Update, age: float) -> Ignored:
        """Remember one ignored update for the next line to its chat."""
        user = update.effective_user
        who = views.who(user)
        if update.message is not None and update.message.text:
            what = views.echo(update.message.text.split("\n")[0])[1:-1]
        else:
            what = "a button press"
        item = Ignored(views.one_line(what), who, age, user.id if user else None)
        self._batches.setdefault(chat_id, []).append(item)
        if chat_id not in self._flush:
            self._flush[chat_id] = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._start_flush, chat_id)
        return item

    def _start_flush(self, chat_id: int) -> None:
        self._flush.pop(chat_id, None)
        batch = self._batches.pop(chat_id, [])
        if batch:
            asyncio.get_running_loop().create_task(self._tell(chat_id, batch))

    async def flush(self) -> None:
        """At shutdown: the bursts still waiting are told and audited now."""
        for chat_id in list(self._batches):
            handle = self._flush.pop(chat_id, None)
            if handle is not None:
                handle.cancel()
            await self._tell(chat_id, self._batches.pop(chat_id, []))

    async def _tell(self, chat_id: int, batch: list[Ignored]) -> None:
        if not batch:
            return
        for user_id, items in _by_sender(batch).items():
            try:
                await self._audit(chat_id, user_id, audit_detail(items), audit_outcome(items))
            except Exception:
                log.exception("audit of %d ignored old updates failed", len(items))
        try:
            await self._say(chat_id, ignored_line(batch, self.max_age))
        except Exception:
            log.exception("could not tell the chat about %d ignored old updates", len(batch))


def _by_sender(batch: list[Ignored]) -> dict[int | None, list[Ignored]]:
    out: dict[int | None, list[Ignored]] = {}
    for item in batch:
        out.setdefault(item.user_id, []).append(item)
    return out


def audit_detail(items: list[Ignored]) -> str:
    """`3 updates: /long 0.01; /stop; a button press` (the first few named, then counted)."""
    named = "; ".join(i.what for i in items[:AUDIT_LISTED])
    more = f"; and {len(items) - AUDIT_LISTED} more" if len(items) > AUDIT_LISTED else ""
    return f"{len(items)} update{'s' if len(items) != 1 else ''}: {named}{more}"


def audit_outcome(items: list[Ignored]) -> str:
    ages = [i.age for i in items if i.age != float("inf")]
    if not ages:
        return "ignored: stale (unknown age)"
    return f"ignored: stale ({max(ages):.0f}s old)"


def ignored_line(batch: list[Ignored], max_age: float) -> str:
    """One line for a burst of ignored updates: what, by whom, how old."""
    named = [
        f"{views.escape(i.what)} by {views.escape(i.who)} "
        + ("(pressed while the bot was down)" if i.what == "a button press" else f"({views.duration(i.age)} old)")
        for i in batch[:LISTED]
    ]
    more = f"; and {len(batch) - LISTED} more" if len(batch) > LISTED else ""
    return (
        f"⏳ Not executed, sent more than {max_age:g}s ago (STALE_COMMAND_SECONDS) while the bot was away: "
        f"{'; '.join(named)}{more}. Send again what still stands."
    )


async def prepare(
    app: Application,
    gate: StaleGate,
    remembered: Callable[[], Awaitable[str | None]],
    allowed_updates: list[str] | None = None,
) -> None:
    """Before polling: which updates were already waiting (the backlog, all of it, not only
    the first 100 getUpdates returns), and when the previous run was last alive.

    Telegram shows no more than 100 at a time and the next ones only once an offset confirms
    the earlier, so the backlog is read page by page; what is confirmed this way is handed to
    PTB's queue in order (polling will not get it again), and a page left unconfirmed (an
    error, or the page limit) comes again through polling."""
    taken: list[Update] = []  # confirmed by a later call's offset: ours to hand to PTB
    page: list[Update] = []
    offset: int | None = None
    try:
        for _ in range(BACKLOG_PAGES):
            nxt = await app.bot.get_updates(offset=offset, timeout=0, limit=100, allowed_updates=allowed_updates)
            taken.extend(page)
            page = list(nxt)
            if not page:
                break
            offset = page[-1].update_id + 1
    except TelegramError as e:
        log.warning("could not look at all the waiting updates (%s); old presses are judged by their message", e)
    gate.backlog_until = max((u.update_id for u in (*taken, *page)), default=None)
    for update in taken:
        await app.update_queue.put(update)
    if len(taken) + len(page) > 100:
        log.info("%d updates were waiting at start", len(taken) + len(page))
    before = await remembered()
    gate.alive_before = float(before) if before else None
    gate.started_at = time.time()
