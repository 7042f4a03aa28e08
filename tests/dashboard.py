"""The dashboard in the end-to-end world: the real bot (tests/test_bot_e2e.World) with
WEBAPP_URL set, its web server on a loopback port, initData signed as a Telegram client
signs it (the local Bot API's web_apps), and plain HTTP to the server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.test_bot_e2e import ADMIN, GROUP, World
from tests.test_orders_e2e import started

PUBLIC = "https://dash.example.test"  # what WEBAPP_URL would be behind a platform's TLS
WEBAPP_ENV = {"WEBAPP_URL": PUBLIC, "WEBAPP_HOST": "127.0.0.1", "WEBAPP_PORT": "0"}
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def dashboard_world(source, tmp_path, **env: str) -> World:  # type: ignore[no-untyped-def]
    """The stream started, the market paused, the dashboard served; the admin and a guest
    (user 1002) are members of the group."""
    w = started(source, tmp_path, **{**WEBAPP_ENV, **env})
    w.api.add_member(GROUP, ADMIN, "Ada", "ada")
    w.api.add_member(GROUP, 1002, "Gus", "gus")
    return w


def base(w: World) -> str:
    return f"http://127.0.0.1:{w.bot.app.bot_data['dashboard'].port}"


def init_data(w: World, user: int, **kwargs: Any) -> str:
    return w.api.web_apps.init_data(user, start_param=str(GROUP), **kwargs)


def page_url(w: World, user: int, **kwargs: Any) -> str:
    return w.api.open_web_app(base(w) + "/", user, start_param=str(GROUP), **kwargs)


def http(
    w: World, method: str, path: str, init: str | None = None, body: Any = None,
    headers: dict[str, str] | None = None, read: int = -1,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request to the dashboard; `read` bytes of the body
    (an event stream never ends)."""
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if body is not None else {}
    if init is not None:
        h["Authorization"] = "tma " + init
    h.update(headers or {})
    request = urllib.request.Request(base(w) + path, data=data, method=method, headers=h)
    try:
        with _opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), (r.read() if read < 0 else r.read1(read))
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def state(w: World, user: int = ADMIN) -> dict[str, Any]:
    status, _, body = http(w, "GET", "/api/state", init_data(w, user))
    assert status == 200, (status, body)
    return json.loads(body)
