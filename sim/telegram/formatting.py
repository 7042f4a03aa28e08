"""Text formatting rules of the local Bot API, kept apart from the HTTP server.

Telegram turns a `parse_mode` text into plain text plus entities and rejects malformed markup
with "can't parse entities: ...". Reproducing that here is what lets the offline demo catch
escaping bugs that would otherwise surface only against the real servers. The parsers follow
tdlib's (td/telegram/MessageEntity.cpp) rules and error wording closely, not completely.
Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EntityParseError",
    "command_entities",
    "image_size",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "utf16_len",
    "utf16_slice",
]


class EntityParseError(ValueError):
    """The markup is malformed; the message is tdlib's wording without the Bot API prefix."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """Entities count UTF-16 units, so slicing a Python str by them needs a round trip."""
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_HTML_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
}
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass
class _OpenTag:
    tag: str
    offset: int  # UTF-16 offset in the plain text
    attrs: dict[str, str]
    language: str = ""
    children: list[dict[str, Any]] = field(default_factory=list)


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """tdlib leaves an `&` that does not start a known entity as a literal character."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    name = text[i + 1 : end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1 - i
    try:
        if name[:2] in ("#x", "#X"):
            code = int(name[2:], 16)
        elif name[:1] == "#":
            code = int(name[1:], 10)
        else:
            return None
    except ValueError:
        return None
    if code <= 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end + 1 - i


def _decode_entities_in(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&" and (decoded := _decode_html_entity(value, i)) is not None:
            out.append(decoded[0])
            i += decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_html_attrs(text: str, i: int, tag: str, begin_byte: int) -> tuple[dict[str, str], int]:
    """Returns the attributes and the index just past the closing `>`."""
    attrs: dict[str, str] = {}
    n = len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_byte}")
        if text[i] == ">":
            return attrs, i + 1
        start = i
        while i < n and (text[i].isalnum() or text[i] in "-_"):
            i += 1
        name = text[start:i].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}'
            )
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] != "=":
            # A bare attribute such as <blockquote expandable>.
            attrs[name] = ""
            continue
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_byte}")
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_byte}")
        if text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            if end == -1:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin_byte}")
            value = text[i + 1 : end]
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            value = text[start:i]
        attrs[name] = _decode_entities_in(value)


def _html_entity(open_tag: _OpenTag, end_offset: int) -> dict[str, Any] | None:
    length = end_offset - open_tag.offset
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": open_tag.offset, "length": length}
    tag = open_tag.tag
    if tag == "a":
        url = open_tag.attrs.get("href", "")
        if not url:
            return None
        match = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if match:
            entity.update(type="text_mention", user={"id": int(match[1]), "is_bot": False})
            entity["user"]["first_name"] = ""
        else:
            entity.update(type="text_link", url=url)
    elif tag == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=open_tag.attrs.get("emoji-id", ""))
    elif tag == "blockquote":
        expandable = "expandable" in open_tag.attrs
        entity["type"] = "expandable_blockquote" if expandable else "blockquote"
    else:
        entity["type"] = _HTML_ENTITY_TYPES[tag]
        if tag == "pre" and open_tag.language:
            entity["language"] = open_tag.language
    return entity


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    u16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&" and (decoded := _decode_html_entity(text, i)) is not None:
            out.append(decoded[0])
            u16 += utf16_len(decoded[0])
            i += decoded[1]
            continue
        if c != "<":
            out.append(c)
            u16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin_byte = _byte_offset(text, i)
        if i + 1 < n and text[i + 1] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin_byte}")
            j = i + 2
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            end_name = text[i + 2 : j].lower()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {begin_byte}")
            open_tag = stack[-1]
            if end_name and end_name != open_tag.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin_byte}, expected "</{open_tag.tag}>",'
                    f' found "</{end_name}>"'
                )
            stack.pop()
            # <pre><code class="language-x"> is one pre entity with a language, as in tdlib.
            if open_tag.tag == "code" and stack and stack[-1].tag == "pre":
                language = open_tag.attrs.get("class", "")
                if language.startswith("language-") and stack[-1].offset == open_tag.offset:
                    stack[-1].language = language[len("language-") :]
                    i = j + 1
                    continue
            entity = _html_entity(open_tag, u16)
            if entity is not None:
                entities.append(entity)
            i = j + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_byte}")
        tag = text[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin_byte}')
        attrs, i = _parse_html_attrs(text, j, tag, begin_byte)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if len(stack) >= 100:
            raise EntityParseError("Too many nested entities")
        stack.append(_OpenTag(tag=tag, offset=u16, attrs=attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# ---------------------------------------------------------------------------------------------
# MarkdownV2 and legacy Markdown
# ---------------------------------------------------------------------------------------------

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_closes(kind: str, text: str, i: int) -> bool:
    c = text[i]
    nxt = text[i + 1 : i + 2]
    return {
        "bold": c == "*",
        "italic": c == "_" and nxt != "_",
        "underline": c == "_" and nxt == "_",
        "strikethrough": c == "~",
        "spoiler": c == "|" and nxt == "|",
        "code": c == "`",
        "pre": text.startswith("```", i),
        "text_link": c == "]",
        "custom_emoji": c == "]",
    }[kind]


_MDV2_CLOSE_WIDTH = {"underline": 2, "spoiler": 2, "pre": 3}


def _mdv2_opening(text: str, i: int) -> tuple[str, int] | None:
    """The entity a reserved character opens and its marker's width; None if it opens none
    (then it should have been escaped)."""
    c, nxt = text[i], text[i + 1 : i + 2]
    if c == "_":
        return ("underline", 2) if nxt == "_" else ("italic", 1)
    if c == "`":
        return ("pre", 3) if text.startswith("```", i) else ("code", 1)
    if c == "|":
        return ("spoiler", 2) if nxt == "|" else None
    if c == "!":
        return ("custom_emoji", 2) if nxt == "[" else None
    kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}.get(c)
    return (kind, 1) if kind else None


@dataclass
class _MdV2Open:
    kind: str
    offset: int  # UTF-16 offset in the plain text
    byte_offset: int  # of the marker in the source, for error messages
    language: str = ""


@dataclass
class _MarkdownV2Parser:
    """One pass over the text; each method consumes what starts at `self.i`."""

    text: str
    i: int = 0
    u16: int = 0
    out: list[str] = field(default_factory=list)
    stack: list[_MdV2Open] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    quote_start: int | None = None

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        while self.i < len(self.text):
            self._step()
        self._finish()
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _step(self) -> None:
        c = self.text[self.i]
        in_code = bool(self.stack) and self.stack[-1].kind in ("code", "pre")
        if self._at_line_start() and not in_code and self._quote_line_start(c):
            return
        if self._escaped_character():
            return
        if c not in ("`" if in_code else _MDV2_RESERVED):
            self._emit(c)
            self.i += 1
        elif self.stack and _mdv2_closes(self.stack[-1].kind, self.text, self.i):
            self._close()
        else:
            self._open(c)

    def _emit(self, s: str) -> None:
        self.out.append(s)
        self.u16 += utf16_len(s)

    def _at_line_start(self) -> bool:
        return self.i == 0 or self.text[self.i - 1] == "\n"

    def _quote_line_start(self, c: str) -> bool:
        """A `>` opening a line starts or continues a blockquote (and is consumed); any other
        line start ends the quote in progress."""
        if c == ">":
            if self.quote_start is None:
                self.quote_start = self.u16
            self.i += 1
            return True
        if self.quote_start is not None:
            # The quote ended with the previous line (its newline is not part of it).
            self._add_quote(self.u16 - 1)
            self.quote_start = None
        return False

    def _add_quote(self, end: int) -> None:
        assert self.quote_start is not None
        if end > self.quote_start:
            length = end - self.quote_start
            self.entities.append(
                {"type": "blockquote", "offset": self.quote_start, "length": length}
            )

    def _escaped_character(self) -> bool:
        text, i = self.text, self.i
        if text[i] == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            self._emit(text[i + 1])
            self.i += 2
            return True
        return False

    def _open(self, c: str) -> None:
        opening = _mdv2_opening(self.text, self.i)
        if opening is None:
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        kind, width = opening
        entry = _MdV2Open(kind, self.u16, _byte_offset(self.text, self.i))
        self.i += width
        if kind == "pre":
            entry.language = self._pre_language()
        self.stack.append(entry)

    def _pre_language(self) -> str:
        """```lang on the opening line names the language; the line break is not content."""
        eol = self.text.find("\n", self.i)
        if eol != -1 and re.fullmatch(r"[A-Za-z0-9_+#-]*", self.text[self.i : eol]):
            language = self.text[self.i : eol]
            self.i = eol + 1
            return language
        return ""

    def _close(self) -> None:
        entry = self.stack.pop()
        self.i += _MDV2_CLOSE_WIDTH.get(entry.kind, 1)
        entity: dict[str, Any] = {
            "type": entry.kind,
            "offset": entry.offset,
            "length": self.u16 - entry.offset,
        }
        if entry.kind in ("text_link", "custom_emoji"):
            url = self._link_target()
            if entry.kind == "custom_emoji":
                entity["custom_emoji_id"] = url.removeprefix("tg://emoji?id=")
            elif url:
                entity["url"] = url
            else:
                return  # [text] without (url) is plain text
        if entry.kind == "pre" and entry.language:
            entity["language"] = entry.language
        if entity["length"] > 0:
            self.entities.append(entity)

    def _link_target(self) -> str:
        """The `(url)` after a link's `]`, unescaped; "" if there is none."""
        text, n = self.text, len(self.text)
        if self.i >= n or text[self.i] != "(":
            return ""
        j = self.i + 1
        buf: list[str] = []
        while j < n and text[j] != ")":
            if text[j] == "\\" and j + 1 < n:
                j += 1
            buf.append(text[j])
            j += 1
        if j >= n:
            raise EntityParseError(
                f"Can't find end of a url at byte offset {_byte_offset(text, self.i)}"
            )
        self.i = j + 1
        return "".join(buf)

    def _finish(self) -> None:
        if self.stack:
            entry = self.stack[-1]
            raise EntityParseError(
                f"Can't find end of {_MDV2_NAMES[entry.kind]} entity at byte offset "
                f"{entry.byte_offset}"
            )
        if self.quote_start is not None:
            self._add_quote(self.u16)


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    return _MarkdownV2Parser(text).parse()


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: no nesting, an unclosed marker is an error."""
    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        begin_byte = _byte_offset(text, i)
        is_pre = text.startswith("```", i)
        end_marker = "```" if is_pre else ("]" if c == "[" else c)
        i += 3 if is_pre else 1
        language = ""
        if is_pre:
            eol = text.find("\n", i)
            if eol != -1 and re.fullmatch(r"[A-Za-z0-9_+#-]+", text[i:eol] or "-"):
                language = text[i:eol]
                i = eol + 1
        end = text.find(end_marker, i)
        if end == -1:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {begin_byte}"
            )
        inner = text[i:end]
        i = end + len(end_marker)
        offset = u16
        out.append(inner)
        u16 += utf16_len(inner)
        entity: dict[str, Any] = {"offset": offset, "length": u16 - offset}
        if c == "[":
            if i < n and text[i] == "(":
                close = text.find(")", i)
                if close == -1:
                    raise EntityParseError(
                        f"Can't find end of the entity starting at byte offset {begin_byte}"
                    )
                entity.update(type="text_link", url=text[i + 1 : close])
                i = close + 1
            else:
                continue
        elif is_pre:
            entity["type"] = "pre"
            if language:
                entity["language"] = language
        else:
            entity["type"] = {"*": "bold", "_": "italic", "`": "code"}[c]
        if entity["length"] > 0:
            entities.append(entity)
    return "".join(out), entities


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Raises EntityParseError for bad markup and ValueError for an unknown parse mode."""
    mode = (parse_mode or "").strip()
    if not mode:
        return text, list(entities or [])
    lowered = mode.lower()
    if lowered == "html":
        return parse_html(text)
    if lowered == "markdownv2":
        return parse_markdown_v2(text)
    if lowered == "markdown":
        return parse_markdown(text)
    raise ValueError(f"unsupported parse_mode {mode!r}")


# ---------------------------------------------------------------------------------------------
# Commands and images
# ---------------------------------------------------------------------------------------------

_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def command_entities(text: str) -> list[dict[str, Any]]:
    """Telegram marks every /command token, not only a leading one; CommandHandler needs them."""
    result = []
    for match in _COMMAND_RE.finditer(text):
        result.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return result


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG; None means Telegram would refuse the photo."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return (width, height) if width and height else None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (segment_len,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return (width, height) if width and height else None
            i += 2 + segment_len
    return None
