"""Safe Exam Browser in real Chromium: SEB's key header is added to every request by DevTools request interception
(tests/seb_cdp.py), the way SEB adds it. A full exam passes; a plain browser, a wrong key, a header copied from
another URL and a header missing mid-attempt are refused with the page that says how to start the exam in SEB."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams import lockdown
from exams.models import Answer, Attempt, AttemptStatus
from kernel.db import db
from proctoring.models import Flag, FlagKind
from tests.browser import chromium, confirm_submit, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.exams.conftest import QUESTIONS
from tests.seb_cdp import SebKeys, seb_header

pytestmark = pytest.mark.browser

STEPS_DE = "Diese Prüfung in Safe Exam Browser starten"


@pytest.fixture
def seb_exam(app, live_server, make_institution, make_user, make_exam):  # noqa: F811
    app.config["PUBLIC_BASE_URL"] = live_server
    inst = make_institution("Hochschule Nord")
    exam = make_exam(institution=inst, title="Klausur in SEB", questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, seb_required=True)
    return type("S", (), {"exam": exam, "candidate": make_user("candidate", inst),
                          "key": lockdown.exam_config_key(exam, live_server)})


def _saved(d, qid: str) -> None:
    WebDriverWait(d, 10).until(
        lambda drv: drv.find_element(By.CSS_SELECTOR, f'[data-saved-for="{qid}"]').text.strip() != "")


def _refused(d) -> str:
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "seb-instructions")))
    assert d.find_elements(By.ID, "start") == []
    text = d.find_element(By.ID, "seb-instructions").text
    assert STEPS_DE in text
    assert d.find_element(By.ID, "seb-file").get_attribute("href").endswith("/exam.seb")
    assert d.find_element(By.ID, "seb-link").get_attribute("href").startswith("seb://127.0.0.1:")
    return text


def test_plain_browser_wrong_key_and_copied_header_are_refused(chromium, live_server, seb_exam):  # noqa: F811
    d = chromium()
    log_in(d, live_server, seb_exam.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    exam_url = f"{live_server}/candidate/exams/{seb_exam.exam.id}"
    d.get(exam_url)  # a plain browser
    _refused(d)

    keys = SebKeys(d, "0" * 64)  # SEB with other settings: a wrong Config Key
    try:
        d.get(exam_url)
        _refused(d)
        # A header copied from the exam page onto every request: the page opens, the start is refused.
        copied = seb_header(exam_url, seb_exam.key)
        keys.mode = lambda url: copied
        d.get(exam_url)
        WebDriverWait(d, 10).until(ec.element_to_be_clickable((By.ID, "start"))).click()
        _refused(d)
        assert d.find_element(By.ID, "seb-refused").text.startswith("Diese Prüfung kann nur in Safe Exam Browser")
    finally:
        keys.close()
    assert db.session.scalar(select(Attempt)) is None


def test_full_exam_in_seb_then_a_request_without_key_is_refused_and_flagged(chromium, live_server,  # noqa: F811
                                                                            seb_exam):
    d = chromium()
    keys = SebKeys(d, seb_exam.key)
    try:
        log_in(d, live_server, seb_exam.candidate.email, PASSWORD)
        WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
        d.get(f"{live_server}/candidate/exams/{seb_exam.exam.id}")
        WebDriverWait(d, 10).until(ec.element_to_be_clickable((By.ID, "start"))).click()
        WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
        d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').click()
        _saved(d, "q1")
        attempt = db.session.scalar(select(Attempt))
        # The page's polls (URLs with a query string) went out with the header and were accepted.
        WebDriverWait(d, 10).until(lambda drv: any("/notices?after=" in u and v for _m, u, v in keys.seen))
        db.session.expire_all()
        assert db.session.get(Attempt, attempt.id).seb_state == lockdown.SEB_VALID
        assert db.session.scalar(select(Flag.id).where(Flag.attempt_id == attempt.id)) is None

        keys.mode = "none"  # the exam opened in another browser (same session cookie)
        d.refresh()
        _refused(d)
        db.session.expire_all()
        assert db.session.get(Attempt, attempt.id).seb_state == lockdown.SEB_BROKEN
        assert db.session.scalar(select(Flag.kind).where(Flag.attempt_id == attempt.id)) == FlagKind.SEB_KEY_MISSING
        assert db.session.scalar(select(Answer.value).where(Answer.attempt_id == attempt.id)) == "a"

        keys.mode = "valid"  # back in SEB: the exam goes on, answers and all, and ends at SEB's quit link
        d.get(f"{live_server}/candidate/attempts/{attempt.id}")
        WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
        assert d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').is_selected()
        d.find_element(By.CSS_SELECTOR, 'input[name="q-q2"][value="p2"]').click()
        _saved(d, "q2")
        d.find_element(By.ID, "submit").click()
        confirm_submit(d)
        WebDriverWait(d, 10).until(ec.url_contains("/seb-quit"))
        # Every request of the page carried the header, fetch/XHR included.
        api = [(m, u) for m, u, v in keys.seen if "/api/attempts/" in u and v]
        assert ("PUT", f"{live_server}/api/attempts/{attempt.id}/answers/q2") in api
    finally:
        keys.close()
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).status == AttemptStatus.SUBMITTED


def test_full_exam_through_seb_javascript_api(chromium, live_server, seb_exam):  # noqa: F811
    """SEB for macOS/iPad in the modern WebView sends no headers; the page proves the key through SEB's JS API."""
    from tests.seb_cdp import seb_js_api

    d = chromium()
    seb_js_api(d, seb_exam.key)
    log_in(d, live_server, seb_exam.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.get(f"{live_server}/candidate/exams/{seb_exam.exam.id}")  # first without the key: the page fetches it
    WebDriverWait(d, 10).until(ec.element_to_be_clickable((By.ID, "start"))).click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
    d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').click()
    _saved(d, "q1")
    d.find_element(By.ID, "submit").click()
    confirm_submit(d)
    WebDriverWait(d, 10).until(ec.url_contains("/seb-quit"))
    attempt = db.session.scalar(select(Attempt))
    db.session.refresh(attempt)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.seb_state == lockdown.SEB_VALID


def test_javascript_api_with_another_configuration_is_refused(chromium, live_server, seb_exam):  # noqa: F811
    from tests.seb_cdp import seb_js_api

    d = chromium()
    seb_js_api(d, "1" * 64)
    log_in(d, live_server, seb_exam.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.get(f"{live_server}/candidate/exams/{seb_exam.exam.id}")
    WebDriverWait(d, 10).until(lambda drv: drv.get_cookie("aufsicht_seb") is not None)
    d.refresh()
    _refused(d)
