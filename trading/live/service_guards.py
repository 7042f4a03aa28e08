"""The engine's proposals side and its guards on the money path: Confirm and Reject (bound
to this database's instance id), a live price for a Confirm, PROPOSAL_TTL expiry by the
clock, and the database file the bot started on. A mixin of trading.live.service.Engine, kept
apart so the engine file stays about control and under the size rule."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from storage.guard import integrity_problem
from trading.core.events import Notice
from trading.exchange.rest import make_client
from trading.live.proposals import Outcome, Proposal

log = logging.getLogger("trading.live.service")

OFFSET_RETRY_SECONDS = 60.0  # /time asked again at most this often while it does not answer


class EngineGuards:
    """Needs the engine's settings, live, trader, stream, notifier, halted, _identity, _instance."""

    settings: Any
    live: Any
    trader: Any
    stream: Any
    notifier: Any
    halted: str | None
    _identity: Any
    _instance: str
    _asked_offset: tuple[int | None, float] = (None, -OFFSET_RETRY_SECONDS - 1.0)

    def confirm(
        self, proposal_id: int, user_id: int | None, who: str | None = None, message: tuple[int, int] | None = None
    ) -> Outcome:
        if self.check_database():
            return Outcome(False, f"Not placed: {self.halted}")
        return self.live.confirm(proposal_id, user_id, who, message)

    def reject(self, proposal_id: int, user_id: int | None, who: str, message: tuple[int, int] | None = None) -> Outcome:
        return self.live.reject(proposal_id, user_id, who, message)

    @property
    def instance_id(self) -> str:
        """This database's identity (storage.state.instance_id): carried by proposal buttons,
        so a button made for another database's proposal #7 never acts on this one's #7."""
        return self._instance  # read by Engine.__init__, never on the chat's event loop

    def reject_all(self, up_to: int, user_id: int | None, who: str) -> list[Proposal]:
        """Reject every proposal up to `up_to` that is still pending (the ones /pending listed)."""
        c = self.live.confirmations
        return c.reject_all(up_to, user_id, who) if c is not None else []

    def proposal(self, proposal_id: int) -> Proposal | None:
        c = self.live.confirmations
        return c.get(proposal_id) if c is not None else None

    def approvals(self, proposal_id: int) -> list[str]:
        """Four-eyes: the admins who confirmed a pending proposal so far."""
        c = self.live.confirmations
        return c.approvals(proposal_id) if c is not None else []

    def open_proposals(self) -> list[Proposal]:
        c = self.live.confirmations
        return c.open() if c is not None else []

    def set_proposal_message(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        c = self.live.confirmations
        if c is not None:
            c.set_message(proposal_id, chat_id, message_id)

    # ------------------------------------------------------------- strategy parameters

    def live_price(self, symbol: str) -> Decimal | None:
        """The price a Confirm may fill at: the stream's latest while it is connected and its
        last message is no older than STREAM_STALE_SECONDS; else the exchange's price asked
        now (one quick request); else None (stopped, reconnecting and the exchange silent).
        A price from before /stop or a drop is never used: it could be hours old."""
        st = self.stream.status()
        age = st.last_message_age
        if st.running and st.connected and age is not None and age <= self.settings.stream_stale_seconds:
            price = self.trader.current_price(symbol)
            if price is not None:
                return price
        try:
            answer = make_client(self.settings, timeout=5).futures_symbol_ticker(symbol=symbol)
            return Decimal(str(answer["price"]))
        except Exception as e:  # noqa: BLE001 (any failure means: no live price)
            log.info("no live price for %s from the exchange: %s", symbol, type(e).__name__)
            return None

    def market_offset_ms(self) -> int | None:
        """The market's clock minus ours (ms), so a proposal's candle close (market time)
        becomes a wall-clock deadline: from the last candle that closed live, else the
        exchange broker's measured offset, else Binance's /time asked once (paper mode right
        after a start: the replay's clock is not the wall clock); None if none answers."""
        sampled = self.trader.market_offset_ms
        if sampled is not None:
            return sampled
        measured = getattr(self.trader.broker, "clock_offset_ms", None)
        if measured is not None:
            return measured
        asked, at = self._asked_offset
        if asked is None and time.monotonic() - at > OFFSET_RETRY_SECONDS:
            try:
                server = int(make_client(self.settings, timeout=5).futures_time()["serverTime"])
                asked = server - int(time.time() * 1000)
            except Exception as e:  # noqa: BLE001 (no answer: the wall clock is taken as the market's)
                log.info("no exchange time for proposal deadlines: %s", type(e).__name__)
            self._asked_offset = (asked, time.monotonic())
        return asked

    def expire_proposals(self) -> int:
        """PROPOSAL_TTL expiry by the wall clock, whether or not candles are closing (a
        JobQueue job calls it), so a stopped stream never leaves stale live buttons."""
        c = self.live.confirmations
        return len(c.expire_due(-1)) if c is not None else 0

    def check_database(self) -> str | None:
        """The line saying trading stopped, once DB_PATH no longer names the file the bot
        started on (deleted, or replaced by another file). Then the stream is closed,
        nothing is proposed or placed, and the chat and the log say so once: the open
        connections would keep the old file while every new one made a new one."""
        if self.halted is not None or self._identity is None:
            return self.halted
        what = self._identity.changed()
        if what is None:
            return None
        self.halted = (
            f"the database DB_PATH={self.settings.db_path} was {what} while the bot ran; "
            "trading stopped (stream closed, no orders). Restore it and restart the bot"
        )
        log.error("%s", self.halted)
        self.notifier.notify(Notice("storage_fault", self.halted))
        self.stream.stop()
        return self.halted


def check_integrity(db_path: str, notifier: Any) -> str | None:
    """SQLite's quick_check at start (storage.guard.integrity_problem): a damaged file is
    said once in the chat and the log, with what was found; the line, or None."""
    damage = integrity_problem(db_path)
    if damage is None:
        return None
    line = (
        f"storage: DB_PATH={db_path} failed SQLite's quick_check at start: {damage[:300]}; stored rows "
        "may be missing or wrong: stop the bot and restore a backup (or check the disk)"
    )
    log.error("%s", line)
    notifier.notify(Notice("storage_fault", line))
    return line
