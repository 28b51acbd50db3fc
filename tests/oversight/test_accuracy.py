"""Accuracy measured in use: per flag kind, the share people confirm and dismiss, time to decision, decisions
without the evidence, a warning when a kind is confirmed far less often than usual; never for fewer than 5."""

from __future__ import annotations

import datetime as dt

import pytest

from exams.models import Attempt, AttemptStatus
from kernel.db import db
from oversight.accuracy import figures
from proctoring.models import Flag, FlagKind, FlagStatus
from tests.conftest import login

T0 = dt.datetime(2026, 12, 1, 9, 0)


@pytest.fixture
def office(app, make_institution, make_user, make_exam):
    """Two exams of one institution; ``flags(exam, kind, confirmed, dismissed, open_)`` gives each flag its own
    candidate, decided ten minutes after it was last seen."""
    inst = make_institution("Prüfungsamt Süd")
    exams = [make_exam(institution=inst, title="Statistik"), make_exam(institution=inst, title="Recht")]
    staff = make_user("staff", inst)
    proctor = make_user("proctor", inst)

    def flags(exam, kind, confirmed=0, dismissed=0, open_=0, opened=True):
        for status in [FlagStatus.CONFIRMED] * confirmed + [FlagStatus.DISMISSED] * dismissed + \
                [FlagStatus.OPEN] * open_:
            cand = make_user("candidate", inst)
            att = Attempt(exam=exam, user=cand, deadline_at=exam.closes_at, seed=1, layout={},
                          status=AttemptStatus.SUBMITTED)
            db.session.add(att)
            db.session.flush()
            decided = status != FlagStatus.OPEN
            f = Flag(attempt_id=att.id, kind=kind, started_at=T0, last_seen_at=T0, status=status,
                     reviewed_at=T0 + dt.timedelta(minutes=10) if decided else None,
                     reviewed_by_id=proctor.id if decided else None)
            db.session.add(f)
            db.session.flush()
            if decided:
                from exams.attempts import record_event

                record_event(att, "flag_confirmed" if status == FlagStatus.CONFIRMED else "flag_dismissed",
                             T0 + dt.timedelta(minutes=10), actor=proctor, flag=kind.value, flag_id=f.id,
                             evidence_opened=opened, seconds_to_decision=600)
        db.session.commit()

    return type("Office", (), {"inst": inst, "exams": exams, "staff": staff, "flags": flags})


def _row(rows, kind):
    return next(r for r in rows if r.kind == kind)


def test_shares_time_to_decision_and_decisions_without_the_evidence(app, office):
    office.flags(office.exams[0], FlagKind.VOICE, confirmed=3, dismissed=3, open_=1)
    office.flags(office.exams[0], FlagKind.VOICE, dismissed=2, opened=False)
    r = _row(figures(exam_id=office.exams[0].id), FlagKind.VOICE)
    assert (r.flags, r.confirmed, r.dismissed, r.open) == (9, 3, 5, 1)
    assert (r.confirmed_percent, r.dismissed_percent) == (38, 62)
    assert r.median_minutes == 10.0
    assert r.without_evidence == 2


def test_fewer_than_five_candidates_show_nothing(app, office):
    office.flags(office.exams[0], FlagKind.NO_FACE, confirmed=2, dismissed=2)
    r = _row(figures(exam_id=office.exams[0].id), FlagKind.NO_FACE)
    assert r.suppressed and r.flags is None and r.confirmed is None


def test_a_kind_confirmed_far_less_often_than_usual_warns(app, office):
    office.flags(office.exams[0], FlagKind.OTHER_PERSON, confirmed=20, dismissed=5)  # usually 80 % confirmed
    office.flags(office.exams[1], FlagKind.OTHER_PERSON, confirmed=1, dismissed=9)  # here 10 %: a bad camera?
    assert _row(figures(exam_id=office.exams[1].id), FlagKind.OTHER_PERSON).warning
    assert not _row(figures(exam_id=office.exams[0].id), FlagKind.OTHER_PERSON).warning
    platform = _row(figures(), FlagKind.OTHER_PERSON)
    assert platform.flags == 35 and not platform.warning


def test_the_office_and_the_admin_see_the_oversight_page_with_plot_warning_and_pdf(app, client, office,
                                                                                     make_user):
    office.flags(office.exams[0], FlagKind.OTHER_PERSON, confirmed=20, dismissed=5)
    office.flags(office.exams[1], FlagKind.OTHER_PERSON, confirmed=1, dismissed=9)
    login(client, office.staff)
    home = client.get("/staff/").get_data(as_text=True)
    assert 'id="oversight-link"' in home
    page = client.get("/staff/oversight").get_data(as_text=True)
    assert "KI-Aufsicht" in page and 'id="oversight-plot"' in page and "Recht" in page
    exam = client.get(f"/staff/oversight/exams/{office.exams[1].id}").get_data(as_text=True)
    assert 'id="oversight-warning"' in exam and "Möglicherweise eine andere Person" in exam
    assert "other_person" not in exam.split('data-kind="other_person"', 1)[1]  # words on the page, not codes
    pdf = client.get(f"/staff/oversight/exams/{office.exams[1].id}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    admin = make_user("admin", None)
    other = app.test_client()
    login(other, admin)
    assert "die ganze Plattform" in other.get("/admin/oversight").get_data(as_text=True)


def test_another_institution_cannot_open_an_exams_figures(app, client, office, make_institution, make_user):
    stranger = make_user("staff", make_institution("Anderswo"))
    login(client, stranger)
    assert client.get(f"/staff/oversight/exams/{office.exams[0].id}").status_code == 404
    assert client.get(f"/staff/oversight/exams/{office.exams[0].id}/report.pdf").status_code == 404


def test_the_pdf_report_draws_a_bar_per_kind_in_proportion(app, client, office):
    """Confirmed and dismissed parts of a kind's bar are as long as their counts (1 : 9 here), each labelled."""
    import re

    from tests.exams.test_lockdown import _drawn_text

    office.flags(office.exams[1], FlagKind.OTHER_PERSON, confirmed=1, dismissed=9)
    login(client, office.staff)
    pdf = client.get(f"/staff/oversight/exams/{office.exams[1].id}/report.pdf").data
    drawn = _drawn_text(pdf)
    widths = [float(w) for w in re.findall(rb"[\d.]+ [\d.]+ ([\d.]+) -?[\d.]+ re B", drawn)]
    assert len(widths) == 2 and abs(widths[1] / widths[0] - 9) < 0.01
