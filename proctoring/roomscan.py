"""The room scan (issue 29): before the start, and whenever a proctor asks, the candidate shows the room in steps.

An exam may require it (``Exam.room_scan_required``, off by default: data minimisation). The scan is no recording
of its own: it is the attempt's webcam stream, already recorded, with its start, each step and its end as events
on the attempt's timeline (the review jumps there). This module keeps no table: the state of an attempt's scans is
read from those events, in order.

- Before the start: a started attempt whose exam requires a scan shows no questions and takes no answers
  (:func:`exams.attempts.check_attempt_gates`) until a scan is completed; the time until then is given back (the
  exam's time runs from the completed scan).
- A proctor asks again (:func:`request_scan`): the candidate's page learns it from its notices and covers the exam
  with the scan; the time from the request to the completed scan is given back.
- Each step has a time limit and the whole scan one; a scan past either (or a proctor's request not begun within
  ``START_WITHIN_SECONDS``) is ended as not completed and raises the advisory flag ``room_scan_incomplete`` for a
  person (``oversight.detectors``: the detector ``room_scan``). The candidate begins again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select

from accounts.models import User
from exams.attempts import AttemptClosed, GateNotPassed, record_event, register_attempt_gate
from exams.models import Attempt, AttemptEvent, AttemptStatus
from kernel.db import db
from kernel.errors import Conflict, ValidationFailed


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the scan: what the camera shows, and how long the candidate has for it."""

    key: str
    seconds: int


#: The steps in order. For the screen's edges the candidate turns or tilts the laptop (or holds a mirror).
STEPS: tuple[Step, ...] = (Step("room", 60), Step("desk", 30), Step("floor", 30), Step("screen_edges", 45))
TOTAL_SECONDS = 180  # the whole scan, from its start to the last step
MIN_STEP_SECONDS = 3  # a step shown for less is refused (a click-through shows nothing)
START_WITHIN_SECONDS = 120  # a proctor's request not begun by then is a scan not completed
GRACE_SECONDS = 5  # the network's share of a limit (the page counts down the limit itself)

STEP_EVENT = "room_scan_step_"  # + the step's key: one event kind per step, each with its words
KINDS = ("room_scan_requested", "room_scan_started", "room_scan_completed", "room_scan_timed_out",
         *(STEP_EVENT + s.key for s in STEPS))

#: The steps in words (the page's instructions are in the template; these name them on the review and tile).
STEP_LABELS: dict[str, LazyString] = {
    "room": _l("The room around you"),
    "desk": _l("Your desk"),
    "floor": _l("The floor around your chair"),
    "screen_edges": _l("The edges of your screen"),
}

#: The proctor's view of a candidate's scan, in words (the tile and the attempt's page).
STATE_LABELS: dict[str, LazyString] = {
    "running": _l("Room scan in progress"),
    "requested": _l("Room scan requested"),
    "before_start": _l("Room scan before the start outstanding"),
}


@dataclasses.dataclass
class Scan:
    """One scan as the timeline tells it (for the review: where it began, how it ended)."""

    started_at: dt.datetime
    why: str  # before_start | requested
    steps: list[tuple[str, dt.datetime]] = dataclasses.field(default_factory=list)
    ended_at: dt.datetime | None = None
    completed: bool = False

    def step_spans(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """Each step shown: its key, when it began (the scan's start or the step before) and when it was done."""
        starts = [self.started_at, *(at for _key, at in self.steps)]
        return [(key, starts[i], at) for i, (key, at) in enumerate(self.steps)]


@dataclasses.dataclass
class ScanState:
    """Where an attempt stands with its room scans."""

    required: bool
    done_before_start: bool = False
    requested_at: dt.datetime | None = None  # a proctor's request not yet answered by a completed scan
    request_expired: bool = False  # that request was not begun in time (flagged once)
    running: Scan | None = None
    scans: list[Scan] = dataclasses.field(default_factory=list)

    @property
    def due(self) -> str | None:
        """Why a scan is due now (``before_start`` or ``requested``), or None."""
        if not self.required:
            return None
        if not self.done_before_start:
            return "before_start"
        return "requested" if self.requested_at is not None else None

    @property
    def proctor_state(self) -> str | None:
        """What the proctor's tile says: ``running``, ``requested``, ``before_start`` or None."""
        if self.running is not None:
            return "running"
        return self.due

    def step_deadline(self) -> dt.datetime | None:
        """When the running scan's current step must be done (the earlier of its own and the scan's limit)."""
        scan = self.running
        if scan is None:
            return None
        done = len(scan.steps)
        since = scan.steps[-1][1] if scan.steps else scan.started_at
        return min(since + dt.timedelta(seconds=STEPS[done].seconds),
                   scan.started_at + dt.timedelta(seconds=TOTAL_SECONDS))


def _events(attempt: Attempt) -> Sequence[AttemptEvent]:
    return db.session.scalars(select(AttemptEvent).where(
        AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind.in_(KINDS))
        .order_by(AttemptEvent.at, AttemptEvent.id)).all()


def fold(required: bool, events: Iterable[Any]) -> ScanState:
    """The scan state from the attempt's room-scan events in time order (each with ``kind``, ``at``, ``detail``)."""
    state = ScanState(required=required)
    for e in events:
        kind, detail = e.kind, e.detail or {}
        if kind == "room_scan_requested":
            if state.requested_at is None or state.request_expired:  # asked again after a request ran out
                state.requested_at, state.request_expired = e.at, False
        elif kind == "room_scan_started":
            state.running = Scan(e.at, str(detail.get("why", "before_start")))
            state.scans.append(state.running)
        elif kind.startswith(STEP_EVENT) and state.running is not None and len(state.running.steps) < len(STEPS):
            if kind.removeprefix(STEP_EVENT) == STEPS[len(state.running.steps)].key:  # a repeat is not a step
                state.running.steps.append((kind.removeprefix(STEP_EVENT), e.at))
        elif kind == "room_scan_completed":
            if state.running is not None:
                state.running.ended_at, state.running.completed = e.at, True
            state.running, state.done_before_start, state.requested_at = None, True, None
        elif kind == "room_scan_timed_out":
            if state.running is not None:
                state.running.ended_at = e.at
            # a request is flagged once; the candidate may still begin (and must, to answer it)
            state.request_expired = state.requested_at is not None
            state.running = None
    return state


def scan_state(attempt: Attempt) -> ScanState:
    """The attempt's room-scan state as its timeline tells it (no time limit applied: see :func:`expire`)."""
    return fold(attempt.exam.room_scan_required, _events(attempt))


def expire(attempt: Attempt, now: dt.datetime) -> ScanState:
    """End a scan that ran past a time limit, or a proctor's request not begun in time, as not completed: on the
    timeline, and a flag for a person. Returns the state after."""
    state = scan_state(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return state
    grace = dt.timedelta(seconds=GRACE_SECONDS)
    scan = state.running
    if scan is not None:
        deadline = state.step_deadline()
        if deadline is not None and now > deadline + grace:
            _not_completed(attempt, now, why=scan.why, steps_done=len(scan.steps), step=STEPS[len(scan.steps)].key)
            return scan_state(attempt)
    elif (state.requested_at is not None and not state.request_expired
          and now > state.requested_at + dt.timedelta(seconds=START_WITHIN_SECONDS) + grace):
        _not_completed(attempt, now, why="requested", steps_done=0, step="")
        return scan_state(attempt)
    return state


def _not_completed(attempt: Attempt, now: dt.datetime, **detail: Any) -> None:
    from proctoring.flags import raise_flag
    from proctoring.models import FlagKind

    record_event(attempt, "room_scan_timed_out", now, **detail)
    db.session.commit()
    raise_flag(attempt, FlagKind.ROOM_SCAN_INCOMPLETE, now, **detail)


def _open(attempt: Attempt) -> None:
    # one change of an attempt's scan at a time (a double click must not record a step or give time back twice)
    db.session.scalars(select(Attempt).where(Attempt.id == attempt.id).with_for_update()).one()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed(_("This attempt has ended."))
    if not attempt.exam.room_scan_required:
        raise Conflict(_("This exam does not ask for a room scan."))


def begin(attempt: Attempt, now: dt.datetime) -> ScanState:
    """The candidate begins a scan that is due (a running one goes on: a reload does not restart its clock)."""
    _open(attempt)
    state = expire(attempt, now)
    if state.running is not None:
        return state
    if state.due is None:
        raise Conflict(_("No room scan is due now."))
    record_event(attempt, "room_scan_started", now, why=state.due)
    db.session.commit()
    return scan_state(attempt)


def record_step(attempt: Attempt, step: str, now: dt.datetime) -> ScanState:
    """The candidate has shown one step; the last one completes the scan and gives the time it took back."""
    _open(attempt)
    state = expire(attempt, now)
    scan = state.running
    if scan is None:
        if state.scans and not state.scans[-1].completed and state.due is not None:
            raise Conflict(_("The time for the room scan ran out. Please begin it again."))
        raise Conflict(_("Begin the room scan first."))
    expected = STEPS[len(scan.steps)]
    if step != expected.key:
        raise ValidationFailed(_("Please show the steps in order."), fields={"step": expected.key})
    since = scan.steps[-1][1] if scan.steps else scan.started_at
    if now - since < dt.timedelta(seconds=MIN_STEP_SECONDS):
        raise Conflict(_("Please show this for at least %(n)d seconds.", n=MIN_STEP_SECONDS))
    record_event(attempt, STEP_EVENT + step, now, step=len(scan.steps) + 1, steps=len(STEPS))
    if len(scan.steps) + 1 == len(STEPS):
        # the exam's time runs from the completed scan before the start, and a proctor's request costs no time
        since_when = attempt.started_at if scan.why == "before_start" else (state.requested_at or scan.started_at)
        given = max(dt.timedelta(0), now - since_when)
        given = dt.timedelta(seconds=int(given.total_seconds()))
        attempt.deadline_at += given
        record_event(attempt, "room_scan_completed", now, why=scan.why, seconds_given_back=int(given.total_seconds()))
    db.session.commit()
    return scan_state(attempt)


def request_scan(attempt: Attempt, proctor: User, now: dt.datetime) -> ScanState:
    """A proctor asks for a room scan now (the candidate's page opens it); asking while one is due changes nothing."""
    _open(attempt)
    state = expire(attempt, now)
    if state.due is None or (state.due == "requested" and state.request_expired and state.running is None):
        record_event(attempt, "room_scan_requested", now, actor=proctor, proctor=proctor.display_name)
        db.session.commit()
    return scan_state(attempt)


def _gate(attempt: Attempt) -> None:
    """Before the start: no question shown or answered until a room scan is completed."""
    if attempt.exam.room_scan_required and not scan_state(attempt).done_before_start:
        raise GateNotPassed(_("Please complete the room scan first: the exam begins after it."), gate="room_scan")


register_attempt_gate(_gate)


def state_json(state: ScanState, now: dt.datetime) -> dict[str, Any]:
    """The state as the candidate's page and the proctor's page read it (limits in seconds, by the server's clock)."""
    scan = state.running
    deadline = state.step_deadline()
    return {
        "required": state.required, "due": state.due, "running": scan is not None,
        "step": len(scan.steps) if scan is not None else 0,
        "steps": [{"key": s.key, "seconds": s.seconds} for s in STEPS],
        "total_seconds": TOTAL_SECONDS, "min_step_seconds": MIN_STEP_SECONDS,
        "step_seconds_left": max(0, int((deadline - now).total_seconds())) if deadline is not None else None,
        "seconds_left": (max(0, int((scan.started_at + dt.timedelta(seconds=TOTAL_SECONDS) - now).total_seconds()))
                         if scan is not None else None),
        "proctor_state": state.proctor_state,
        "label": str(STATE_LABELS[state.proctor_state]) if state.proctor_state else None,
    }


def live_states(attempts: Sequence[Attempt]) -> dict[int, str]:
    """Attempt id -> the proctor's tile label of a scan running, requested or outstanding (exams with scans only)."""
    ids = [a.id for a in attempts if a.exam.room_scan_required]
    if not ids:
        return {}
    by_attempt: dict[int, list[AttemptEvent]] = {i: [] for i in ids}
    for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id.in_(ids),
                                                           AttemptEvent.kind.in_(KINDS))
                                .order_by(AttemptEvent.at, AttemptEvent.id)):
        by_attempt[e.attempt_id].append(e)
    out = {}
    for attempt_id, events in by_attempt.items():
        state = fold(True, events).proctor_state
        if state is not None:
            out[attempt_id] = str(STATE_LABELS[state])
    return out


def scans_for_review(attempt: Attempt) -> list[Scan]:
    """Every scan of the attempt, in order (the review links each to its moment in the recording)."""
    return scan_state(attempt).scans


def expire_all(now: dt.datetime) -> int:
    """Apply the time limits to every attempt in progress of an exam with room scans (the page may be gone)."""
    from exams.models import Exam

    ids = db.session.scalars(select(Attempt.id).join(Exam).where(
        Attempt.status == AttemptStatus.IN_PROGRESS, Exam.room_scan_required.is_(True))).all()
    ended = 0
    for attempt_id in ids:
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None:
            continue
        before = scan_state(attempt)
        after = expire(attempt, now)
        ended += int(before.running is not None and after.running is None)
    return ended
