"""Accommodations set by the exam office before the exam: extra time applied at the start, flag types silenced,
both shown to the proctor on the tile."""

from __future__ import annotations

import pytest

from exams.attempts import timeline
from exams.models import Attempt, ExtraTime
from kernel.clock import clock
from kernel.db import db
from proctoring.flags import raise_flag
from proctoring.models import Accommodation, FlagKind
from tests.conftest import login, start_exam


@pytest.fixture
def office(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False, duration_minutes=30,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    staff = app.test_client()
    login(staff, make_user("staff", inst))
    supervisor = app.test_client()
    login(supervisor, proctor)
    return {"inst": inst, "exam": exam, "staff": staff, "proctor": supervisor}


def _grant(client, exam_id, **form):
    return client.post(f"/staff/exams/{exam_id}/accommodations", data=form)


def _candidate_starts(app, user, exam_id):
    c = app.test_client()
    login(c, user)
    return db.session.get(Attempt, start_exam(c, exam_id))


@pytest.mark.parametrize(("amount", "unit", "extra"), [("10", "minutes", 10), ("50", "percent", 15),
                                                       ("25", "percent", 8)])  # 7.5 minutes rounds up
def test_extra_time_is_applied_when_the_attempt_starts_and_shown_on_the_tile(app, office, make_user, amount, unit,
                                                                             extra):
    exam = office["exam"]
    cand = make_user("candidate", office["inst"])
    page = office["staff"].get(f"/staff/exams/{exam.id}").get_data(as_text=True)
    assert f"/staff/exams/{exam.id}/accommodations" in page  # linked from the exam's page
    r = _grant(office["staff"], exam.id, email=cand.email.upper(), amount=amount, unit=unit, reason="Legasthenie")
    assert r.status_code == 302, r.get_data(as_text=True)
    attempt = _candidate_starts(app, cand, exam.id)
    assert (attempt.deadline_at - attempt.started_at).total_seconds() == (30 + extra) * 60
    assert [e.detail for e in timeline(attempt) if e.kind == "extra_time_applied"] == [{"minutes": extra}]
    tile = office["proctor"].get("/api/proctor/live").json["attempts"][0]
    assert tile["accommodation"] == {"extra_minutes": extra, "reason": "Legasthenie", "silenced": []}
    assert tile["remaining_seconds"] > (30 + extra - 1) * 60


def test_without_an_accommodation_the_duration_is_the_exams(app, office, make_user):
    other = make_user("candidate", office["inst"])
    _grant(office["staff"], office["exam"].id, email=make_user("candidate", office["inst"]).email, amount="20",
           unit="minutes", reason="x")
    attempt = _candidate_starts(app, other, office["exam"].id)
    assert (attempt.deadline_at - attempt.started_at).total_seconds() == 30 * 60
    assert office["proctor"].get("/api/proctor/live").json["attempts"][0]["accommodation"] is None


def test_a_silenced_flag_type_is_never_raised_and_the_proctor_sees_why(app, office, make_user):
    cand = make_user("candidate", office["inst"])
    r = _grant(office["staff"], office["exam"].id, email=cand.email, amount="0", unit="minutes",
               kinds=["voice", "no_face"], reason="liest laut")
    assert r.status_code == 302
    listing = office["staff"].get(f"/staff/exams/{office['exam'].id}/accommodations").get_data(as_text=True)
    assert "Sprechen gehört" in listing and "liest laut" in listing
    attempt = _candidate_starts(app, cand, office["exam"].id)
    assert raise_flag(attempt, FlagKind.VOICE, clock.now()) is None
    assert raise_flag(attempt, FlagKind.TAB_HIDDEN, clock.now()) is not None  # others still count
    tile = office["proctor"].get("/api/proctor/live").json["attempts"][0]
    assert tile["accommodation"]["silenced"] == ["Kein Gesicht im Bild", "Sprechen gehört"]
    assert tile["accommodation"]["extra_minutes"] == 0


def test_once_started_the_accommodation_can_no_longer_change(app, office, make_user):
    cand = make_user("candidate", office["inst"])
    _grant(office["staff"], office["exam"].id, email=cand.email, amount="10", unit="minutes", reason="Sehbehinderung")
    _candidate_starts(app, cand, office["exam"].id)
    r = _grant(office["staff"], office["exam"].id, email=cand.email, amount="60", unit="minutes", reason="mehr")
    assert r.status_code == 409 and "schon begonnen" in r.get_data(as_text=True)
    assert office["staff"].post(f"/staff/exams/{office['exam'].id}/accommodations/{cand.id}/remove").status_code == 409
    row = db.session.scalar(db.select(ExtraTime).where(ExtraTime.user_id == cand.id))
    assert (row.extra_minutes, row.reason) == (10, "Sehbehinderung")


def test_replacing_and_withdrawing_before_the_start(app, office, make_user):
    cand = make_user("candidate", office["inst"])
    exam_id = office["exam"].id
    _grant(office["staff"], exam_id, email=cand.email, amount="10", unit="minutes", kinds=["voice"], reason="a")
    _grant(office["staff"], exam_id, email=cand.email, amount="20", unit="percent", reason="b")
    assert db.session.scalars(db.select(Accommodation).where(Accommodation.user_id == cand.id)).all() == []
    assert db.session.scalar(db.select(ExtraTime.extra_percent).where(ExtraTime.user_id == cand.id)) == 20
    assert office["staff"].post(f"/staff/exams/{exam_id}/accommodations/{cand.id}/remove").status_code == 302
    assert db.session.scalar(db.select(ExtraTime).where(ExtraTime.user_id == cand.id)) is None


@pytest.mark.parametrize(("form", "words"), [
    ({"email": "nobody@example.org", "amount": "10", "unit": "minutes", "reason": "x"}, "Kein Prüfling"),
    ({"amount": "500", "unit": "minutes", "reason": "x"}, "von 0 bis 240"),
    ({"amount": "abc", "unit": "minutes", "reason": "x"}, "ganze Zahl"),
    ({"amount": "10", "unit": "minutes", "reason": " "}, "Grund"),
    ({"amount": "0", "unit": "minutes", "reason": "x"}, "zusätzliche Zeit gewähren"),
    ({"amount": "5", "unit": "minutes", "kinds": ["nonsense"], "reason": "x"}, "Unbekannte Art"),
])
def test_bad_input_is_explained_and_keeps_what_was_typed(office, make_user, form, words):
    cand = make_user("candidate", office["inst"])
    form = {"email": cand.email, **form}
    r = _grant(office["staff"], office["exam"].id, **form)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and words in page and 'id="accommodation-error"' in page
    assert f'value="{form["email"]}"' in page
    assert db.session.scalar(db.select(ExtraTime)) is None and db.session.scalar(db.select(Accommodation)) is None


def test_only_the_exam_office_of_the_institution(app, office, make_user, make_institution):
    cand = make_user("candidate", office["inst"])
    exam_id = office["exam"].id
    assert office["proctor"].get(f"/staff/exams/{exam_id}/accommodations").status_code == 403
    other = app.test_client()
    login(other, make_user("staff", make_institution()))
    assert other.get(f"/staff/exams/{exam_id}/accommodations").status_code == 404
    r = _grant(other, exam_id, email=cand.email, amount="60", unit="minutes", reason="x")
    assert r.status_code == 404 and db.session.scalar(db.select(ExtraTime)) is None
    # A candidate of another institution cannot be given time in this exam either.
    stranger = make_user("candidate", make_institution())
    r = _grant(office["staff"], exam_id, email=stranger.email, amount="60", unit="minutes", reason="x")
    assert r.status_code == 400 and db.session.scalar(db.select(ExtraTime)) is None
