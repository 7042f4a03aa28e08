"""The dashboard's web server: aiohttp inside the bot's own event loop (no second process).

Every /api request carries the Mini App's initData (`Authorization: tma <initData>`, the
header the page sends); it is validated on every request (bot.webapp.auth): missing,
tampered, foreign or expired → 401 with nothing else. A valid user who is in no served chat
gets 403. Only TELEGRAM_ADMIN_IDS may Confirm or Reject, and only by a same-origin POST with
a JSON body (a cross-site form cannot send the header, a cross-origin fetch is refused by
its Origin); each action is audited with the user. The page itself (static/) holds no data.

Routes: `/` and `/static/*` (the page), `GET /api/state`, `GET /api/events` (server-sent
events: the state again whenever it changes), `GET /api/chart.png?symbol=`,
`GET /api/equity.png`, `POST /api/proposals/<id>/confirm|reject`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram.ext import Application

from bot import proposals
from bot.access import Access
from bot.commands import off_loop
from bot.webapp import auth, page
from bot.webapp.live import LiveFeed
from bot.webapp.members import Members

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
HEARTBEAT = 15.0  # s: a comment line keeps proxies from closing an idle event stream
MESSAGE_WAIT = 3.0  # s a press waits for its proposal's chat message to be recorded
FAILED = "That did not work (Telegram or the exchange did not answer); try again."
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self' https://web.telegram.org"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Dashboard:
    """The web app and its server, bound to one PTB Application (its bot, engine, notifier)."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.engine = app.bot_data["engine"]
        self.access: Access = app.bot_data["access"]
        settings = self.engine.settings
        self.settings = settings
        self._key = auth.secret_key(settings.telegram_token)
        self.members = Members(app.bot, lambda: self.engine.settings.telegram_chat_ids)
        self.feed = LiveFeed(lambda: page.build(self.engine))
        self._charts: dict[str, tuple[str, bytes]] = {}
        self._unwatch: Any = None
        self._streams: set[asyncio.Task[Any]] = set()  # open event streams, ended at shutdown
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.web = web.Application(middlewares=[_headers])
        self.web.add_routes([
            web.get("/", self._index),
            web.static("/static", STATIC, show_index=False, follow_symlinks=False),
            web.get("/api/state", self._state),
            web.get("/api/events", self._events),
            web.get("/api/chart.png", self._chart),
            web.get("/api/equity.png", self._equity),
            web.post(r"/api/proposals/{pid:\d{1,11}}/{verb:confirm|reject}", self._act),
        ])

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self.feed.start()
        self._unwatch = self.app.bot_data["notifier"].watch(self.feed.poke)
        self._runner = web.AppRunner(self.web, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.webapp_host, self.settings.webapp_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.webapp_port
        log.info("dashboard listening on %s:%s for %s", self.settings.webapp_host, self.port, self.settings.webapp_url)

    async def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        await self.feed.stop()
        for task in list(self._streams):  # an open page's stream would hold the shutdown up
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---------------------------------------------------------------- who is asking
    def _user(self, request: web.Request) -> auth.WebAppUser:
        header = request.headers.get("Authorization", "")
        scheme, _, init_data = header.partition(" ")
        if scheme.lower() != "tma":
            raise web.HTTPUnauthorized(text="unauthorized")
        try:
            return auth.validate(init_data.strip(), self._key, self.settings.webapp_auth_max_age)
        except auth.InitDataError as e:
            log.info("dashboard: initData refused (%s)", e)
            raise web.HTTPUnauthorized(text="unauthorized") from None

    async def _member(self, request: web.Request) -> auth.WebAppUser:
        user = self._user(request)
        if not await self.members.allowed(user.id):
            raise web.HTTPForbidden(text="Not shown: you are not a member of this bot's chat.")
        return user

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # Telegram's webviews send one on a POST; a script elsewhere cannot omit the header
            return request.headers.get("Sec-Fetch-Site") in (None, "same-origin")
        public = urlsplit(self.settings.webapp_url)
        own = {f"{request.scheme}://{request.host}", f"{public.scheme}://{public.netloc}"}
        return origin in own

    # ---------------------------------------------------------------- the page
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _state(self, request: web.Request) -> web.Response:
        user = await self._member(request)
        state = json.loads(await self.feed.current())
        state["me"] = {"id": user.id, "who": user.who, "admin": self.access.is_admin(user.id)}
        return web.json_response(state)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        user = await self._member(request)
        # The stream ends when the initData expires: the page then reopens and gets its 401.
        ends = user.auth_date + self.settings.webapp_auth_max_age
        response = web.StreamResponse(
            headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        q = self.feed.subscribe()
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        try:
            await response.write(_event(await self.feed.current()))
            while time.time() < ends:
                try:
                    state = await asyncio.wait_for(q.get(), min(HEARTBEAT, max(0.1, ends - time.time())))
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await response.write(_event(state))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.feed.unsubscribe(q)
            if task is not None:
                self._streams.discard(task)
        return response

    async def _chart(self, request: web.Request) -> web.Response:
        await self._member(request)
        symbol = request.query.get("symbol", self.settings.symbols[0]).upper()
        if symbol not in self.settings.symbols:
            raise web.HTTPNotFound(text="not a streamed symbol")
        return await self._png(f"chart:{symbol}", lambda: self.engine.chart(120, symbol))

    async def _equity(self, request: web.Request) -> web.Response:
        await self._member(request)

        def draw() -> bytes | None:
            report = self.engine.equity_chart()
            return report.png if report is not None else None

        return await self._png("equity", draw)

    async def _png(self, name: str, draw: Any) -> web.Response:
        """Drawn off the loop, once per candle closed or fill (the state's chart_key)."""
        key = json.loads(await self.feed.current())["chart_key"]
        cached = self._charts.get(name)
        if cached is None or cached[0] != key:
            png = await off_loop(draw)
            if png is None:
                raise web.HTTPNotFound(text="nothing to draw yet")
            cached = self._charts[name] = (key, png)
        return web.Response(body=cached[1], content_type="image/png")

    # ---------------------------------------------------------------- actions (admins)
    async def _act(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin request refused")
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="send JSON")
        if not await self.members.allowed(user.id):
            raise web.HTTPForbidden(text="Not shown: you are not a member of this bot's chat.")
        pid, verb = int(request.match_info["pid"]), request.match_info["verb"]
        chat_id = self.engine.settings.notice_chat_id
        what = f"{verb} #{pid}"
        if not self.access.is_admin(user.id):
            await off_loop(self.engine.audit, chat_id, user.id, "dashboard", what, "refused: not admin")
            return web.json_response({"ok": False, "note": "Not allowed: only admins can do that."}, status=403)
        try:
            body = await request.json()
            instance = str(body.get("instance", ""))[:64] if isinstance(body, dict) else ""
        except ValueError:
            instance = ""
        p = await off_loop(self.engine.proposal, pid)
        # A proposal seen on the page before the bot recorded its chat message (posting it is
        # under way): wait for the message, so the press acts and edits as the button would.
        waited = 0.0
        while p is not None and p.message_id is None and p.status == "pending" and waited < MESSAGE_WAIT:
            await asyncio.sleep(0.05)
            waited += 0.05
            p = await off_loop(self.engine.proposal, pid)
        if p is None:
            await off_loop(self.engine.audit, chat_id, user.id, "dashboard", what, "refused: no such proposal")
            return web.json_response({"ok": False, "note": "No such proposal."}, status=404)
        press = proposals.on_message(self.app, p.chat_id or chat_id, p.message_id, user.id, user.who)
        act = proposals.press_confirm if verb == "confirm" else proposals.press_reject
        try:
            result = await act(press, pid, instance)
        except Exception as e:
            log.exception("dashboard %s failed", what)
            result = proposals.PressResult(f"failed: {type(e).__name__}", FAILED, alert=True)
        try:  # as a press: recorded before the answer
            await off_loop(self.engine.audit, chat_id, user.id, "dashboard", what, result.outcome[:200])
        except Exception:
            log.exception("audit of dashboard %s failed", what)
        if result.then is not None:  # the chat message edited as the button would have
            try:
                await result.then()
            except Exception:
                log.exception("updating the message after dashboard %s failed", what)
        self.feed.poke()
        return web.json_response({"ok": not result.alert, "note": result.note or "Updated."})


def _event(state: str) -> bytes:
    return f"event: state\ndata: {state}\n\n".encode()


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        e.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


async def start(app: Application) -> Dashboard | None:
    """Serve the dashboard when WEBAPP_URL is set (docs/dashboard.md)."""
    if not app.bot_data["engine"].settings.webapp_url:
        return None
    dashboard = Dashboard(app)
    await dashboard.start()
    app.bot_data["dashboard"] = dashboard
    return dashboard


async def stop(app: Application) -> None:
    dashboard = app.bot_data.pop("dashboard", None)
    if dashboard is not None:
        with contextlib.suppress(Exception):
            await dashboard.stop()
