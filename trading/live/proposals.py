"""Orders a person confirms: every order request becomes a stored proposal first.

pending → confirmed → placed → filled | failed, or pending → rejected | expired. Each
transition is one conditional update in SQLite (storage/proposals.py), so exactly one of
any number of racing presses wins, and a press after a restart finds the same state.

Confirm re-checks, after winning the race and before placing: expiry (the proposal is
valid until the candle after the one that decided it closes, or `PROPOSAL_TTL` seconds),
by the clock: that candle's close time is stored as a wall-clock deadline, so it holds
whether or not candles arrive (a stopped stream, a restart hours later), at the press,
in the JobQueue's expiry job and at start;
and price drift since the proposal (`MAX_DRIFT_PCT`). A confirmed proposal is placed
under client order ids derived from its id, so the exchange itself refuses a duplicate.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storage.approvals import ApprovalStore
from storage.db import open_db
from storage.proposals import ProposalStore
from storage.state import instance_id
from trading.core.brokers.base import OrderRequest, client_order_id
from trading.core.events import Notifier, ProposalPending, ProposalUpdated
from trading.core.intents import intent_of
from trading.core.reasons import Reason
from trading.live.answers import Answer, Kind
from trading.live.four_eyes import FourEyes, four_eyes_over, needs_two


@dataclass(frozen=True)
class Proposal:
    id: int
    symbol: str
    action: str  # long | short | close | reverse
    legs: tuple[OrderRequest, ...]
    ref_price: Decimal
    reason: str
    source: str  # strategy | manual
    requested_by: int | None
    status: str
    result: Answer | None  # its final state (bot/texts.answer_line words it)
    chat_id: int | None
    message_id: int | None
    valid_until_open: int | None
    expires_at: int | None
    intent: str = ""  # long | short | close (trading/core/intents.py)
    basis: Decimal | None = None  # the signed position it was proposed on
    legs_before: dict[str, Decimal] | None = None  # Hedge Mode: the symbol's legs then (LONG/SHORT → signed size)
    four_eyes: FourEyes | None = None  # CONFIRM_ORDERS=off: why it was proposed instead of placed


@dataclass(frozen=True)
class Outcome:
    """What an order request or a Confirm/Reject press did: `ok` for the alert, `answer` for
    its words (bot/texts.answer_line)."""

    ok: bool
    answer: Answer
    proposal: Proposal | None = None
    approvals: tuple[str, ...] = ()  # four-eyes: who has confirmed so far, while one more is needed
    stale_button: bool = False  # the press came from a message that is not this proposal's


def refused(kind: Kind, shown: Proposal | None = None, /, **fields: object) -> Outcome:
    """An Outcome that changed nothing: `kind` and the fields its words need; `shown`: the
    proposal as it is now (its message is drawn from it)."""
    return Outcome(False, Answer(kind, **fields), shown)  # type: ignore[arg-type]


def stale(message: tuple[int, int] | None) -> Outcome:
    """The proposal is unknown: a press from another proposal's message, or a direct call."""
    return Outcome(False, Answer(Kind.OLDER), None, stale_button=True) if message else refused(Kind.NO_SUCH)


def leg_id(instance: str, proposal_id: int, n: int) -> str:
    """Client order id of a proposal's leg, `tgp-<instance>-<proposal>-<leg>`: deterministic,
    ≤ 36 chars, unique per database and account for ever (storage.state.instance_id)."""
    return client_order_id(instance, "tgp", proposal_id, n)


class Confirmations:
    def __init__(
        self,
        db_path: str,
        notifier: Notifier | None,
        *,
        ttl_seconds: float,
        max_drift_pct: Decimal,
        four_eyes_notional: Decimal | None = None,
        interval_ms: int | None = None,
        market_offset: Callable[[], int | None] | None = None,
    ) -> None:
        """`interval_ms`: the candle length, for the close time of a proposal's last candle;
        `market_offset`: the market's clock minus ours in ms (None: not known, taken as 0),
        so that close time (market time) becomes a wall-clock deadline."""
        self.db_path = db_path
        self.notifier = notifier
        self.interval_ms = interval_ms
        self.market_offset = market_offset or (lambda: None)
        self.clock: Callable[[], float] = time.time  # seconds; tests move it
        self.ttl_seconds = ttl_seconds
        self.max_drift_pct = max_drift_pct
        self.four_eyes_notional = four_eyes_notional
        self._local = threading.local()

    def _store(self) -> ProposalStore:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.db_path)
        return ProposalStore(db)

    # ------------------------------------------------------------- creating
    def propose(
        self,
        *,
        symbol: str,
        action: str,
        legs: Sequence[OrderRequest],
        ref_price: Decimal,
        reason: str,
        source: str,
        requested_by: int | None,
        valid_until_open: int | None,
        basis: Decimal | None = None, legs_before: dict[str, Decimal] | None = None, four_eyes: FourEyes | None = None,
    ) -> Proposal:
        """Store and announce it. `basis`: the signed position the legs were made from, so
        Confirm can tell whether the position moved since (trading/core/intents.py);
        `legs_before`: Hedge Mode, both legs then, which its message shows before and after;
        `four_eyes`: CONFIRM_ORDERS=off, why it is proposed instead of placed."""
        now = int(self.clock() * 1000)
        store = self._store()
        if self.ttl_seconds:
            expires_at: int | None = now + int(self.ttl_seconds * 1000)
        elif valid_until_open is not None and self.interval_ms:
            # the wall-clock moment the candle opening at valid_until_open closes
            expires_at = valid_until_open + self.interval_ms - (self.market_offset() or 0)
        else:
            expires_at = None
        pid = store.create(
            {
                "symbol": symbol, "side": legs[0].side, "action": action,
                "quantity": None if legs[-1].qty is None else str(legs[-1].qty),
                "ref_price": str(ref_price), "reason": reason, "requested_by": requested_by,
                "source": source, "legs": "[]", "intent": intent_of(legs),
                "basis": None if basis is None else str(basis),
                "legs_before": None if legs_before is None else json.dumps({k: str(v) for k, v in legs_before.items()}),
                "four_eyes": None if four_eyes is None else four_eyes.to_json(),
                # PROPOSAL_TTL replaces the default rule (valid until the next candle closes).
                "valid_until_open": None if self.ttl_seconds else valid_until_open,
                "expires_at": expires_at,
            }
        )
        # The legs get their client order ids from the row's id, so store them after.
        instance = instance_id(self._local.db)
        named = [leg.but(id=leg_id(instance, pid, n)) for n, leg in enumerate(legs, 1)]
        store.set_legs(pid, json.dumps([x.to_dict() for x in named]))
        proposal = self.get(pid)
        assert proposal is not None
        if source == "strategy":
            self._supersede(symbol, pid)
        if self.notifier is not None:
            self.notifier.notify(ProposalPending(proposal))
        return proposal

    def _supersede(self, symbol: str, newest: int) -> None:
        """The strategy's newer decision replaces its older ones still waiting (a TTL longer
        than a candle could otherwise leave several contradictory proposals to confirm)."""
        store = self._store()
        for row in store.with_status("pending"):
            mine = row["symbol"] == symbol and row["source"] == "strategy" and row["id"] != newest
            if not mine or not store.transition(row["id"], "pending", "expired", result=Answer(Kind.SUPERSEDED, proposal=newest).to_json()):
                continue
            old = self.get(row["id"])
            if self.notifier is not None and old is not None:
                self.notifier.notify(ProposalUpdated(old))

    def name_leg(self, proposal_id: int, n: int) -> str:
        """The client order id of a proposal's n-th leg (legs derived again at Confirm)."""
        self._store()
        return leg_id(instance_id(self._local.db), proposal_id, n)

    # ------------------------------------------------------------- reading
    def get(self, proposal_id: int) -> Proposal | None:
        row = self._store().get(proposal_id)
        return None if row is None else _from_row(row)

    def open(self) -> list[Proposal]:
        return [_from_row(r) for r in self._store().with_status("pending", "confirmed", "placed")]

    def set_message(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        self._store().set_message(proposal_id, chat_id, message_id)

    # ------------------------------------------------------------- deciding
    def approve(self, p: Proposal, user_id: int | None, who: str, before: Decimal, legs: Sequence[OrderRequest],
                price: Decimal, apart: Decimal = Decimal(0)) -> Outcome | None:  # fmt: skip
        """Four-eyes, before the pending → confirmed race: when the position these `legs`
        lead to from `before` is worth more than FOUR_EYES_NOTIONAL at `price` (and the
        order does not only reduce it), this admin's Confirm is recorded (once per admin)
        and the order goes ahead only once two different admins have confirmed. None: go
        ahead; an Outcome: wait for one more. Called under the trader's lock, so orders
        confirmed one after another are each counted on the position the one before left
        (`apart`: Hedge Mode, the other leg's size, which counts too: needs_two)."""
        limit = self.four_eyes_notional
        if limit is None or p.status != "pending" or not needs_two(before, legs, price, limit, apart):
            return None
        if user_id is None:
            return refused(Kind.ADMIN_ONLY, p)
        names = ApprovalStore(self._store_db()).add(p.id, user_id, who)
        if len(names) >= 2:
            return None
        return Outcome(False, Answer(Kind.APPROVAL, names=tuple(names)), p, tuple(names))

    def four_eyes_why(self, before: Decimal, legs: Sequence[OrderRequest], price: Decimal,
                      apart: Decimal = Decimal(0)) -> FourEyes | None:  # fmt: skip
        """CONFIRM_ORDERS=off: why these orders are proposed instead of placed, or None."""
        return four_eyes_over(before, legs, price, self.four_eyes_notional, apart)

    def approvals(self, proposal_id: int) -> list[str]:
        return ApprovalStore(self._store_db()).names(proposal_id)

    def _store_db(self) -> Any:
        self._store()
        return self._local.db

    def claim(
        self, proposal_id: int, user_id: int | None, cursor: int | None, price: Decimal | None,
        message: tuple[int, int] | None = None,
        derive: Callable[[Proposal], list[OrderRequest] | Reason] | None = None,
    ) -> Outcome:
        """Win the pending → confirmed race, then check expiry and drift. The caller places
        the legs only when `ok`; any other answer changed nothing it could double.

        `derive` gives the legs to place now (stored by the winning update itself, so a
        crash after it is reconciled against exactly those), or the core's line refusing it:
        the proposal then ends `failed` (Kind.LEG_REFUSED), once, by a conditional update.

        `message` is the (chat id, message id) the press came from: a button acts only on
        the proposal posted in that very message (numbers restart with a new database)."""
        store = self._store()
        p = self.get(proposal_id)
        if p is None or not self.owns(p, message):
            return stale(message)
        if p.status != "pending":
            return refused(Kind.NOT_PENDING, p, proposal=p.id, status=p.status)
        if self._expired(p, cursor):
            if store.transition(p.id, "pending", "expired", result=Answer(Kind.EXPIRED_UNCONFIRMED).to_json()):
                return refused(Kind.EXPIRED, self.get(p.id), proposal=p.id)
            return refused(Kind.GONE, self.get(p.id), proposal=p.id)
        legs = derive(p) if derive is not None else list(p.legs)
        if isinstance(legs, Reason):
            why = Answer(Kind.LEG_REFUSED, why=legs)
            if store.transition(p.id, "pending", "failed", by=user_id, result=why.to_json()):
                return Outcome(False, why, self.get(p.id))
            return refused(Kind.GONE, self.get(p.id), proposal=p.id)
        stored = json.dumps([x.to_dict() for x in legs])
        if not store.transition(p.id, "pending", "confirmed", by=user_id, legs=stored):
            return refused(Kind.GONE, self.get(p.id), proposal=p.id)
        if price is not None and p.ref_price and self.max_drift_pct:
            drift = abs(price - p.ref_price) / p.ref_price * 100
            if drift > self.max_drift_pct:
                why = Answer(Kind.DRIFT, numbers={"drift": drift, "ref": p.ref_price, "price": price, "limit": self.max_drift_pct})
                store.transition(p.id, "confirmed", "failed", result=why.to_json())
                return Outcome(False, why, self.get(p.id))
        return Outcome(True, Answer(Kind.CONFIRMED), self.get(p.id))

    def finish(
        self, proposal_id: int, frm: str | tuple[str, ...], to: str, answer: Answer, *, announce: bool = False
    ) -> Proposal | None:
        """`announce`: also edit the proposal's message to this state (a press answers its own
        message; a placement in flight or a settlement at start has no press to do it)."""
        self._store().transition(proposal_id, frm, to, result=answer.to_json())
        p = self.get(proposal_id)
        if announce and p is not None and self.notifier is not None:
            self.notifier.notify(ProposalUpdated(p))
        return p

    def reject(self, proposal_id: int, user_id: int | None, who: str, message: tuple[int, int] | None = None) -> Outcome:
        p = self.get(proposal_id)
        if p is None or not self.owns(p, message):
            return stale(message)
        why = Answer(Kind.REJECTED, who=who)
        if self._store().transition(proposal_id, "pending", "rejected", by=user_id, result=why.to_json()):
            return Outcome(True, why, self.get(proposal_id))
        return refused(Kind.NOT_PENDING, p, proposal=p.id, status=p.status)

    def reject_all(self, up_to: int, user_id: int | None, who: str) -> list[Proposal]:
        """/pending's Reject all: every proposal up to id `up_to` (those the list showed)
        still pending, each by its own conditional update, so a Confirm racing it either
        wins (and places once) or loses (and places nothing). Their messages are edited."""
        done = []
        for row in self._store().with_status("pending"):
            if row["id"] > up_to:
                continue
            if self._store().transition(row["id"], "pending", "rejected", by=user_id, result=Answer(Kind.REJECTED, who=who, all=True).to_json()):
                p = self.get(row["id"])
                if p is not None:
                    done.append(p)
                    if self.notifier is not None:
                        self.notifier.notify(ProposalUpdated(p))
        return done

    def expire_due(self, candle_open: int) -> list[Proposal]:
        """Pending proposals whose time is up, expired (each once) and announced."""
        store = self._store()
        done = []
        now = int(self.clock() * 1000)
        due = store.due(candle_open, now)
        due += [r["id"] for r in store.with_status("pending") if r["id"] not in due and r["expires_at"] is None
                and (d := self._deadline(_from_row(r))) is not None and d <= now]  # fmt: skip
        for pid in due:
            if store.transition(pid, "pending", "expired", result=Answer(Kind.EXPIRED_UNANSWERED).to_json()):
                p = self.get(pid)
                if p is not None:
                    done.append(p)
                    if self.notifier is not None:
                        self.notifier.notify(ProposalUpdated(p))
        return done

    def _deadline(self, p: Proposal) -> int | None:
        """Wall ms at which `p` expires; a proposal stored without one (before the clock rule)
        gets its candle's close time, converted with today's market offset."""
        if p.expires_at is not None:
            return p.expires_at
        if p.valid_until_open is not None and self.interval_ms:
            return p.valid_until_open + self.interval_ms - (self.market_offset() or 0)
        return None

    @staticmethod
    def owns(p: Proposal, message: tuple[int, int] | None) -> bool:
        """True when no message is given (a direct call) or it is the proposal's own. A
        proposal whose message was never recorded (the bot died between posting it and
        storing its id) owns the press: the signed instance id already says it is this
        database's, and it was posted once."""
        return message is None or p.message_id is None or (p.chat_id, p.message_id) == message

    def _expired(self, p: Proposal, cursor: int | None) -> bool:
        if (deadline := self._deadline(p)) is not None and self.clock() * 1000 >= deadline:
            return True
        return p.valid_until_open is not None and cursor is not None and cursor >= p.valid_until_open


def _from_row(r: dict[str, Any]) -> Proposal:
    return Proposal(
        id=r["id"], symbol=r["symbol"], action=r["action"],
        legs=tuple(OrderRequest.from_dict(d) for d in json.loads(r["legs"] or "[]")),
        ref_price=Decimal(r["ref_price"] or "0"), reason=r["reason"] or "", source=r["source"] or "",
        requested_by=r["requested_by"], status=r["status"], chat_id=r["chat_id"],
        result=None if r["result"] is None else Answer.from_json(r["result"]),
        message_id=r["message_id"], valid_until_open=r["valid_until_open"], expires_at=r["expires_at"],
        intent=r.get("intent") or "", basis=None if r.get("basis") is None else Decimal(r["basis"]),
        legs_before=None if r.get("legs_before") is None else {k: Decimal(v) for k, v in json.loads(r["legs_before"]).items()},
        four_eyes=None if r.get("four_eyes") is None else FourEyes.from_json(r["four_eyes"]),
    )
