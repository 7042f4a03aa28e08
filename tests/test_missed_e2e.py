"""Decisions made while the bot was not looking (issue 26): paper, CONFIRM_ORDERS=on, the
real bot through the local Bot API and the replay exchange. After /stop, 144 candles, /start,
the catch-up's decisions are one `missed:` line, not a proposal (and an expiry) each."""

from __future__ import annotations

from tests.helpers import observe
from tests.test_bot_e2e import ADMIN, GROUP, World, source  # noqa: F401  (fixture)
from tests.test_orders_e2e import Seen

OUTAGE = 144  # candles while stopped (the demo's 36 hours of 15m)


def texts(w: World, start: int, end: int | None = None) -> list[tuple[str, str]]:
    with w.api._state.lock:
        calls = list(w.api.calls[start:end])
    return [(c.method, str(c.params.get("text", ""))) for c in calls if c.ok and c.params.get("text")]


def test_decisions_on_candles_closed_while_stopped_are_one_missed_line_not_proposals(source, tmp_path) -> None:  # noqa: F811
    w = World(source, tmp_path, STRATEGY="ema_cross", CONFIRM_ORDERS="on")
    try:
        w.engine.set_params({"fast": "3", "slow": "8"}, ADMIN)
        seen = w.seen = observe(w.engine, Seen)
        w.reply("/start", "Starting")
        assert w.api.wait_for_text(GROUP, "socket started", timeout=15)
        # The trader must have decided a live candle before the stop (a never-decided trader
        # warms on the latest candles at the next start and decides nothing on them).
        assert w.ex.wait_for_index(w.ex.current_index + 1, timeout=15)
        w.ex.pause()
        assert seen.wait(w.source[w.ex.current_index - 1].open_time)
        mark = w.api.mark()
        w.say("/stop")
        assert w.api.wait_for_text(GROUP, "socket stopped", start=mark, timeout=10)
        for p in w.engine.open_proposals():  # nothing left pending from before the stop
            w.engine.reject(p.id, ADMIN, "admin")
        proposed_before = len(w.engine.open_proposals())
        assert w.ex.advance(OUTAGE, timeout=30)
        mark = w.api.mark()
        w.say("/start")
        assert w.api.wait_for_text(GROUP, "socket started", start=mark, timeout=30)
        assert w.api.wait_for_text(GROUP, "missed:", start=mark, timeout=10)
        said = texts(w, mark)
        assert not [t for _, t in said if "proposal" in t.lower() or "superseded" in t], said
        missed = [t for _, t in said if "missed:" in t]
        assert len(missed) == 1, said
        line = missed[0]
        assert "BTCUSDT decisions on candles that closed while the stream was down" in line, line
        assert "none proposed or placed" in line and "the last:" in line, line
        print(line)
        assert len(said) <= 6, said  # the replies, the summary, socket started: not 52 messages
        assert len(w.engine.open_proposals()) == proposed_before == 0
        assert w.engine.side("BTCUSDT") == 0  # nothing was placed either
    finally:
        w.close()
