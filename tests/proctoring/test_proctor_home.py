"""The proctor's home leads to the work: today's sessions with live counts, and the review queue."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from exams.attempts import submit_attempt
from exams.models import Attempt
from kernel.clock import clock
from kernel.db import db
from proctoring.flags import raise_flag
from proctoring.models import FlagKind
from storage import vault
from tests.conftest import login, start_exam


@pytest.fixture
def day(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, title="Deutsch B2", identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    later = make_exam(institution=inst, title="Nächste Woche", opens_at=clock.now() + dt.timedelta(days=7),
                      closes_at=clock.now() + dt.timedelta(days=8))
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    later.proctors.append(proctor)
    db.session.commit()
    attempts = []
    for _ in range(3):
        c = app.test_client()
        login(c, make_user("candidate", inst))
        attempts.append(db.session.get(Attempt, start_exam(c, exam.id)))
    client = app.test_client()
    login(client, proctor)
    return {"inst": inst, "exam": exam, "attempts": attempts, "proctor": client, "proctor_user": proctor}


def _ended_with_recording(attempt, flags, minutes_ago):
    for kind in flags:
        raise_flag(attempt, kind, clock.now())
    vault.store("recording", b"webm", content_type="video/webm", attempt_id=attempt.id, user_id=attempt.user_id,
                institution_id=attempt.exam.institution_id)
    submit_attempt(attempt, clock.now() - dt.timedelta(minutes=minutes_ago))


def test_home_shows_todays_sessions_with_live_counts_and_links(day):
    a1, a2, _a3 = day["attempts"]
    raise_flag(a1, FlagKind.TAB_HIDDEN, clock.now())
    raise_flag(a2, FlagKind.NO_FACE, clock.now())
    page = day["proctor"].get("/proctor/").get_data(as_text=True)
    row = re.search(rf'<tr data-exam="{day["exam"].id}">(.*?)</tr>', page, re.S).group(1)
    counts = re.findall(r'class="count-(\w+)">(\d+)<', row)
    assert counts == [("live", "3"), ("identity", "0"), ("flags", "2")]
    assert "Nächste Woche" not in page.split('id="today"')[1].split("</table>")[0]  # not today's
    for link in ('href="/proctor/live"', 'href="/proctor/identity"', 'href="/proctor/reviews"'):
        assert link in page, link
    assert "Sitzungen heute" in page


def test_review_queue_lists_ended_attempts_most_flags_first_with_the_wait(day):
    a1, a2, a3 = day["attempts"]
    _ended_with_recording(a1, [FlagKind.TAB_HIDDEN], 90)
    _ended_with_recording(a2, [FlagKind.NO_FACE, FlagKind.VOICE, FlagKind.COPY_PASTE], 5)
    _ended_with_recording(a3, [], 30)  # no flag: the default policy asks no review
    page = day["proctor"].get("/proctor/reviews").get_data(as_text=True)
    rows = re.findall(r'<tr data-attempt="(\d+)">.*?class="open-flags">(\d+)<.*?class="waiting">(.*?)</td>', page, re.S)
    assert [(int(a), int(n)) for a, n, _w in rows] == [(a2.id, 3), (a1.id, 1)]
    assert rows[1][2].strip() == "1 Std. 30 Min."
    assert f'href="/proctor/attempts/{a2.id}/review"' in page
    home = day["proctor"].get("/proctor/").get_data(as_text=True)
    assert re.search(r'id="to-session-reviews">[^<]*</a> \(2 ', home)
    # Reviewed, it leaves the queue.
    day["proctor"].post(f"/proctor/attempts/{a2.id}/review", data={"outcome": "clean", "note": ""})
    page = day["proctor"].get("/proctor/reviews").get_data(as_text=True)
    assert re.findall(r'<tr data-attempt="(\d+)">', page) == [str(a1.id)]


def test_another_proctor_sees_nothing_of_it(app, day, make_user, make_institution):
    _ended_with_recording(day["attempts"][0], [FlagKind.TAB_HIDDEN], 10)
    for inst in (day["inst"], make_institution()):
        c = app.test_client()
        login(c, make_user("proctor", inst))
        assert "data-attempt=" not in c.get("/proctor/reviews").get_data(as_text=True)
        assert "data-exam=" not in c.get("/proctor/").get_data(as_text=True)


def test_today_is_the_institutions_day_not_the_utc_day(app, make_institution, make_user, make_exam):
    from proctoring.review import today_sessions

    inst = make_institution()  # Europe/Berlin
    proctor = make_user("proctor", inst)
    now = dt.datetime(2026, 12, 1, 23, 30)  # 00:30 on 2 December in Berlin
    yesterday = make_exam(institution=inst, title="Gestern", opens_at=dt.datetime(2026, 12, 1, 6, 0),
                          closes_at=dt.datetime(2026, 12, 1, 8, 0))
    morning = make_exam(institution=inst, title="Heute früh", opens_at=dt.datetime(2026, 12, 2, 7, 0),
                        closes_at=dt.datetime(2026, 12, 2, 9, 0))
    yesterday.proctors.append(proctor)
    morning.proctors.append(proctor)
    db.session.commit()
    assert [s.exam.title for s in today_sessions(proctor, now)] == ["Heute früh"]
    inst.timezone = "America/New_York"  # 18:30 on 1 December there
    db.session.commit()
    assert [s.exam.title for s in today_sessions(proctor, now)] == ["Gestern"]


def test_todays_sessions_show_local_times_with_the_date_where_not_today(day):
    """Issue 30: the window was shown as bare UTC hours ("08:00 – 09:00 UTC"), an exam open until January
    looked closed; now the institution's time, with the date where it is not today, and today's sittings."""
    from exams.models import ExamSession
    from kernel.clock import to_local

    inst, exam = day["inst"], day["exam"]
    inst.timezone = "America/New_York"
    exam.closes_at = clock.now() + dt.timedelta(days=40)
    db.session.commit()
    page = day["proctor"].get("/proctor/").get_data(as_text=True)
    cell = re.search(rf'<tr data-exam="{exam.id}">.*?class="slots">(.*?)</td>', page, re.S).group(1)
    closes = to_local(exam.closes_at, "America/New_York")
    assert "UTC" not in cell
    assert f"{closes:%d.%m.%Y %H:%M}" in cell  # not today: with the (German) date, in the institution's zone
    start = clock.now().replace(second=0, microsecond=0)
    db.session.add(ExamSession(exam_id=exam.id, starts_at=start, ends_at=start + dt.timedelta(minutes=1)))
    db.session.commit()
    page = day["proctor"].get("/proctor/").get_data(as_text=True)
    cell = re.search(rf'<tr data-exam="{exam.id}">.*?class="slots">(.*?)</td>', page, re.S).group(1)
    assert f"{to_local(start, 'America/New_York'):%H:%M}" in cell
    assert f"{closes:%d.%m.%Y}" not in cell  # the sitting, not the exam's whole window
