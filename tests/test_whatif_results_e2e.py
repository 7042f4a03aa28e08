"""issue 26: what a /backtest or /optimize result says about itself. A strategy failing the
look-ahead check is marked in the table, below it and in the caption (no `/strategy`
suggestion); an exchange that does not answer GET /fapi/v1/fundingRate leaves a run without
funding that says so, instead of `⚠️ /backtest failed`. Local Bot API, replay exchange."""

from __future__ import annotations

import re

from tests.test_backtest_e2e import photo_after
from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)
from tests.test_frame_strategy import PEEKS, write_plugin

CHEAT = PEEKS.replace("from trading.core.strategies import FrameStrategy, Schema",
                      "from trading.core.strategies import FrameStrategy, Schema\nfrom trading.core.strategies.frame import MONEY"
                      ).replace("schema = Schema(())", "schema = Schema(MONEY)")


def last_text(w: World, start: str) -> str:
    return [m["text"] for m in w.api.sent(GROUP) if m.get("text", "").startswith(start)][-1]


def test_a_strategy_failing_the_check_is_marked_in_the_result(source, tmp_path) -> None:  # noqa: F811
    write_plugin(tmp_path, CHEAT, "cheat.py")
    w = World(source, tmp_path, STRATEGY_DIR=str(tmp_path / "strategies"))
    try:
        photo = photo_after(w, w.say("/backtest 2 strategy=cheat.py:Peeks"))
        table = last_text(w, "Backtest ·")
        assert re.search(r"check +passed +FAILED", table), table
        assert "look-ahead: enter_" in table and "the live bot refuses this strategy" in table
        assert "/strategy cheat" not in photo["caption"] and "trade it with" not in photo["caption"]
        assert "fails the look-ahead/window check" in photo["caption"]
        photo = photo_after(w, w.say("/optimize stake_usdt=100,200 2 strategy=cheat:Peeks"))
        assert "fails the look-ahead/window check" in photo["caption"] and "/strategy" not in photo["caption"]
        assert "the live bot refuses this strategy" in last_text(w, "Optimize ·")
        # a passing strategy is not marked
        photo = photo_after(w, w.say("/backtest 2 strategy=rsi_reversion"))
        assert "/strategy rsi_reversion" in photo["caption"] and "check" not in last_text(w, "Backtest ·")
    finally:
        w.close()


def test_without_funding_rates_the_whatif_runs_and_says_so(source, tmp_path) -> None:  # noqa: F811
    w = World(source, tmp_path)
    try:
        w.ex.faults.rest_errors(403, count=1000, route="GET /fapi/v1/fundingRate")
        photo = photo_after(w, w.say("/backtest 2 fast=9"))
        table = last_text(w, "Backtest ·")
        assert "without funding: the exchange did not answer GET /fapi/v1/fundingRate (HTTP 403)" in table
        assert "without funding" in photo["caption"]
        photo = photo_after(w, w.say("/optimize fast=5..6 2"))
        assert "without funding" in last_text(w, "Optimize ·") and "without funding" in photo["caption"]
        assert not [m for m in w.api.sent(GROUP) if "failed" in m.get("text", "")]
    finally:
        w.close()
