"""The local Bot API seen by an independent client: pyTelegramBotAPI (`telebot`).

python-telegram-bot is what the product uses, so its tests alone could let the server drift
into speaking "PTB" rather than the Bot API. telebot encodes differently (parameters in the
URL query of a POST, `requests` multipart, its own error mapping), so it checks the wire
format from the other side. Loopback only; synchronisation is by `LocalBotApi.wait_*`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import telebot
from telebot import apihelper
from telebot.apihelper import ApiTelegramException
from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

from sim.telegram.local_api import LocalBotApi
from tests.test_local_api import tiny_png

TOKEN = "123456:LOCAL-DEMO-TOKEN"
CHAT = -1001234
ADMIN = 42


@pytest.fixture
def api() -> Iterator[LocalBotApi]:
    server = LocalBotApi(token=TOKEN, bot_username="ReplayTradeBot").start()
    server.add_chat(CHAT, "supergroup", "Traders")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bot(api: LocalBotApi, monkeypatch: pytest.MonkeyPatch) -> telebot.TeleBot:
    monkeypatch.setattr(apihelper, "API_URL", api.base_url + "{0}/{1}")
    monkeypatch.setattr(apihelper, "FILE_URL", api.file_url + "{0}/{1}")
    monkeypatch.setattr(apihelper, "RETRY_ON_ERROR", False)
    # telebot turns long_polling_timeout=0 into this default (10 s); 0 must mean "don't wait".
    monkeypatch.setattr(apihelper, "LONG_POLLING_TIMEOUT", 0)
    return telebot.TeleBot(TOKEN, threaded=False)


def entities_of(message: Any) -> list[dict[str, Any]]:
    """telebot's to_dict() lists every optional field as None; Telegram omits them."""
    return [{k: v for k, v in e.to_dict().items() if v is not None} for e in message.entities or []]


def api_error(call: Any) -> ApiTelegramException:
    with pytest.raises(ApiTelegramException) as info:
        call()
    return info.value


def test_get_me(bot: telebot.TeleBot) -> None:
    me = bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "ReplayTradeBot")
    assert me.can_join_groups is True and me.supports_inline_queries is False


def test_send_message_html_and_markdown_v2_entities(bot: telebot.TeleBot) -> None:
    html = bot.send_message(
        CHAT, '<b>BTC</b> 😀 <a href="https://e.x/?a=1&amp;b=2">chart</a>', parse_mode="HTML"
    )
    assert html.text == "BTC 😀 chart"
    assert entities_of(html) == [
        {"type": "bold", "offset": 0, "length": 3},
        # the emoji is two UTF-16 units, so the link starts at 7, not 6
        {"type": "text_link", "offset": 7, "length": 5, "url": "https://e.x/?a=1&b=2"},
    ]
    md = bot.send_message(CHAT, r"*bold* _it_ __u__ ~s~ ||sp|| `c.d` 1\.5", parse_mode="MarkdownV2")
    assert md.text == "bold it u s sp c.d 1.5"
    assert [(e["type"], e["offset"], e["length"]) for e in entities_of(md)] == [
        ("bold", 0, 4),
        ("italic", 5, 2),
        ("underline", 8, 1),
        ("strikethrough", 10, 1),
        ("spoiler", 12, 2),
        ("code", 15, 3),
    ]
    assert md.chat.id == CHAT and md.from_user.username == "ReplayTradeBot"


def test_long_cyrillic_message_in_url_query(bot: telebot.TeleBot, api: LocalBotApi) -> None:
    """telebot puts every parameter in the URL: 3,000 Cyrillic letters are ~18 KB of %XX."""
    text = "Ж" * 3000
    sent = bot.send_message(CHAT, text)
    assert sent.text == text
    full = "Я" * 4096  # Telegram's limit, counted in characters, not bytes
    assert bot.send_message(CHAT, full).text == full
    error = api_error(lambda: bot.send_message(CHAT, full + "Я"))
    assert (error.error_code, error.description) == (400, "Bad Request: message is too long")


def test_long_polling_message_callback_answer_and_edit(
    bot: telebot.TeleBot, api: LocalBotApi
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Refresh", callback_data="refresh")]])
    status = bot.send_message(CHAT, "Status: <b>idle</b>", parse_mode="HTML", reply_markup=keyboard)
    with ThreadPoolExecutor(1) as pool:
        # The poll is parked on the server before the user speaks: that is long polling.
        polling = pool.submit(bot.get_updates, timeout=10, long_polling_timeout=5)
        assert api.wait_polling(timeout=5)
        injected = api.send_message(CHAT, ADMIN, "/status@ReplayTradeBot", first_name="Ann")
        updates = polling.result(timeout=10)
    assert [u.update_id for u in updates] == [injected["update_id"]]
    message = updates[0].message
    assert message.text == "/status@ReplayTradeBot" and message.from_user.id == ADMIN
    assert entities_of(message) == [{"type": "bot_command", "offset": 0, "length": 22}]

    api.press_button(CHAT, ADMIN, status.message_id, "refresh", first_name="Ann")
    updates = bot.get_updates(offset=updates[-1].update_id + 1, long_polling_timeout=5)
    query = updates[0].callback_query
    assert query.data == "refresh" and query.message.message_id == status.message_id
    assert bot.answer_callback_query(query.id, "Refreshed") is True
    error = api_error(lambda: bot.answer_callback_query(query.id, "again"))
    assert error.error_code == 400 and "query is too old" in error.description

    edited = bot.edit_message_text(
        "Status: <i>live</i>", CHAT, status.message_id, parse_mode="HTML", reply_markup=keyboard
    )
    assert edited.text == "Status: live" and edited.edit_date
    assert entities_of(edited) == [{"type": "italic", "offset": 8, "length": 4}]
    error = api_error(
        lambda: bot.edit_message_text(
            "Status: <i>live</i>", CHAT, status.message_id, parse_mode="HTML", reply_markup=keyboard
        )
    )
    assert error.error_code == 400 and "message is not modified" in error.description
    # Acknowledged updates are gone.
    assert bot.get_updates(offset=updates[-1].update_id + 1, long_polling_timeout=0) == []


def test_send_photo_get_file_and_download(bot: telebot.TeleBot, api: LocalBotApi) -> None:
    png = tiny_png(4, 3)
    sent = bot.send_photo(CHAT, png, caption="<b>chart</b>", parse_mode="HTML")
    largest = sent.photo[-1]
    assert (largest.width, largest.height, largest.file_size) == (4, 3, len(png))
    info = bot.get_file(largest.file_id)
    assert info.file_id == largest.file_id and info.file_size == len(png)
    assert info.file_path.startswith("photos/")
    assert bot.download_file(info.file_path) == png
    error = api_error(lambda: bot.get_file("no-such-file"))
    assert (error.error_code, error.description) == (400, "Bad Request: invalid file_id")


def test_send_document_get_file_and_download(bot: telebot.TeleBot) -> None:
    data = b"open_time,close\n1,2\n"
    sent = bot.send_document(CHAT, data, visible_file_name="klines.csv", caption="export")
    assert sent.document.file_name == "klines.csv" and sent.document.file_size == len(data)
    info = bot.get_file(sent.document.file_id)
    assert info.file_path.startswith("documents/") and info.file_path.endswith(".csv")
    assert bot.download_file(info.file_path) == data


def test_webhook_blocks_get_updates_until_deleted(bot: telebot.TeleBot, api: LocalBotApi) -> None:
    api.send_message(CHAT, ADMIN, "/start")
    error = api_error(lambda: bot.set_webhook("http://example.com/hook"))
    assert error.error_code == 400 and "HTTPS URL must be provided" in error.description
    assert bot.set_webhook("https://example.com/hook", max_connections=10) is True
    info = bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == (
        "https://example.com/hook",
        1,
        10,
    )
    error = api_error(lambda: bot.get_updates(long_polling_timeout=0))
    assert error.error_code == 409
    assert error.description == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    assert bot.delete_webhook(drop_pending_updates=True) is True
    assert bot.get_webhook_info().url == ""
    assert bot.get_updates(long_polling_timeout=0) == []


def test_errors_map_to_api_telegram_exception(bot: telebot.TeleBot, api: LocalBotApi) -> None:
    error = api_error(lambda: bot.send_message(CHAT, "<b>open", parse_mode="HTML"))
    assert error.error_code == 400
    assert error.description.startswith("Bad Request: can't parse entities: ")
    error = api_error(lambda: bot.send_message(CHAT, "x" * 4097))
    assert (error.error_code, error.description) == (400, "Bad Request: message is too long")
    error = api_error(lambda: bot.send_message(555, "hi"))
    assert (error.error_code, error.description) == (400, "Bad Request: chat not found")
    api.flood(count=1, retry_after=3)
    error = api_error(lambda: bot.send_message(CHAT, "hi"))
    assert error.error_code == 429 and error.result_json["parameters"] == {"retry_after": 3}
    unauthorized = telebot.TeleBot("123456:WRONG", threaded=False)
    error = api_error(unauthorized.get_me)
    assert (error.error_code, error.description) == (401, "Unauthorized")


def raw(url: str, data: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_unknown_methods_and_paths_answer_telegram_json(api: LocalBotApi) -> None:
    not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
    assert raw(f"{api.base_url}{TOKEN}/noSuchMethod") == (404, not_found)
    assert raw(f"{api.base_url.removesuffix('/bot')}/whatever") == (404, not_found)
    assert raw(f"{api.file_url}{TOKEN}/photos/nothing.jpg") == (404, not_found)
    # Even a request line too long for any sane server gets a Bot API error, not a text page.
    status, body = raw(f"{api.base_url}{TOKEN}/sendMessage?chat_id={CHAT}&text=" + "x" * 2_000_000)
    assert status in (400, 414) and body["ok"] is False and body["error_code"] == status


def test_upload_size_limits(bot: telebot.TeleBot, api: LocalBotApi) -> None:
    big = tiny_png(4, 3) + b"\0" * (10 * 1024 * 1024)  # a valid header, 10 MB of padding
    error = api_error(lambda: bot.send_photo(CHAT, big))
    assert error.error_code == 400 and error.description.startswith("Bad Request: ")
    document = b"x" * (12 * 1024 * 1024)  # over the photo limit, fine as a document
    sent = bot.send_document(CHAT, document, visible_file_name="big.bin")
    assert sent.document.file_size == len(document)
