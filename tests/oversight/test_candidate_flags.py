"""Transparency to candidates (Art. 26(11), 50): after the exam, the flags of their session with the decisions."""

from __future__ import annotations

from tests.conftest import login


def test_after_the_exam_the_candidate_sees_the_flags_of_their_session_with_the_decisions(app, client, make_exam,
                                                                                          make_user):
    import datetime as dt

    from exams.models import Attempt, AttemptStatus
    from kernel.db import db
    from proctoring.flags import raise_flag, resolve_flag
    from proctoring.models import FlagKind

    exam = make_exam(title="Baurecht")
    cand, proctor = make_user("candidate", exam.institution), make_user("proctor", exam.institution)
    att = Attempt(exam=exam, user=cand, deadline_at=exam.closes_at, seed=1, layout={},
                  status=AttemptStatus.IN_PROGRESS)
    db.session.add(att)
    db.session.commit()
    now = dt.datetime(2026, 12, 7, 9, 0)
    flag = raise_flag(att, FlagKind.VOICE, now)
    with app.test_request_context():
        resolve_flag(flag.id, att, proctor, False, "Radio im Nachbarzimmer", now)
    login(client, cand)
    assert client.get(f"/candidate/attempts/{att.id}/flags").status_code == 404  # not while the exam runs
    att.status = AttemptStatus.SUBMITTED
    db.session.commit()
    page = client.get(f"/candidate/attempts/{att.id}/flags").get_data(as_text=True)
    assert f"Hinweis {flag.id}" in page and "Sprechen gehört" in page and "verworfen" in page
    assert "Radio im Nachbarzimmer" in page and "wer spricht" in page
    other = app.test_client()
    login(other, make_user("candidate", exam.institution))
    assert other.get(f"/candidate/attempts/{att.id}/flags").status_code == 404


def test_the_exam_page_says_which_checks_run_what_they_cannot_notice_and_that_a_person_decides(app, client,
                                                                                                make_exam,
                                                                                                make_user):
    exam = make_exam(identity_check_required=False, proctoring_required=True)
    login(client, make_user("candidate", exam.institution))
    page = client.get(f"/candidate/exams/{exam.id}").get_data(as_text=True)
    assert 'id="automated-checks"' in page
    assert "Sprache" in page and "wer spricht" in page and "eine Person sieht sich die Aufnahme an" in page
    assert "Andere Person" not in page  # no identity check: nothing to compare the face with
