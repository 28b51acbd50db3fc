"""Human oversight (EU AI Act Art. 14) as a rule over every flag kind: nothing automated changes a result, holds a
certificate or refuses a candidate; after the exam a flag is decided only by someone who opened the evidence."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from exams import trust
from exams.certificates import certificate_for_attempt
from exams.grading import release_result
from exams.models import AttemptEvent, AttemptStatus
from idcheck.models import IdCheckStatus
from kernel.clock import clock
from kernel.db import db
from kernel.errors import Conflict
from proctoring.flags import raise_flag, resolve_flag
from proctoring.models import FlagKind, FlagStatus
from proctoring.review import log_access, record_review, recording_parts
from tests.exams.test_trust import chain  # noqa: F401  (the chain of trust's fixture: exam, staff, proctor, attempts)


def _result(att):
    db.session.refresh(att)
    return (att.status, att.points, att.percent, att.passed, att.result_released_at)


def test_a_flag_of_any_kind_neither_ends_nor_changes_an_attempt(app, chain):  # noqa: F811
    for kind in FlagKind:
        att = chain.attempt(status=AttemptStatus.IN_PROGRESS, identity=IdCheckStatus.VERIFIED)
        before = _result(att)
        flag = raise_flag(att, kind, clock.now(), source="test")
        assert _result(att) == before, kind  # still running, the same points: the candidate is not refused
        assert flag.status == FlagStatus.OPEN, kind  # nobody decided it yet, nothing automated will
        kinds = set(db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == att.id)))
        assert kinds == {"flag"}, kind  # no termination, no warning, no pause: only the flag on the timeline


def test_a_flag_of_any_kind_holds_the_result_only_until_a_person_reviews(app, chain):  # noqa: F811
    for kind in FlagKind:
        att = chain.attempt(identity=IdCheckStatus.VERIFIED)
        raise_flag(att, kind, clock.now(), source="test")
        # the hold is a person's review, never the flag itself
        assert {h.code for h in trust.holds(att)} == {"review"}, kind
        with app.test_request_context():
            record_review(att, chain.proctor, "clean", "", clock.now())
            release_result(att, chain.staff, clock.now())
        _status, points, _percent, passed, released = _result(att)
        assert (points, passed) == (2, True) and released is not None, kind
        assert certificate_for_attempt(att) is not None, kind  # the open flag holds no certificate


def test_a_confirmed_flag_of_any_kind_changes_no_points(app, chain):  # noqa: F811
    for kind in FlagKind:
        att = chain.attempt(identity=IdCheckStatus.VERIFIED)
        flag = raise_flag(att, kind, clock.now(), source="test")
        log_access(att, chain.proctor, recording_parts(att)[0].id, clock.now())
        with app.test_request_context():
            resolve_flag(flag.id, att, chain.proctor, True, "seen in the recording", clock.now())
        # people decide what follows (review, appeal), not the flag
        assert _result(att)[:4] == (AttemptStatus.SUBMITTED, 2, 50, True), kind


def test_after_the_exam_a_flag_is_decided_only_after_its_evidence_was_opened(app, chain):  # noqa: F811
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag = raise_flag(att, FlagKind.OTHER_PERSON, clock.now(), source="video")
    with app.test_request_context(), pytest.raises(Conflict):
        resolve_flag(flag.id, att, chain.proctor, False, "", clock.now())
    clock.advance(dt.timedelta(seconds=60))
    log_access(att, chain.proctor, recording_parts(att)[0].id, clock.now())  # the player opened the recording
    clock.advance(dt.timedelta(seconds=30))
    with app.test_request_context():
        resolve_flag(flag.id, att, chain.proctor, False, "", clock.now())
    event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.attempt_id == att.id,
                                                         AttemptEvent.kind == "flag_dismissed"))
    assert event.detail["evidence_opened"] is True
    assert event.detail["seconds_to_decision"] == 90


def test_someone_elses_opening_does_not_count(app, chain):  # noqa: F811
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag = raise_flag(att, FlagKind.VOICE, clock.now(), source="audio")
    log_access(att, chain.staff, recording_parts(att)[0].id, clock.now())
    with app.test_request_context(), pytest.raises(Conflict):
        resolve_flag(flag.id, att, chain.proctor, True, "heard a voice", clock.now())


def test_during_the_exam_the_proctor_decides_on_the_live_picture_and_it_is_reported(app, chain):  # noqa: F811
    att = chain.attempt(status=AttemptStatus.IN_PROGRESS, identity=IdCheckStatus.VERIFIED)
    flag = raise_flag(att, FlagKind.NO_FACE, clock.now(), source="video")
    with app.test_request_context():
        resolve_flag(flag.id, att, chain.proctor, False, "", clock.now())
    event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "flag_dismissed"))
    assert event.detail["evidence_opened"] is False  # counted as a decision without the evidence opened


def test_the_opened_evidence_must_show_the_flags_own_span(app, chain):  # noqa: F811
    """A part or snapshot from another stretch of the exam does not count; one within the flag's span does."""
    from proctoring.review import snapshot_bytes, snapshots_of
    from storage import vault
    from storage.models import Blob

    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    early = recording_parts(att)[0]  # stored by the fixture now and complete at once: it shows the first moments
    clock.advance(dt.timedelta(minutes=20))
    flag = raise_flag(att, FlagKind.OTHER_PERSON, clock.now(), source="video")
    clock.advance(dt.timedelta(seconds=5))
    log_access(att, chain.proctor, early.id, clock.now())  # the reviewer opened the part from 20 minutes before
    with app.test_request_context(), pytest.raises(Conflict):
        resolve_flag(flag.id, att, chain.proctor, False, "", clock.now())
    # a snapshot taken during the flag's span, opened by the same reviewer, shows it
    vault.store("snapshot", b"\xff\xd8jpeg" * 20, attempt_id=att.id, user_id=att.user_id,
                institution_id=db.session.get(Blob, early.id).institution_id)
    late = snapshots_of(att)[-1]
    assert late.created_at >= flag.started_at
    with app.test_request_context():
        snapshot_bytes(att, chain.proctor, late.id, clock.now())
        clock.advance(dt.timedelta(seconds=5))
        resolve_flag(flag.id, att, chain.proctor, False, "", clock.now())
    event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.attempt_id == att.id,
                                                         AttemptEvent.kind == "flag_dismissed"))
    assert event.detail["evidence_opened"] is True


def test_a_part_recorded_over_the_flags_span_counts(app, chain):  # noqa: F811
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    part = recording_parts(att)[0]
    part.completed_at = clock.now() + dt.timedelta(minutes=30)  # the part ran on for half an hour
    db.session.commit()
    clock.advance(dt.timedelta(minutes=20))
    flag = raise_flag(att, FlagKind.NO_FACE, clock.now(), source="video")
    log_access(att, chain.proctor, part.id, clock.now())
    with app.test_request_context():
        resolve_flag(flag.id, att, chain.proctor, True, "the chair was empty", clock.now())
