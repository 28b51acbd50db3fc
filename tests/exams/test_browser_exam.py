"""A candidate takes an exam end to end in headless Chromium, reloads mid-way, asks for the certificate before the
appeal window closes (told first that this ends the appeal), and verifies it."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.grading import give_points, release_result
from exams.models import Attempt
from kernel.clock import utcnow
from kernel.db import db
from tests.browser import chromium, confirm_submit, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _saved(d, qid: str) -> None:
    WebDriverWait(d, 10).until(
        lambda drv: drv.find_element(By.CSS_SELECTOR, f'[data-saved-for="{qid}"]').text.strip() != "")


def test_take_exam_reload_submit_and_verify(chromium, live_server, office):  # noqa: F811
    d = chromium()
    log_in(d, live_server, office.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.get(f"{live_server}/candidate/exams/{office.exam.id}")
    d.find_element(By.ID, "start").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
    d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').click()
    _saved(d, "q1")
    d.find_element(By.CSS_SELECTOR, 'input[name="q-q2"][value="p2"]').click()
    d.find_element(By.CSS_SELECTOR, 'input[name="q-q2"][value="p3"]').click()
    _saved(d, "q2")
    WebDriverWait(d, 10).until(lambda drv: drv.execute_script(
        "return Object.keys(JSON.parse(localStorage.getItem('aufsicht-pending-' + "
        "document.getElementById('exam-form').dataset.attempt) || '{}')).length === 0"))

    d.refresh()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
    assert d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').is_selected()
    assert d.find_element(By.CSS_SELECTOR, 'input[name="q-q2"][value="p2"]').is_selected()
    assert d.find_element(By.CSS_SELECTOR, 'input[name="q-q2"][value="p3"]').is_selected()

    d.find_element(By.ID, "q-q3").send_keys("3,14")
    _saved(d, "q3")
    d.find_element(By.ID, "q-q4").send_keys("Weil Berlin die Hauptstadt ist.")
    _saved(d, "q4")
    # Asked in the page; going back keeps the exam open, answers and all.
    d.find_element(By.ID, "submit").click()
    WebDriverWait(d, 10).until(lambda d: d.find_element(By.ID, "submit-dialog").is_displayed())
    d.find_element(By.ID, "submit-cancel").click()
    WebDriverWait(d, 10).until(lambda d: not d.find_element(By.ID, "submit-dialog").is_displayed())
    assert "/result" not in d.current_url and d.find_element(By.ID, "q-q3").get_attribute("value") == "3,14"
    d.find_element(By.ID, "submit").click()
    confirm_submit(d, "Antworten können danach nicht mehr geändert werden")
    WebDriverWait(d, 10).until(ec.url_contains("/result"))
    assert "freigegeben" in d.find_element(By.ID, "result").text

    db.session.expire_all()
    attempt = db.session.scalars(select(Attempt)).one()
    assert attempt.pending_manual and attempt.points == 5
    give_points(attempt, office.staff, "q4", 4, utcnow())
    release_result(attempt, office.staff, utcnow())

    d.refresh()
    assert "9 / 10" in d.find_element(By.ID, "result").text
    # The certificate comes when the appeal window closes; asked for now, the page says first that this ends
    # the appeal, then the certificate is the candidate's and the appeal form is gone.
    assert "Widerspruchsfrist" in d.find_element(By.ID, "certificate-comes").text
    assert d.find_elements(By.ID, "appeal-text") and not d.find_elements(By.ID, "verify-link")
    d.find_element(By.ID, "request-certificate").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "confirm-button")))
    assert "keinen Widerspruch mehr einlegen" in d.find_element(By.ID, "consequences").text
    d.find_element(By.ID, "confirm-button").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "verify-link")))
    assert not d.find_elements(By.ID, "appeal-text")
    d.find_element(By.ID, "verify-link").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "verify-status")))
    status = d.find_element(By.ID, "verify-status")
    assert status.get_attribute("data-status") == "valid" and "Gültig" in status.text
    assert "Erika Mustermann" in d.page_source
