"""The chain of trust, walked with the clock: identity, review, release, certificate and purge in every order.

Each test moves the test clock and asks the real services, views, CLI and jobs; nothing of ours is mocked.
"""

from __future__ import annotations

import datetime as dt
import email as email_lib
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exams import trust
from exams.appeals import decide_appeal, file_appeal
from exams.certificates import certificate_for_attempt, certificates_of, issue_certificate, request_certificate
from exams.grading import give_points, release_all, release_result
from exams.jobs import send_certificate_job
from exams.mailer import send_certificate
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus, Certificate
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import clock, to_local
from kernel.db import db
from privacy.models import InstitutionSettings
from proctoring.models import Flag, FlagKind
from proctoring.review import record_review
from storage import vault
from storage.models import Blob, BlobState
from storage.retention import purge_expired
from tests.conftest import login

DAY = dt.timedelta(days=1)
QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Hauptstadt?", "points": 2,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "free_text", "prompt": "Erklären Sie.", "points": 2},
]


@pytest.fixture
def chain(app, make_institution, make_user, make_exam) -> Any:
    """A proctored exam with an identity check, its staff and proctor, and a factory of ended attempts."""
    inst = make_institution("Prüfungsamt Nord")
    exam = make_exam(institution=inst, title="Datenschutz", questions=QUESTIONS, pass_mark_percent=50,
                     identity_check_required=True, proctoring_required=True)
    staff = make_user("staff", inst)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()

    def attempt(*, status: AttemptStatus = AttemptStatus.SUBMITTED, identity: IdCheckStatus | None = None,
                decided_by: Any = None, points: int = 2, recorded: bool = True, candidate: Any = None,
                auto_decision: str | None = "match") -> Attempt:
        cand = candidate or make_user("candidate", inst)
        now = clock.now()
        att = Attempt(exam=exam, user=cand, started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                      status=status, seed=1, layout={}, points=points, max_points=4, percent=points * 25,
                      passed=points >= 2, pending_manual=False)
        db.session.add(att)
        db.session.flush()
        db.session.add_all([Answer(attempt_id=att.id, question_id="q1", value="a", saved_at=now),  # 2 points
                            Answer(attempt_id=att.id, question_id="q2", value="Weil.", saved_at=now,
                                   manual_points=0)])
        if identity is not None:
            db.session.add(IdCheck(user_id=cand.id, exam_id=exam.id, status=identity, biometric=decided_by is None,
                                   auto_decision=auto_decision if decided_by is None else None,
                                   decided_by_id=decided_by.id if decided_by else None,
                                   decided_at=now - dt.timedelta(minutes=50) if identity == IdCheckStatus.VERIFIED
                                   else None))
        db.session.commit()
        if recorded:
            for cat in ("recording", "snapshot", "chat"):
                vault.store(cat, b"frame" * 50, attempt_id=att.id, user_id=cand.id, institution_id=inst.id)
        return att

    return type("Chain", (), {"inst": inst, "exam": exam, "staff": staff, "proctor": proctor, "attempt": attempt})


def purged(att: Attempt) -> bool:
    """True when every evidence blob of ``att`` is purged (False when every one is kept; mixed fails)."""
    db.session.expire_all()
    found = {b.state for b in db.session.scalars(select(Blob).where(Blob.attempt_id == att.id))}
    assert len(found) == 1, found
    return found == {BlobState.PURGED}


def flag(att: Attempt) -> None:
    db.session.add(Flag(attempt_id=att.id, kind=FlagKind.MULTIPLE_FACES, started_at=clock.now(),
                        last_seen_at=clock.now()))
    db.session.commit()


def held_codes(att: Attempt) -> set[str]:
    return {h.code for h in trust.holds(att, trust.Action.RELEASE)}


# --- release -> certificate sent -> purge only after review -----------------------------------------------------


def test_flagged_session_is_held_until_reviewed_then_released_asked_for_and_purged(app, chain):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag(att)
    with app.test_request_context(), pytest.raises(trust.ResultHeld) as held:
        release_result(att, chain.staff, clock.now())
    assert [h.code for h in held.value.holds] == ["review"]
    assert certificate_for_attempt(att) is None and att.result_released_at is None
    purge_expired(clock.now() + 8 * DAY)
    assert not purged(att)  # unreviewed: the evidence is not even due after the window would have closed

    clock.advance(DAY)
    with app.test_request_context():
        record_review(att, chain.proctor, "clean", "", clock.now())
        release_result(att, chain.staff, clock.now())
    cert = certificate_for_attempt(att)
    assert cert is not None and cert.review == "clean" and cert.supervised is True
    purge_expired(clock.now())
    assert not purged(att)  # released, not yet sent, window open
    with app.test_request_context():
        send_certificate(cert)
    assert db.session.get(Certificate, cert.id).sent_at is None  # not while appeals are taken
    purge_expired(clock.now())
    assert not purged(att)
    with app.test_request_context():
        request_certificate(att, att.user, clock.now())  # the candidate asks for it: the window ends
        send_certificate(cert)
    assert db.session.get(Certificate, cert.id).sent_at is not None
    purge_expired(clock.now())
    assert purged(att)  # reviewed, and the window ended: the evidence goes


def test_sent_certificate_never_releases_unreviewed_evidence(app, chain):
    """Even a sent certificate (say, from before this rule) does not let unreviewed flagged evidence go."""
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag(att)
    att.result_released_at = clock.now()
    db.session.add(Certificate(attempt_id=att.id, public_id="LEGACY", credential="jws", sent_at=clock.now()))
    db.session.commit()
    clock.advance(dt.timedelta(minutes=5))
    purge_expired(clock.now())
    assert not purged(att)
    clock.advance(10 * DAY)
    purge_expired(clock.now())
    assert not purged(att)
    with app.test_request_context():
        record_review(att, chain.proctor, "findings", "zweite Person im Bild", clock.now())
    purge_expired(clock.now())
    assert purged(att)


def test_policy_all_reviews_every_recorded_session(app, chain):
    db.session.add(InstitutionSettings(institution_id=chain.inst.id, review_policy="all"))
    db.session.commit()
    quiet = chain.attempt(identity=IdCheckStatus.VERIFIED)
    unrecorded = chain.attempt(identity=IdCheckStatus.VERIFIED, recorded=False)
    assert held_codes(quiet) == {"review"}
    assert held_codes(unrecorded) == set()  # nothing was recorded: there is nothing to review
    settings = db.session.get(InstitutionSettings, chain.inst.id)
    settings.review_policy = "flagged"
    db.session.commit()
    assert held_codes(quiet) == set()


@pytest.mark.parametrize("cause", ["flag", "warning", "identity_doubt"])
def test_under_the_default_policy_a_flag_a_note_or_an_identity_doubt_asks_for_review(app, chain, cause):
    reviewer = chain.staff
    att = chain.attempt(identity=IdCheckStatus.VERIFIED, decided_by=reviewer if cause == "identity_doubt" else None)
    assert held_codes(att) == set()
    if cause == "flag":
        flag(att)
    elif cause == "warning":
        db.session.add(AttemptEvent(attempt_id=att.id, kind="warning", actor_id=chain.proctor.id,
                                    detail={"message": "Blick zur Seite"}))
        db.session.commit()
    else:  # the automatic match doubted it; a person then verified it
        check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == att.user_id))
        check.auto_decision = "review"
        db.session.commit()
    assert held_codes(att) == {"review"}


# --- the appeal window, appeals and the backstop ---------------------------------------------------------------


def test_appeal_inside_the_window_holds_the_recordings(app, chain):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
        clock.advance(3 * DAY)
        appeal = file_appeal(att, "Die Verbindung brach ab.", clock.now())
    clock.advance(10 * DAY)  # the window (7 days) closed long ago
    purge_expired(clock.now())
    assert not purged(att)
    with app.test_request_context():
        decide_appeal(appeal, chain.staff, "rejected", "Die Aufnahme zeigt keinen Abbruch.", clock.now())
    purge_expired(clock.now())
    assert purged(att)


def test_a_late_release_moves_the_backstop(app, chain):
    late = chain.attempt(identity=IdCheckStatus.VERIFIED)
    never = chain.attempt(identity=IdCheckStatus.VERIFIED)
    clock.advance(25 * DAY)
    with app.test_request_context():
        release_result(late, chain.staff, clock.now())  # appeals allowed until the end of day 32
    clock.advance(5 * DAY + dt.timedelta(hours=1))  # day 30: the old backstop
    purge_expired(clock.now())
    assert purged(never) and not purged(late)
    with app.test_request_context():
        appeal = file_appeal(late, "Bitte prüfen", clock.now())  # still on time, and the evidence is there
    clock.advance(10 * DAY)
    purge_expired(clock.now())
    assert not purged(late)
    with app.test_request_context():
        decide_appeal(appeal, chain.staff, "rejected", "kein Fehler", clock.now())
    purge_expired(clock.now())
    assert purged(late)


def test_a_thirty_day_appeal_window_is_never_cut_by_the_backstop(app, chain):
    db.session.add(InstitutionSettings(institution_id=chain.inst.id, appeal_window_days=30))
    db.session.commit()
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    clock.advance(20 * DAY)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
    clock.advance(29 * DAY)  # day 49: 29 days after the release, an appeal is still allowed
    purge_expired(clock.now())
    assert not purged(att)
    clock.advance(3 * DAY)
    purge_expired(clock.now())
    assert purged(att)


def test_an_upheld_appeal_reopens_grading_reissues_and_keeps_evidence_for_the_new_window(app, chain):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED, points=2)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
        first = certificate_for_attempt(att)
        assert first is not None and first.score_percent == "50.00"
        send_certificate(first)  # not sent: appeals are taken
        assert first.sent_at is None
        clock.advance(2 * DAY)
        appeal = file_appeal(att, "Die Freitextantwort wurde nicht bewertet.", clock.now())
        clock.advance(DAY)
        decide_appeal(appeal, chain.staff, "upheld", "Die Antwort ist richtig.", clock.now())
    db.session.refresh(att)
    assert att.result_released_at is None  # the release is withdrawn: points are editable again
    assert db.session.get(Certificate, first.id).revoked_at is None  # until the new result is out
    purge_expired(clock.now() + 30 * DAY)
    assert not purged(att)  # reopened: nothing goes, not even at the backstop
    with app.test_request_context():
        give_points(att, chain.staff, "q2", 2, clock.now())
        release_result(att, chain.staff, clock.now())
    old = db.session.get(Certificate, first.id)
    new = certificate_for_attempt(att)
    assert old.revoked_at is not None and old.revocation_reason == "reissued after appeal"
    assert new is not None and new.id != first.id and new.revoked_at is None and new.score_percent == "100.00"
    assert [c.id for c in certificates_of(att)] == [new.id, first.id]
    with app.test_request_context():
        send_certificate(new)
    assert new.sent_at is None  # the new result has its own window
    purge_expired(clock.now() + 6 * DAY)
    assert not purged(att)  # the appeal's evidence waits for the new result's own window
    purge_expired(clock.now() + 8 * DAY)
    assert purged(att)


def test_the_appeal_decision_reaches_the_candidate_by_email_and_on_their_page(app, client, chain):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
        appeal = file_appeal(att, "Bitte prüfen", clock.now())
        decide_appeal(appeal, chain.staff, "rejected", "Die Wertung ist richtig.", clock.now())
    from exams.jobs import send_appeal_decision_job
    from kernel.jobs import runner

    appeal_id, candidate, email = appeal.id, att.user, att.user.email
    runner().wait_all()  # the decision was queued for the job runner
    mails = [email_lib.message_from_bytes(p.read_bytes(), policy=email_policy.default)
             for p in (Path(app.instance_path) / "outbox").glob("*.eml")]
    mine = [m for m in mails if m["To"] == email]  # the result, the appeal received, its decision
    decisions = [m for m in mine if "Die Wertung ist richtig." in m.get_body().get_content()]
    assert len(decisions) == 1 and len(mine) == 3
    assert send_appeal_decision_job(appeal_id) is None  # sent once only
    login(client, db.session.merge(candidate))
    page = client.get("/candidate/").get_data(as_text=True)
    assert "Die Wertung ist richtig." in page and "appeal-decisions" in page


# --- no certificate for a terminated or unidentified attempt, through any path ----------------------------------

BLOCKED = {
    "terminated": {"status": AttemptStatus.TERMINATED, "identity": IdCheckStatus.VERIFIED},
    "identity_rejected": {"identity": IdCheckStatus.REJECTED, "auto_decision": "no_match"},
    "identity_in_review": {"identity": IdCheckStatus.REVIEW, "auto_decision": "review"},
    "manual_not_confirmed": {"identity": IdCheckStatus.MANUAL, "auto_decision": None},
    "never_checked": {"identity": None},
}


def _release_by(path: str, app: Any, client: Any, runner: Any, chain: Any, att: Attempt) -> None:
    if path == "view":
        assert client.post(f"/staff/attempts/{att.id}/release").status_code == 409
    elif path == "bulk":
        assert client.post(f"/staff/exams/{chain.exam.id}/release").status_code == 302
        assert f'data-attempt="{att.id}"' in client.get(f"/staff/exams/{chain.exam.id}").get_data(as_text=True)
    elif path == "cli":
        result = runner.invoke(args=["exams", "release", str(chain.exam.id)])
        assert result.exit_code == 1 and f"held attempt {att.id}" in result.output
    elif path == "service":
        with app.test_request_context():
            report = release_all(chain.staff, chain.exam, clock.now())
            assert [a.id for a, _ in report.held] == [att.id] and report.released == []
            with pytest.raises(trust.ResultHeld):
                release_result(att, chain.staff, clock.now())
    elif path == "issue":  # even a released pass (say, released before this rule) gets no certificate
        att.result_released_at = clock.now()
        db.session.commit()
        with app.test_request_context(), pytest.raises(trust.ResultHeld):
            issue_certificate(att, clock.now())


@pytest.mark.parametrize("path", ["view", "bulk", "cli", "service", "issue"])
@pytest.mark.parametrize("case", list(BLOCKED))
def test_no_certificate_without_a_completed_attempt_and_a_verified_identity(app, client, runner, chain, case,
                                                                          path):
    att = chain.attempt(**BLOCKED[case])
    login(client, chain.staff)
    _release_by(path, app, client, runner, chain, att)
    db.session.expire_all()
    assert db.session.scalars(select(Certificate).where(Certificate.attempt_id == att.id)).all() == []
    if path != "issue":
        assert db.session.get(Attempt, att.id).result_released_at is None


@pytest.mark.parametrize("case", list(BLOCKED))
def test_the_send_job_does_not_mail_a_certificate_the_chain_holds(app, chain, case):
    """A certificate row that exists anyway (from before the rule) is never mailed by the job."""
    att = chain.attempt(**BLOCKED[case])
    att.result_released_at = clock.now()
    cert = Certificate(attempt_id=att.id, public_id=f"OLD-{case}", credential="jws")
    db.session.add(cert)
    db.session.commit()
    cert_id, att_id = cert.id, att.id
    assert send_certificate_job(cert_id) is None
    assert db.session.get(Certificate, cert_id).sent_at is None
    assert db.session.scalar(select(AttemptEvent).where(AttemptEvent.attempt_id == att_id,
                                                        AttemptEvent.kind == "certificate_held")) is not None


def test_release_all_releases_what_may_go_and_lists_the_rest(app, client, chain):
    good = chain.attempt(identity=IdCheckStatus.VERIFIED)
    by_proctor = chain.attempt(identity=IdCheckStatus.VERIFIED, decided_by=chain.proctor)  # live comparison
    flagged = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag(flagged)
    ended = chain.attempt(status=AttemptStatus.TERMINATED, identity=IdCheckStatus.VERIFIED)
    in_review = chain.attempt(identity=IdCheckStatus.REVIEW, auto_decision="review")
    login(client, chain.staff)
    assert client.post(f"/staff/exams/{chain.exam.id}/release").status_code == 302
    db.session.expire_all()
    assert {a.id for a in (good, by_proctor) if certificate_for_attempt(a)} == {good.id, by_proctor.id}
    page = client.get(f"/staff/exams/{chain.exam.id}").get_data(as_text=True)
    assert f"/proctor/attempts/{flagged.id}/review" in page  # the link to the review task
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == in_review.user_id))
    assert f"/review/identity/{check.id}" in page  # the link to the identity task
    assert f'data-attempt="{ended.id}"' in page and 'data-hold="terminated"' in page
    home = client.get("/staff/").get_data(as_text=True)
    assert "(3)" in home.split('id="held-link"')[1].split("</a>")[0]
    assert certificate_for_attempt(by_proctor).identity_method == "person"
    assert certificate_for_attempt(good).identity_method == "automatic"


# --- what the certificate binds ----------------------------------------------------------------------------------


def _payload(jws: str) -> dict[str, Any]:
    import base64
    import json

    part = jws.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_verify_page_and_credential_say_what_was_checked(app, client, chain, runner, tmp_path):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    flag(att)
    with app.test_request_context():
        record_review(att, chain.proctor, "findings", "Handy auf dem Tisch, entschieden: kein Verstoß", clock.now())
        release_result(att, chain.staff, clock.now())
    cert = certificate_for_attempt(att)
    day = to_local(att.ended_at, att.exam.institution.timezone).date().isoformat() if att.ended_at else ""
    decided = db.session.scalar(select(IdCheck).where(IdCheck.user_id == att.user_id)).decided_at
    # the page gives the day in the institution's zone (near midnight UTC it is another day in Berlin)
    checked = to_local(decided, att.exam.institution.timezone).date().isoformat()
    en = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f"identity verified on {checked} (automatically)" in en
    assert "supervised with recording; review: irregularities decided by the exam office" in en
    assert day in en and "Datenschutz" in en and "50.0 %" in en
    de = client.get(f"/verify/{cert.public_id}").get_data(as_text=True)
    german_day = ".".join(reversed(checked.split("-")))  # German pages write dates as 07.12.2026
    assert f"Identität am {german_day} geprüft (automatisch)" in de and checked not in de
    assert "mit Aufnahme beaufsichtigt; Durchsicht: Auffälligkeiten von der Prüfungsstelle entschieden" in de
    evidence = {e.get("genre"): e for e in _payload(cert.credential)["evidence"]}
    assert evidence["IdentityVerification"]["identityVerification"] == "automatic"
    assert evidence["IdentityVerification"]["verifiedOn"] == decided.date().isoformat()  # the credential: UTC
    assert evidence["Supervision"]["description"] == ("supervised with recording; review: irregularities decided "
                                                      "by the exam office")
    path = tmp_path / "cert.jwt"
    path.write_text(cert.credential)
    result = runner.invoke(args=["certificates", "verify", str(path)])  # offline: the signed facts
    assert result.exit_code == 0, result.output
    assert f"identity verified on {decided.date().isoformat()} (automatically)" in result.output  # signed: UTC
    assert "review: irregularities decided by the exam office" in result.output


def test_not_reviewed_under_the_policy_and_by_a_person(app, client, chain):
    att = chain.attempt(identity=IdCheckStatus.VERIFIED, decided_by=chain.proctor)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
    cert = certificate_for_attempt(att)
    en = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "(by a person)" in en and "review: not reviewed (institution policy)" in en


def _page_text(pdf: bytes) -> bytes:
    from tests.exams.test_certificate_pdf import page_text

    return page_text(pdf)


def test_a_rename_after_passing_changes_neither_verify_nor_pdf_nor_credential(app, client, chain):
    from exams.certificate_pdf import CertificateText, render_certificate_pdf
    from exams.certificates import certificate_pdf

    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
    cert = certificate_for_attempt(att)
    candidate = att.user
    verify_before = client.get(f"/verify/{cert.public_id}").get_data(as_text=True)
    with app.test_request_context():
        pdf_before = _page_text(certificate_pdf(cert))
    assert "Erika Mustermann" in verify_before

    login(client, candidate)
    resp = client.post("/account/privacy/profile", data={"last_name": "Neumann", "date_of_birth": "1991-02-03"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert candidate.profile.last_name == "Mustermann"  # a request now, not a change
    staff = app.test_client()
    login(staff, chain.staff)
    page = staff.get("/staff/corrections").get_data(as_text=True)
    assert "Neumann" in page
    home = staff.get("/staff/").get_data(as_text=True)
    assert "(2)" in home.split('id="corrections-link"')[1].split("</a>")[0]
    from privacy.models import ProfileChange

    for change in db.session.scalars(select(ProfileChange).where(ProfileChange.status == "requested")).all():
        assert staff.post(f"/staff/corrections/{change.id}", data={"decision": "approve"}).status_code == 302
    db.session.expire_all()
    assert candidate.profile.last_name == "Neumann" and candidate.profile.date_of_birth == dt.date(1991, 2, 3)

    anon = app.test_client()
    verify_after = anon.get(f"/verify/{cert.public_id}").get_data(as_text=True)
    assert "Erika Mustermann" in verify_after and "Neumann" not in verify_after
    with app.test_request_context():
        pdf_after = _page_text(certificate_pdf(db.session.get(Certificate, cert.id)))
        renamed = _page_text(render_certificate_pdf(CertificateText(
            holder_name="Erika Neumann", exam_title="Datenschutz", completed_on=cert.completed_on,
            result="50.00 %", certificate_id=cert.public_id, verify_url=f"http://localhost/verify/{cert.public_id}",
            issuer_name=chain.inst.name)))
    assert pdf_after == pdf_before and pdf_after != renamed
    clock.advance(9 * DAY)  # the appeal window has closed: the certificate is the holder's to download
    assert client.get(f"/certificates/{cert.public_id}.jwt").get_data(as_text=True).strip() == cert.credential
    assert _payload(cert.credential)["credentialSubject"]["name"] == "Erika Mustermann"

    # On the holder's request the certificate is reissued with the approved details; the old one is revoked.
    home = client.get("/candidate/").get_data(as_text=True)
    assert "reissuable" in home
    assert client.post(f"/candidate/certificates/{cert.public_id}/reissue").status_code == 302
    db.session.expire_all()
    old = db.session.get(Certificate, cert.id)
    new = certificate_for_attempt(att)
    assert old.revoked_at is not None and new.id != old.id
    assert new.holder_name == "Erika Neumann" and new.holder_birth_date == dt.date(1991, 2, 3)
    assert _payload(new.credential)["credentialSubject"]["name"] == "Erika Neumann"


def test_before_a_verified_identity_a_rename_applies_at_once(app, client, chain):
    att = chain.attempt(identity=IdCheckStatus.REVIEW, auto_decision="review")
    login(client, att.user)
    client.post("/account/privacy/profile", data={"last_name": "Neumann"})
    db.session.expire_all()
    assert att.user.profile.last_name == "Neumann"


def test_verify_shows_the_issuing_institutions_days_to_every_visitor(app, client, chain):
    from kernel.clock import to_local

    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    with app.test_request_context():
        record_review(att, chain.proctor, "clean", "", clock.now())
        release_result(att, chain.staff, clock.now())
    cert = certificate_for_attempt(att)
    decided = db.session.scalar(select(IdCheck).where(IdCheck.user_id == att.user_id)).decided_at
    # UTC+14 and UTC-11 are 25 hours apart: their calendar days differ whatever the time, and from Berlin's
    shown = []
    for tz in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        att.exam.institution.timezone = tz
        db.session.commit()
        day = to_local(decided, tz).date().isoformat()
        page = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert f"identity verified on {day} (automatically)" in page, tz
        shown.append(day)
    assert shown[0] != shown[1]
