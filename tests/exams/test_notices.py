"""The mails people expect, each sent by the job runner through a real SMTP server on loopback (aiosmtpd), in the
recipient's language: enrolment, reminder, result released, appeal received and decided, identity decided,
proctor assigned, and the account mails."""

from __future__ import annotations

import datetime as dt
import email.header
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import func, select

from accounts.models import Notice
from exams import rosters
from kernel.clock import clock, utcnow
from kernel.db import db
from kernel.jobs import run_job, runner
from tests.conftest import login
from tests.exams.test_mailer import Collector, smtp  # noqa: F401


@pytest.fixture
def app_config(smtp) -> dict[str, Any]:  # noqa: F811
    return {"MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": smtp[1],
            "MAIL_FROM": "Prüfungsamt <office@aufsicht.test>", "PUBLIC_BASE_URL": "https://pruefung.example.org"}


def mails(smtp: tuple[Collector, int], to: str) -> list[tuple[str, str]]:  # noqa: F811
    """(subject, body) of every mail the SMTP server received for ``to``, once the queued jobs have run."""
    runner().wait_all()  # type: ignore[attr-defined]
    found = []
    for _from, rcpt, msg in smtp[0].messages:
        if to in rcpt:
            found.append((str(email.header.make_header(email.header.decode_header(msg["Subject"]))), _body(msg)))
    return found


def _body(msg: Message) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


@pytest.fixture
def scheduled(make_institution, make_user, make_exam) -> Any:
    """A supervised exam with a session on 24 December, 09:00-11:00 in Berlin, a proctor and a candidate."""
    clock.freeze(dt.datetime(2026, 12, 1, 10, 0))
    inst = make_institution("Sprachschule Ost")
    exam = make_exam(institution=inst, enrol_all=False, title="Deutsch B2", proctoring_required=True,
                     opens_at=dt.datetime(2026, 12, 1), closes_at=dt.datetime(2026, 12, 31))
    session = rosters.create_session(exam, dt.datetime(2026, 12, 24, 8, 0), dt.datetime(2026, 12, 24, 10, 0))
    return type("Scheduled", (), {"inst": inst, "exam": exam, "session": session,
                                  "proctor": make_user("proctor", inst), "staff": make_user("staff", inst),
                                  "candidate": make_user("candidate", inst, enrolled=False)})


def test_enrolment_mail_has_the_session_time_and_the_system_check_link(scheduled, smtp):  # noqa: F811
    rosters.enrol(scheduled.exam, scheduled.candidate, scheduled.session)
    ((subject, body),) = mails(smtp, scheduled.candidate.email)
    assert subject == "Sie sind angemeldet: Deutsch B2"
    assert "2026-12-24 09:00 (CET) bis 2026-12-24 11:00 (CET)" in body  # Berlin time, not UTC
    assert f"https://pruefung.example.org/candidate/exams/{scheduled.exam.id}/system-check" in body
    rosters.enrol(scheduled.exam, scheduled.candidate, scheduled.session)  # again: nothing changes, no mail
    assert len(mails(smtp, scheduled.candidate.email)) == 1


def test_mails_follow_the_recipients_language(scheduled, smtp):  # noqa: F811
    scheduled.candidate.language = "en"
    db.session.commit()
    rosters.enrol(scheduled.exam, scheduled.candidate, scheduled.session)
    ((subject, body),) = mails(smtp, scheduled.candidate.email)
    assert subject == "You are enrolled: Deutsch B2"
    assert "Your session: 2026-12-24 09:00 (CET) to 2026-12-24 11:00 (CET)." in body


def test_choosing_a_language_is_remembered_for_mails(app, client, scheduled):
    login(client, scheduled.candidate)
    client.post("/language", data={"lang": "en"})
    db.session.refresh(scheduled.candidate)
    assert scheduled.candidate.language == "en"


def test_reminder_the_day_before_once(scheduled, smtp):  # noqa: F811
    rosters.enrol(scheduled.exam, scheduled.candidate, scheduled.session)
    assert run_job("exams.send_reminders", {}) == 0  # three weeks ahead: not yet
    clock.freeze(dt.datetime(2026, 12, 23, 9, 0))
    assert run_job("exams.send_reminders", {}) == 1
    assert run_job("exams.send_reminders", {}) == 0  # once
    # the job runner's threads send in any order: the enrolment mail and exactly one reminder
    sent = dict(mails(smtp, scheduled.candidate.email))
    assert sorted(sent) == ["Erinnerung: Deutsch B2", "Sie sind angemeldet: Deutsch B2"]
    assert len(mails(smtp, scheduled.candidate.email)) == 2
    reminder = sent["Erinnerung: Deutsch B2"]
    assert "2026-12-24 09:00 (CET)" in reminder and "/system-check" in reminder


def test_proctor_assigned_mail(scheduled, smtp):  # noqa: F811
    rosters.add_session_proctor(scheduled.session, scheduled.proctor)
    ((subject, body),) = mails(smtp, scheduled.proctor.email)
    assert subject == "Ihre Aufsicht: Deutsch B2"
    assert "2026-12-24 09:00 (CET) bis 2026-12-24 11:00 (CET)" in body and "bis zu 15 Teilnehmende" in body
    assert "https://pruefung.example.org/proctor/" in body


def test_result_released_mail_with_link_and_appeal_deadline(app, office, submitted, smtp):  # noqa: F811
    from exams.grading import give_points, release_result

    attempt = submitted()
    clock.freeze(dt.datetime(2026, 12, 1, 10, 0))
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    release_result(attempt, office.staff, utcnow())  # again: the same release, no second mail
    ((subject, body),) = mails(smtp, office.candidate.email)
    assert subject == "Ihr Ergebnis: Deutsch B1"
    assert f"https://pruefung.example.org/candidate/attempts/{attempt.id}/result" in body
    # Release day is day 0; day 7 ends at midnight in the institution's zone (Berlin), not in UTC.
    assert "bis 2026-12-09 00:00 (CET) angenommen" in body
    assert "Ihr Zertifikat wird Ihnen gemailt, wenn die Widerspruchsfrist endet (2026-12-09 00:00 (CET))" in body


def test_appeal_received_and_decided_mails(app, client, office, submitted, smtp):  # noqa: F811
    from exams.appeals import decide_appeal
    from exams.grading import give_points, release_result
    from exams.models import Appeal

    office.candidate.language = "en"
    db.session.commit()
    attempt = submitted()
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    login(client, office.candidate)
    assert client.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "Frage 4 war mehrdeutig."}
                       ).status_code == 302
    subjects = [s for s, _b in mails(smtp, office.candidate.email)]
    assert subjects == ["Your result: Deutsch B1", "Appeal received: Deutsch B1"]
    appeal = db.session.scalars(select(Appeal)).one()
    with app.test_request_context():
        decide_appeal(appeal, office.staff, "rejected", "Die Frage ist eindeutig.", utcnow())
    subject, body = mails(smtp, office.candidate.email)[-1]
    assert subject == "Decision on your appeal: Deutsch B1"  # in the candidate's language, not the default
    assert "Your appeal has been rejected." in body and "Die Frage ist eindeutig." in body


def test_identity_decided_by_a_person_is_mailed(app, make_user, make_exam, smtp):  # noqa: F811
    from idcheck.models import IdCheck, IdCheckStatus
    from idcheck.verification import decide

    exam = make_exam(title="Einbürgerungstest")
    cand = make_user("candidate", exam.institution)
    staff = make_user("staff", exam.institution)
    check = IdCheck(user_id=cand.id, exam_id=exam.id, biometric=False, status=IdCheckStatus.REVIEW,
                    challenge=[])
    db.session.add(check)
    db.session.commit()
    with app.test_request_context():
        decide(check, staff, False, "Das Foto zeigt eine andere Person.", utcnow())
    ((subject, body),) = mails(smtp, cand.email)
    assert subject == "Identität nicht bestätigt: Einbürgerungstest"
    assert "Das Foto zeigt eine andere Person." in body and "Prüfungsamt" in body


def test_password_reset_goes_through_the_job_runner(app, client, make_user, smtp):  # noqa: F811
    cand = make_user("candidate")
    assert client.post("/password-reset", data={"email": cand.email}).status_code in (200, 302)
    notice = db.session.scalars(select(Notice).where(Notice.user_id == cand.id)).one()
    assert notice.kind == "password_reset"
    ((_subject, body),) = mails(smtp, cand.email)
    assert "https://pruefung.example.org/password-reset/" in body
    db.session.refresh(notice)
    assert notice.sent_at is not None
    assert "token" not in str(notice.params)  # the link is made when the mail is written, never stored


def test_a_mail_server_that_is_down_leaves_the_notice_for_the_retry(app, scheduled, smtp):  # noqa: F811
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    app.config.update(MAIL_SMTP_PORT=dead_port, MAIL_SMTP_TIMEOUT=2)
    rosters.enrol(scheduled.exam, scheduled.candidate, scheduled.session)
    runner().wait_all()  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(Notice).where(Notice.sent_at.is_(None))) == 1
    app.config.update(MAIL_SMTP_PORT=smtp[1])
    clock.advance(dt.timedelta(minutes=3))
    assert run_job("accounts.send_pending_notices", {}) == 1
    assert len(mails(smtp, scheduled.candidate.email)) == 1
    assert run_job("accounts.send_pending_notices", {}) == 0


def test_a_rolled_back_change_mails_nothing(app, scheduled, smtp):  # noqa: F811
    bad = "email\n" + scheduled.candidate.email + "\nnobody@example.org\n"
    with app.test_request_context(), pytest.raises(rosters.RosterImportError):
        rosters.import_roster(scheduled.exam, bad)
    assert mails(smtp, scheduled.candidate.email) == []
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 0
