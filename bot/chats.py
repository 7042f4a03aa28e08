"""A chat that moves: a group upgraded to a supergroup gets a new id.

Telegram then answers every call naming the old id with 400 "group chat was upgraded to a
supergroup chat" and the new id (`migrate_to_chat_id`; PTB raises `ChatMigrated`), and puts
service messages in both chats. Either way the bot follows: it serves and posts to the new
id from then on, remembers the move in runtime_state (the `.env` still names the old id, so
each start applies it again), tells the new chat once, and logs the line to change
TELEGRAM_CHAT_ID at every start until the configuration names the new id. A move is followed
only when it is consistent (see `claimed`): a forged service message must not move the bot to
an attacker's chat. Who is an admin never changes with a move (bot/access.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import ChatMigrated
from telegram.ext import Application

from bot.access import Access
from bot.commands import off_loop
from bot.ratelimit import urgent

log = logging.getLogger(__name__)
T = TypeVar("T")

STATE_KEY = "migrated"  # runtime_state (via Engine.remember): {"old id": [new id, told]}


def moved_line(old: int, new: int) -> str:
    return (
        f"ℹ️ This group became a supergroup (chat id {old} → {new}); the bot follows it here. "
        f"Its operator should set TELEGRAM_CHAT_ID={new}."
    )


def config_line(old: int, new: int) -> str:
    return f"TELEGRAM_CHAT_ID names {old}, which Telegram upgraded to the supergroup {new}: serving {new}; change TELEGRAM_CHAT_ID to {new}"


async def _load(engine) -> dict[int, tuple[int, bool]]:  # type: ignore[no-untyped-def]
    raw = await off_loop(engine.remembered, STATE_KEY)
    try:
        return {int(k): (int(v[0]), bool(v[1])) for k, v in json.loads(raw or "{}").items()}
    except (ValueError, TypeError, KeyError, IndexError):
        log.error("runtime_state %r is unreadable; chat moves are forgotten", STATE_KEY)
        return {}


async def _save(engine, moves: dict[int, tuple[int, bool]]) -> None:  # type: ignore[no-untyped-def]
    await off_loop(engine.remember, STATE_KEY, json.dumps({str(k): [v[0], v[1]] for k, v in moves.items()}))


def _apply(app: Application, old: int, new: int) -> bool:
    """Serve and post to `new` instead of `old`; True if anything changed."""
    engine = app.bot_data["engine"]
    access: Access = app.bot_data["access"]
    ids = engine.settings.telegram_chat_ids
    if old not in ids and new in ids:
        return False
    engine.settings = replace(engine.settings, telegram_chat_ids=tuple(new if c == old else c for c in ids))
    access.chats = frozenset(access.chats | {new})  # the old id stays allowed: its service message
    return True


async def restore(app: Application) -> None:
    """At start: apply the moves remembered from earlier runs (the .env names the old id)."""
    engine = app.bot_data["engine"]
    moves = await _load(engine)
    for _ in range(len(moves) + 1):  # a group moved twice: follow the chain
        changed = False
        for old, (new, _told) in moves.items():
            if not consistent(old, new):  # remembered by an earlier version from a forged message
                log.error("runtime_state remembers a chat move %s → %s that is not a group becoming a supergroup; ignored", old, new)
                continue
            if old in engine.settings.telegram_chat_ids and _apply(app, old, new):
                log.warning(config_line(old, new))
                changed = True
        if not changed:
            break


async def follow(app: Application, old: int, new: int) -> None:
    """The group `old` is now the supergroup `new`: follow it, remember it, say so once.
    Both service messages and a refused send may report the same move: a lock makes the
    first one do it and the others find it done."""
    engine = app.bot_data["engine"]
    lock = app.bot_data.get("chat_move_lock")
    if lock is None:
        lock = app.bot_data["chat_move_lock"] = asyncio.Lock()
    async with lock:
        _apply(app, old, new)
        moves = await _load(engine)
        known = moves.get(old)
        if known is not None and known == (new, True):
            return
        if known is None or known[0] != new:
            moves[old] = (new, False)
            await _save(engine, moves)
            log.warning(config_line(old, new))
        try:
            with urgent():
                await app.bot.send_message(new, moved_line(old, new), parse_mode=ParseMode.HTML)
        except Exception as e:  # told at the next move report or start instead
            log.warning("could not tell the new chat %s about the move: %s", new, e)
            return
        moves[old] = (new, True)
        await _save(engine, moves)


SUPERGROUP_BASE = 10**12  # supergroup (and channel) ids are -100…: below -10**12


def is_basic_group(chat_id: int) -> bool:
    return -SUPERGROUP_BASE < chat_id < 0


def is_supergroup(chat_id: int) -> bool:
    return chat_id < -SUPERGROUP_BASE


def consistent(old: int, new: int) -> bool:
    """Only a basic group becomes a supergroup; never a private chat, never to one."""
    return is_basic_group(old) and is_supergroup(new)


def service_move(update: Update, access: Access) -> tuple[int, int] | None:
    """(old, new) when the update claims a served group's move (a service message); the
    gate handles it as such, and `claimed` decides whether it is followed."""
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id and message.chat.id in access.chats:
        return message.chat.id, message.migrate_to_chat_id
    if message.migrate_from_chat_id and message.migrate_from_chat_id in access.chats:
        return message.migrate_from_chat_id, message.chat.id
    return None


async def claimed(app: Application, update: Update, old: int, new: int) -> None:
    """A service message says the group `old` is now `new`. Real Telegram creates these only
    itself, but a self-hosted or proxied Bot API can forge one, so it is followed only when it
    is consistent: a basic group to a supergroup (the message posted in a chat of that kind)
    and either both service messages agree or Telegram, asked about the old id, answers 400
    with the same `migrate_to_chat_id`. Otherwise one log line and nothing changes."""
    message = update.message
    assert message is not None
    side = "to" if message.migrate_to_chat_id else "from"
    expected_type = "group" if side == "to" else "supergroup"
    if not consistent(old, new) or message.chat.type != expected_type:
        log.warning("ignoring a chat-move message from chat %s (%s → %s): not a group becoming a supergroup", message.chat.id, old, new)
        return
    claims: dict[tuple[int, int], set[str]] = app.bot_data.setdefault("chat_move_claims", {})
    sides = claims.setdefault((old, new), set())
    sides.add(side)
    if sides == {"to", "from"}:
        await follow(app, old, new)
        return
    try:
        await app.bot.get_chat(old)
    except ChatMigrated as e:
        if e.new_chat_id == new:
            await follow(app, old, new)
        else:
            log.warning("ignoring a chat-move message %s → %s: Telegram says %s moved to %s", old, new, old, e.new_chat_id)
        return
    except Exception as e:  # cannot tell now: the other service message or a refused send will
        log.warning("could not confirm the chat move %s → %s with Telegram (%s); waiting for its other sign", old, new, e)
        return
    log.warning("ignoring a chat-move message %s → %s: Telegram says %s was not upgraded", old, new, old)


async def to_notice_chat(app: Application, send: Callable[[int], Awaitable[T]]) -> T:
    """`send(chat_id)` to the notice chat; if Telegram says the group moved, follow it and
    send again to the new id (nothing was posted: the 400 refused it)."""
    engine = app.bot_data["engine"]
    chat_id = engine.settings.notice_chat_id
    try:
        return await send(chat_id)
    except ChatMigrated as e:
        if not consistent(chat_id, e.new_chat_id):
            log.error("Telegram says chat %s moved to %s, which is not a group becoming a supergroup; not followed", chat_id, e.new_chat_id)
            raise
        await follow(app, chat_id, e.new_chat_id)
        return await send(engine.settings.notice_chat_id)
