"""What trading/exchange/ws_app.py relies on in websocket-client (private `_dispatcher` subclass,
callable header, read loop behaviour). An upgrade that changes any of it fails here,
loudly, instead of silently losing drops or hanging on a handshake."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import websocket

from sim.binance import ReplayExchange
from trading.exchange.ws_app import StreamApp

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_websocket_client_is_the_pinned_one() -> None:
    pin = re.search(r'"websocket-client==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None, "pyproject.toml must pin websocket-client exactly"
    assert websocket.__version__ == pin.group(1)


class Recorder:
    """ConnectionHooks that lets two reconnects happen, then ends run_forever."""

    def __init__(self, reconnects: int = 2) -> None:
        self.lost: list[str] = []
        self.waits = 0
        self.opened = 0
        self.handshake_timeouts: list[float | None] = []
        self._left = reconnects
        self.cond = threading.Condition()

    def connection_lost(self, reason: str) -> None:
        with self.cond:
            self.lost.append(reason)
            self.cond.notify_all()

    def before_reconnect(self) -> bool:
        with self.cond:
            self.waits += 1
            self._left -= 1
            return self._left >= 0


class SpyApp(StreamApp):
    def _before_handshake(self) -> list[str]:
        headers = super()._before_handshake()
        self.hooks.handshake_timeouts.append(self.sock.gettimeout() if self.sock else None)  # type: ignore[attr-defined]
        return headers


def test_every_drop_reaches_our_hook_and_every_reconnect_waits_through_our_method() -> None:
    with ReplayExchange(None, interval="15m", start_index=300, seconds_per_candle=0.02) as ex:
        hooks = Recorder(reconnects=2)
        timeouts_after_open: list[float | None] = []

        def on_open(app: StreamApp) -> None:
            app.opened()
            timeouts_after_open.append(app.sock.gettimeout() if app.sock else -1)
            with hooks.cond:
                hooks.opened += 1
            if hooks.opened == 1:
                ex.faults.drop_after_messages(2)  # first connection: abnormal drop
            elif hooks.opened == 2:
                threading.Thread(target=ex.faults.close_with, args=(4001, "later")).start()
            else:
                threading.Thread(target=ex.faults.close_with, args=(4002, "last")).start()

        app = SpyApp(ex.ws_url + "/stream?streams=btcusdt@kline_15m", hooks, 3.0, on_open=on_open, on_reconnect=on_open)
        runner = threading.Thread(target=app.run_forever, kwargs={"reconnect": 1, "skip_utf8_validation": True})
        runner.start()
        runner.join(20)
        assert not runner.is_alive(), "a False from before_reconnect must end run_forever"
    assert hooks.opened == 3  # on_reconnect ran for both reconnects
    assert len(hooks.lost) == 3 and hooks.waits == 3  # drops on *reconnected* connections too
    assert "4001" in hooks.lost[1] and "later" in hooks.lost[1], hooks.lost
    assert "4002" in hooks.lost[2] and "last" in hooks.lost[2], hooks.lost
    # The callable header runs on every attempt, after the library set its default
    # timeout, so the bound we set there is the handshake's; opened() lifts it.
    assert hooks.handshake_timeouts == [3.0, 3.0, 3.0]
    assert timeouts_after_open == [None, None, None]
