"""Updates waiting for the bot: long-polled by getUpdates, or held for a webhook.

Telegram keeps one queue per bot and two mutually exclusive ways to drain it. With a webhook
set, getUpdates answers 409; a newer getUpdates ends the one still waiting (also 409). This
server does not POST to webhooks: a webhook set here only holds updates, which is what a
bot switching between the two modes needs to see.

The waiting getUpdates lives on the server's event loop; injecting threads wake it through
`call_soon_threadsafe`, never by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
from typing import Any
from urllib.parse import urlsplit

from sim.telegram.state import ChatState
from sim.telegram.wire import ApiError, as_bool, as_int, bad

__all__ = ["UpdateQueue"]

_WEBHOOK_PORTS = (443, 80, 88, 8443)


class UpdateQueue:
    def __init__(self, state: ChatState) -> None:
        self._state = state
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10_000_001)
        self._allowed: list[str] | None = None
        self._webhook: dict[str, Any] | None = None
        self._polling = 0  # getUpdates requests parked right now (read under the lock)
        # Loop-thread-only state.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0
        self._waiter: asyncio.Future[None] | None = None
        self._closing = False

    def handlers(self) -> dict[str, Any]:
        return {
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }

    # -- lifecycle (loop thread) ---------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def close(self) -> None:
        self._closing = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- injection (any thread, caller holds the state lock) -----------------------------------

    def push(self, kind: str, payload: dict[str, Any], *, deliver: bool = True) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        allowed = self._allowed
        if deliver and (not allowed or kind in allowed):
            self._updates.append(update)
            loop = self._loop
            if loop is not None and not loop.is_closed():
                # The loop may close between the check and the call once stop() runs.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._wake)
        return copy.deepcopy(update)

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._updates)

    @property
    def idle(self) -> bool:
        """Nothing queued and a getUpdates waiting: the bot has taken every update."""
        with self._state.lock:
            return not self._updates and self._polling > 0

    def wait_polling(self, timeout: float) -> bool:
        """True once a getUpdates is parked waiting, so that what is injected next is
        delivered by long polling rather than found by the next request."""
        with self._state.cond:
            return self._state.cond.wait_for(lambda: self._polling > 0, timeout)

    # -- getUpdates (loop thread) ----------------------------------------------------------

    async def get_updates(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        self._refuse_if_webhook()
        offset = as_int(params.get("offset")) or 0
        limit = min(100, max(1, as_int(params.get("limit")) or 100))
        try:
            timeout = max(0.0, float(params.get("timeout") or 0))
        except (TypeError, ValueError):
            timeout = 0.0
        # A newer getUpdates terminates the one still waiting, as Telegram does (409).
        self._generation += 1
        generation = self._generation
        self._wake()
        self._acknowledge(offset, params.get("allowed_updates"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            self._refuse_if_webhook()
            with self._state.lock:
                batch = copy.deepcopy(self._updates[:limit])
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch, None
            await self._park(loop, remaining)

    def _refuse_if_webhook(self) -> None:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )

    def _acknowledge(self, offset: int, allowed: Any) -> None:
        """An offset confirms every update before it; a negative one keeps the last -offset."""
        with self._state.lock:
            if isinstance(allowed, list):
                self._allowed = [str(a) for a in allowed] or None
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]

    async def _park(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        if self._waiter is None or self._waiter.done():
            self._waiter = loop.create_future()
        self._set_polling(+1)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._waiter), timeout)
        finally:
            self._set_polling(-1)

    def _set_polling(self, delta: int) -> None:
        with self._state.cond:
            self._polling += delta
            self._state.cond.notify_all()

    # -- webhooks --------------------------------------------------------------------------

    def set_webhook(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        url = params.get("url") or ""
        if not url:
            return self.delete_webhook(params, files)
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        if not parts.hostname:
            raise bad("bad webhook: Failed to resolve host: Name or service not known")
        if (parts.port or 443) not in _WEBHOOK_PORTS:
            raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        max_connections = as_int(params.get("max_connections")) or 40
        if not 1 <= max_connections <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        with self._state.lock:
            self._webhook = {"url": url, "max_connections": max_connections}
            if isinstance(allowed, list):
                self._allowed = [str(a) for a in allowed] or None
                self._webhook["allowed_updates"] = list(self._allowed or [])
            if as_bool(params.get("drop_pending_updates")):
                self._updates.clear()
        if self._loop is not None:
            # A getUpdates waiting now would never be answered by Telegram either.
            self._loop.call_soon_threadsafe(self._wake)
        return True, None

    def delete_webhook(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            self._webhook = None
            if as_bool(params.get("drop_pending_updates")):
                self._updates.clear()
        return True, None

    def get_webhook_info(self, params: dict[str, Any], files: Any) -> tuple[Any, None]:
        with self._state.lock:
            info: dict[str, Any] = {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook is not None:
                info.update(copy.deepcopy(self._webhook))
        return info, None
