"""websocket-client, adapted: what `run_forever` does not tell us or let us do, in one place.

websocket-client 1.9.2 (pinned exactly; tests/test_stream_websocket_client.py fails if an
upgrade changes any of this):
- `run_forever(reconnect=…)` calls on_error for drops only on the *first* connection and
  on_close only at final teardown, so later drops are invisible through callbacks. A small
  subclass of its Dispatcher (private module `websocket._dispatcher`: nothing public sees
  the read loop end) reports every read loop end and owns the reconnect wait, which makes
  the wait interruptible (stop() never waits out a backoff) and the backoff ours.
- After the first abnormal drop the library keeps reading past a server close frame
  (its "errored" flag is sticky) and reports "Connection to remote host was lost"; so the
  close frame is caught as it is read, and wins over whatever error follows it.
- The handshake has no timeout option: `run_forever` sets the socket's timeout from a
  process-wide default, then calls a callable `header` just before connecting. That call
  is where each attempt gets its own bound; the socket goes back to blocking mode once
  open (the dispatcher selects before reading, the watchdog handles silence).
- `shutdown()` shuts the raw socket down, which wakes the dispatcher's select at once
  from any thread (ws.close() from another thread can wait out the select timeout).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any, Protocol

import websocket
from websocket import ABNF
from websocket._dispatcher import Dispatcher, SSLDispatcher


class ConnectionHooks(Protocol):
    def connection_lost(self, reason: str) -> None:
        """Any connection ended while we wanted it (first or later, frame or error)."""

    def before_reconnect(self) -> bool:
        """Wait out the backoff; False to end run_forever instead of reconnecting."""


def _read_reporting(app: StreamApp, read: Callable[[], None]) -> None:
    """The dispatcher's read, reporting how the connection ended to the app's hooks."""
    try:
        read()
    except Exception as e:
        app.hooks.connection_lost(app.lost_reason(e))
        raise
    if app.keep_running:
        # The loop ended without an exception: the server sent a close frame.
        app.hooks.connection_lost(app.lost_reason(None))


def _reconnect_asking(app: StreamApp, reconnector: Callable[..., None]) -> None:
    """Reconnect only when the hooks say so (after their backoff)."""
    if not app.hooks.before_reconnect():
        app.keep_running = False
        return
    reconnector(reconnecting=True)


class _Dispatcher(Dispatcher):
    app: StreamApp

    def read(self, sock: Any, read_callback: Callable[[], bool], check_callback: Callable[[], bool]) -> None:
        _read_reporting(self.app, lambda: super(_Dispatcher, self).read(sock, read_callback, check_callback))

    def reconnect(self, seconds: int, reconnector: Callable[..., None]) -> None:
        _reconnect_asking(self.app, reconnector)


class _SSLDispatcher(SSLDispatcher):
    app: StreamApp

    def read(self, sock: Any, read_callback: Callable[[], bool], check_callback: Callable[[], bool]) -> None:
        _read_reporting(self.app, lambda: super(_SSLDispatcher, self).read(sock, read_callback, check_callback))

    def reconnect(self, seconds: int, reconnector: Callable[..., None]) -> None:
        _reconnect_asking(self.app, reconnector)


class StreamApp(websocket.WebSocketApp):
    """A WebSocketApp that reports every drop with its own reason and bounds handshakes."""

    def __init__(
        self, url: str, hooks: ConnectionHooks, handshake_timeout: float, **callbacks: Any
    ) -> None:
        super().__init__(url, header=self._before_handshake, **callbacks)
        self.hooks = hooks
        self.handshake_timeout = handshake_timeout
        self.close_frame: Any = None

    def create_dispatcher(self, ping_timeout, dispatcher=None, is_ssl=False, handleDisconnect=None):  # type: ignore[no-untyped-def]  # noqa: N803
        timeout = ping_timeout or 10
        d = _SSLDispatcher(self, timeout) if is_ssl else _Dispatcher(self, timeout)
        return d

    def _before_handshake(self) -> list[str]:
        if self.sock is not None:
            self.sock.settimeout(self.handshake_timeout)
        return []

    def opened(self) -> None:
        """Call from on_open / on_reconnect: the handshake is done, watch for close frames."""
        sock = self.sock
        self.close_frame = None
        if sock is None:
            return
        sock.settimeout(None)
        recv = sock.recv_data_frame

        def recv_data_frame(control_frame: bool = False) -> tuple[int, Any]:
            op, frame = recv(control_frame)
            if op == ABNF.OPCODE_CLOSE:
                self.close_frame = frame
            return op, frame

        sock.recv_data_frame = recv_data_frame  # type: ignore[method-assign]

    def lost_reason(self, error: Exception | None) -> str:
        """The server's close code and reason if it sent one, else the error's first line."""
        if self.close_frame is None and error is not None:
            return describe(error)
        data = getattr(self.close_frame, "data", b"") or b""
        code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        reason = data[2:].decode("utf-8", "replace")
        return f"server closed the connection (code {code}{': ' + reason if reason else ''})"

    def shutdown(self) -> None:
        """Wake the dispatcher's select by shutting the raw socket down (any thread)."""
        raw = getattr(self.sock, "sock", None)
        if raw is None:
            return
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)


def describe(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]
