"""Two real Chromiums: a candidate without biometric consent connects the camera; the proctor sees them
arrive in the queue, watches the live view, records "identity confirmed" by clicking; the exam unlocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from tests.browser import chromium, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser


def shot(driver, folder: Path, name: str) -> None:
    driver.save_screenshot(str(folder / f"{name}.png"))


def test_manual_check_in_chromium(app, chromium, live_server, fake_webcam, tmp_path,  # noqa: F811
                                  make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Was ist Aufsicht?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.commit()

    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    p.find_element(By.ID, "to-manual-queue").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "manual-queue"))
    assert not p.find_elements(By.CSS_SELECTOR, "#manual-queue li[data-check]")  # nobody waits yet

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()  # locked: the identity check comes first
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "start-error"))
    c.find_element(By.ID, "to-identity").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "consent-no"))
    c.find_element(By.ID, "consent-no").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "manual-connect"))
    c.find_element(By.ID, "manual-connect").click()
    WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "manual-state").get_attribute("data-state")
                               == "connected")
    shot(c, tmp_path, "candidate-waiting")

    # the candidate arrives in the proctor's queue without a reload, with the camera connected
    item = WebDriverWait(p, 15).until(lambda d: d.find_element(
        By.CSS_SELECTOR, '#manual-queue li[data-check][data-connected="yes"]'))
    assert cand.display_name in item.text
    shot(p, tmp_path, "proctor-queue")
    item.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "watch"))
    assert "Mustermann" in p.find_element(By.ID, "registration").text
    p.find_element(By.ID, "watch").click()
    WebDriverWait(p, 30).until(lambda d: d.execute_script(
        "const v = document.getElementById('live-video'); return v.videoWidth === 640 && v.currentTime > 1;"))
    assert p.execute_script("return document.getElementById('live-video').srcObject.getAudioTracks().length") == 1
    shot(p, tmp_path, "proctor-live-view")
    assert c.find_element(By.ID, "idcheck-status").get_attribute("data-status") == "manual"  # still locked

    # The proctor talks to the candidate to ask for the ID next to the face (issue 29): the candidate sees the
    # proctor and a call indicator.
    assert not c.find_element(By.ID, "manual-call").is_displayed()
    p.find_element(By.ID, "oral-join").click()
    WebDriverWait(p, 30).until(lambda d: d.find_element(By.ID, "oral-state").get_attribute("data-state")
                               in ("connected", "failed"))
    assert p.find_element(By.ID, "oral-state").get_attribute("data-state") == "connected"
    WebDriverWait(c, 20).until(lambda d: d.find_element(By.ID, "manual-call-state").get_attribute("data-state")
                               == "on")
    WebDriverWait(c, 20).until(
        lambda d: d.execute_script("return document.getElementById('manual-proctor').videoWidth") > 0)
    assert "Eine Aufsicht spricht mit Ihnen" in c.find_element(By.ID, "manual-call").text
    shot(c, tmp_path, "candidate-talks-with-proctor")
    p.find_element(By.ID, "call-end").click()

    # ... and they write to each other beside it (a candidate who cannot hear or speak)
    p.find_element(By.ID, "chat-text").send_keys("Bitte halten Sie den Ausweis neben Ihr Gesicht.")
    p.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    WebDriverWait(c, 15).until(lambda d: "neben Ihr Gesicht" in d.find_element(By.ID, "chat-log").text)
    c.find_element(By.ID, "chat-text").send_keys("Einen Moment bitte.")
    c.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    WebDriverWait(p, 15).until(lambda d: "Einen Moment bitte." in d.find_element(By.ID, "chat-log").text)
    shot(p, tmp_path, "proctor-chat-with-candidate")

    p.find_element(By.ID, "reason").send_keys("Gesicht und Ausweis stimmen überein")
    p.find_element(By.ID, "confirm-identity").click()
    WebDriverWait(p, 10).until(lambda d: d.current_url.endswith("/proctor/identity"))

    WebDriverWait(c, 15).until(lambda d: d.find_element(By.ID, "idcheck-status").get_attribute("data-status")
                               == "verified")
    shot(c, tmp_path, "candidate-confirmed")
    db.session.expire_all()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.status == IdCheckStatus.VERIFIED and check.decided_by_id == proctor.id and not check.biometric
    c.find_element(By.ID, "to-exam").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "start"))
    c.find_element(By.ID, "start").click()
    WebDriverWait(c, 15).until(lambda d: "/candidate/attempts/" in d.current_url)
    assert "Was ist Aufsicht?" in c.page_source
    shot(c, tmp_path, "candidate-exam")
