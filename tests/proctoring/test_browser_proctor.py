"""Two real Chromiums: a candidate with a fake webcam and a proctor watching, chatting, warning, ending."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kernel.db import db
from proctoring.models import SystemCheck
from tests.browser import accept_confirmation, chromium, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.conftest import PLANES, use_plane

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("plane", PLANES)
def test_proctor_grid_live_view_chat_warning_and_terminate(app, chromium, live_server, fake_webcam,  # noqa: F811
                                                           make_institution, make_user, make_exam, plane):
    use_plane(app, plane)  # on Janus the live view is a subscriber: Janus offers, proctor.js answers
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Was ist Aufsicht?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    cand.display_name = "<script>alert(1)</script>"
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))  # the check itself: test_browser_recording
    db.session.commit()

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status").get_attribute("data-state")
                               == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(c)

    p = chromium(hide_local_addresses=True)  # as shipped: the live view offers mDNS names only (README)
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    p.get(f"{live_server}/proctor/live")
    tile = WebDriverWait(p, 15).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"] img'))
    assert tile.get_attribute("alt") == "<script>alert(1)</script>"  # shown as text, never run
    ages = []
    for _ in range(5):  # the grid's snapshots are fresh: at most 2 s old
        body = json.loads(p.execute_script(
            "return fetch('/api/proctor/live', {credentials: 'same-origin'}).then(r => r.text());"))
        ages.append(next(t for t in body["attempts"] if t["attempt_id"] == attempt_id)["snapshot_age_ms"])
        time.sleep(0.5)
    assert max(ages) <= 2000, ages
    assert p.execute_script("return document.querySelector('li.tile img').naturalWidth") == 320

    def open_tile(d: Any) -> bool:  # the grid redraws its tiles every few seconds: a found link may be gone
        try:
            d.find_element(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"] a').click()
        except StaleElementReferenceException:
            return False
        return True

    WebDriverWait(p, 10).until(open_tile)
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "watch"))
    assert "&lt;script&gt;" in p.page_source or "<script>alert(1)</script>" not in p.page_source
    p.find_element(By.ID, "watch").click()
    WebDriverWait(p, 30).until(lambda d: d.execute_script(
        "const v = document.getElementById('live-video'); return v.videoWidth === 640 && v.currentTime > 1;"))
    assert p.execute_script("return document.getElementById('live-video').srcObject.getAudioTracks().length") == 1
    if plane == "janus":
        return  # the rest (chat, warning, ending) does not go through the media plane: once is enough (CI's time)

    p.find_element(By.ID, "chat-text").send_keys("Bitte Ausweis in die Kamera halten")
    p.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    WebDriverWait(c, 10).until(lambda d: "Ausweis in die Kamera" in d.find_element(By.ID, "chat-log").text)
    # The notice bar points to the chat in words (it said "undefined": a chat event carries no text).
    WebDriverWait(c, 10).until(lambda d: "Neue Nachricht der Aufsicht" in d.find_element(By.ID, "notices").text)
    assert "undefined" not in c.find_element(By.ID, "notices").text
    c.find_element(By.ID, "chat-text").send_keys("Mache ich <b>sofort</b>")
    c.find_element(By.CSS_SELECTOR, "#chat-form button").click()
    WebDriverWait(p, 10).until(lambda d: "Mache ich <b>sofort</b>" in d.find_element(By.ID, "chat-log").text)

    p.find_element(By.ID, "warn-msg").send_keys("Bitte nicht sprechen")
    p.find_element(By.CSS_SELECTOR, 'form[data-action="warn"] button').click()
    WebDriverWait(c, 10).until(lambda d: "Bitte nicht sprechen" in d.find_element(By.ID, "notices").text)

    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "term-reason"))
    p.find_element(By.ID, "term-reason").send_keys("Fremde Hilfe")
    p.find_element(By.CSS_SELECTOR, 'form[data-action="terminate"] button').click()
    accept_confirmation(p, "kein Zertifikat")
    WebDriverWait(c, 15).until(lambda d: d.current_url.endswith("/result"))
    assert c.find_element(By.ID, "attempt-status").text
