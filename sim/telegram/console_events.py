"""The terminal chat's controls for what real groups do, and how it shows them.

`/upgrade` turns the (basic) group into a supergroup with a new id and moves the console
there; `/kick` and `/readd` remove the bot from the chat and add it back; `/limit 20` makes
the local Bot API answer 429 beyond 20 messages a minute per group (`/limit off` ends it);
`/past 7200 /long 0.01` sends a message dated two hours ago, as Telegram delivers what was
typed while the bot was down. Refused bot calls (429, 400, 403) are printed as they happen.
"""

from __future__ import annotations

import re
from typing import Any

CONTROLS_HELP = """\
  /upgrade            make this group a supergroup (new chat id; the console moves there)
  /kick, /readd       remove the bot from this chat / add it back (403 while removed)
  /restrict, /unrestrict  an admin restricts the bot (status restricted, 400 on sends) / lifts it
  /limit <n|off>      Telegram's per-group limit: 429 beyond n messages a minute
  /past <s> <text>    send text dated s seconds ago (typed while the bot was down)"""


def render_refusal(event: dict[str, Any]) -> str:
    """A bot call Telegram refused, as the console shows it."""
    return (
        f"(Telegram refused the bot's {event.get('method')} to chat {event.get('chat_id')}: "
        f"{event.get('error_code')} {event.get('description')})"
    )


def handle_control(chat: Any, command: str, rest: str) -> bool:
    """Acts on a group-state control typed in the console; False if `command` is none."""
    api = chat.api
    if command == "/upgrade":
        try:
            new = api.upgrade(chat.chat_id, chat.user_id)
        except ValueError as e:
            chat.write(f"({e}; only a basic group can be upgraded)")
            return True
        chat.write(f"(chat {chat.chat_id} is now the supergroup {new}; you are there now)")
        chat.chat_id, chat.chat_type = new, "supergroup"
    elif command == "/kick":
        api.kick(chat.chat_id, chat.user_id)
        chat.write(f"(the bot was removed from chat {chat.chat_id}; its calls there answer 403 until /readd)")
    elif command == "/readd":
        api.readd(chat.chat_id, chat.user_id)
        chat.write(f"(the bot is in chat {chat.chat_id} again)")
    elif command in ("/restrict", "/unrestrict"):
        try:
            if command == "/restrict":
                api.restrict(chat.chat_id, chat.user_id)
                chat.write(f"(the bot may not post in chat {chat.chat_id}; its sends there answer 400 until /unrestrict)")
            else:
                api.unrestrict(chat.chat_id, chat.user_id)
                chat.write(f"(the bot may post in chat {chat.chat_id} again)")
        except ValueError as e:
            chat.write(f"({e})")
    elif command == "/limit":
        if rest == "off":
            api.group_limit(None)
            chat.write("(no per-group limit)")
        elif rest.isdigit() and int(rest) > 0:
            api.group_limit(int(rest))
            chat.write(f"(groups take at most {rest} bot messages a minute; 429 beyond)")
        else:
            chat.write("usage: /limit <messages a minute | off>")
    elif command == "/past":
        match = re.fullmatch(r"(\d+)\s+(.+)", rest)
        if match is None:
            chat.write("usage: /past <seconds ago> <text>")
            return True
        import time

        mark = api.mark()
        api.send_message(
            chat.chat_id, chat.user_id, match[2], chat_type=chat.chat_type, chat_title=chat.chat_title,
            first_name=chat.first_name, date=int(time.time()) - int(match[1]),
        )
        chat._wait_reply(mark)  # noqa: SLF001 (the console's own pacing)
    else:
        return False
    return True
