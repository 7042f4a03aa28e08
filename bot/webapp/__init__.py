"""The dashboard: a Telegram Mini App served by the bot itself (docs/dashboard.md).

`server` is the aiohttp application run inside the bot's own event loop; `auth` checks
Telegram's signed initData on every request; `members` asks Telegram who belongs to a served
chat; `page` builds what the page shows from the engine's public methods; `live` pushes it
to open pages (server-sent events); `static/` is the page itself (no CDN, no build step).
"""
