"""A real Chromium with a fake webcam goes through the identity check pages."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from idcheck.models import IdCheck
from kernel.db import db
from tests.browser import chromium, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_capture_pages_in_chromium(app, chromium, live_server, fake_webcam, faces,  # noqa: F811
                                   make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False)
    cand = make_user("candidate", inst)
    d = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(d, live_server, cand.email, PASSWORD)
    WebDriverWait(d, 10).until(lambda drv: "/candidate" in drv.current_url)
    d.get(f"{live_server}/candidate/exams/{exam.id}/identity")
    d.find_element(By.ID, "consent-yes").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "doc-file"))
    d.find_element(By.ID, "doc-file").send_keys(str(faces / "obama2.jpg"))
    d.find_element(By.CSS_SELECTOR, "#doc-form button").click()
    WebDriverWait(d, 15).until(lambda drv: "✓" in drv.find_element(By.ID, "doc-state").text)
    d.find_element(By.ID, "selfie-start").click()
    # the page walks through "straight", then the two random turns, capturing frames
    WebDriverWait(d, 10).until(lambda drv: drv.find_element(By.ID, "challenge").get_attribute("data-step")
                               in ("left", "right"))
    status = d.find_element(By.ID, "idcheck-status")
    WebDriverWait(d, 60).until(lambda drv: status.get_attribute("data-status") in ("review", "verified", "retake"))
    # the fake webcam shows a still photo: liveness cannot pass, so a person reviews (never refused)
    assert status.get_attribute("data-status") == "review"
    db.session.rollback()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.liveness_passed is False and check.auto_decision == "match"
