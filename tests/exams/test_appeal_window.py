"""Evidence and appeals agree: one appeal window (``exams.trust.appeal_window``) that the appeal form, the purge,
the certificate job and the release mail all read; the certificate ends it; an unreviewed session outlives the
backstop.

The clock is frozen on Monday 2 March 2026, 10:00 in Berlin (09:00 UTC): release day is day 0, so appeals are
taken until Monday 9 March, 24:00 in Berlin (23:00 UTC). Default configuration: no certificate mail is switched
off here, so a mail at release would be caught.
"""

from __future__ import annotations

import datetime as dt
import email as email_lib
import re
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exams import trust
from exams.appeals import file_appeal
from exams.certificates import certificate_for_attempt
from exams.grading import release_result
from exams.jobs import send_unsent_certificates_job
from exams.models import Appeal, AttemptEvent, AttemptStatus, Certificate
from idcheck.models import IdCheckStatus
from kernel.clock import clock, format_local
from kernel.db import db
from kernel.errors import Conflict
from kernel.jobs import runner
from privacy.models import InstitutionSettings
from proctoring.review import record_review
from storage import vault
from storage.models import Blob
from storage.retention import purge_expired
from tests.conftest import login
from tests.exams.test_trust import chain, flag, purged  # noqa: F401

RELEASED = dt.datetime(2026, 3, 2, 9, 0)  # naive UTC, as stored: 10:00 in Berlin
CLOSES = dt.datetime(2026, 3, 9, 23, 0)  # midnight after day 7 in Berlin
LAST_EVENING = dt.datetime(2026, 3, 9, 21, 30)  # 22:30 in Berlin on day 7
DAY = dt.timedelta(days=1)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """The defaults: whatever the platform mails on its own is mailed (to instance/outbox/)."""
    return {"MAIL_SMTP_HOST": None}


@pytest.fixture
def released(app: Any, chain: Any) -> Any:  # noqa: F811
    """A recorded, passed attempt released at RELEASED with its certificate; queued mails are out."""
    clock.freeze(RELEASED - dt.timedelta(hours=1))
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    clock.freeze(RELEASED)
    with app.test_request_context():
        release_result(att, chain.staff, clock.now())
    runner().wait_all()  # type: ignore[attr-defined]
    return att


def mails(app: Any, to: str) -> list[Any]:
    return [m for m in (email_lib.message_from_bytes(p.read_bytes(), policy=email_policy.default)
                        for p in sorted((Path(app.instance_path) / "outbox").glob("*.eml"))) if m["To"] == to]


def certificate_mails(app: Any, to: str) -> list[Any]:
    return [m for m in mails(app, to) if any(p.get_content_type() == "application/pdf" for p in m.walk())]


def run_certificate_job() -> None:
    send_unsent_certificates_job()
    runner().wait_all()  # type: ignore[attr-defined]
    db.session.expire_all()  # the job's session wrote it


def result_page(app: Any, att: Any) -> str:
    client = app.test_client()
    login(client, att.user)
    return client.get(f"/candidate/attempts/{att.id}/result", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_the_window_is_the_institutions_calendar_days(app, released):
    window = trust.appeal_window(released)
    assert window is not None and (window.opens_at, window.closes_at) == (RELEASED, CLOSES)
    assert window.is_open(CLOSES - dt.timedelta(minutes=1)) and not window.is_open(CLOSES)


def test_an_appeal_on_the_last_evening_still_finds_the_recording(app, released):
    clock.freeze(LAST_EVENING)
    purge_expired(clock.now())  # the purge job runs every few minutes, this evening too
    assert not purged(released)
    with app.test_request_context():
        appeal = file_appeal(released, "Die Verbindung brach ab, bitte die Aufnahme ansehen.", clock.now())
    recording = db.session.scalar(select(Blob).where(Blob.attempt_id == released.id, Blob.category == "recording"))
    assert vault.read(recording) == b"frame" * 50  # the reviewer of the appeal can watch it
    clock.freeze(CLOSES + 10 * DAY)
    purge_expired(clock.now())
    assert not purged(released) and db.session.get(Appeal, appeal.id) is not None


def test_the_evidence_stays_while_the_window_is_open_and_goes_when_it_closes(app, released):
    for moment in (RELEASED + dt.timedelta(minutes=2), RELEASED + 7 * DAY, CLOSES - dt.timedelta(minutes=1)):
        clock.freeze(moment)
        run_certificate_job()  # nothing is mailed, so nothing ends the window early
        purge_expired(clock.now())
        assert not purged(released), moment
        assert f"attempts/{released.id}/appeal" in result_page(app, released), moment
    clock.freeze(CLOSES)
    purge_expired(clock.now())
    assert purged(released)


def test_the_certificate_is_not_mailed_at_release_but_by_the_job_when_the_window_closes(app, released):
    email = released.user.email
    cert = certificate_for_attempt(released)
    assert cert is not None and cert.sent_at is None and certificate_mails(app, email) == []
    clock.freeze(CLOSES - dt.timedelta(minutes=1))
    run_certificate_job()
    assert certificate_mails(app, email) == [] and db.session.get(Certificate, cert.id).sent_at is None
    assert db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "certificate_held")) is None
    clock.freeze(CLOSES + dt.timedelta(minutes=15))  # the job's next run after the window closed
    run_certificate_job()
    assert len(certificate_mails(app, email)) == 1
    assert db.session.get(Certificate, cert.id).sent_at == CLOSES + dt.timedelta(minutes=15)
    run_certificate_job()
    assert len(certificate_mails(app, email)) == 1  # once


def test_the_release_mail_says_when_the_certificate_comes(app, released):
    (mail,) = [m for m in mails(app, released.user.email) if "/result" in m.get_body().get_content()]
    body = mail.get_body().get_content()
    closes = format_local(CLOSES, "Europe/Berlin")  # 2026-03-10 00:00
    assert closes == "2026-03-10 00:00"
    assert re.search(r"Widersprüche.*" + closes, body)
    assert re.search(r"Ihr Zertifikat wird Ihnen gemailt, wenn die Widerspruchsfrist endet \(" + closes, body), body


def test_asking_for_the_certificate_early_says_it_ends_the_appeal_then_ends_it(app, released):
    clock.freeze(RELEASED + 2 * DAY)
    client = app.test_client()
    login(client, released.user)
    en = {"Accept-Language": "en"}
    page = client.get(f"/candidate/attempts/{released.id}/result", headers=en).get_data(as_text=True)
    assert 'id="request-certificate"' in page and f"attempts/{released.id}/appeal" in page
    assert "certificates/" not in page  # no download while appeals are taken
    cert = certificate_for_attempt(released)
    assert client.get(f"/certificates/{cert.public_id}.pdf", headers=en).status_code == 409

    # Asked once, saying what follows; nothing happens until confirmed.
    confirm = client.post(f"/candidate/attempts/{released.id}/certificate", headers=en)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and 'id="confirm-button"' in text
    assert "You can no longer appeal this result" in text and "may then be deleted" in text
    runner().wait_all()  # type: ignore[attr-defined]
    assert trust.appeal_window(released).is_open(clock.now()) and certificate_mails(app, released.user.email) == []

    resp = client.post(f"/candidate/attempts/{released.id}/certificate", data={"confirm": "yes"}, headers=en)
    assert resp.status_code == 302
    runner().wait_all()  # type: ignore[attr-defined]
    assert len(certificate_mails(app, released.user.email)) == 1
    window = trust.appeal_window(released)
    assert window.ended_early and window.closes_at == clock.now()
    page = client.get(f"/candidate/attempts/{released.id}/result", headers=en).get_data(as_text=True)
    assert f"attempts/{released.id}/appeal" not in page and f"/certificates/{cert.public_id}.pdf" in page
    assert client.get(f"/certificates/{cert.public_id}.pdf").status_code == 200
    with app.test_request_context(), pytest.raises(Conflict):
        file_appeal(released, "Doch noch ein Widerspruch", clock.now())
    assert client.post(f"/candidate/attempts/{released.id}/appeal", data={"text": "Doch noch"}).status_code == 409
    purge_expired(clock.now())
    assert purged(released)  # the window has ended: the evidence may go


def test_no_early_certificate_while_an_appeal_is_open(app, released):
    clock.freeze(RELEASED + DAY)
    with app.test_request_context():
        file_appeal(released, "Bitte prüfen", clock.now())
    client = app.test_client()
    login(client, released.user)
    page = client.get(f"/candidate/attempts/{released.id}/result", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "waits for the decision on your appeal" in text and 'id="request-certificate"' not in text
    resp = client.post(f"/candidate/attempts/{released.id}/certificate", data={"confirm": "yes"})
    assert resp.status_code == 409
    runner().wait_all()  # type: ignore[attr-defined]
    assert certificate_mails(app, released.user.email) == []


@pytest.mark.parametrize("moment", [CLOSES, CLOSES + dt.timedelta(minutes=30), CLOSES + 5 * DAY])
def test_no_appeal_form_once_the_window_has_ended(app, released, moment):
    """At 00:30 in Berlin on day 8 it is still day 7 in UTC: the institution's calendar counts."""
    clock.freeze(moment)
    page = result_page(app, released)
    assert f"attempts/{released.id}/appeal" not in page and 'id="appeal-window"' in page
    with app.test_request_context(), pytest.raises(Conflict):
        file_appeal(released, "Zu spät", clock.now())


def test_the_result_page_leads_to_the_sessions_flags_to_refer_to_in_an_appeal(app, released):
    """AI Act Art. 26(11): the candidate reaches the flags of the session, with the decisions, from the result."""
    page = result_page(app, released)
    assert f'href="/candidate/attempts/{released.id}/flags"' in page and "refer to a notice by its number" in page
    client = app.test_client()
    login(client, released.user)
    assert client.get(f"/candidate/attempts/{released.id}/flags").status_code == 200


def test_a_certificate_sent_before_this_rule_ended_the_window_then(app, chain):  # noqa: F811
    """Results from before: the certificate went at release and the evidence with it; no appeal form is offered."""
    clock.freeze(RELEASED)
    att = chain.attempt(identity=IdCheckStatus.VERIFIED)
    att.result_released_at = RELEASED
    db.session.add(Certificate(attempt_id=att.id, public_id="LEGACY-1", credential="jws",
                               sent_at=RELEASED + dt.timedelta(minutes=1)))
    db.session.commit()
    clock.freeze(RELEASED + DAY)
    assert f"attempts/{att.id}/appeal" not in result_page(app, att)


# --- the backstop of results never released ---------------------------------------------------------------------

CAUSES = ["flag", "warning", "terminated", "policy_all"]


def _needs_review(chain: Any, cause: str) -> Any:  # noqa: F811
    if cause == "policy_all":
        db.session.add(InstitutionSettings(institution_id=chain.inst.id, review_policy="all"))
        db.session.commit()
    status = AttemptStatus.TERMINATED if cause == "terminated" else AttemptStatus.SUBMITTED
    att = chain.attempt(identity=IdCheckStatus.VERIFIED, status=status)
    if cause == "flag":
        flag(att)
    elif cause in ("warning", "terminated"):
        db.session.add(AttemptEvent(attempt_id=att.id, kind=cause, actor_id=chain.proctor.id,
                                    detail={"reason": "zweite Person im Raum"}))
        db.session.commit()
    return att


@pytest.mark.parametrize("cause", CAUSES)
def test_the_backstop_keeps_a_session_that_waits_for_its_review(app, chain, cause):  # noqa: F811
    att = _needs_review(chain, cause)
    assert trust.review_required(att)
    clock.advance(31 * DAY)  # past the backstop (30 days), never released, nobody reviewed it
    purge_expired(clock.now())
    assert not purged(att)
    with app.test_request_context():
        record_review(att, chain.proctor, "findings", "zweite Person im Bild", clock.now())
    purge_expired(clock.now())
    assert purged(att)  # reviewed: the backstop applies again


def test_the_office_home_lists_sessions_waiting_for_review_with_their_backstop(app, client, chain):  # noqa: F811
    clock.freeze(RELEASED)
    waiting = _needs_review(chain, "flag")
    quiet = chain.attempt(identity=IdCheckStatus.VERIFIED)
    login(client, chain.staff)

    def row() -> str:
        page = client.get("/staff/", headers={"Accept-Language": "de"}).get_data(as_text=True)
        assert f'<tr data-attempt="{quiet.id}">' not in page.split('id="to-review"')[1].split("</table>")[0]
        assert "Sitzungen zu sichten (1)" in page
        found = re.search(rf'<table id="to-review">.*?<tr data-attempt="{waiting.id}">(.*?)</tr>', page, re.S)
        assert found is not None, page
        return found.group(1)

    backstop = format_local(RELEASED + 30 * DAY, "Europe/Berlin")  # "2026-04-01 11:00"; the German page: 01.04.2026
    backstop = f"{backstop[8:10]}.{backstop[5:7]}.{backstop[:4]}{backstop[10:]}"
    assert backstop in row() and f"/proctor/attempts/{waiting.id}/review" in row()
    clock.freeze(RELEASED + 31 * DAY)
    login(client, chain.staff)
    assert "bleibt bis zur Durchsicht erhalten" in row()


def test_the_flags_page_mentions_an_appeal_only_while_one_can_be_filed(app, released):
    """Issue 30: a past appeal deadline was still announced: the flags page invited the candidate to refer to a flag
    in an appeal after the window had closed."""
    client = app.test_client()
    login(client, released.user)
    url = f"/candidate/attempts/{released.id}/flags"
    page = client.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="appeal-hint"' in page and "Widerspruch" in page
    clock.freeze(CLOSES + DAY)
    page = client.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="appeal-hint"' not in page and "Widerspruch" not in page
