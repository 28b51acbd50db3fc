"""The exam office in headless Chromium, clicking from the login page: writes an exam with a question of every type
in the editor (a field's message, the preview as candidates see it), finds the held result on its home page with
the reason, reviews the session, and releases after the confirmation says what follows. Screenshots of each page
go to the test's folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus, Exam
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import clock
from kernel.db import db
from proctoring.models import Flag, FlagKind
from storage import vault
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser


@pytest.fixture
def office(app, make_institution, make_user, make_exam) -> Any:
    """An exam office whose institution has one submitted, recorded, flagged attempt: held until reviewed."""
    inst = make_institution("Prüfungsamt Nord")
    exam = make_exam(institution=inst, title="Brandschutz", pass_mark_percent=50, identity_check_required=True,
                     proctoring_required=True, questions=[
                         {"id": "q1", "type": "single_choice", "prompt": "Löscher?", "points": 2,
                          "options": [{"id": "a", "text": "rot", "correct": True}, {"id": "b", "text": "blau"}]}])
    staff = make_user("staff", inst)
    make_user("proctor", inst, email="paul@example.org")
    cand = make_user("candidate", inst)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                  status=AttemptStatus.SUBMITTED, seed=1, layout={}, points=2, max_points=2, percent=100, passed=True,
                  pending_manual=False)
    db.session.add(att)
    db.session.add(IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.VERIFIED, auto_decision="match",
                           decided_at=now - dt.timedelta(minutes=55)))
    db.session.commit()
    db.session.add(Flag(attempt_id=att.id, kind=FlagKind.TAB_HIDDEN, started_at=now - dt.timedelta(minutes=20),
                        last_seen_at=now - dt.timedelta(minutes=19)))
    db.session.commit()
    vault.store("recording", b"\x1aE\xdf\xa3" + b"webm" * 100, content_type="video/webm", attempt_id=att.id,
                user_id=cand.id, institution_id=inst.id)
    return type("Office", (), {"exam": exam, "staff": staff, "attempt": att})


def _shot(d: Any, folder: Path, name: str) -> None:
    d.save_screenshot(str(folder / f"{name}.png"))


def _wait(d: Any, element_id: str) -> Any:
    return WebDriverWait(d, 15).until(ec.presence_of_element_located((By.ID, element_id)))


def _type(d: Any, name: str, text: str) -> None:
    field = d.find_element(By.NAME, name)
    field.clear()
    field.send_keys(text)


def _press(d: Any, element: Any) -> None:
    """Click a button that reloads the page, and wait for the new page."""
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()
    WebDriverWait(d, 15).until(ec.staleness_of(element))


def test_exam_office_writes_an_exam_finds_the_held_result_reviews_and_releases(chromium, live_server, office,  # noqa: F811
                                                                               tmp_path):
    d = chromium()
    log_in(d, live_server, office.staff.email, PASSWORD, code=lambda: totp_code(office.staff))
    _wait(d, "new-exam")
    _shot(d, tmp_path, "01-home")
    assert "Brandschutz" in d.find_element(By.ID, "exams").text
    d.find_element(By.ID, "new-exam").click()

    # The editor: a save without a title is refused with the message at the field, nothing is lost.
    _wait(d, "exam-editor")
    _type(d, "q0-prompt", "Welche Nummer hat die Feuerwehr?")
    _type(d, "q0-o0-text", "112")
    _type(d, "q0-o1-text", "110")
    d.find_element(By.CSS_SELECTOR, 'input[name="q0-correct"][value="0"]').click()
    _press(d, d.find_element(By.ID, "save-button"))
    assert d.find_element(By.ID, "title-error").text == "Bitte geben Sie einen Titel ein."
    assert d.find_element(By.ID, "title").get_attribute("aria-invalid") == "true"
    assert d.find_element(By.NAME, "q0-prompt").get_attribute("value") == "Welche Nummer hat die Feuerwehr?"
    _shot(d, tmp_path, "02-editor-field-message")
    _type(d, "title", "Brandschutzhelfer")

    _press(d, d.find_element(By.ID, "add-multiple_choice"))
    _type(d, "q1-prompt", "Was brennt?")
    _press(d, d.find_element(By.CSS_SELECTOR, 'button[value="add-option:1"]'))
    for j, text in enumerate(["Holz", "Papier", "Wasser"]):
        _type(d, f"q1-o{j}-text", text)
    d.find_element(By.NAME, "q1-o0-correct").click()
    d.find_element(By.NAME, "q1-o1-correct").click()
    _press(d, d.find_element(By.ID, "add-numeric"))
    _type(d, "q2-prompt", "Wie viele Meter Abstand zum Brand?")
    _type(d, "q2-answer", "2,5")
    _type(d, "q2-tolerance", "0,5")
    _press(d, d.find_element(By.ID, "add-free_text"))
    _type(d, "q3-prompt", "Beschreiben Sie den Fluchtweg.")
    _type(d, "q3-points", "3")
    _shot(d, tmp_path, "03-editor-four-types")

    # The preview shows the questions as a candidate sees them, without the solutions.
    _press(d, d.find_element(By.ID, "preview-button"))
    preview = _wait(d, "preview")
    questions = preview.find_elements(By.CSS_SELECTOR, "fieldset.question")
    assert [q.get_attribute("data-kind") for q in questions] == ["single_choice", "multiple_choice", "numeric",
                                                                  "free_text"]
    assert "Wie viele Meter Abstand zum Brand?" in preview.text and "2,5" not in preview.text
    d.execute_script("arguments[0].scrollIntoView();", preview)
    _shot(d, tmp_path, "04-preview")

    _press(d, d.find_element(By.ID, "save-button"))
    _wait(d, "attempts")
    _shot(d, tmp_path, "05-exam-saved")
    exam = db.session.scalar(select(Exam).where(Exam.title == "Brandschutzhelfer"))
    assert [q["type"] for q in exam.questions] == ["single_choice", "multiple_choice", "numeric", "free_text"]
    assert exam.questions[2]["answer"] == 2.5 and exam.questions[1]["options"][2]["correct"] is False

    # Home: the held result with its reason, one click to the review.
    d.get(f"{live_server}/staff/")
    row = _wait(d, "held").find_element(By.CSS_SELECTOR, f'tr[data-attempt="{office.attempt.id}"]')
    assert "Die Durchsicht dieser Sitzung ist nicht erledigt." in row.text
    _shot(d, tmp_path, "06-home-held")
    row.find_element(By.LINK_TEXT, "Sitzung durchsehen").click()
    _wait(d, "flags")
    assert "Tab der Prüfung verlassen – offen" in d.find_element(By.ID, "flags").text  # flag_labels: kind – status
    d.find_element(By.CSS_SELECTOR, 'input[name="outcome"][value="clean"]').click()
    d.find_element(By.ID, "note").send_keys("Tab kurz gewechselt, um die Aufgabe zu vergrößern.")
    _press(d, d.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))
    _shot(d, tmp_path, "07-reviewed")

    # Release asks once and says what follows; then the result goes.
    d.get(f"{live_server}/staff/")
    _wait(d, "exams").find_element(By.LINK_TEXT, "Brandschutz").click()
    _press(d, _wait(d, "release-all"))
    consequences = _wait(d, "consequences").text
    assert "1 Prüfling sieht das Ergebnis auf der eigenen Startseite." in consequences
    assert "lässt sich nicht zurücknehmen" in consequences
    _shot(d, tmp_path, "08-confirm-release")
    db.session.expire_all()
    assert db.session.get(Attempt, office.attempt.id).result_released_at is None  # asking released nothing
    _press(d, d.find_element(By.ID, "confirm-release"))
    assert "1 Ergebnisse freigegeben" in d.page_source
    _shot(d, tmp_path, "09-released")
    db.session.expire_all()
    assert db.session.get(Attempt, office.attempt.id).result_released_at is not None
