"""The exam office's home: every exam with its state, held results with the reason, deletion receipts on the page."""

from __future__ import annotations

import datetime as dt
import re

from exams.models import Appeal, Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from storage.models import PurgeReceipt
from tests.conftest import login
from tests.exams.conftest import QUESTIONS


def _attempt(exam, cand, **fields) -> Attempt:
    now = clock.now()
    values = {"started_at": now - dt.timedelta(hours=2), "deadline_at": now - dt.timedelta(hours=1),
              "ended_at": now - dt.timedelta(hours=1), "status": AttemptStatus.SUBMITTED, "seed": 1, "layout": {},
              "points": 2, "max_points": 2, "percent": 100, "passed": True, "pending_manual": False}
    values.update(fields)
    att = Attempt(exam=exam, user=cand, **values)
    db.session.add(att)
    db.session.commit()
    return att


def _states(page: str, exam_id: int) -> dict[str, str]:
    row = re.search(rf'<tr data-exam="{exam_id}">(.*?)</tr>', page, re.S)
    assert row is not None
    return dict(re.findall(r'<li data-state="([a-z_]+)">(.*?)</li>', row.group(1), re.S))


def test_exams_show_their_state_and_held_results_their_reason(client, make_institution, make_user, make_exam):
    inst = make_institution("Akademie")
    staff = make_user("staff", inst)
    now = clock.now()
    later = make_exam(institution=inst, title="Später", opens_at=now + dt.timedelta(days=3),
                      closes_at=now + dt.timedelta(days=4))
    running = make_exam(institution=inst, title="Jetzt", identity_check_required=False, proctoring_required=False)
    past = make_exam(institution=inst, title="Vorbei", questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, opens_at=now - dt.timedelta(days=3),
                     closes_at=now - dt.timedelta(days=1))
    held_exam = make_exam(institution=inst, title="Mit Ausweis", identity_check_required=True,
                          proctoring_required=False, opens_at=now - dt.timedelta(days=3),
                          closes_at=now - dt.timedelta(days=1))
    _attempt(running, make_user("candidate", inst), status=AttemptStatus.IN_PROGRESS, ended_at=None,
             deadline_at=now + dt.timedelta(minutes=20))
    _attempt(past, make_user("candidate", inst), pending_manual=True, passed=None)
    _attempt(past, make_user("candidate", inst))
    appealed = _attempt(past, make_user("candidate", inst), result_released_at=now - dt.timedelta(minutes=30))
    db.session.add(Appeal(attempt_id=appealed.id, text="Bitte nachsehen",
                          filed_at=now - dt.timedelta(minutes=10)))
    held = _attempt(held_exam, make_user("candidate", inst))
    db.session.add(PurgeReceipt(blob_id=99, category="recording", rule="appeal window closed", institution_id=inst.id,
                                attempt_id=held.id, purged_at=now))
    db.session.commit()

    login(client, staff)
    page = client.get("/staff/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert _states(page, later.id) == {"scheduled": "geplant"}
    assert _states(page, running.id) == {"running": "läuft", "in_progress": "schreiben gerade: 1"}
    assert _states(page, past.id) == {"closed": "geschlossen", "to_grade": "zu bewerten: 1",
                                      "to_release": "freizugeben: 1", "appeals_open": "Widersprüche offen: 1"}
    assert "held" in page[page.index(f'<tr data-exam="{held_exam.id}">'):]
    # The held result is listed on the home page with its reason; the receipts are in the page, not its title.
    held_row = re.search(rf'<tr data-attempt="{held.id}">(.*?)</tr>', page, re.S)
    assert held_row is not None and "Die Identität der Person wurde nie geprüft." in held_row.group(1)
    title = page[page.index("<title>"):page.index("</title>")]
    assert "receipts" not in title and "Löschnachweise" not in title
    body = page[page.index("<h1>"):]
    receipts = re.search(r'<table id="receipts">.*?</table>', body, re.S)
    assert receipts is not None and "Aufnahme" in receipts.group(0) and "appeal window closed" in receipts.group(0)


def test_candidate_finds_result_certificate_and_appeal_deadline_at_home(app, client, office, submitted):
    from exams.grading import give_points, release_result

    attempt = submitted()
    login(client, office.candidate)

    def item() -> str:
        page = client.get("/candidate/", headers={"Accept-Language": "de"}).get_data(as_text=True)
        found = re.search(rf'<li class="my-exam" data-exam="{attempt.exam_id}">(.*?)</li>', page, re.S)
        assert found is not None, page
        return found.group(1)

    before = item()
    assert f"/candidate/attempts/{attempt.id}/result" in before and "my-result" not in before  # not released yet
    with app.test_request_context():
        give_points(attempt, office.staff, "q4", 5, clock.now())
        release_result(attempt, office.staff, clock.now())
    after = item()
    assert "100 %" in after and "bestanden" in after
    from exams.rosters import exam_of_candidate
    from kernel.clock import format_local

    shown = exam_of_candidate(office.candidate, attempt.exam, clock.now())
    assert shown is not None and shown.appeal_closes_at is not None
    assert shown.appeal_closes_at > clock.now() + dt.timedelta(days=7)  # the 7th day after the release counts
    deadline = format_local(shown.appeal_closes_at, attempt.exam.institution.timezone)
    deadline = f"{deadline[8:10]}.{deadline[5:7]}.{deadline[:4]}{deadline[10:]}"  # a German date on the German page
    assert 'class="appeal-deadline"' in after and deadline in after
    # While appeals are taken the certificate is not the candidate's yet: the page says when it comes.
    assert 'class="to-certificate"' not in after and 'class="certificate-comes"' in after
    clock.advance(dt.timedelta(days=9))
    login(client, office.candidate)
    later = item()
    assert 'class="to-certificate"' in later and 'class="appeal-deadline"' not in later
