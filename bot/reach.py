"""The bot removed from its group, or blocked: nobody can see or confirm what it does.

Telegram answers 403 Forbidden ("bot was kicked from the group chat", "bot was blocked by
the user") and sends a `my_chat_member` update. From the first sign the bot pauses new
entries (the same pause as /pause, reason `chat_unreachable`: closes, stop-losses and
take-profits keep running, an unmanaged position is worse), logs at error level, and tries
the chat again with backoff (at once when Telegram says the bot was added back). An admin
restricting the bot (`restricted` without `can_send_messages`: its sends answer 400) is the
same: nobody can see what it does. The
notices wait meanwhile. The first message that gets through is one summary of the time
away; then the pause reason is lifted and the waiting notices follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from telegram.error import Forbidden, TelegramError

from bot import views
from bot.texts import position_line

log = logging.getLogger(__name__)


def cannot_post(e: TelegramError) -> bool:
    """Telegram refused the bot's message because of the chat's state, not the message:
    removed or blocked (403), or restricted without the right to send (400 "not enough rights")."""
    return isinstance(e, Forbidden) or "not enough rights" in str(e).lower()

REASON = "chat_unreachable"
FIRST_RETRY, MAX_RETRY = 2.0, 300.0  # seconds; doubling in between


class ChatReach:
    def __init__(
        self,
        send: Callable[[str], Awaitable[object]],
        pause: Callable[[bool], Awaitable[object]],
        held: Callable[[], int],
        positions: Callable[[], Awaitable[list[str]]],
    ) -> None:
        """`send(html)` posts to the notice chat (raising Forbidden while removed); `pause(on)`
        sets or lifts the `chat_unreachable` reason; `held()` counts notices waiting;
        `positions()` the open positions, for the summary."""
        self._send, self._pause, self._held, self._positions = send, pause, held, positions
        self.since: float | None = None  # wall time the chat became unreachable
        self.why = ""
        self.attempts = 0
        self._back = asyncio.Event()
        self._back.set()
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def reachable(self) -> bool:
        return self.since is None

    def lost(self, why: str) -> None:
        """A 403 or a `my_chat_member` saying the bot is out: pause entries, start probing."""
        if self.since is not None:
            return
        self.since, self.why, self.attempts = time.time(), why, 0
        self._back.clear()
        log.error("cannot post to the notice chat (%s): new entries paused until it can; retrying with backoff", why)
        self._task = asyncio.get_running_loop().create_task(self._probe(), name="chat-reach")

    def poke(self) -> None:
        """Telegram says the bot was added back (or unblocked): try now, not at the next backoff."""
        self._poke.set()

    async def wait(self) -> None:
        """Until a message gets through again (the notifier's lanes wait here after a 403)."""
        await self._back.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _probe(self) -> None:
        try:
            await self._pause(True)
        except Exception:
            log.exception("could not pause entries while the chat is unreachable")
        delay = FIRST_RETRY
        while True:
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), delay)
            self.attempts += 1
            try:
                await self._send(await self._summary())
            except Forbidden as e:
                log.error("the notice chat is still unreachable (%s; attempt %d); next try in %.0fs", e, self.attempts, delay)
                delay = min(MAX_RETRY, delay * 2)
                continue
            except Exception as e:  # Telegram down, 429: not a removal; try again soon
                log.warning("the summary for the notice chat was not sent (%s); retrying", e)
                delay = min(MAX_RETRY, delay * 2)
                continue
            break
        away = time.time() - (self.since or time.time())
        log.warning("the notice chat is reachable again after %s; entries allowed again", views.duration(away))
        try:
            await self._pause(False)
        except Exception:
            log.exception("could not lift the chat_unreachable pause")
        self.since, self._task = None, None
        self._back.set()

    async def _summary(self) -> str:
        away = time.time() - (self.since or time.time())
        held = self._held()
        positions = await self._positions()
        since = views.utc(int((self.since or time.time()) * 1000))
        return (
            f"🔌 <b>Back in the chat</b> after {views.duration(away)} unreachable (since {since} UTC: "
            f"{views.escape(self.why)}). Meanwhile no new position was opened (paused: chat unreachable); "
            "closes, stop-losses and take-profits kept running. "
            f"{held} notice{'s' if held != 1 else ''} waited and follow{'s' if held == 1 else ''}. "
            f"Positions now: {views.escape('; '.join(positions) or 'none')}. The pause for it is lifted."
        )


def make(app, notifier) -> ChatReach:  # type: ignore[no-untyped-def]
    """The live bot's ChatReach, kept in bot_data; resumes probing a chat that was
    unreachable when the bot stopped (the pause reason is persisted, this object is not)."""
    from bot.chats import to_notice_chat
    from bot.commands import number_formats, off_loop
    from bot.ratelimit import urgent

    engine = app.bot_data["engine"]

    async def send(html: str) -> None:
        with urgent():
            await to_notice_chat(app, lambda c: app.bot.send_message(c, html, parse_mode="HTML"))

    async def pause(on: bool) -> None:
        await off_loop(engine.pause if on else engine.resume, REASON, None)

    async def positions() -> list[str]:
        st = await off_loop(engine.status)
        formats = await number_formats(engine, st.symbols)
        return [position_line(p, formats.get(p.symbol)) for p in st.positions]

    r = app.bot_data["reach"] = ChatReach(send, pause, notifier.held, positions)
    if REASON in engine.paused_reasons():
        r.lost("unreachable when the bot last stopped")
    return r


def on_member_update(app, change) -> None:  # type: ignore[no-untyped-def]
    """`my_chat_member` for the notice chat: removed → lost; added back → try at once."""
    r: ChatReach | None = app.bot_data.get("reach")
    engine = app.bot_data["engine"]
    if r is None or change.chat.id != engine.settings.notice_chat_id:
        return
    member = change.new_chat_member
    status = member.status
    if status in ("kicked", "left", "banned"):
        r.lost(f"the bot was removed from the chat ({status})")
    elif status == "restricted" and not getattr(member, "is_member", True):
        r.lost("the bot was removed from the chat (restricted, not a member)")
    elif status == "restricted" and not getattr(member, "can_send_messages", True):
        # Restricted by an admin: its sends answer 400 "not enough rights", nobody sees a thing.
        r.lost("an admin of the chat restricted the bot: it may not send messages")
    elif status in ("member", "administrator", "creator", "restricted"):
        r.poke()
