"""HMAC request signing as Binance checks it (SIGNED endpoints).

The signature covers the exact bytes the client sent: the query string followed directly
by the form body, minus the `signature` parameter itself. Re-encoding parsed parameters
would accept requests real Binance rejects, so the raw text is what gets hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl

from aiohttp import web

from sim.binance.errors import BinanceError, illegal_chars, mandatory

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
MAX_CLOCK_AHEAD_MS = 1000


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split `raw` into the signed text and the signature it carries (if any)."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Signer:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret

    async def verify(self, request: web.Request) -> dict[str, str]:
        """Check key, timestamp window and signature; return the request's parameters."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        query = request.rel_url.raw_query_string
        body = ""
        if request.body_exists:
            body = (await request.read()).decode("utf-8", errors="replace")
        params: dict[str, str] = {}
        for raw in (query, body):
            params.update(parse_qsl(raw, keep_blank_values=True))
        self._check_time(params)
        signed_query, sig_q = strip_signature(query)
        signed_body, sig_b = strip_signature(body)
        signature = sig_b if sig_b is not None else sig_q
        if not signature:
            raise mandatory("signature")
        expected = sign(self.api_secret, signed_query + signed_body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        params.pop("signature", None)
        return params

    @staticmethod
    def _check_time(params: dict[str, str]) -> None:
        raw_ts = params.get("timestamp")
        if not raw_ts:
            raise mandatory("timestamp")
        if not raw_ts.isdigit():
            raise illegal_chars("timestamp")
        window = DEFAULT_RECV_WINDOW
        raw_window = params.get("recvWindow")
        if raw_window:
            if not raw_window.isdigit():
                raise illegal_chars("recvWindow")
            window = int(raw_window)
            if window > MAX_RECV_WINDOW:
                raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = int(time.time() * 1000)
        ts = int(raw_ts)
        if ts > now + MAX_CLOCK_AHEAD_MS or now - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
