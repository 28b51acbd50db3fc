"""The detector-run log: every raised flag logged with its detector, model, version, thresholds and span, no image,
kept six months and then deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus
from kernel.db import db
from oversight.detectors import detector_for
from oversight.models import DetectorRun
from oversight.runlog import MIN_RETENTION_DAYS, runs_of
from privacy.inventory import RECORDS
from privacy.retention import purge_aged_rows
from proctoring.flags import raise_flag
from proctoring.models import FlagKind

T0 = dt.datetime(2026, 12, 7, 9, 0)


@pytest.fixture
def attempt(app, make_user, make_exam):
    exam = make_exam(proctoring_required=True)
    cand = make_user("candidate", exam.institution)
    att = Attempt(exam=exam, user=cand, deadline_at=exam.closes_at, seed=1, layout={}, status=AttemptStatus.IN_PROGRESS)
    db.session.add(att)
    db.session.commit()
    return att


@pytest.mark.parametrize("kind", list(FlagKind))
def test_every_raised_flag_is_logged_with_its_detector(app, attempt, kind):
    flag = raise_flag(attempt, kind, T0, source="video", seconds=4.0, surface="window")
    [run] = runs_of(attempt.id)
    d = detector_for(kind)
    assert (run.flag_id, run.flag_kind, run.detector) == (flag.id, kind.value, d.key)
    assert (run.model, run.version, run.thresholds) == (d.model, d.version, d.thresholds)
    assert run.measure == {"seconds": 4.0}  # numbers only: no text the browser sent, never an image
    assert (run.span_start, run.span_end) == (T0 - dt.timedelta(seconds=4), T0)


def test_an_extended_flag_extends_the_logged_span(app, attempt):
    raise_flag(attempt, FlagKind.VOICE, T0)
    raise_flag(attempt, FlagKind.VOICE, T0 + dt.timedelta(seconds=8))
    [run] = runs_of(attempt.id)
    assert run.span_end == T0 + dt.timedelta(seconds=8)


def test_a_silenced_kind_logs_nothing(app, attempt, make_user):
    from proctoring.flags import add_accommodation

    staff = make_user("staff", attempt.exam.institution)
    add_accommodation(attempt.user_id, attempt.exam_id, FlagKind.VOICE, "speaks while reading", staff)
    assert raise_flag(attempt, FlagKind.VOICE, T0) is None
    assert runs_of(attempt.id) == []


def test_the_log_holds_no_name_and_no_image(app):
    columns = set(DetectorRun.__table__.columns.keys())
    assert columns == {"id", "at", "attempt_id", "flag_id", "detector", "flag_kind", "model", "version", "thresholds",
                       "measure", "outcome", "span_start", "span_end"}


def test_the_log_is_kept_six_months_then_deleted(app, attempt):
    assert app.config["AIACT_LOG_RETENTION_DAYS"] >= MIN_RETENTION_DAYS
    raise_flag(attempt, FlagKind.NO_FACE, T0)
    raise_flag(attempt, FlagKind.VOICE, T0 + dt.timedelta(days=2))
    counts = purge_aged_rows(T0 + dt.timedelta(days=MIN_RETENTION_DAYS + 1), tables=("detector_run",))
    assert counts["detector_run"] == 1
    assert [r.flag_kind for r in db.session.scalars(select(DetectorRun))] == ["voice"]


def test_the_log_is_in_the_privacy_inventory_with_purpose_and_legal_basis(app):
    [rec] = [r for r in RECORDS if r.table == "detector_run"]
    assert rec.age_days_config == "AIACT_LOG_RETENTION_DAYS"
    assert "Art. 12" in rec.fields["detector"].purpose.en
    assert "Art. 6(1)(c)" in rec.fields["detector"].basis.en


def test_a_run_that_cleared_a_flag_is_logged_once_and_the_flag_stays_for_a_person(app, attempt):
    from proctoring.flags import clear_flag
    from proctoring.models import FlagStatus

    flag = raise_flag(attempt, FlagKind.NO_FACE, T0, source="video", seconds=5.0)
    assert clear_flag(attempt, FlagKind.NO_FACE, T0 + dt.timedelta(seconds=2)) is flag
    clear_flag(attempt, FlagKind.NO_FACE, T0 + dt.timedelta(seconds=3))  # a second look at the same end: no new run
    raised, cleared = runs_of(attempt.id)
    assert (raised.outcome, cleared.outcome) == ("raised", "cleared")
    assert (cleared.flag_id, cleared.detector, cleared.model) == (flag.id, raised.detector, raised.model)
    assert cleared.span_start == T0 and cleared.measure == {}
    assert flag.status == FlagStatus.OPEN  # a detector clears the condition, never the flag: a person decides
    assert clear_flag(attempt, FlagKind.VOICE, T0) is None  # nothing open of that kind: nothing logged
    assert len(runs_of(attempt.id)) == 2
