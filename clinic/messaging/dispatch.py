"""Sending what is due, and settling sends whose answer was lost. Each text goes out at most once.

- The earliest due rows, up to `CLAIM_BATCH`, are checked, rendered and claimed (each
  `sending` with its own attempt and `check_at`, in the order due) in one write transaction;
  then each is handed to Twilio in turn, and the batch's answers (the SIDs) are recorded
  together in one short transaction once it is through (a refusal or an error is recorded
  as it comes). On PostgreSQL the claim skips rows another dispatcher holds, and a claimed
  row is no longer `scheduled`, so several run side by side and never take each other's
  rows. A crash therefore leaves at most the claimed batch without an answer (`CLAIM_BATCH`
  texts): those handed over whose SIDs were not yet recorded, the one in flight and those not
  yet handed over, each settled below (found in Twilio's list, its SID is kept and it is
  never sent again). A claimed text not
  handed over on SIGTERM, `SEND_WITHIN` after its claim (a slow Twilio), or after an answer
  that its number opted out or cannot take texts, is put back exactly as it was and claimed,
  checked and counted again later.
- A send whose answer was lost (a read timeout, a connection dropped after the request went
  out) stays `sending`; so does a claim whose dispatcher died. Once its `check_at` passes,
  Twilio's message list is asked: found, its SID is kept; not found, it is sent again, the
  attempt counted. When Twilio cannot say for an hour, the row becomes `unknown` for staff.
- Every write happens in one `tx.transaction` block, and every step reads the clock
  anew: a run during a slow outage must not act on a stale "now".

The README's "Texts" section states these rules for people.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session, selectinload

from ..enums import (
    CHANGEABLE,
    COUNTED,
    IMMEDIATE,
    PRE_VISIT,
    MessageKind,
    MessageStatus,
    Outcome,
    SendFailure,
    VisitStatus,
)
from ..models import Appointment, Service
from ..rules import DEFAULT_RULES, Clinic, ClinicRules
from ..tx import dialect, transaction
from .models import Message, MessageEvent
from .plan import quiet
from .senders import SendError, Sent, SmsSender, classify

log = logging.getLogger(__name__)

#: A send is answered within the Twilio timeout (seconds); a claim with no answer by then
#: belonged to a dispatcher that died, and is checked with Twilio.
CLAIM_TIMEOUT = timedelta(minutes=5)
#: How long after a lost answer Twilio's message list is read, so the text has time to show.
SETTLE = timedelta(minutes=1)
#: A lookup that failed is tried again this often, for this long, before staff are asked.
RECHECK = timedelta(minutes=2)
GIVE_UP_CHECKING = timedelta(hours=1)
#: How many due texts one claim takes: claimed together in one transaction, then handed to
#: Twilio one by one, their SIDs recorded together in another. A crash leaves at most these
#: in `sending`, each settled with Twilio's list like any send without an answer.
CLAIM_BATCH = 50
#: A claimed text is handed over only this soon after its claim (a slow Twilio): later, it
#: goes back in line untouched, so a claim never nears CLAIM_TIMEOUT before its send starts.
SEND_WITHIN = timedelta(seconds=30)
#: Twilio statuses of a text that reached Twilio and went no further.
FAILED_AT_TWILIO = ("failed", "undelivered", "canceled")  # Twilio's words, not ours

Render = Callable[[Message], str]
Clock = Callable[[], datetime]


def send_due(session: Session, *, clock: Clock, sender: SmsSender, render: Render,
             clinic: Clinic, stop: threading.Event | None = None,
             rng: random.Random | None = None, batch: int | None = None) -> Counter:
    """Sends every text due, a claimed batch at a time, until none is due or `stop` is set."""
    counts: Counter = Counter()
    rng = rng or random.Random()
    while not (stop and stop.is_set()):
        done = _send_batch(session, clock=clock, sender=sender, render=render, clinic=clinic,
                           rng=rng, size=batch or CLAIM_BATCH, stop=stop)
        if done is None:
            break
        counts.update(done)
    return counts


@dataclass(frozen=True)
class _Claimed:
    """A claimed text, ready to hand over, and its row as it was before the claim."""

    claim: Claim
    to: str
    body: str
    before: dict


#: What the checks and the bodies read, loaded with the batch (a few SELECTs ... IN per batch,
#: not lazy loads per text). Separate SELECTs, not JOINs: only the claimed `message` rows are
#: locked (FOR UPDATE SKIP LOCKED on PostgreSQL), and the visit's service, provider and client
#: come with it (joined on `Appointment`). `populate_existing` reaches these loads too.
_CLAIM_LOADS = (
    selectinload(Message.client),
    selectinload(Message.appointment).selectinload(Appointment.events),
)

#: What a claim changes on a row: restored as it was when a claimed text is not sent after all.
_CLAIMED_FIELDS = ("status", "attempts", "body", "claimed_at", "check_at", "updated_at")


def _send_batch(session: Session, *, clock: Clock, sender: SmsSender, render: Render,
                clinic: Clinic, rng: random.Random, size: int,
                stop: threading.Event | None = None) -> Counter | None:
    """Claims up to `size` due texts in one transaction, then sends them one by one; their
    SIDs are recorded together at the end, a refusal or an error as it comes. None when
    nothing is due."""
    claimed_at, claimed, counts = _claim_batch(session, clock=clock, render=render,
                                               clinic=clinic, rng=rng, size=size)
    if claimed_at is None:
        return None
    unreachable: set[str] = set()  #: numbers an answer in this batch opted out or refused
    accepted: list[tuple[Claim, str, datetime]] = []  #: answered with a SID, when; unrecorded
    try:
        for i, item in enumerate(claimed):
            if ((stop and stop.is_set()) or clock() - claimed_at >= SEND_WITHIN
                    or item.to in unreachable):
                # Not handed over: back in line untouched, claimed and checked again later (a
                # text to a number that just opted out is then skipped, as it always was).
                _release(session, claimed[i:])
                break
            try:
                sid, outcome, refused = _send_claimed(session, item, clock=clock,
                                                      sender=sender, clinic=clinic, rng=rng)
            except BaseException:
                _release_quietly(session, claimed[i + 1:])
                raise
            if sid is not None:
                accepted.append((item.claim, sid, clock()))
                continue
            counts[outcome] += 1
            if refused:
                unreachable.add(item.to)
    except BaseException:
        # Also when a send above raised; if this fails too (the database is gone), the rows
        # stay `sending` and are settled from Twilio's list, never sent again.
        try:
            _record_sent(session, accepted)
        except Exception:
            log.exception("could not record %d sent messages' SIDs: %s", len(accepted),
                          ", ".join(f"{c.message_id}={sid}" for c, sid, _ in accepted))
        raise
    # The batch's SIDs in one transaction: a crash before this leaves them `sending`, settled
    # from Twilio's list without sending again.
    counts.update(_record_sent(session, accepted))
    return counts


def _claim_batch(session: Session, *, clock: Clock, render: Render, clinic: Clinic,
                 rng: random.Random, size: int
                 ) -> tuple[datetime | None, list[_Claimed], Counter]:
    """The earliest due texts, each checked and claimed under its lock, in one transaction.

    Each claimed row is `sending` with its own attempt and `check_at`; rows held back
    (skipped, held for quiet hours, not renderable) are counted as before."""
    counts: Counter = Counter()
    claimed: list[_Claimed] = []
    with transaction(session):
        now = clock()
        rows = list(session.scalars(
            locked_messages(session, skip_locked=True)
            .where(Message.status == MessageStatus.SCHEDULED, Message.due_at <= now)
            .order_by(Message.due_at, Message.id).limit(size)
            .options(*_CLAIM_LOADS)))
        if not rows:
            return None, [], counts
        for message in rows:
            before = {name: getattr(message, name) for name in _CLAIMED_FIELDS}
            outcome = _claim(session, message, now, clinic, rng, render)
            message.updated_at = now
            if outcome != "claimed":
                counts[outcome] += 1
                continue
            claimed.append(_Claimed(Claim(message.id, message.attempts), message.client.phone,
                                    message.body, before))
    return now, claimed, counts


def _send_claimed(session: Session, item: _Claimed, *, clock: Clock, sender: SmsSender,
                  clinic: Clinic, rng: random.Random) -> tuple[str | None, str, bool]:
    """Hands a claimed text to the sender. A SID comes back for the batch to record; any
    other answer is recorded at once: its outcome, and whether it says the number takes no
    texts from us (opted out, unreachable)."""
    claim = item.claim
    try:
        sent = sender.send(item.to, item.body, ref=claim.ref)
    except SendError as exc:
        refused = exc.outcome in (SendFailure.OPTED_OUT, SendFailure.UNDELIVERABLE)
        return None, _record(session, claim, clock,
                             lambda m, now, error=exc: _failed(m, error, now, clinic, rng)
                             ), refused
    except Exception:  # a bug after the request may have gone out: ask Twilio, never resend
        log.exception("message %s: unexpected error while sending", claim.message_id)
        error = SendError("unexpected error while sending", unsure=True)
        return None, _record(session, claim, clock,
                             lambda m, now: _unsure(m, error, now)), False
    return sent.sid, Outcome.SENT, False


def _release(session: Session, items: list[_Claimed]) -> None:
    """Puts claimed texts that were never handed over back as they were before the claim,
    while they are still that claim's (nothing was sent, so nothing is recorded)."""
    if not items:
        return
    with transaction(session):
        for item in items:
            message = _locked(session, item.claim.message_id)
            if (message is not None and message.status == MessageStatus.SENDING
                    and message.attempts == item.claim.attempt):
                for name, value in item.before.items():
                    setattr(message, name, value)


def _release_quietly(session: Session, items: list[_Claimed]) -> None:
    """`_release` after a failure: if it fails too, the rows stay `sending` and are settled
    with Twilio's list once their `check_at` passes."""
    try:
        _release(session, items)
    except Exception:
        log.exception("could not put %d claimed messages back in line", len(items))


def settle_unsure(session: Session, *, clock: Clock, sender: SmsSender, clinic: Clinic,
                  stop: threading.Event | None = None,
                  rng: random.Random | None = None) -> Counter:
    """Asks Twilio about every send past its `check_at` with no answer, one at a time."""
    counts: Counter = Counter()
    rng = rng or random.Random()
    while not (stop and stop.is_set()):
        with transaction(session):
            now = clock()
            message = _next(session, (Message.status == MessageStatus.SENDING,
                                      Message.check_at <= now), (Message.check_at, Message.id))
            if message is None:
                break
            message.check_at = now + RECHECK  # ours to ask about; asked again if we die
            claim = Claim(message.id, message.attempts)
            to, body = message.client.phone, message.body or ""
            since = message.claimed_at or message.created_at
        try:
            found = sender.find(to, body, since)
        except Exception as exc:  # any failure to ask is only a failed lookup
            why = str(exc) if isinstance(exc, SendError) else exc.__class__.__name__
            outcome = _record(session, claim, clock,
                              lambda m, now, why=why: _lookup_failed(m, why, now))
        else:
            sent = _unclaimed(session, found)
            outcome = _record(session, claim, clock,
                              lambda m, now, sent=sent: _looked_up(m, sent, now, clinic, rng),
                              sid=sent.sid if sent else None)
        counts[outcome] += 1
    return counts


@dataclass(frozen=True)
class Claim:
    """One attempt at one text. An answer for an older attempt changes nothing: the row has
    been settled or claimed again since."""

    message_id: int
    attempt: int

    @property
    def ref(self) -> str:
        """Echoed back in status callbacks (`?m=<id>.<attempt>`)."""
        return f"{self.message_id}.{self.attempt}"


def backoff(attempt: int, rng: random.Random, rules: ClinicRules = DEFAULT_RULES) -> timedelta:
    """Capped exponential backoff with jitter: half fixed, half random."""
    ceiling = min(rules.retry_at_most, rules.retry_after * 2 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * rng.random()


def schedule_retry(message: Message, *, now: datetime, clinic: Clinic, rng: random.Random,
                   why: str) -> str:
    """Puts a failed send back in line, or gives up after five attempts or past its moment."""
    if message.attempts >= clinic.rules.max_attempts:
        message.status = MessageStatus.FAILED
        message.note = _note(f"{why}; gave up after {message.attempts} attempts")
        return Outcome.FAILED
    due = now + backoff(message.attempts, rng, clinic.rules)
    if message.kind not in IMMEDIATE:
        due = quiet(due, clinic)
    if message.not_after and due >= message.not_after:
        message.status = MessageStatus.FAILED
        message.note = _note(f"{why}; a retry would arrive after the visit")
        return Outcome.FAILED
    message.status, message.due_at = MessageStatus.SCHEDULED, due
    message.note = _note(f"{why}; retrying")
    message.provider_sid = None  # the failed attempt's SID stays in the history
    return Outcome.RETRY


def locked_messages(session: Session, *, skip_locked: bool = False):
    """A query for texts as they are now, each locked against other writers until the
    transaction ends (PostgreSQL; SQLite's BEGIN IMMEDIATE already keeps them out)."""
    query = select(Message).execution_options(populate_existing=True)
    if dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    return query


def _next(session: Session, where: tuple, order: tuple) -> Message | None:
    """The first row matching, locked; on PostgreSQL rows other dispatchers hold are skipped."""
    return session.scalar(locked_messages(session, skip_locked=True)
                          .where(*where).order_by(*order).limit(1))


def _locked(session: Session, message_id: int) -> Message | None:
    return session.scalar(locked_messages(session).where(Message.id == message_id))


def _claim(session: Session, message: Message, now: datetime, clinic: Clinic,
           rng: random.Random, render: Render) -> str:
    """Checks a due row and marks it `sending`, attempt counted; or says why it waits."""
    outcome = _hold_back(session, message, now, clinic)
    if outcome is not None:
        return outcome
    message.attempts += 1
    try:
        message.body = render(message)
    except Exception:  # a broken template must not stop the texts behind it
        log.exception("message %s could not be rendered", message.id)
        return schedule_retry(message, now=now, clinic=clinic, rng=rng, why="could not be prepared")
    message.status, message.claimed_at = MessageStatus.SENDING, now
    message.check_at = now + CLAIM_TIMEOUT
    return "claimed"


def _hold_back(session: Session, message: Message, now: datetime, clinic: Clinic) -> str | None:
    """Checks right before a send; the outcome when the text must not go out now."""
    reason = reason_not_to_send(session, message, now)
    if reason:
        message.status, message.note = MessageStatus.SKIPPED, reason
        return Outcome.SKIPPED
    if message.kind not in IMMEDIATE and quiet(now, clinic) != now:
        # Due before 20:00 but reached after it (a backlog, a restart): wait for the morning.
        later = quiet(now, clinic)
        if message.not_after and later >= message.not_after:
            message.status, message.note = MessageStatus.SKIPPED, "quiet hours until the visit"
            return Outcome.SKIPPED
        message.status, message.due_at = MessageStatus.SCHEDULED, later
        message.note = "held for quiet hours"
        return Outcome.HELD
    return None


def reason_not_to_send(session: Session, message: Message, now: datetime) -> str | None:
    """Why this text must not go out now (the dispatcher's last check), or None."""
    client, appt = message.client, message.appointment
    if client.opted_out_at:
        return "client opted out"
    if client.undeliverable_at:
        return "number cannot receive texts"
    if message.not_after and now >= message.not_after:
        return "too late: the visit has started"
    if message.kind in PRE_VISIT:
        if appt.status not in CHANGEABLE:
            return f"visit {appt.status.replace('_', ' ')}"
        if message.not_after != appt.start_at:
            return "visit moved"
    elif message.kind == MessageKind.STAFF_REPLY:
        return None  # an answer to the client's own text, whatever became of the visit
    elif message.kind == MessageKind.CANCELLATION:
        if appt.status != VisitStatus.CANCELLED:
            return f"visit {appt.status.replace('_', ' ')}"
    elif appt.status != VisitStatus.COMPLETED:
        return f"visit {appt.status.replace('_', ' ')}"
    if message.kind == MessageKind.REBOOK and _has_later_extraction(session, appt):
        return "client has already booked again"
    return None


def _has_later_extraction(session: Session, appt: Appointment) -> bool:
    return session.scalar(select(exists().where(
        Appointment.client_id == appt.client_id, Appointment.start_at > appt.start_at,
        Appointment.status.in_(COUNTED), Appointment.service_id == Service.id,
        Service.includes_extraction)))


def _record(session: Session, claim: Claim, clock: Clock, change, *,
            sid: str | None = None) -> str:
    """Applies what a send or a lookup said, under the row's lock, and keeps it in history.

    Only while the row is still this attempt's and `sending`; otherwise the answer came late
    (a status callback, or a dispatcher that found it stalled, settled it) and is only kept
    in the history."""
    with transaction(session):
        message = _locked(session, claim.message_id)
        now = clock()
        if message.status == MessageStatus.SENDING and message.attempts == claim.attempt:
            outcome = change(message, now)
            message.updated_at = now
            code, note = message.error_code, message.note
        else:
            outcome, code, note = Outcome.LATE, None, _LATE
        session.add(MessageEvent(message=message, at=now, outcome=outcome, provider_sid=sid,
                                 error_code=code, note=note))
    return outcome


def _record_sent(session: Session, answers: list[tuple[Claim, str, datetime]]) -> Counter:
    """`_record` of `_sent` for several answers in one transaction, in plain statements rather
    than ORM reads and flushes: a row is changed only while it is still this attempt's and
    `sending` (read under its lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the
    database), and the UPDATE's WHERE says so again. Any other answer came late and is only
    kept in the history, as `_record` does. Each is recorded as of when its answer came."""
    counts: Counter = Counter()
    if not answers:
        return counts
    with transaction(session):
        # Each row as it is now, locked (PostgreSQL, in id order) until the UPDATE; then one
        # executemany each for rows and history.
        rows = {row.id: row for row in session.execute(
            select(_table.c.id, _table.c.attempts, _table.c.status, _table.c.provider_sid)
            .where(_table.c.id.in_([claim.message_id for claim, _, _ in answers]))
            .order_by(_table.c.id).with_for_update())}
        fresh, late = [], []
        for claim, sid, now in answers:
            row = rows.get(claim.message_id)
            if (row is not None and row.status == MessageStatus.SENDING
                    and row.attempts == claim.attempt):
                fresh.append(dict(m_id=claim.message_id, m_attempt=claim.attempt, m_sid=sid,
                                  m_now=now))
            elif row is not None and row.provider_sid == sid:
                counts[Outcome.SENT] += 1  # Twilio's status callback came first and kept it
            else:
                late.append((claim, sid, now))
        if fresh:
            session.execute(_SENT, fresh)
            session.execute(_SENT_EVENT, fresh)
            counts[Outcome.SENT] += len(fresh)
        for claim, sid, now in late:
            session.add(MessageEvent(message=_locked(session, claim.message_id), at=now,
                                     outcome=Outcome.LATE, provider_sid=sid, note=_LATE))
            counts[Outcome.LATE] += 1
    return counts


#: `_sent` and its history row as plain statements, built once (`_record_sent`).
_table, _events = Message.__table__, MessageEvent.__table__
_SENT = (update(_table)
         .where(_table.c.id == bindparam("m_id"), _table.c.status == MessageStatus.SENDING,
                _table.c.attempts == bindparam("m_attempt"))
         .values(provider_sid=bindparam("m_sid"), sent_at=bindparam("m_now"), check_at=None,
                 status=MessageStatus.SENT, note=None, error_code=None,
                 updated_at=bindparam("m_now")))
_SENT_EVENT = insert(_events).values(
    message_id=bindparam("m_id"), at=bindparam("m_now"), outcome=Outcome.SENT,
    provider_sid=bindparam("m_sid"), error_code=None, note=None)
_LATE = "answer for an attempt already settled"


def _sent(message: Message, sid: str, now: datetime) -> str:
    message.provider_sid, message.sent_at, message.check_at = sid, now, None
    message.status, message.note, message.error_code = MessageStatus.SENT, None, None
    return Outcome.SENT


def _unsure(message: Message, error: SendError, now: datetime) -> str:
    """The request went out and no answer came: ask Twilio once the text could show there."""
    message.check_at = now + SETTLE
    message.note = _note(f"{error}; asking Twilio whether it went out")
    return Outcome.UNSURE


def _unclaimed(session: Session, found: list[Sent]) -> Sent | None:
    """The newest listed text whose SID no row or attempt has claimed yet."""
    for sent in found:
        known = session.scalar(select(
            exists().where(Message.provider_sid == sent.sid)
            | exists().where(MessageEvent.provider_sid == sent.sid)))
        if not known:
            return sent
    return None


def _looked_up(message: Message, found: Sent | None, now: datetime, clinic: Clinic,
               rng: random.Random) -> str:
    message.check_at = None
    if found is None:
        outcome = schedule_retry(message, now=now, clinic=clinic, rng=rng,
                                 why="not in Twilio's message list")
        return Outcome.RESEND if outcome == Outcome.RETRY else outcome
    if found.status in FAILED_AT_TWILIO:
        message.provider_sid = found.sid
        why = f"found failed in Twilio's message list ({found.error_code})"
        return record_failure(message, classify(found.error_code), code=found.error_code,
                              why=why, now=now, clinic=clinic, rng=rng)
    _sent(message, found.sid, now)
    if found.status in ("delivered", "read"):  # Twilio's words
        message.status = MessageStatus.DELIVERED
    return Outcome.FOUND


def _lookup_failed(message: Message, why: str, now: datetime) -> str:
    if now - (message.claimed_at or message.created_at) < GIVE_UP_CHECKING:
        message.note = _note(f"Twilio could not say whether it went out ({why}); asking again")
        return Outcome.RECHECKING
    message.status, message.check_at = MessageStatus.UNKNOWN, None
    message.note = _note(f"Twilio could not say for an hour whether it went out ({why}): "
                         "check before resending")
    return Outcome.UNKNOWN


def _failed(message: Message, error: SendError, now: datetime, clinic: Clinic,
            rng: random.Random) -> str:
    log.warning("send of message %s failed: %s (%s)", message.id, error, error.outcome)
    if error.outcome == SendFailure.UNSURE:
        return _unsure(message, error, now)
    message.check_at = None
    return record_failure(message, error.outcome, code=error.code, why=str(error), now=now,
                          clinic=clinic, rng=rng)


def _note(text: str) -> str:
    return text[:200]


def record_failure(message: Message, outcome: SendFailure, *, code: int | None, why: str,
                   now: datetime, clinic: Clinic, rng: random.Random) -> Outcome:
    """What a failed send means, whether Twilio refused it or a carrier did later."""
    message.error_code = code
    if outcome == SendFailure.RETRY:
        return schedule_retry(message, now=now, clinic=clinic, rng=rng, why=why)
    if outcome == SendFailure.OPTED_OUT:
        message.client.opted_out_at = now
        why = f"number has opted out ({code})"
    elif outcome == SendFailure.UNDELIVERABLE:
        message.client.undeliverable_at = now
        why = f"undeliverable ({code})"
    message.status, message.note = MessageStatus.FAILED, _note(why)
    return Outcome.FAILED
