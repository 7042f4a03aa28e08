"""A terminal chat in front of the local Bot API: type to the bot, read what it answers.

Everything goes through `LocalBotApi` as a Telegram client would see it (injected updates in,
recorded Bot API calls out), so the bot under test cannot tell the terminal from a group chat.
Two ways to drive it: `run_console` for a person at a terminal, `run_script` for a fixed list
of lines that must each get an answer (the scripted demo and the tests).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TextIO, cast

from sim.telegram.console_events import CONTROLS_HELP, handle_control, render_refusal
from sim.telegram.formatting import utf16_len, utf16_slice
from sim.telegram.local_api import MESSAGE_METHODS, Call, LocalBotApi

__all__ = [
    "ConsoleChat",
    "ScriptResult",
    "LatestKeyboard",
    "keyboard_buttons",
    "keyboard_messages",
    "latest_keyboard",
    "make_console",
    "render_event",
    "render_text",
    "run_console",
    "run_script",
]

CONSOLE_HELP = """\
Console commands (not sent to the bot):
  /quit               leave (Ctrl-D works too)
  /as <user_id>       speak as another user, e.g. a non-admin
  /chat <chat_id>     speak in another chat (negative ids are groups, positive are private)
  /buttons            list the messages whose buttons are still there
  /press <msg> <n>    press button n of message #msg (an older message's buttons)
  /help-console       this list
""" + CONTROLS_HELP + """
Type a button's number to press it on the latest message posted or edited with buttons
(never an older one); any other line goes to the bot as a message."""

_PREFIX = "bot> "
_INDENT = " " * len(_PREFIX)


# ---------------------------------------------------------------------------------------------
# rendering (shared by the console and run_script)
# ---------------------------------------------------------------------------------------------


def render_text(message: dict[str, Any]) -> str:
    """The text as a chat client shows it: Telegram already turned the HTML into plain text
    plus entities, so only links need their target shown; <pre> blocks keep their layout."""
    text = message.get("text")
    entities = message.get("entities")
    if text is None:
        text = message.get("caption") or ""
        entities = message.get("caption_entities")
    links = [e for e in entities or [] if e.get("type") == "text_link" and e.get("url")]
    # Insert from the end so earlier UTF-16 offsets stay valid.
    for entity in sorted(links, key=lambda e: e["offset"] + e["length"], reverse=True):
        end = entity["offset"] + entity["length"]
        head = utf16_slice(text, 0, end)
        tail = utf16_slice(text, end, utf16_len(text) - end)
        if entity["url"] != utf16_slice(text, entity["offset"], entity["length"]):
            text = f"{head} ({entity['url']}){tail}"
    return text


def keyboard_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline buttons in reading order; a button's number is its index here plus one."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def _keyboard_lines(message: dict[str, Any]) -> list[str]:
    lines = []
    number = 1
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        cells = []
        for button in row:
            label = f"[{number}] {button.get('text', '')}"
            if "url" in button:
                label += f" ({button['url']})"
            cells.append(label)
            number += 1
        lines.append("  ".join(cells))
    return lines


def render_event(method: str, event: dict[str, Any], *, photo_path: str | None = None) -> str:
    """One bot action as terminal lines, or "" for actions a person would not notice."""
    if method == "refused":
        return render_refusal(event)
    if method == "answerCallbackQuery":
        text = event.get("text") or ""
        if not text:
            return ""
        return f"({'alert' if event.get('show_alert') else 'notice'}) {text}"
    if method == "deleteMessage":
        return f"(the bot deleted message #{event.get('message_id')})"
    if method not in MESSAGE_METHODS:
        return ""
    head = _PREFIX if method.startswith("send") else f"bot (edited #{event['message_id']})> "
    body: list[str] = []
    if "photo" in event:
        largest = event["photo"][-1]
        where = f" saved to {photo_path}" if photo_path else ""
        body.append(f"[photo {largest['width']}x{largest['height']}{where}]")
    if "document" in event:
        document = event["document"]
        body.append(f"[document {document.get('file_name')}, {document.get('file_size')} bytes]")
    text = render_text(event)
    if text:
        body.extend(text.split("\n"))
    body.extend(_keyboard_lines(event))
    if not body:
        body = [""]
    indent = " " * len(head)
    return "\n".join([head + body[0], *(indent + line for line in body[1:])])


def keyboard_messages(api: LocalBotApi, chat_id: int) -> list[dict[str, Any]]:
    """Every bot message in the chat whose buttons are still there, oldest first."""
    return [m for m in api.sent(chat_id) if not m["deleted"] and keyboard_buttons(m)]


# A number presses a message only if it was already the latest with buttons this long before
# the number was entered (reading a new message and deciding takes longer than this).
NEW_BUTTONS_GRACE = 1.0


class LatestKeyboard(NamedTuple):
    """The message numbers refer to: the last one the bot posted or edited with buttons.

    `message` is it as the chat shows it now, or None when its buttons are gone (`gone`
    then says how: "edited" or "deleted"). An older message's buttons are never stood in
    for it: a late "1" meant for an expired proposal's Confirm must not press whatever
    older keyboard is still around.
    """

    message_id: int
    message: dict[str, Any] | None
    gone: str = ""


def latest_keyboard(api: LocalBotApi, chat_id: int, before: float | None = None) -> LatestKeyboard | None:
    """None if the bot never showed buttons in the chat (up to monotonic time `before`, when
    given: which message numbers referred to then)."""
    message_id = None
    for call in reversed(api.calls):
        if before is not None and call.at > before:
            continue
        if (
            call.ok
            and call.method in MESSAGE_METHODS
            and isinstance(call.result, dict)
            and call.chat_id == chat_id
            and keyboard_buttons(call.result)
        ):
            message_id = call.result["message_id"]
            break
    if message_id is None:
        return None
    current = next((m for m in api.sent(chat_id) if m["message_id"] == message_id), None)
    if current is None or current["deleted"]:
        return LatestKeyboard(message_id, None, "deleted")
    if not keyboard_buttons(current):
        return LatestKeyboard(message_id, None, "edited")
    return LatestKeyboard(message_id, current)


def _find_button(message: dict[str, Any], choice: str) -> tuple[int, dict[str, Any]] | None:
    buttons = keyboard_buttons(message)
    choice = choice.strip()
    if choice.isdigit():
        index = int(choice) - 1
        return (index, buttons[index]) if 0 <= index < len(buttons) else None
    lowered = choice.lower()
    for matcher in (
        lambda text: text == choice,
        lambda text: text.lower() == lowered,
        lambda text: lowered in text.lower(),
    ):
        for index, button in enumerate(buttons):
            if matcher(button.get("text", "")):
                return index, button
    return None


def _save_photo(event: dict[str, Any], photo_dir: str | Path | None) -> str | None:
    data = event.get("photo_bytes")
    if photo_dir is None or not data:
        return None
    directory = Path(photo_dir)
    directory.mkdir(parents=True, exist_ok=True)
    chat = str(event["chat"]["id"]).replace("-", "m")
    path = directory / f"chat{chat}_msg{event['message_id']}.png"
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------------------------------------
# interactive console
# ---------------------------------------------------------------------------------------------


class ConsoleChat:
    """One person in a chat: lines in, bot actions printed as they happen.

    Bot output arrives on the server thread while the person may be typing, so every write
    goes through one lock and, on a terminal, clears the prompt line and redraws it below.
    """

    def __init__(
        self,
        api: LocalBotApi,
        chat_id: int,
        user_id: int,
        *,
        output_stream: TextIO | None = None,
        photo_dir: str | Path | None = "demo",
        prompt: bool = True,
        first_name: str = "Alice",
        chat_type: str = "group",
        chat_title: str = "Traders",
        wait_replies: float = 0.0,
        settle: float = 1.0,
        drain_timeout: float = 20.0,
        commands: dict[str, Callable[[str], str]] | None = None,
        dashboard: str | None = None,
    ) -> None:
        """`dashboard`: the dashboard's page; `/as <id>` then prints its address with that
        user's initData. `commands` are extra console commands (not sent to the bot): `/name rest` writes
        what commands["/name"](rest) returns (the demo's /hand and /exchange).
        `wait_replies` > 0 is for lines from a pipe rather than a person: each sent line
        waits up to that many seconds for the bot's answer and then until the bot has been
        quiet for `settle` seconds, so that a late notice is not read as the next line's
        answer; at end of input the chat waits (up to `drain_timeout`) for the bot to finish."""
        self.api = api
        self.chat_id = chat_id
        self.user_id = user_id
        self.first_name = first_name
        self.chat_type = chat_type
        self.chat_title = chat_title
        self.out = output_stream if output_stream is not None else sys.stdout
        self.photo_dir = photo_dir
        self.prompt = prompt
        self.wait_replies = wait_replies
        self.settle = settle
        self.drain_timeout = drain_timeout
        self.commands = dict(commands or {})
        self.dashboard = dashboard
        self._lock = threading.RLock()
        self._prompt_shown = False
        self._interactive = prompt and _isatty(self.out)
        self._unsubscribe: Any = None
        self.output_gone = False
        self._reading = False  # run() is blocked reading input (only then is it interrupted)

    # -- output ------------------------------------------------------------------------------

    @property
    def prompt_text(self) -> str:
        return f"you({self.user_id})> " if self.prompt else ""

    def write(self, text: str) -> None:
        """Prints above the prompt line, so bot output never lands in the middle of typing.
        Flushed every time: a person reading through a pipe (`python -m sim | tee log`)
        sees each line as it comes, whatever PYTHONUNBUFFERED says."""
        with self._lock:
            if self.output_gone:
                return
            try:
                if self._prompt_shown and self._interactive:
                    self.out.write("\r\x1b[K" + text + "\n" + self.prompt_text + _line_buffer())
                else:
                    self.out.write(text + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):  # the reader left (`python -m sim | head`)
                self._lose_output()

    def _lose_output(self) -> None:
        """Nobody reads any more: stop writing, and end the chat quietly (no traceback, no
        'Exception ignored' at exit) instead of waiting for input nobody will see answered."""
        self.output_gone = True
        if self.out is sys.stdout:
            silence_stdout()
        main = threading.main_thread()
        if self._reading and threading.current_thread() is not main and main.ident is not None:
            signal.pthread_kill(main.ident, signal.SIGINT)  # wakes run()'s blocking read

    def log_stream(self) -> TextIO:
        """A stream for a logging handler: each line is printed above the prompt like the
        bot's messages, instead of landing in the middle of what the person is typing."""
        return cast(TextIO, _LineStream(self.write))

    def _show_prompt(self) -> None:
        with self._lock:
            if self._interactive:
                self._prompt_shown = True

    def on_bot_action(self, method: str, event: dict[str, Any]) -> None:
        chat = event.get("chat", {}).get("id", event.get("chat_id"))
        photo_path = _save_photo(event, self.photo_dir) if method == "sendPhoto" else None
        text = render_event(method, event, photo_path=photo_path)
        if not text:
            return
        if chat is not None and chat != self.chat_id:
            text = f"[chat {chat}] {text}"
        self.write(text)

    # -- input -------------------------------------------------------------------------------

    def attach(self) -> ConsoleChat:
        if self._unsubscribe is None:
            self._unsubscribe = self.api.subscribe(self.on_bot_action)
        return self

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def handle_line(self, line: str, entered: float | None = None) -> bool:
        """Acts on one typed line (entered at monotonic time `entered`, default now); False
        means the person asked to leave."""
        line = line.strip()
        if not line:
            return True
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command == "/quit":
            return False
        if command == "/help-console":
            self.write(CONSOLE_HELP)
        elif command == "/as":
            self._switch_user(rest)
        elif command == "/chat":
            self._switch_chat(rest)
        elif handle_control(self, command, rest):
            pass
        elif command == "/buttons":
            self._list_buttons()
        elif command == "/press":
            self._press_on(rest)
        elif command in self.commands:
            self.write(self.commands[command](rest))
        elif line.isdigit():
            self._press(int(line), entered)
        else:
            self._say(line)
        return True

    def _switch_user(self, rest: str) -> None:
        parts = rest.split(maxsplit=1)
        if not parts or not re.fullmatch(r"\d+", parts[0]):
            self.write("usage: /as <user_id> [first name]")
            return
        self.user_id = int(parts[0])
        self.first_name = parts[1] if len(parts) > 1 else f"User{self.user_id}"
        self.write(f"(now speaking as user {self.user_id}, {self.first_name})")
        if self.dashboard:
            self.api.add_member(self.chat_id, self.user_id, self.first_name)
            url = self.api.open_web_app(self.dashboard, self.user_id, start_param=str(self.chat_id))
            self.write(f"(the dashboard as user {self.user_id}: {url})")

    def _switch_chat(self, rest: str) -> None:
        if not re.fullmatch(r"-?\d+", rest):
            self.write("usage: /chat <chat_id>")
            return
        self.chat_id = int(rest)
        self.chat_type = "group" if self.chat_id < 0 else "private"
        self.write(f"(now in chat {self.chat_id})")

    def _list_buttons(self) -> None:
        """Every message whose buttons are still there, each with how to press them."""
        latest = latest_keyboard(self.api, self.chat_id)
        lines = []
        for message in keyboard_messages(self.api, self.chat_id):
            message_id = message["message_id"]
            if latest is not None and latest.message_id == message_id:
                how = "type a number"
            else:
                how = f"/press {message_id} <n>"
            first = render_text(message).split("\n", 1)[0]
            lines.append(f"#{message_id} ({how}): {first[:60]}")
            lines.extend("    " + row for row in _keyboard_lines(message))
        if latest is not None and latest.message is None:
            gone = f"the latest buttons, on #{latest.message_id}, are gone: that message was {latest.gone}"
            lines.append(f"(numbers press nothing: {gone})" if lines else f"(no buttons; {gone})")
        self.write("\n".join(lines) if lines else "(no buttons)")

    def _press(self, number: int, entered: float | None = None) -> None:
        """Presses button `number` of the latest message posted or edited with buttons; if
        its buttons are gone, says so and presses nothing (never an older message's).

        A number typed while a new message with buttons arrived was meant for what was on
        the screen before (a `1` for Refresh must not confirm a proposal that popped up as
        it was typed): the message pressed must already have been the latest one with
        buttons NEW_BUTTONS_GRACE seconds before the line was entered, else nothing is."""
        latest = latest_keyboard(self.api, self.chat_id)
        if latest is None:
            self.write(f"(no button {number}: the bot has shown no buttons here)")
            return
        entered = time.monotonic() if entered is None else entered
        earlier = latest_keyboard(self.api, self.chat_id, before=entered - NEW_BUTTONS_GRACE)
        if earlier is None or earlier.message_id != latest.message_id:
            self.write(
                f"(not pressed: message #{latest.message_id} with new buttons arrived just before "
                f"you typed {number}; read it, then type the number again)"
            )
            return
        if latest.message is None:
            self.write(
                f"(the latest buttons are gone: that message was {latest.gone}; "
                "/buttons lists the ones still there)"
            )
            return
        self._press_button(latest.message, str(number))

    def _press_on(self, rest: str) -> None:
        """`/press <message id> <n | button text>`: a button of any message still showing it."""
        match = re.fullmatch(r"#?(\d+)\s+(.+)", rest)
        if match is None:
            self.write("usage: /press <message #> <button number or text>  (/buttons lists them)")
            return
        message_id = int(match[1])
        message = next(
            (m for m in keyboard_messages(self.api, self.chat_id) if m["message_id"] == message_id),
            None,
        )
        if message is None:
            self.write(f"(message #{message_id} has no buttons now; /buttons lists them)")
            return
        self._press_button(message, match[2])

    def _press_button(self, message: dict[str, Any], choice: str) -> None:
        found = _find_button(message, choice)
        if found is None:
            self.write(
                f"(no button {choice} on message #{message['message_id']}; /buttons lists them)"
            )
            return
        _, button = found
        if "callback_data" not in button:
            self.write(f"(that button opens {button.get('url', 'something this console lacks')})")
            return
        mark = self.api.mark()
        self.api.press_button(
            self.chat_id,
            self.user_id,
            message["message_id"],
            button["callback_data"],
            first_name=self.first_name,
        )
        self._wait_reply(mark)

    def _say(self, text: str) -> None:
        mark = self.api.mark()
        self.api.send_message(
            self.chat_id,
            self.user_id,
            text,
            chat_type=self.chat_type,
            chat_title=self.chat_title,
            first_name=self.first_name,
        )
        self._wait_reply(mark)

    def _wait_reply(self, mark: int) -> None:
        if self.wait_replies > 0:
            self.api.wait_for(_reply_predicate(self.chat_id), self.wait_replies, start=mark)
            self.api.wait_quiet(self.settle, self.wait_replies)

    def _drain(self) -> None:
        """End of piped input: the last line's answers (and the notices they cause) may still
        be on their way; leaving now would cut them off."""
        if self.wait_replies <= 0:
            return
        if self.api.wait_quiet(self.settle, self.drain_timeout):
            self.write("(end of input; the bot has answered everything)")
        else:
            self.write(f"(end of input; the bot was still busy after {self.drain_timeout:g}s)")

    def run(self, input_stream: TextIO | None = None) -> None:
        """Reads lines until /quit or end of input."""
        stream = input_stream if input_stream is not None else sys.stdin
        use_input = stream is sys.stdin and _isatty(stream) and self._interactive
        if use_input:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing and history for input())
        self.attach()
        try:
            while not self.output_gone:
                try:
                    self._reading = True
                    if self.output_gone:
                        break
                    if use_input:
                        self._show_prompt()
                        line = input(self.prompt_text)
                    else:
                        line = stream.readline()
                        if not line:
                            break
                        if self.prompt:
                            self.write(self.prompt_text + line.rstrip("\n"))
                except EOFError:
                    break
                finally:
                    self._reading = False
                    entered = time.monotonic()
                    with self._lock:
                        self._prompt_shown = False
                if not self.handle_line(line, entered):
                    return
            if not use_input and not self.output_gone:
                self._drain()
        except KeyboardInterrupt:
            pass
        finally:
            if use_input:
                self.write("")
            self.detach()


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null: what is still buffered for a reader that left is
    dropped at exit instead of raising BrokenPipeError there."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _LineStream:
    """Just enough of a text stream for logging.StreamHandler, writing whole lines."""

    def __init__(self, write_line: Callable[[str], None]) -> None:
        self._write_line = write_line
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._write_line(line)
        return len(text)

    def flush(self) -> None:
        pass


def _line_buffer() -> str:
    """What the person has typed so far, to redraw it after printing above the prompt."""
    readline = sys.modules.get("readline")
    if readline is None:
        return ""
    try:
        return str(readline.get_line_buffer())
    except Exception:
        return ""


def make_console(
    api: LocalBotApi,
    chat_id: int,
    user_id: int,
    *,
    input_stream: TextIO = sys.stdin,
    output_stream: TextIO = sys.stdout,
    photo_dir: str | Path | None = "demo",
    prompt: bool = True,
    wait_replies: float | None = None,
    commands: dict[str, Callable[[str], str]] | None = None,
    dashboard: str | None = None,
) -> ConsoleChat:
    """The chat `run_console` runs. With piped input (no terminal) each line waits up to 10 s
    for the bot's reply unless `wait_replies` says otherwise, so that the output reads in
    order and end-of-input does not cut the last answer off."""
    if wait_replies is None:
        wait_replies = 0.0 if _isatty(input_stream) else 10.0
    return ConsoleChat(
        api,
        chat_id,
        user_id,
        output_stream=output_stream,
        photo_dir=photo_dir,
        prompt=prompt,
        wait_replies=wait_replies,
        commands=commands,
        dashboard=dashboard,
    )


def run_console(
    api: LocalBotApi, chat_id: int, user_id: int, *, input_stream: TextIO = sys.stdin, **options: Any
) -> None:
    """Runs the chat until /quit or EOF; `options` are make_console's."""
    make_console(api, chat_id, user_id, input_stream=input_stream, **options).run(input_stream)


# ---------------------------------------------------------------------------------------------
# scripted chat
# ---------------------------------------------------------------------------------------------


class ScriptResult(NamedTuple):
    transcript: str
    ok: bool


def _reply_predicate(chat_id: int, query_id: str | None = None) -> Any:
    """A reply is a message the chat sees change; for a button press, an answer with text
    (an alert) counts too, since a refused press may produce nothing else."""

    def predicate(call: Call) -> bool:
        if not call.ok:
            return False
        if call.method in MESSAGE_METHODS:
            return call.chat_id == chat_id
        return (
            query_id is not None
            and call.method == "answerCallbackQuery"
            and str(call.params.get("callback_query_id")) == query_id
            and bool(call.params.get("text"))
        )

    return predicate


def run_script(
    api: LocalBotApi,
    lines: list[str],
    chat_id: int,
    user_id: int,
    out: TextIO | None = None,
    wait_reply_timeout: float = 10.0,
    *,
    photo_dir: str | Path | None = None,
    stop_on_timeout: bool = True,
    first_name: str = "Alice",
) -> ScriptResult:
    """Plays `lines` as the user, each one only after the bot answered the previous one.

    Directives: `#wait <text> [timeout]` waits for a bot message containing text (anything
    since the last line sent counts); `#press <n | button text>` presses a button of the
    latest message posted or edited with buttons (never an older one); `#as <user_id>`
    switches user; other lines starting with `#` are comments.
    A timeout makes the result not ok and, with `stop_on_timeout`, ends the script there,
    since later steps usually depend on the missed one.
    """
    transcript: list[str] = []
    lock = threading.Lock()

    def emit(text: str) -> None:
        with lock:
            transcript.append(text)
            if out is not None:
                out.write(text + "\n")
                out.flush()

    def on_action(method: str, event: dict[str, Any]) -> None:
        chat = event.get("chat", {}).get("id", event.get("chat_id"))
        if chat != chat_id:
            return
        photo_path = _save_photo(event, photo_dir) if method == "sendPhoto" else None
        text = render_event(method, event, photo_path=photo_path)
        if text:
            emit(text)

    ok = True
    last_mark = api.mark()
    unsubscribe = api.subscribe(on_action)
    try:
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#wait"):
                step_ok = _script_wait(api, chat_id, line, last_mark, wait_reply_timeout, emit)
            elif line.startswith("#press"):
                last_mark = api.mark()
                step_ok = _script_press(
                    api,
                    chat_id,
                    user_id,
                    line[len("#press") :].strip(),
                    wait_reply_timeout,
                    emit,
                    first_name,
                )
            elif line.startswith("#as"):
                arg = line[len("#as") :].strip()
                if arg.isdigit():
                    user_id = int(arg)
                    emit(f"# now speaking as user {user_id}")
                    step_ok = True
                else:
                    emit(f"!! bad directive: {line}")
                    step_ok = False
            elif line.startswith("#"):
                continue
            else:
                last_mark = api.mark()
                emit(f"> {line}")
                api.send_message(chat_id, user_id, line, first_name=first_name)
                step_ok = (
                    api.wait_for(_reply_predicate(chat_id), wait_reply_timeout, start=last_mark)
                    is not None
                )
                if not step_ok:
                    emit(f"!! no reply within {wait_reply_timeout:g}s to: {line}")
            if not step_ok:
                ok = False
                if stop_on_timeout:
                    break
    finally:
        unsubscribe()
    with lock:
        return ScriptResult("\n".join(transcript), ok)


def _script_wait(
    api: LocalBotApi, chat_id: int, line: str, start: int, default_timeout: float, emit: Any
) -> bool:
    arg = line[len("#wait") :].strip()
    timeout = default_timeout
    match = re.fullmatch(r"(.*?)\s+(\d+(?:\.\d+)?)", arg)
    if match:
        arg, timeout = match[1], float(match[2])
    if not arg:
        emit(f"!! bad directive: {line}")
        return False
    if api.wait_for_text(chat_id, arg, timeout, start=start) is None:
        emit(f"!! no bot message containing {arg!r} within {timeout:g}s")
        return False
    return True


def _script_press(
    api: LocalBotApi,
    chat_id: int,
    user_id: int,
    choice: str,
    timeout: float,
    emit: Any,
    first_name: str,
) -> bool:
    latest = latest_keyboard(api, chat_id)
    message = latest.message if latest else None
    if latest is not None and message is None:
        emit(f"!! no button {choice!r} to press: the latest buttons are gone ({latest.gone})")
        return False
    found = _find_button(message, choice) if message and choice else None
    if message is None or found is None:
        emit(f"!! no button {choice!r} to press")
        return False
    index, button = found
    if "callback_data" not in button:
        emit(f"!! button {button.get('text')!r} is not a callback button")
        return False
    emit(f"> [press {index + 1}] {button.get('text', '')}")
    mark = api.mark()
    update = api.press_button(
        chat_id, user_id, message["message_id"], button["callback_data"], first_name=first_name
    )
    query_id = update["callback_query"]["id"]
    if api.wait_for(_reply_predicate(chat_id, query_id), timeout, start=mark) is None:
        emit(f"!! no reply within {timeout:g}s to pressing {button.get('text')!r}")
        return False
    return True
