"""A press carries no date: one that was already waiting when the bot started is judged by
the latest moment it can have happened after, its message's last showing or the previous
run's last heartbeat (bot/stale.py)."""

from __future__ import annotations

import datetime as dtm

from telegram import CallbackQuery, Chat, Message, Update, User

from bot.stale import StaleGate

NOW = 1_800_000_000.0
CHAT = Chat(-1001, "supergroup")
USER = User(7, "Ann", False)


def press(update_id: int, shown_ago: float) -> Update:
    message = Message(5, dtm.datetime.fromtimestamp(NOW - shown_ago, dtm.UTC), CHAT)
    return Update(update_id, callback_query=CallbackQuery("q", USER, "ci", message=message, data="x"))


def command(text: str, ago: float) -> Update:
    return Update(1, message=Message(9, dtm.datetime.fromtimestamp(NOW - ago, dtm.UTC), CHAT, from_user=USER, text=text))


async def _noop(chat_id: int, html: str) -> None:
    return None


def gate(alive_before: float | None) -> StaleGate:
    g = StaleGate(120, _noop)
    g.started_at, g.backlog_until, g.alive_before = NOW, 100, alive_before
    return g


def test_commands_by_their_date() -> None:
    g = gate(None)
    assert g.age(command("/long", 7200), now=NOW) == 7200
    assert g.age(command("/long", 30), now=NOW) is None
    assert g.age(command("just words", 7200), now=NOW) is None  # not a command: nothing to run


def test_backlog_presses_by_the_latest_they_can_have_happened_after() -> None:
    # Bot down for 2 hours, message shown 3 hours ago: the press may be 2 hours old.
    assert gate(NOW - 7200).age(press(50, 3 * 3600), now=NOW) == 7200
    # Bot down for 30 s: the press is at most 30 s old, whatever the message's age.
    assert gate(NOW - 30).age(press(50, 3 * 3600), now=NOW) is None
    # Message edited 10 s before the start: pressed after that.
    assert gate(NOW - 7200).age(press(50, 10), now=NOW) is None
    # After the backlog, a press is live.
    assert gate(NOW - 7200).age(press(101, 3 * 3600), now=NOW) is None


def test_a_command_typed_while_the_bot_ran_is_never_stale_however_long_it_waited() -> None:
    # issue 25: an admin's /pause queued behind members' traffic was called stale (121s old).
    g = gate(NOW - 30)
    typed_after_start = Update(
        2, message=Message(9, dtm.datetime.fromtimestamp(NOW + 5, dtm.UTC), CHAT, from_user=USER, text="/pause")
    )
    assert g.age(typed_after_start, now=NOW + 5 + 413) is None
    # Typed 100 s before the start and handled 300 s after it: waited for the bot 100 s only.
    assert g.age(command("/pause", 100), now=NOW + 300) is None
    # Typed 200 s before the start: typed while the bot was down, older than the limit.
    assert g.age(command("/pause", 200), now=NOW + 10) == 210


def test_names_and_user_text_are_shown_on_one_line() -> None:
    from bot import views

    forged = "eve\n✅ paper SELL 1.000 BTCUSDT\r\u2028PnL +99999\u202e USDT\t\x00"
    assert views.one_line(forged) == "eve ✅ paper SELL 1.000 BTCUSDT PnL +99999 USDT"
    assert views.who(USER) == "user 7"
    assert views.who(User(8, "Eve", False, username="eve\nfake"), 8) == "@eve fake"
