"""The Bot API methods that put messages in a chat or change them: send, edit, delete.

Each handler returns (result, event): the result is what the bot gets back, the event is
what a person in the chat would notice (the message as now shown, plus local extras such as
the raw text and the photo's bytes), handed to subscribers like the terminal chat.
"""

from __future__ import annotations

import copy
import mimetypes
from typing import Any

from sim.telegram.files import FileStore, image_suffix, suffix_of
from sim.telegram.formatting import image_size
from sim.telegram.message_params import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    formatted,
    inline_markup,
    reply_to,
)
from sim.telegram.state import ChatState
from sim.telegram.wire import as_int, bad

__all__ = ["PHOTO_LIMIT", "MessageMethods"]

PHOTO_LIMIT = 10 * 1024 * 1024
"""sendPhoto takes photos up to 10 MB; bigger ones must go as documents."""

Result = tuple[Any, dict[str, Any]]


def _text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    return formatted(params, "text", TEXT_LIMIT, "message text is empty", "message is too long")


def _caption(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    return formatted(params, "caption", CAPTION_LIMIT, "", "message caption is too long")


class MessageMethods:
    def __init__(self, state: ChatState, files: FileStore) -> None:
        self._state = state
        self._files = files

    def handlers(self) -> dict[str, Any]:
        return {
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
        }

    # -- sending ---------------------------------------------------------------------------

    def send_message(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            chat_id = self._state.chat_param(params)
            text, entities = _text(params)
            fields = {"text": text, "entities": entities}
            extras = {"raw_text": params.get("text"), "parse_mode": params.get("parse_mode")}
            return self._send(chat_id, params, fields, extras)

    def send_photo(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            chat_id = self._state.chat_param(params)
            data, reused_id, filename = self._input_file(params, files, "photo")
            size = image_size(data)
            if size is None:
                raise bad("IMAGE_PROCESS_FAILED")
            if len(data) > PHOTO_LIMIT:
                raise bad("PHOTO_SAVE_FILE_INVALID")
            caption, entities = _caption(params)
            fields = {
                "photo": self._photo_sizes(data, size, reused_id),
                "caption": caption or None,
                "caption_entities": entities,
            }
            extras = {
                "raw_text": params.get("caption"),
                "parse_mode": params.get("parse_mode"),
                "photo_bytes": data,
                "photo_len": len(data),
                "photo_filename": filename,
            }
            return self._send(chat_id, params, fields, extras)

    def send_document(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            chat_id = self._state.chat_param(params)
            data, reused_id, filename = self._input_file(params, files, "document")
            if not data:
                raise bad("file must be non-empty")
            caption, entities = _caption(params)
            record = self._files.get(reused_id) if reused_id else None
            if record is None:
                record = self._files.add(data, "documents", suffix_of(filename))
            name = filename or record.file_path.rsplit("/", 1)[-1]
            document = {
                "file_name": name,
                "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_size": len(data),
            }
            fields = {
                "document": document,
                "caption": caption or None,
                "caption_entities": entities,
            }
            extras = {
                "raw_text": params.get("caption"),
                "parse_mode": params.get("parse_mode"),
                "document_bytes": data,
            }
            return self._send(chat_id, params, fields, extras)

    def _send(
        self, chat_id: int, params: dict[str, Any], fields: dict[str, Any], extras: dict[str, Any]
    ) -> Result:
        """Stores a new bot message after the checks every send method shares."""
        markup = inline_markup(params, inline_only=False, private=self._private(chat_id))
        reply = reply_to(self._state, chat_id, params)
        fields = {"reply_to_message": reply, **fields, "reply_markup": markup}
        message = self._state.store_bot_message(chat_id, fields, extras)
        return copy.deepcopy(message), self._state.view((chat_id, message["message_id"]))

    def _input_file(
        self, params: dict[str, Any], files: Any, field: str
    ) -> tuple[bytes, str | None, str | None]:
        """The file's bytes, the file_id it was sent by (if any) and the uploaded file name."""
        names = getattr(files, "filenames", {})
        if field in files:
            return files[field], None, names.get(field)
        ref = params.get(field)
        if not isinstance(ref, str) or not ref:
            raise bad(f"there is no {field} in the request")
        if ref.startswith("attach://"):
            name = ref[len("attach://") :]
            if name not in files:
                raise bad(f"file {name!r} not found in the request")
            return files[name], None, names.get(name)
        record = self._files.get(ref)
        if record is not None:
            return record.data, ref, None
        if ref.startswith(("http://", "https://")):
            raise bad("failed to get HTTP URL content")
        raise bad("wrong file identifier/HTTP URL specified")

    def _photo_sizes(
        self, data: bytes, size: tuple[int, int], reused_id: str | None
    ) -> list[dict[str, Any]]:
        """Telegram returns thumbnails of 90/320/800/1280 px plus the largest size."""
        width, height = size
        longest = max(width, height)
        sizes = [
            (max(1, round(width * side / longest)), max(1, round(height * side / longest)))
            for side in (90, 320, 800, 1280)
            if side < longest
        ]
        sizes.append((width, height))
        result = []
        for w, h in sizes:
            is_full = (w, h) == (width, height)
            record = self._files.get(reused_id) if is_full and reused_id else None
            if record is None:
                # Thumbnails are not really scaled: their files hold the full image.
                record = self._files.add(data, "photos", image_suffix(data))
            file_size = len(data) if is_full else max(1, len(data) * w * h // (width * height))
            result.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "file_size": file_size,
                    "width": w,
                    "height": h,
                }
            )
        return result

    # -- editing and deleting ----------------------------------------------------------------

    def edit_message_text(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            key, message = self._state.editable(params)
            if "text" not in message:
                raise bad("there is no text in the message to edit")
            text, entities = _text(params)
            changes = {"text": text, "entities": entities or None}
            return self._edit(key, message, params, "text", changes)

    def edit_message_caption(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            key, message = self._state.editable(params)
            if "photo" not in message and "document" not in message:
                raise bad("there is no caption in the message to edit")
            caption, entities = _caption(params)
            changes = {"caption": caption or None, "caption_entities": entities or None}
            return self._edit(key, message, params, "caption", changes)

    def edit_message_reply_markup(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            key, message = self._state.editable(params)
            markup = inline_markup(params, inline_only=True, private=self._private(key[0]))
            return self._state.apply_edit(key, message, {"reply_markup": markup})

    def _private(self, chat_id: int) -> bool:
        return self._state.chats.get(chat_id, {}).get("type") == "private"

    def _edit(
        self,
        key: tuple[int, int],
        message: dict[str, Any],
        params: dict[str, Any],
        text_key: str,
        changes: dict[str, Any],
    ) -> Result:
        # Without reply_markup Telegram drops the keyboard, like this does.
        changes["reply_markup"] = inline_markup(params, inline_only=True, private=self._private(key[0]))
        result, view = self._state.apply_edit(key, message, changes)
        raw = {"raw_text": params.get(text_key), "parse_mode": params.get("parse_mode")}
        self._state.extras[key].update(raw)
        view.update(raw)
        return result, view

    def delete_message(self, params: dict[str, Any], files: Any) -> Result:
        with self._state.lock:
            chat_id = self._state.chat_param(params)
            message_id = as_int(params.get("message_id"))
            key = (chat_id, message_id or 0)
            message = self._state.messages.pop(key, None)
            if message is None:
                raise bad("message to delete not found")
            if key not in self._state.extras:
                return True, {"chat_id": chat_id, "message_id": message_id, "deleted": True}
            self._state.extras[key].update(deleted=True, deleted_message=message)
            return True, self._state.view(key)
