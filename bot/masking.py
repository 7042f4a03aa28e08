"""The chat boundary of the masking rule: every Bot API request the bot makes is masked.

Texts, captions, button labels, edits and answers all reach Telegram as the parameters of
one request, so masking them here (trading.logsafe.mask) covers every way a message is
made, whoever built its words: an exchange error that echoes the request, a log tail, a
strategy's reason. The URL (which carries the token by design) is left as it is; file
contents (charts) are not text and are sent unchanged.
"""

from __future__ import annotations

from typing import Any

from telegram.request import HTTPXRequest, RequestData

from trading.logsafe import mask


class _MaskedData:
    """The request's data as HTTPXRequest reads it, with every parameter masked."""

    def __init__(self, data: RequestData) -> None:
        self._data = data

    @property
    def json_parameters(self) -> dict[str, str]:
        return {name: mask(value) for name, value in self._data.json_parameters.items()}

    @property
    def multipart_data(self) -> Any:
        return self._data.multipart_data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


class MaskingRequest(HTTPXRequest):
    """PTB's HTTPX transport (the pool size the builder would give), masking what it sends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"connection_pool_size": 256, **kwargs})

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **kw: Any) -> tuple[int, bytes]:  # type: ignore[override]
        masked = _MaskedData(request_data) if request_data is not None else None
        return await super().do_request(url, method, masked, **kw)  # type: ignore[arg-type]
