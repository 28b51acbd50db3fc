"""The exam office in headless Chromium: a flagged session is held until reviewed, then released; the certificate
is mailed (to a real local SMTP sink) when the appeal window closes, and /verify says how the identity was checked
and how it was supervised."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from exams.models import Attempt, AttemptStatus
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import clock, to_local
from kernel.db import db
from proctoring.models import Flag, FlagKind
from storage import vault
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.exams.test_mailer import Collector, smtp  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(smtp) -> dict[str, Any]:  # noqa: F811
    """Certificates are mailed to the SMTP sink (by the job, when the appeal window closes)."""
    return {"MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": smtp[1],
            "MAIL_FROM": "Prüfungsamt <office@aufsicht.test>"}


@pytest.fixture
def flagged(app, make_institution, make_user, make_exam) -> Any:
    """A submitted, recorded attempt of a proctored exam; identity verified automatically; one flag."""
    inst = make_institution("Prüfungsamt Ost")
    exam = make_exam(institution=inst, title="Arbeitsschutz", pass_mark_percent=50, identity_check_required=True,
                     proctoring_required=True, questions=[
                         {"id": "q1", "type": "single_choice", "prompt": "Helm?", "points": 2,
                          "options": [{"id": "a", "text": "ja", "correct": True}, {"id": "b", "text": "nein"}]}])
    staff = make_user("staff", inst)
    cand = make_user("candidate", inst)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                  status=AttemptStatus.SUBMITTED, seed=1, layout={}, points=2, max_points=2, percent=100, passed=True,
                  pending_manual=False)
    db.session.add(att)
    db.session.add(IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.VERIFIED, auto_decision="match",
                           decided_at=now - dt.timedelta(minutes=55)))
    db.session.commit()
    db.session.add(Flag(attempt_id=att.id, kind=FlagKind.MULTIPLE_FACES, started_at=now - dt.timedelta(minutes=20),
                        last_seen_at=now - dt.timedelta(minutes=19)))
    db.session.commit()
    vault.store("recording", b"\x1aE\xdf\xa3" + b"webm" * 100, content_type="video/webm", attempt_id=att.id,
                user_id=cand.id, institution_id=inst.id)
    return type("Flagged", (), {"exam": exam, "staff": staff, "candidate": cand, "attempt": att})


def _shot(d: Any, folder: Path, name: str) -> None:
    d.save_screenshot(str(folder / f"{name}.png"))


def _wait_mail(handler: Collector, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handler.certificates:
            return handler.certificates[0]
        time.sleep(0.2)
    raise AssertionError("no certificate email reached the SMTP sink")


def test_flagged_session_is_released_only_after_review(chromium, live_server, flagged, smtp, tmp_path):  # noqa: F811
    handler, _port = smtp
    d = chromium()
    log_in(d, live_server, flagged.staff.email, PASSWORD, code=lambda: totp_code(flagged.staff))
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "held-link")))
    assert "(1)" in d.find_element(By.ID, "held-link").text
    d.find_element(By.LINK_TEXT, "Arbeitsschutz").click()

    # Release all: the flagged session is held, with a link to its review; nothing is mailed.
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "release-all")))
    d.find_element(By.ID, "release-all").click()
    # Asked once, saying what follows; nothing can go now, the held one is listed with why.
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "nothing-to-release")))
    _shot(d, tmp_path, "0-confirm-nothing")
    d.find_element(By.ID, "cancel-link").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "held")))
    row = d.find_element(By.CSS_SELECTOR, f'#held tr[data-attempt="{flagged.attempt.id}"]')
    assert "Die Durchsicht dieser Sitzung ist nicht erledigt." in row.text
    _shot(d, tmp_path, "1-held")
    db.session.expire_all()
    assert db.session.get(Attempt, flagged.attempt.id).result_released_at is None

    row.find_element(By.LINK_TEXT, "Sitzung durchsehen").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "flags")))
    assert "Mehr als ein Gesicht – offen" in d.find_element(By.ID, "flags").text  # flag_labels: kind – status
    d.find_element(By.CSS_SELECTOR, 'input[name="outcome"][value="clean"]').click()
    d.find_element(By.ID, "note").send_keys("Zweite Person war die Aufsicht vor Ort.")
    d.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    # the old page's element goes stale while the form's answer loads: look again
    WebDriverWait(d, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.ID, "outcome").get_attribute("data-outcome") == "clean")
    assert "keine Befunde" in d.find_element(By.ID, "outcome").text  # the outcome in words (timeline_labels)
    _shot(d, tmp_path, "2-reviewed")

    d.get(f"{live_server}/staff/")
    assert "(0)" in d.find_element(By.ID, "held-link").text
    d.find_element(By.LINK_TEXT, "Arbeitsschutz").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "release-all")))
    d.find_element(By.ID, "release-all").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "confirm-release")))
    assert ("1 Zertifikat für eine bestandene Prüfung wird ausgestellt; es wird gemailt, wenn die Widerspruchsfrist "
            "endet") in d.page_source
    d.find_element(By.ID, "confirm-release").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "held")))
    assert "1 Ergebnisse freigegeben" in d.page_source or "1 results released" in d.page_source
    assert "Kein Ergebnis wird zurückgehalten." in d.find_element(By.ID, "held").text
    _shot(d, tmp_path, "3-released")

    # Not at release: the certificate reaches the SMTP sink when the appeal window has closed (the job's run).
    from exams.jobs import send_unsent_certificates_job
    from kernel.jobs import runner

    runner().wait_all()  # type: ignore[attr-defined]
    assert handler.certificates == []
    # the German page gives the day in the institution's zone (Berlin), a day later than UTC's after 23:00 UTC
    checked = f"{to_local(clock.now() - dt.timedelta(minutes=55), flagged.exam.institution.timezone).date():%d.%m.%Y}"
    clock.advance(dt.timedelta(days=9))
    db.session.expire_all()
    assert send_unsent_certificates_job() == 1
    # Its link is the verification page.
    _mail_from, rcpt, msg = _wait_mail(handler)
    assert rcpt == [flagged.candidate.email]
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    (public_id,) = re.findall(r"/verify/([0-9A-Z-]+)", body)
    d.get(f"{live_server}/verify/{public_id}")
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "verify-status")))
    assert d.find_element(By.ID, "verify-status").get_attribute("data-status") == "valid"
    assert d.find_element(By.ID, "verify-identity").text == f"Identität am {checked} geprüft (automatisch)"
    assert d.find_element(By.ID, "verify-supervision").text == ("mit Aufnahme beaufsichtigt; Durchsicht: keine "
                                                                "Auffälligkeiten")
    assert "Erika Mustermann" in d.page_source
    _shot(d, tmp_path, "4-verify")
