"""In Chromium, with CSRF on: the session ends while the candidate types, the page says so and keeps the
answer; after logging in again in another tab, the open exam page sends it with the new session's token."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Answer, Attempt
from kernel.db import db
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.hostile.conftest import QUESTIONS

pytestmark = pytest.mark.browser
PENDING = ("return JSON.parse(localStorage.getItem('aufsicht-pending-' + "
           "document.getElementById('exam-form').dataset.attempt) || '{}')")


@pytest.fixture
def app_config() -> dict[str, Any]:
    """As in production: CSRF protection on."""
    return {"WTF_CSRF_ENABLED": True}


def _answers() -> dict[str, Any]:
    db.session.rollback()
    return {a.question_id: a.value for a in db.session.scalars(select(Answer))}


def _in_exam(open_browser: Any, base: str, make_institution: Any, make_user: Any,
             make_exam: Any) -> tuple[Any, Any, WebDriverWait]:
    """A candidate logged in in Chromium, on the page of an exam just started; returns (user, driver, wait)."""
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, duration_minutes=60)
    cand = make_user("candidate", inst)
    d = open_browser()
    wait = WebDriverWait(d, 15)
    log_in(d, base, cand.email, PASSWORD)
    wait.until(ec.url_contains("/candidate/"))
    d.get(f"{base}/candidate/exams/{exam.id}")
    d.find_element(By.ID, "start").click()
    wait.until(ec.presence_of_element_located((By.ID, "exam-form")))
    return cand, d, wait


def test_answer_typed_after_the_session_ended_is_saved_after_logging_in_again(
        chromium, live_server, make_institution, make_user, make_exam):  # noqa: F811
    cand, d, wait = _in_exam(chromium, live_server, make_institution, make_user, make_exam)
    d.find_element(By.CSS_SELECTOR, 'input[name="q-q1"][value="a"]').click()
    wait.until(lambda drv: drv.find_element(By.CSS_SELECTOR, '[data-saved-for="q1"]').text.strip() != "")
    exam_tab = d.current_window_handle

    d.delete_cookie("session")  # the session ends (cookie cleared, or expired)
    d.find_element(By.ID, "q-q2").send_keys("Nach dem Ablauf getippt")
    status = d.find_element(By.ID, "save-status")
    wait.until(lambda drv: status.get_attribute("class") == "error" and status.text.strip() != "")
    assert d.execute_script(PENDING) == {"q2": "Nach dem Ablauf getippt"}  # kept, not dropped
    assert "q2" not in _answers()

    d.switch_to.new_window("tab")  # log in again elsewhere; the exam tab keeps the old session's token
    log_in(d, live_server, cand.email, PASSWORD)
    wait.until(ec.url_contains("/candidate/"))
    d.switch_to.window(exam_tab)
    wait.until(lambda drv: drv.execute_script(PENDING) == {})  # resent by the periodic flush
    wait.until(lambda drv: drv.find_element(By.CSS_SELECTOR, '[data-saved-for="q2"]').text.strip() != "")
    assert _answers() == {"q1": "a", "q2": "Nach dem Ablauf getippt"}
    assert d.find_element(By.ID, "q-q2").get_attribute("value") == "Nach dem Ablauf getippt"


def test_chat_message_from_a_page_of_an_earlier_session_is_sent(
        chromium, live_server, make_institution, make_user, make_exam):  # noqa: F811
    """Every page's API calls (chat here) renew a stale CSRF token once, as the exam's autosave does."""
    from proctoring import chat

    cand, d, wait = _in_exam(chromium, live_server, make_institution, make_user, make_exam)
    exam_tab = d.current_window_handle
    d.delete_cookie("session")
    d.switch_to.new_window("tab")
    log_in(d, live_server, cand.email, PASSWORD)  # a new session: the exam tab's token is of the old one
    wait.until(ec.url_contains("/candidate/"))
    d.switch_to.window(exam_tab)
    d.find_element(By.ID, "chat-text").send_keys("Darf ich ein Glas Wasser holen?")
    d.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    wait.until(lambda drv: "Glas Wasser" in drv.find_element(By.ID, "chat-log").text)
    assert d.find_element(By.ID, "chat-status").text == ""
    db.session.rollback()
    attempt = db.session.scalars(select(Attempt)).one()
    assert [m["text"] for m in chat.messages(attempt, 0)] == ["Darf ich ein Glas Wasser holen?"]
