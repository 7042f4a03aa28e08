"""The local Bot API driven by the real python-telegram-bot client over loopback sockets.

Synchronisation is by `LocalBotApi.wait_for*` (a condition variable) or by awaiting the
client's own calls; nothing sleeps to let something else happen.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import logging
import re
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from sim.telegram.console import NEW_BUTTONS_GRACE, ConsoleChat, run_script
from sim.telegram.formatting import EntityParseError, parse_html, parse_markdown_v2
from sim.telegram.local_api import LocalBotApi

TOKEN = "123456:LOCAL-DEMO-TOKEN"
CHAT = -1001234
ADMIN = 42
GUEST = 7


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
def api() -> Iterator[LocalBotApi]:
    server = LocalBotApi(token=TOKEN, bot_id=123456, bot_username="ReplayTradeBot").start()
    try:
        yield server
    finally:
        server.stop()


def with_bot(api: LocalBotApi, body: Callable[[Bot], Any], token: str = TOKEN) -> Any:
    async def main() -> Any:
        async with Bot(token, base_url=api.base_url) as bot:
            return await body(bot)

    return asyncio.run(main())


def raw_request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------------------------------------
# Bot API methods through PTB
# ---------------------------------------------------------------------------------------------


def test_get_me_and_commands(api: LocalBotApi) -> None:
    async def body(bot: Bot) -> None:
        me = await bot.get_me()
        assert me.is_bot and me.id == 123456 and me.username == "ReplayTradeBot"
        assert me.can_join_groups is True
        assert me.can_read_all_group_messages is False
        assert me.supports_inline_queries is False
        assert await bot.set_my_commands(
            [BotCommand("status", "Show status"), BotCommand("help", "Help")]
        )
        commands = await bot.get_my_commands()
        assert [(c.command, c.description) for c in commands] == [
            ("status", "Show status"),
            ("help", "Help"),
        ]
        with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        assert await bot.delete_webhook()
        info = await bot.get_webhook_info()
        assert info.url == "" and info.pending_update_count == 0

    with_bot(api, body)
    assert [c["command"] for c in api.my_commands()] == ["status", "help"]


def test_send_html_message_with_keyboard_and_edit(api: LocalBotApi) -> None:
    api.add_chat(CHAT, "group", "Traders")
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Confirm", callback_data="ok:1"),
                InlineKeyboardButton("Reject", callback_data="no:1"),
            ]
        ]
    )

    async def body(bot: Bot) -> None:
        first = await bot.send_message(CHAT, "hello")
        msg = await bot.send_message(
            CHAT,
            "<b>BTC</b> &amp; <i>ETH</i> <code>1 &lt; 2</code>",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
        assert msg.message_id == first.message_id + 1
        assert msg.chat.id == CHAT and msg.chat.type == "group"
        assert msg.from_user.id == 123456 and msg.from_user.is_bot
        assert msg.text == "BTC & ETH 1 < 2"
        assert [(e.type, e.offset, e.length) for e in msg.entities] == [
            (MessageEntity.BOLD, 0, 3),
            (MessageEntity.ITALIC, 6, 3),
            (MessageEntity.CODE, 10, 5),
        ]
        assert msg.text_html == "<b>BTC</b> &amp; <i>ETH</i> <code>1 &lt; 2</code>"
        assert msg.reply_markup == keyboard
        assert isinstance(msg.date, dtm.datetime)

        edited = await bot.edit_message_text(
            "<b>Confirmed</b>",
            chat_id=CHAT,
            message_id=msg.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
        assert edited.text == "Confirmed" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text(
                "<b>Confirmed</b>",
                chat_id=CHAT,
                message_id=msg.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
            )
        # Without reply_markup Telegram removes the keyboard.
        plain = await bot.edit_message_text("Done", chat_id=CHAT, message_id=msg.message_id)
        assert plain.reply_markup is None
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
        assert await bot.send_chat_action(CHAT, "typing")
        assert await bot.delete_message(CHAT, first.message_id)
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await bot.delete_message(CHAT, first.message_id)
        chat = await bot.get_chat(CHAT)
        assert chat.title == "Traders"

    with_bot(api, body)
    sent = api.sent(CHAT)
    assert [m["deleted"] for m in sent] == [True, False]
    assert sent[1]["text"] == "Done" and "reply_markup" not in sent[1]
    assert sent[1]["edits"] == 2
    assert api.wait_for_text(CHAT, "BTC & ETH", timeout=0) is not None
    assert api.wait_for_text(CHAT, "<b>BTC</b>", timeout=0) is not None


def test_send_photo_multipart(api: LocalBotApi) -> None:
    api.add_chat(CHAT, "supergroup", "Traders")
    png = tiny_png(3, 2)

    async def body(bot: Bot) -> None:
        msg = await bot.send_photo(
            CHAT, photo=png, caption="<b>chart</b>", parse_mode=ParseMode.HTML
        )
        largest = msg.photo[-1]
        assert (largest.width, largest.height, largest.file_size) == (3, 2, len(png))
        assert largest.file_id and largest.file_unique_id
        assert msg.caption == "chart" and msg.caption_entities[0].type == MessageEntity.BOLD
        again = await bot.send_photo(CHAT, photo=largest.file_id)
        assert again.photo[-1].file_id == largest.file_id
        with pytest.raises(BadRequest, match="(?i)image_process_failed"):
            await bot.send_photo(CHAT, photo=b"not an image")

    with_bot(api, body)
    upload = next(c for c in api.calls if c.method == "sendPhoto")
    assert upload.files["photo"] == png
    record = api.sent(CHAT)[0]
    assert record["photo_bytes"] == png and record["photo_len"] == len(png)


def test_errors_like_telegram(api: LocalBotApi) -> None:
    api.add_chat(CHAT)

    async def body(bot: Bot) -> None:
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(555, "hi")
        with pytest.raises(BadRequest, match="(?i)can't parse entities: unsupported start tag"):
            await bot.send_message(CHAT, "<foo>x</foo>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)can't find end tag"):
            await bot.send_message(CHAT, "<b>open", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag"):
            await bot.send_message(CHAT, "price < 5", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)is reserved"):
            await bot.send_message(CHAT, "1.5", parse_mode=ParseMode.MARKDOWN_V2)
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(CHAT, "<b></b>", parse_mode=ParseMode.HTML)
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")

    with_bot(api, body)
    failed = [c for c in api.calls if not c.ok]
    assert failed[0].error_code == 400 and failed[0].description == "Bad Request: chat not found"

    async def get_me(bot: Bot) -> Any:
        return await bot.get_me()

    # PTB's Bot.initialize() calls getMe, so the rejection surfaces on entering the bot.
    with pytest.raises(InvalidToken):
        with_bot(api, get_me, token="123456:WRONG")
    assert api.calls[-1].error_code == 401


def test_wire_format_json_form_and_query(api: LocalBotApi) -> None:
    api.add_chat(CHAT)
    root = api.base_url.removesuffix("/bot")
    assert raw_request(f"{api.base_url}{TOKEN}/nope") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert raw_request(f"{api.base_url}x:y/getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert raw_request(f"{root}/favicon.ico")[0] == 404
    status, body = raw_request(f"{api.base_url}{TOKEN}/getme")  # names are case-insensitive
    assert status == 200 and body["result"]["username"] == "ReplayTradeBot"
    status, body = raw_request(
        f"{api.base_url}{TOKEN}/sendMessage",
        json.dumps({"chat_id": str(CHAT), "text": "42"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200 and body["result"]["text"] == "42"
    status, body = raw_request(f"{api.base_url}{TOKEN}/sendMessage?chat_id={CHAT}&text=true")
    assert status == 200 and body["result"]["text"] == "true"


def test_updates_commands_and_callbacks(api: LocalBotApi) -> None:
    api.add_chat(CHAT, "group", "Traders")

    async def body(bot: Bot) -> None:
        injected = api.send_message(CHAT, ADMIN, "/start@ReplayTradeBot now", first_name="Ann")
        updates = await bot.get_updates(timeout=5)
        assert [u.update_id for u in updates] == [injected["update_id"]]
        message = updates[0].message
        assert message.from_user.id == ADMIN and message.from_user.first_name == "Ann"
        assert message.chat.id == CHAT and message.chat.title == "Traders"
        entity = message.entities[0]
        assert (entity.type, entity.offset, entity.length) == (
            MessageEntity.BOT_COMMAND,
            0,
            len("/start@ReplayTradeBot"),
        )
        # Unconfirmed updates come again; an offset past them confirms them.
        assert len(await bot.get_updates()) == 1
        assert await bot.get_updates(offset=updates[0].update_id + 1) == ()

        # A long poll returns as soon as an update arrives, not at its timeout.
        started = time.monotonic()
        poll = asyncio.create_task(
            bot.get_updates(offset=updates[0].update_id + 1, timeout=30, read_timeout=35)
        )
        # (privacy mode is on, as for a new bot: chatter needs a mention to reach it)
        await asyncio.to_thread(api.send_message, CHAT, ADMIN, "hello @ReplayTradeBot")
        assert [u.message.text for u in await poll] == ["hello @ReplayTradeBot"]
        assert time.monotonic() - started < 10

        sent = await bot.send_message(
            CHAT,
            "Go?",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]]),
        )
        press = api.press_button(CHAT, GUEST, sent.message_id, "yes")
        updates = await bot.get_updates(offset=(await poll)[-1].update_id + 1)
        query = updates[-1].callback_query
        assert query.id == press["callback_query"]["id"] and query.data == "yes"
        assert query.from_user.id == GUEST and query.message.message_id == sent.message_id
        assert query.chat_instance
        assert await bot.answer_callback_query(query.id, text="Not allowed", show_alert=True)
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query.id)

    with_bot(api, body)
    answer = api.wait_for(lambda c: c.method == "answerCallbackQuery" and c.ok, timeout=0)
    assert answer is not None and answer.params["text"] == "Not allowed"
    assert answer.params["show_alert"] is True
    with pytest.raises(LookupError):
        api.press_button(CHAT, GUEST, 999, "yes")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_flood_control_raises_retry_after(api: LocalBotApi) -> None:
    api.add_chat(CHAT)
    api.flood(count=2, retry_after=3)

    async def body(bot: Bot) -> None:
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(CHAT, "hi")
            assert seconds(caught.value.retry_after) == 3
        await bot.send_message(CHAT, "hi")
        api.flood(seconds=60, retry_after=1)
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "hi")
        assert await bot.get_me()  # other methods are not limited
        api.flood(count=0)
        await bot.send_message(CHAT, "hi")

    with_bot(api, body)
    limited = [c for c in api.calls if c.error_code == 429]
    assert len(limited) == 3 and all(c.method == "sendMessage" for c in limited)
    assert len(api.sent(CHAT)) == 2


# ---------------------------------------------------------------------------------------------
# a real Application polling the server
# ---------------------------------------------------------------------------------------------


async def _ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Confirm", callback_data="confirm"),
                InlineKeyboardButton("Reject", callback_data="reject"),
            ]
        ]
    )
    await update.effective_message.reply_text(
        "<b>pong</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


async def _chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_photo(tiny_png(4, 3), caption="chart")


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query.from_user.id != ADMIN:
        await query.answer("Not allowed", show_alert=True)
        return
    await query.answer()
    await query.edit_message_text("Confirmed" if query.data == "confirm" else "Rejected")


def _build_app(api: LocalBotApi) -> Application:
    app = Application.builder().token(api.token).base_url(api.base_url).build()
    app.add_handler(CommandHandler("ping", _ping))
    app.add_handler(CommandHandler("chart", _chart))
    app.add_handler(CallbackQueryHandler(_button))
    return app


def test_application_polling_end_to_end(api: LocalBotApi) -> None:
    api.add_chat(CHAT, "group", "Traders")

    async def main() -> None:
        app = _build_app(api)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                update = await asyncio.to_thread(
                    api.send_message, CHAT, ADMIN, "/ping@ReplayTradeBot"
                )
                reply = await asyncio.to_thread(api.wait_for_text, CHAT, "pong", 10)
            finally:
                await app.updater.stop()
                await app.stop()
        assert reply is not None
        assert reply["reply_to_message"]["message_id"] == update["message"]["message_id"]

    asyncio.run(main())
    assert any(c.method == "getMe" for c in api.calls)


@contextmanager
def app_in_thread(api: LocalBotApi) -> Iterator[None]:
    """The bot on its own loop, so synchronous console code can run on this thread."""
    ready = threading.Event()
    stopping: dict[str, Any] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        stop = asyncio.Event()
        stopping["set"] = lambda: asyncio.get_running_loop().call_soon_threadsafe(stop.set)
        loop = asyncio.get_running_loop()
        stopping["set"] = lambda: loop.call_soon_threadsafe(stop.set)
        app = _build_app(api)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            ready.set()
            await stop.wait()
            await app.updater.stop()
            await app.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10) and not failure
    try:
        yield
    finally:
        stopping["set"]()
        thread.join(10)
    assert not failure


@pytest.mark.slow
def test_run_script_and_console_with_a_real_bot(api: LocalBotApi, tmp_path: Any) -> None:
    api.add_chat(CHAT, "group", "Traders")
    with app_in_thread(api):
        out = io.StringIO()
        result = run_script(
            api,
            [
                "/ping",
                "#press Confirm",
                "#wait Confirmed",
                "# a comment",
                "/ping",
                "#as 7",
                "#press 2",
            ],
            CHAT,
            ADMIN,
            out=out,
            wait_reply_timeout=10,
        )
        assert result.ok, result.transcript
        assert "> /ping" in result.transcript
        assert "bot> pong\n     [1] Confirm  [2] Reject" in result.transcript
        assert "bot (edited #" in result.transcript and "Confirmed" in result.transcript
        assert "(alert) Not allowed" in result.transcript
        assert out.getvalue().strip() == result.transcript

        failed = run_script(api, ["#wait never-said 0.2", "/ping"], CHAT, ADMIN)
        assert not failed.ok and "never-said" in failed.transcript
        assert "/ping" not in failed.transcript  # stopped at the failed step

        screen = io.StringIO()
        console = ConsoleChat(
            api, CHAT, ADMIN, output_stream=screen, photo_dir=tmp_path, wait_replies=10
        )
        console.run(io.StringIO("/help-console\n/ping\n1\n/chart\n/as 7\n/quit\n/ping\n"))
        text = screen.getvalue()
    assert "/as <user_id>" in text
    assert "bot> pong" in text and "[1] Confirm  [2] Reject" in text
    assert "Confirmed" in text
    assert "now speaking as user 7" in text
    photos = list(tmp_path.glob("*.png"))
    assert len(photos) == 1 and photos[0].read_bytes() == tiny_png(4, 3)
    assert f"saved to {photos[0]}" in text
    assert text.count("bot> pong") == 1  # nothing after /quit was sent


# ---------------------------------------------------------------------------------------------
# markup parsers
# ---------------------------------------------------------------------------------------------


def test_html_parser_matches_telegram_rules() -> None:
    text, entities = parse_html('<a href="https://x.y/?a=1&amp;b=2">link</a> 😀 <b>b</b>')
    assert text == "link 😀 b"
    assert entities[0] == {
        "offset": 0,
        "length": 4,
        "type": "text_link",
        "url": "https://x.y/?a=1&b=2",
    }
    assert entities[1]["offset"] == 8  # the emoji is two UTF-16 units
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert entities == [{"offset": 0, "length": 5, "type": "pre", "language": "python"}]
    assert parse_html("AT&T &unknown; &#33;")[0] == "AT&T &unknown; !"
    for bad, message in [
        ("<b>x</i>", "Unmatched end tag at byte offset 4"),
        ("</b>", "Unexpected end tag"),
        ("<b", "Unclosed start tag"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ]:
        with pytest.raises(EntityParseError, match=message):
            parse_html(bad)


def test_markdown_v2_parser() -> None:
    text, entities = parse_markdown_v2(r"*bold* _it_ `a.b` [l](https://e.x) 1\.5")
    assert text == "bold it a.b l 1.5"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity"):
        parse_markdown_v2("*open")


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        (
            r"*bold _italic_ bold*",
            "bold italic bold",
            [("bold", 0, 16), ("italic", 5, 6)],
        ),
        (
            r"__underline__ _it_ ~strike~ ||spoiler||",
            "underline it strike spoiler",
            [("underline", 0, 9), ("italic", 10, 2), ("strikethrough", 13, 6), ("spoiler", 20, 7)],
        ),
        (r"`code *not bold* \` esc`", "code *not bold* ` esc", [("code", 0, 21)]),
        ("```python\nprint(1)\n```", "print(1)\n", [("pre", 0, 9, "python")]),
        ("```\nno lang\n```", "no lang\n", [("pre", 0, 8)]),
        (r"[link](https://e.x/a\)b) [empty]", "link empty", [("text_link", 0, 4, "https://e.x/a)b")]),
        (r"![👍](tg://emoji?id=53683)", "👍", [("custom_emoji", 0, 2, "53683")]),
        (">quote 1\n>quote 2\nafter", "quote 1\nquote 2\nafter", [("blockquote", 0, 15)]),
        ("text\n>quoted at end", "text\nquoted at end", [("blockquote", 5, 13)]),
        (r"😀 *b* 1\.5 \\ back", "😀 b 1.5 \\ back", [("bold", 3, 1)]),
        (r"*_nested_*", "nested", [("italic", 0, 6), ("bold", 0, 6)]),
        ("**", "", []),
    ],
)
def test_markdown_v2_entities(source: str, text: str, entities: list[tuple[Any, ...]]) -> None:
    def short(entity: dict[str, Any]) -> tuple[Any, ...]:
        extra = [entity[k] for k in ("language", "url", "custom_emoji_id") if k in entity]
        return (entity["type"], entity["offset"], entity["length"], *extra)

    parsed_text, parsed = parse_markdown_v2(source)
    assert (parsed_text, [short(e) for e in parsed]) == (text, entities)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (r"[x](https://e.x", "Can't find end of a url at byte offset 3"),
        ("a.b", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("_open", "Can't find end of Italic entity at byte offset 0"),
        ("```open", "Can't find end of Pre entity at byte offset 0"),
        ("[open", "Can't find end of TextUrl entity at byte offset 0"),
        ("||x|", "Character '|' is reserved"),
        ("under__x", "Can't find end of Underline entity at byte offset 5"),
    ],
)
def test_markdown_v2_errors(source: str, message: str) -> None:
    with pytest.raises(EntityParseError, match=re.escape(message)):
        parse_markdown_v2(source)


def test_console_log_lines_go_above_the_prompt(api: LocalBotApi) -> None:
    """A log record while the person is typing clears the prompt line, prints, redraws it."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    chat = ConsoleChat(api, CHAT, ADMIN, output_stream=out)
    handler = logging.StreamHandler(chat.log_stream())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.console.prompt")
    logger.addHandler(handler)
    try:
        chat._show_prompt()  # as run() does right before input()
        logger.warning("stream dropped")
    finally:
        logger.removeHandler(handler)
    assert out.getvalue() == f"\r\x1b[KWARNING stream dropped\n{chat.prompt_text}"


def test_console_numbers_press_only_the_latest_keyboard(api: LocalBotApi, monkeypatch: Any) -> None:
    """A number presses a button of the message last posted or edited with buttons; once
    those buttons are gone, a late number presses nothing (not an older message's buttons,
    e.g. an old "Apply" when Confirm was meant). /press still reaches older ones explicitly."""
    api.add_chat(CHAT, "group", "Traders")
    apply = InlineKeyboardMarkup([[InlineKeyboardButton("Apply", callback_data="apply")]])
    confirm = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Confirm", callback_data="confirm")],
         [InlineKeyboardButton("Reject", callback_data="reject")]]  # fmt: skip
    )

    async def post(bot: Bot) -> tuple[int, int]:
        old = await bot.send_message(CHAT, "optimize: apply these?", reply_markup=apply)
        new = await bot.send_message(CHAT, "proposal: BUY 0.01", reply_markup=confirm)
        return old.message_id, new.message_id

    old_id, new_id = with_bot(api, post)
    pressed: list[tuple[int, str]] = []
    monkeypatch.setattr(
        api, "press_button", lambda chat, user, mid, data, **kw: pressed.append((mid, data))
    )
    screen = io.StringIO()
    chat = ConsoleChat(api, CHAT, ADMIN, output_stream=screen, prompt=False)

    def said(line: str) -> str:  # typed once the screen had been read (see the test below)
        start = len(screen.getvalue())
        chat.handle_line(line, time.monotonic() + NEW_BUTTONS_GRACE)
        return screen.getvalue()[start:]

    said("2")
    assert pressed == [(new_id, "reject")]

    # The proposal expires: its message is edited without buttons.
    with_bot(api, lambda bot: bot.edit_message_text("proposal: expired", CHAT, new_id))
    assert said("1") == (
        "(the latest buttons are gone: that message was edited; "
        "/buttons lists the ones still there)\n"
    )
    assert pressed == [(new_id, "reject")]  # the old Apply was not pressed

    listing = said("/buttons")
    assert listing == (
        f"#{old_id} (/press {old_id} <n>): optimize: apply these?\n"
        "    [1] Apply\n"
        f"(numbers press nothing: the latest buttons, on #{new_id}, are gone: "
        "that message was edited)\n"
    )
    said(f"/press {old_id} 1")
    assert pressed[-1] == (old_id, "apply")
    assert "no button 3" in said(f"/press #{old_id} 3")
    assert "usage: /press" in said("/press")

    # An edit that keeps the buttons makes that message the one numbers refer to again.
    with_bot(
        api, lambda bot: bot.edit_message_text("optimize: still?", CHAT, old_id, reply_markup=apply)
    )
    said("1")
    assert pressed[-1] == (old_id, "apply")

    # A deleted keyboard message: nothing pressed, one line says so.
    with_bot(api, lambda bot: bot.delete_message(CHAT, old_id))
    assert "that message was deleted" in said("1")
    assert len(pressed) == 3
    assert said("/buttons") == (
        f"(no buttons; the latest buttons, on #{old_id}, are gone: that message was deleted)\n"
    )


def test_a_number_typed_as_new_buttons_arrive_presses_nothing(api: LocalBotApi, monkeypatch: Any) -> None:
    """Seen in the demo: `1` meant for /status's Refresh confirmed a strategy proposal that
    arrived while it was typed. A number presses a message only if it was already the latest
    with buttons NEW_BUTTONS_GRACE before the number was entered; the same message edited
    meanwhile (Refresh twice) is still pressed."""
    api.add_chat(CHAT, "group", "Traders")
    refresh = InlineKeyboardMarkup([[InlineKeyboardButton("Refresh", callback_data="refresh")]])
    confirm = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data="confirm")]])
    status_id = with_bot(api, lambda bot: bot.send_message(CHAT, "Status", reply_markup=refresh)).message_id
    pressed: list[tuple[int, str]] = []
    monkeypatch.setattr(api, "press_button", lambda chat, user, mid, data, **kw: pressed.append((mid, data)))
    screen = io.StringIO()
    chat = ConsoleChat(api, CHAT, ADMIN, output_stream=screen, prompt=False)
    later = time.monotonic() + NEW_BUTTONS_GRACE

    chat.handle_line("1", later)  # the status message had been on the screen: pressed
    assert pressed == [(status_id, "refresh")]
    with_bot(api, lambda bot: bot.edit_message_text("Status (refreshed)", CHAT, status_id, reply_markup=refresh))
    posted, edited = last_call_at(api, "sendMessage"), last_call_at(api, "editMessageText")
    assert edited > posted + 0.001
    # Typed right after the refresh (within the grace), the message itself read before it:
    chat.handle_line("1", max(posted + NEW_BUTTONS_GRACE + 0.001, edited))  # pressed again
    assert pressed[-1] == (status_id, "refresh") and len(pressed) == 2

    proposal_id = with_bot(api, lambda bot: bot.send_message(CHAT, "proposal #1", reply_markup=confirm)).message_id
    arrived = last_call_at(api, "sendMessage")
    start = len(screen.getvalue())
    chat.handle_line("1", arrived + NEW_BUTTONS_GRACE / 2)  # typed as the proposal arrived: neither pressed
    assert len(pressed) == 2
    assert screen.getvalue()[start:] == (
        f"(not pressed: message #{proposal_id} with new buttons arrived just before you typed 1; "
        "read it, then type the number again)\n"
    )
    chat.handle_line("1", arrived + NEW_BUTTONS_GRACE * 1.5)  # once it has been read
    assert pressed[-1] == (proposal_id, "confirm")


def last_call_at(api: LocalBotApi, method: str) -> float:
    return next(c.at for c in reversed(api.calls) if c.method == method and c.ok)
