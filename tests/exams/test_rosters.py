"""Rosters: only enrolled candidates see and start an exam; sessions with proctors and a capacity; CSV import with
line-precise errors; another attempt only when the exam office allows it; times in the institution's zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from exams import rosters
from exams.models import Attempt, Enrolment, ExamSession
from kernel.clock import clock, utcnow
from kernel.db import db
from tests.conftest import login, start_exam
from tests.exams.conftest import QUESTIONS


@pytest.fixture
def roster(make_institution, make_user, make_exam) -> Any:
    """An exam with an empty roster, its staff, two proctors, and two candidates not yet enrolled."""
    inst = make_institution("Sprachschule West")
    exam = make_exam(institution=inst, enrol_all=False, title="Deutsch C1", questions=QUESTIONS,
                     identity_check_required=False, proctoring_required=False,
                     opens_at=utcnow() - dt.timedelta(hours=1), closes_at=utcnow() + dt.timedelta(days=30))
    return type("Roster", (), {
        "inst": inst, "exam": exam, "staff": make_user("staff", inst),
        "proctor": make_user("proctor", inst, email="anna.aufsicht@example.org"),
        "proctor2": make_user("proctor", inst, email="bernd.aufsicht@example.org"),
        "erika": make_user("candidate", inst, email="erika@example.org", enrolled=False),
        "max": make_user("candidate", inst, email="max@example.org", enrolled=False, first_name="Max"),
    })


def _status(client, path: str, method: str = "GET") -> int:
    return client.open(path, method=method).status_code


def test_a_candidate_not_enrolled_gets_404_everywhere(app, client, roster):
    exam_id = roster.exam.id
    login(client, roster.erika)
    assert roster.exam.title not in client.get("/candidate/").get_data(as_text=True)
    for method, path in [("GET", f"/candidate/exams/{exam_id}"), ("POST", f"/candidate/exams/{exam_id}/start"),
                         ("GET", f"/candidate/exams/{exam_id}/system-check"),
                         ("GET", f"/candidate/exams/{exam_id}/identity")]:
        assert _status(client, path, method) == 404, path
    assert db.session.scalar(select(Attempt.id)) is None
    rosters.enrol(roster.exam, roster.erika)
    assert roster.exam.title in client.get("/candidate/").get_data(as_text=True)
    assert _status(client, f"/candidate/exams/{exam_id}") == 200
    assert start_exam(client, exam_id)


def test_enrolment_of_another_institutions_candidate_is_refused(app, roster, make_user):
    from kernel.errors import NotFound

    stranger = make_user("candidate", enrolled=False)
    with app.test_request_context(), pytest.raises(NotFound):
        rosters.enrol(roster.exam, stranger)
    assert db.session.scalar(select(Enrolment.id)) is None


def test_csv_import_reports_every_problem_with_its_line_and_enrols_nobody(app, client, roster):
    login(client, roster.staff)
    bad = ("email;date;start;end;proctor\n"
           "erika@example.org;24.12.2026;09:00;11:00;anna.aufsicht@example.org\n"
           "nobody@example.org;2026-12-24;09:00;11:00;\n"
           "\n"
           "max@example.org;2026-13-24;09:00;11:00;\n"
           "ERIKA@example.org;;;;\n"
           "max@example.org;2026-12-24;11:00;09:00;\n"
           "max@example.org;2026-12-24;09:00;11:00;erika@example.org\n")
    clock.freeze(dt.datetime(2026, 12, 1, 10, 0))
    roster.exam.opens_at, roster.exam.closes_at = dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 31)
    db.session.commit()
    resp = client.post(f"/staff/exams/{roster.exam.id}/roster/import", data={"csv": bad})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    problems = page.split('id="roster-problems"')[1].split("</ul>")[0]
    assert "Zeile 3: " in problems and "nobody@example.org" in problems
    assert "Zeile 5: " in problems and "2026-13-24" in problems  # line 4 is empty: the numbers are the file's
    assert "Zeile 6: " in problems and "Zeile 2" in problems  # the same address again, named with its first line
    assert "Zeile 7: " in problems  # ends before it starts
    assert "Zeile 8: " in problems and "erika@example.org" in problems  # not a proctor
    assert "Zeile 2: " not in problems
    assert db.session.scalar(select(Enrolment.id)) is None and db.session.scalar(select(ExamSession.id)) is None
    assert "nobody@example.org" in page  # the text stays in the form to be corrected

    good = ("email,date,start,end,proctor\n"
            "erika@example.org,24.12.2026,09:00,11:00,anna.aufsicht@example.org\n"
            "max@example.org,2026-12-24,09:00,11:00,\n")
    assert client.post(f"/staff/exams/{roster.exam.id}/roster/import", data={"csv": good}).status_code == 302
    session = db.session.scalars(select(ExamSession)).one()
    assert (session.starts_at, session.ends_at) == (dt.datetime(2026, 12, 24, 8, 0), dt.datetime(2026, 12, 24, 10, 0))
    entries = {e.user.email: e for e in db.session.scalars(select(Enrolment)).all()}
    assert set(entries) == {"erika@example.org", "max@example.org"}
    assert entries["erika@example.org"].proctor_id == roster.proctor.id
    assert entries["max@example.org"].proctor_id == roster.proctor.id  # the session's proctor has room
    page = client.get(f"/staff/exams/{roster.exam.id}/roster").get_data(as_text=True)
    assert "24.12.2026 09:00 – 24.12.2026 11:00" in page  # shown in Berlin time, German dates


def test_a_header_without_email_and_an_empty_file_are_refused(app, roster):
    for text, line in [("", 1), ("name,date\nerika@example.org,2026-12-24\n", 1), ("email\n\n", 1)]:
        with app.test_request_context(), pytest.raises(rosters.RosterImportError) as err:
            rosters.import_roster(roster.exam, text)
        assert [p.line for p in err.value.problems] == [line]


def test_capacity_per_proctor(app, roster, make_user):
    now = utcnow()
    session = rosters.create_session(roster.exam, now + dt.timedelta(hours=1), now + dt.timedelta(hours=3),
                                     capacity_per_proctor=2)
    rosters.add_session_proctor(session, roster.proctor)
    third = make_user("candidate", roster.inst, enrolled=False)
    rosters.enrol(roster.exam, roster.erika, session)
    rosters.enrol(roster.exam, roster.max, session)
    with app.test_request_context(), pytest.raises(rosters.SessionFull):
        rosters.enrol(roster.exam, third, session)
    assert rosters.enrolment_of(third, roster.exam) is None  # nothing half-done
    assert rosters.load(session) == {roster.proctor.id: 2}
    rosters.add_session_proctor(session, roster.proctor2)
    assert rosters.enrol(roster.exam, third, session).proctor_id == roster.proctor2.id
    assert roster.proctor2 in roster.exam.proctors  # the proctor sees the exam's grid


def test_candidates_waiting_for_a_proctor_go_to_the_next_one_assigned(roster):
    now = utcnow()
    session = rosters.create_session(roster.exam, now + dt.timedelta(hours=1), now + dt.timedelta(hours=3),
                                     capacity_per_proctor=1)
    rosters.enrol(roster.exam, roster.erika, session)
    rosters.enrol(roster.exam, roster.max, session)
    assert rosters.load(session) == {None: 2}
    assert rosters.add_session_proctor(session, roster.proctor) == 1
    assert rosters.load(session) == {roster.proctor.id: 1, None: 1}


def test_default_capacity_is_15(roster):
    now = utcnow()
    session = rosters.create_session(roster.exam, now, now + dt.timedelta(hours=1))
    assert session.capacity_per_proctor == 15


def test_a_second_attempt_only_when_the_exam_office_allows_it(app, client, roster):
    rosters.enrol(roster.exam, roster.erika)
    login(client, roster.erika)
    first = start_exam(client, roster.exam.id)
    assert client.post(f"/candidate/attempts/{first}/submit").status_code == 302
    resp = client.post(f"/candidate/exams/{roster.exam.id}/start")
    assert resp.status_code == 409 and "Prüfungsamt" in resp.get_data(as_text=True)
    assert 'id="start"' not in client.get(f"/candidate/exams/{roster.exam.id}").get_data(as_text=True)
    staff = app.test_client()
    login(staff, roster.staff)
    enrolment = rosters.enrolment_of(roster.erika, roster.exam)
    assert staff.post(f"/staff/exams/{roster.exam.id}/roster/{enrolment.id}/another-attempt").status_code == 302
    second = start_exam(client, roster.exam.id)
    assert second != first
    assert client.post(f"/candidate/attempts/{second}/submit").status_code == 302
    assert client.post(f"/candidate/exams/{roster.exam.id}/start").status_code == 409


def test_the_session_time_slot_is_kept_and_said_in_local_time(app, client, roster):
    clock.freeze(dt.datetime(2026, 12, 1, 7, 0))  # 08:00 in Berlin
    roster.exam.opens_at, roster.exam.closes_at = dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 31)
    db.session.commit()
    session = rosters.create_session(roster.exam, dt.datetime(2026, 12, 1, 9, 0), dt.datetime(2026, 12, 1, 10, 0))
    rosters.enrol(roster.exam, roster.erika, session)
    login(client, roster.erika)
    resp = client.post(f"/candidate/exams/{roster.exam.id}/start")
    assert resp.status_code == 409
    assert "10:00 – 11:00" in resp.get_data(as_text=True)  # Berlin time, to the minute, today without the date
    clock.freeze(dt.datetime(2026, 12, 1, 8, 50))  # ten minutes before: early enough
    assert start_exam(client, roster.exam.id)


def test_staff_of_another_institution_cannot_see_or_change_the_roster(app, roster, make_user):
    other = app.test_client()
    login(other, make_user("staff"))
    exam_id = roster.exam.id
    assert other.get(f"/staff/exams/{exam_id}/roster").status_code == 404
    assert other.post(f"/staff/exams/{exam_id}/roster/import",
                      data={"csv": "email\nerika@example.org\n"}).status_code == 404
    assert db.session.scalar(select(Enrolment.id)) is None


def test_times_show_in_the_institutions_zone_without_microseconds(app, client, roster):
    clock.freeze(dt.datetime(2026, 7, 1, 12, 0, 0, 123456))
    roster.exam.opens_at = dt.datetime(2026, 7, 2, 6, 30, 15, 999999)
    roster.exam.closes_at = dt.datetime(2026, 7, 3, 16, 0)
    db.session.commit()
    login(client, roster.staff)
    page = client.get(f"/staff/exams/{roster.exam.id}").get_data(as_text=True)
    assert "02.07.2026 08:30 – 03.07.2026 18:00" in page  # summer time in Berlin: UTC+2
    assert "UTC" not in page and ".999999" not in page
    from accounts.services import set_timezone

    set_timezone(roster.inst, "Europe/London")
    page = client.get(f"/staff/exams/{roster.exam.id}").get_data(as_text=True)
    assert "02.07.2026 07:30" in page


def test_an_unknown_time_zone_is_refused(client, roster):
    login(client, roster.staff)
    resp = client.post(f"/staff/exams/{roster.exam.id}/timezone", data={"timezone": "Mars/Olympus"})
    assert resp.status_code == 400
    db.session.refresh(roster.inst)
    assert roster.inst.timezone == "Europe/Berlin"


def test_after_release_the_exam_page_links_the_result_and_certificate_instead_of_start(app, client, office,
                                                                                         submitted):
    from exams.grading import give_points, release_result

    attempt = submitted()
    login(client, office.candidate)
    page = client.get(f"/candidate/exams/{office.exam.id}").get_data(as_text=True)
    assert 'id="start"' not in page and f"/candidate/attempts/{attempt.id}/result" in page
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    page = client.get(f"/candidate/exams/{office.exam.id}").get_data(as_text=True)
    assert 'id="start"' not in page and 'id="certificate-comes"' in page and 'id="to-result"' in page
    home = client.get("/candidate/").get_data(as_text=True)
    assert f"/candidate/attempts/{attempt.id}/result" in home and ".pdf" not in home
    assert "Widersprüche werden bis" in home  # the appeal deadline
    clock.advance(dt.timedelta(days=9))  # the appeal window has closed: the certificate is the candidate's
    login(client, office.candidate)
    page = client.get(f"/candidate/exams/{office.exam.id}").get_data(as_text=True)
    assert 'id="start"' not in page and 'id="to-certificate"' in page and 'id="to-result"' in page
    home = client.get("/candidate/").get_data(as_text=True)
    assert ".pdf" in home and "Widersprüche werden bis" not in home


def test_each_proctors_grid_shows_the_candidates_the_session_gave_them(app, roster, make_user):
    from proctoring.actions import live_attempts, supervised_attempt

    now = utcnow()
    session = rosters.create_session(roster.exam, now - dt.timedelta(minutes=10), now + dt.timedelta(hours=2),
                                     capacity_per_proctor=1)
    rosters.add_session_proctor(session, roster.proctor)
    rosters.add_session_proctor(session, roster.proctor2)
    rosters.enrol(roster.exam, roster.erika, session)  # to Anna (first with room)
    rosters.enrol(roster.exam, roster.max, session)  # to Bernd
    attempts = {}
    for cand in (roster.erika, roster.max):
        c = app.test_client()
        login(c, cand)
        attempts[cand.id] = start_exam(c, roster.exam.id)
    anna = {a.user_id for a in live_attempts(roster.proctor)}
    bernd = {a.user_id for a in live_attempts(roster.proctor2)}
    assert (anna, bernd) == ({roster.erika.id}, {roster.max.id})
    assert {a.user_id for a in live_attempts(roster.staff)} == {roster.erika.id, roster.max.id}
    # a colleague's candidate is not on the grid, yet a proctor of the exam may still open it to stand in
    assert supervised_attempt(roster.proctor, attempts[roster.max.id]).user_id == roster.max.id


def test_csv_box_is_empty_with_the_example_as_a_placeholder(client, roster):
    """Issue 30: the CSV box was filled with example rows as content, so pressing "Enrol" sent them."""
    import re

    login(client, roster.staff)
    page = client.get(f"/staff/exams/{roster.exam.id}/roster", headers={"Accept-Language": "de"}).get_data(
        as_text=True)
    box = re.search(r'<textarea id="roster-csv"([^>]*)>([^<]*)</textarea>', page, re.S)
    assert box.group(2).strip() == ""
    assert "erika.mustermann@example.org" in box.group(1) and 'placeholder="email,date' in box.group(1)
