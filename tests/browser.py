"""A real headless Chromium (Debian's `chromium` package) driven over the Chrome DevTools
Protocol: one websocket to the page target, with the `websockets` test dependency. Enough for
the dashboard's tests and bench: navigate, wait on a condition evaluated in the page, click,
set the viewport, take a screenshot. No browser is downloaded; .ci/run installs the package."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)
PHONE = (390, 844)  # an iPhone 12-14's CSS pixels
DESKTOP = (1280, 900)


def chromium_or_skip() -> str:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing (.ci/run installs the chromium package)")
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium")
    return CHROMIUM


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, binary: str | None = None, timeout: float = 20.0) -> None:
        self.profile = tempfile.mkdtemp(prefix="tgtrader-chromium-")
        self.proc = subprocess.Popen(
            [binary or chromium_or_skip(), *FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        port = None
        try:
            while port is None:
                line = lines.get(timeout=timeout)
                if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                    port = int(m.group(1))
        except queue.Empty:
            self.close()
            raise BrowserError("chromium did not start its DevTools endpoint") from None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout))
        self._ids = itertools.count(1)
        self.timeout = timeout
        self.console: list[str] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def _read(self, lines: queue.Queue[str]) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            lines.put(line)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=self.timeout + 30))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if msg.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in msg["params"]["args"]))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(msg["params"]["exceptionDetails"])[:500])

    def viewport(self, width: int, height: int, mobile: bool = False, scale: float = 1) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale, mobile=mobile)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def eval(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}: {answer['exceptionDetails'].get('exception', {}).get('description')}")
        return answer["result"].get("value")

    def wait(self, condition: str, timeout: float = 10.0) -> Any:
        """The truthy value of `condition` (JS) once it is, re-evaluated in the page every 10 ms
        until `timeout`: waiting on a condition, never a fixed sleep."""
        js = (
            "new Promise((ok, no) => { const t0 = performance.now(); (function f() {"
            f" let v; try {{ v = ({condition}); }} catch (e) {{ v = undefined; }}"
            f" if (v) return ok(v); if (performance.now() - t0 > {timeout * 1000:.0f})"
            " return no(new Error('timed out')); setTimeout(f, 10); })(); })"
        )
        try:
            return self.eval(js)
        except BrowserError:
            raise BrowserError(f"timed out after {timeout}s waiting for {condition}; console: {self.console[-5:]}") from None

    def text(self, key: str) -> str | None:
        return self.eval(f"(e => e ? e.textContent : null)(document.querySelector('[data-k=\"{key}\"]'))")

    def click(self, key: str) -> None:
        self.eval(f"document.querySelector('[data-k=\"{key}\"]').click()")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))
        return path

    def close(self) -> None:
        stack = getattr(self, "_stack", None)
        if stack is not None:
            stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
