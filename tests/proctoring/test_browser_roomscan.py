"""The room scan walked in real Chromiums by clicking (issue 29): the candidate (the suite's fake webcam) does the
scan before the start, step by step with the keyboard's focus on the button; the proctor asks again from the live
view and sees "Raumscan läuft"; the candidate does it again; the review lists both scans and a click seeks the player
to the scan's moment in the recording. Screenshots go to the test's output folder."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from exams.attempts import timeline
from exams.models import Attempt
from kernel.db import db
from kernel.jobs import runner
from proctoring import roomscan
from proctoring.models import SystemCheck
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser

QUESTIONS = [{"id": "q1", "type": "single_choice", "prompt": "Zwei plus zwei?", "points": 1,
              "options": [{"id": "a", "text": "4", "correct": True}, {"id": "b", "text": "5"}]}]


def walk_scan(c, tmp_path, name: str) -> None:
    """Click through the four steps as a candidate does: each button is focused, and enabled after a few seconds."""
    box = c.find_element(By.ID, "room-scan")
    WebDriverWait(c, 15).until(lambda d: box.is_displayed() and box.get_attribute("data-state") == "ready")
    begin = c.find_element(By.ID, "room-scan-begin")
    assert c.execute_script("return document.activeElement.id") == "room-scan-begin"
    begin.click()
    live = c.find_element(By.ID, "room-scan-live")
    nxt = c.find_element(By.ID, "room-scan-next")
    for i, step in enumerate(roomscan.STEPS):
        WebDriverWait(c, 10).until(lambda d, i=i: box.get_attribute("data-state") == "running" and d.find_element(
            By.ID, "room-scan-progress").get_attribute("value") == str(i))
        assert live.text.startswith(f"Schritt {i + 1} von 4"), live.text  # announced in the live region
        current = c.find_element(By.CSS_SELECTOR, '#room-scan-steps li[data-state="current"]')
        assert current.get_attribute("data-step") == step.key
        assert c.execute_script("return document.activeElement.id") == "room-scan-next"
        if i == 0:
            assert nxt.get_attribute("aria-disabled") == "true"  # shown for a few seconds first
            c.save_screenshot(str(tmp_path / f"{name}-step-1.png"))
        WebDriverWait(c, 10).until(lambda d: nxt.get_attribute("aria-disabled") == "false")
        nxt.click()
    WebDriverWait(c, 10).until(lambda d: live.text == "Raumscan abgeschlossen. Vielen Dank.")
    WebDriverWait(c, 10).until(lambda d: not box.is_displayed())


def test_room_scan_before_the_start_on_request_and_in_the_review(app, chromium, live_server,  # noqa: F811
                                                                  fake_webcam, make_institution,  # noqa: F811
                                                                  make_user, make_exam, tmp_path):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     room_scan_required=True, questions=QUESTIONS)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    assert "in vier Schritten den Raum" in c.find_element(By.ID, "room-scan-notice").text
    c.find_element(By.ID, "start").click()
    status = WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status"))
    WebDriverWait(c, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(c)
    assert not c.find_elements(By.CSS_SELECTOR, "fieldset.question")  # no question before the scan
    assert "Raumscan" in c.find_element(By.ID, "attempt-gate").text
    WebDriverWait(c, 10).until(  # the scan shows the exam's own (recorded) webcam
        lambda d: d.execute_script("return document.getElementById('room-scan-view').videoWidth") > 0)
    walk_scan(c, tmp_path, "1-before-start")
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "fieldset.question"))
    c.find_element(By.CSS_SELECTOR, 'fieldset.question input[value="a"]').click()
    WebDriverWait(c, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '[data-saved-for="q1"]').get_attribute("class") == "saved ok")
    c.save_screenshot(str(tmp_path / "2-exam-after-scan.png"))

    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    p.get(f"{live_server}/proctor/attempts/{attempt_id}")
    p.find_element(By.ID, "watch").click()  # the live webcam tile shows the scan
    label = p.find_element(By.ID, "room-scan-label")
    WebDriverWait(p, 10).until(lambda d: label.text == "Kein Raumscan läuft.")
    p.find_element(By.ID, "room-scan-request").click()
    WebDriverWait(p, 10).until(lambda d: label.text == "Raumscan angefordert")

    box = c.find_element(By.ID, "room-scan")
    WebDriverWait(c, 15).until(lambda d: box.is_displayed())  # through the notices the page polls
    assert "Die Aufsicht bittet Sie jetzt um einen Raumscan" in c.find_element(By.ID, "room-scan-why").text
    WebDriverWait(c, 10).until(lambda d: box.get_attribute("data-state") == "ready")
    c.find_element(By.ID, "room-scan-begin").click()
    WebDriverWait(p, 10).until(lambda d: label.text == "Raumscan läuft")
    assert label.get_attribute("data-state") == "running"
    WebDriverWait(p, 30).until(
        lambda d: d.execute_script("return document.getElementById('live-video').videoWidth") > 0)
    p.save_screenshot(str(tmp_path / "3-proctor-sees-room-scan.png"))
    p.get(f"{live_server}/proctor/live")  # the grid's tile says so too
    tile_label = WebDriverWait(p, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"] .room-scan-label'))
    assert tile_label.text == "Raumscan läuft"
    p.save_screenshot(str(tmp_path / "3b-grid-tile-room-scan.png"))
    p.get(f"{live_server}/proctor/attempts/{attempt_id}")
    label = p.find_element(By.ID, "room-scan-label")
    # the candidate goes on from the step the server holds (begin was clicked: the scan runs)
    nxt = c.find_element(By.ID, "room-scan-next")
    progress = c.find_element(By.ID, "room-scan-progress")
    for i, _ in enumerate(roomscan.STEPS):
        WebDriverWait(c, 10).until(lambda d, i=i: box.get_attribute("data-state") == "running"
                                   and progress.get_attribute("value") == str(i)
                                   and nxt.get_attribute("aria-disabled") == "false")
        nxt.click()
    WebDriverWait(c, 15).until(lambda d: not box.is_displayed())
    WebDriverWait(p, 10).until(lambda d: label.text == "Kein Raumscan läuft.")
    time.sleep(2)  # a little recording after the scan

    c.find_element(By.ID, "submit").click()
    confirm_submit(c)
    WebDriverWait(c, 15).until(lambda d: "/result" in d.current_url)
    kinds = [e.kind for e in timeline(db.session.get(Attempt, attempt_id))]
    assert kinds.count("room_scan_completed") == 2 and "room_scan_requested" in kinds
    assert kinds.index("room_scan_requested") < kinds.index("room_scan_step_screen_edges", kinds.index(
        "room_scan_requested"))
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=120) >= 1  # type: ignore[attr-defined]

    p.get(f"{live_server}/proctor/attempts/{attempt_id}/review")
    jumps = WebDriverWait(p, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.room-scan-jump"))
    assert len(jumps) == 2
    items = p.find_elements(By.CSS_SELECTOR, "#room-scans > li.room-scan")
    assert "vor dem Start" in items[0].text and "von der Aufsicht erbeten" in items[1].text
    assert all("abgeschlossen" in i.text and "4 von 4 Schritten" in i.text for i in items)
    timeline_text = p.find_element(By.ID, "timeline").text
    for words in ("Raumscan begonnen", "Raumscan: Schreibtisch gezeigt", "Raumscan abgeschlossen",
                  "Raumscan von der Aufsicht angefordert"):
        assert words in timeline_text
    video = p.find_element(By.CSS_SELECTOR, "video.playback")
    WebDriverWait(p, 20).until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
    jumps[1].click()  # the scan the proctor asked for: seconds into the recording
    WebDriverWait(p, 10).until(lambda d: d.find_element(By.ID, "player").get_attribute("data-jumped") == "yes")
    WebDriverWait(p, 10).until(lambda d: d.execute_script("return arguments[0].currentTime", video) > 1.0)
    target = float(video.get_attribute("data-target"))
    assert abs(p.execute_script("return arguments[0].currentTime", video) - target) < 1.0
    p.save_screenshot(str(tmp_path / "4-review-at-room-scan.png"))
