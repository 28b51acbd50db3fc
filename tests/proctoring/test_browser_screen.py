"""A real Chromium shares its screen in an exam that records it: a whole screen is accepted, a window refused,
stopping the share raises a flag and blocks the exam until it is shared again; the screen is in the recording.

Chromium's fake capture: ``--use-fake-ui-for-media-stream`` accepts the share prompt by itself (no picker),
``--use-fake-device-for-media-stream`` gives a fake screen whose ``displaySurface`` is "monitor", and
``--use-fake-device-for-media-stream=display-media-type=window`` one that is a window (``browser``: a tab).
Chromium's fake picker follows the page's ``displaySurface: "monitor"`` hint (it preselects the entire screen
in the real picker), so for the window case the hint is taken out before the page runs: that is a person
choosing a window in the picker anyway, and the page's own check of the track it got must refuse it.
The browser's own "stop sharing" button ends the track; the test does what it does (stop the track and
fire its ``ended`` event), since a headless browser has no such button.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import AttemptEvent
from kernel.db import db
from proctoring.models import Flag, FlagKind
from storage import vault
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, login
from tests.proctoring.conftest import recordings, wait_parts_closed
from tests.proctoring.test_screen import decoded_frames, ffprobe_streams

pytestmark = pytest.mark.browser

PICK_A_WINDOW = """
var ask = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getDisplayMedia = function (c) {
  if (c && c.video) { delete c.video.displaySurface; }
  return ask(c);
};
"""
STOP_SHARING = """
var track = document.getElementById('screen-view').srcObject.getVideoTracks()[0];
track.stop(); track.dispatchEvent(new Event('ended'));
"""


def _events(attempt_id: int) -> list[str]:
    db.session.rollback()
    return [e.kind for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                                                .order_by(AttemptEvent.id))]


def _wait(what, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.3)
    return what()


def _run_check(driver, base: str, exam_id: int) -> None:
    driver.get(f"{base}/candidate/exams/{exam_id}/system-check")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "check-start"))[0].click()
    WebDriverWait(driver, 40).until(
        lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes"
        or "failed" in [d.find_element(By.ID, f"check-{s}").get_attribute("data-state")
                        for s in ("screen", "camera", "connection")])


def test_whole_screen_accepted_window_refused_stop_blocks_and_screen_is_recorded(
        app, chromium, live_server, fake_webcam, make_institution, make_user, make_exam, tmp_path):  # noqa: F811
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, screen_capture=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Erzählen Sie.", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    cand = make_user("candidate", inst)

    # A window is refused at the system check, with the reason.
    win = chromium(video=fake_webcam[0], audio=fake_webcam[1], fake_device="display-media-type=window")
    win.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PICK_A_WINDOW})
    log_in(win, live_server, cand.email, PASSWORD)
    WebDriverWait(win, 10).until(lambda d: "/candidate" in d.current_url)
    _run_check(win, live_server, exam.id)
    screen_step = win.find_element(By.ID, "check-screen")
    assert screen_step.get_attribute("data-state") == "failed"
    assert "Fenster" in screen_step.text and "ganzen Bildschirm" in screen_step.text, screen_step.text
    assert win.find_element(By.ID, "check-result").get_attribute("data-passed") == "no"
    win.save_screenshot(str(tmp_path / "window-refused.png"))
    win.quit()

    # A whole screen passes.
    driver = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(driver, live_server, cand.email, PASSWORD)
    WebDriverWait(driver, 10).until(lambda d: "/candidate" in d.current_url)
    _run_check(driver, live_server, exam.id)
    for step in ("screen", "camera", "microphone", "connection"):
        assert driver.find_element(By.ID, f"check-{step}").get_attribute("data-state") == "ok", step
    driver.find_element(By.ID, "to-exam").click()
    assert "Bildschirm" in driver.find_element(By.ID, "screen-capture-notice").text
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "start"))[0].click()

    # The exam is blocked until the screen is shared.
    overlay = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "screen-overlay"))
    assert overlay.is_displayed()
    assert driver.execute_script("return document.getElementById('exam-form').inert") is True
    # The fullscreen question lies on top of it (a supervised exam); answering it does not lift the block.
    enter_fullscreen(driver)
    assert overlay.is_displayed()
    assert driver.execute_script("return document.getElementById('exam-form').inert") is True
    driver.find_element(By.ID, "screen-share").click()
    WebDriverWait(driver, 10).until(lambda d: not overlay.is_displayed())
    assert driver.execute_script("return document.getElementById('exam-form').inert") is False
    status = driver.find_element(By.ID, "media-status")
    WebDriverWait(driver, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    attempt_id = int(driver.current_url.rstrip("/").split("/")[-1])
    assert _wait(lambda: "screen_shared" in _events(attempt_id)), _events(attempt_id)
    time.sleep(4)

    # Stopping the share: a flag, the overlay, and the proctor's tile says so at once.
    proctor_client = app.test_client()
    login(proctor_client, proctor)
    driver.execute_script(STOP_SHARING)
    WebDriverWait(driver, 5).until(lambda d: overlay.is_displayed())
    assert "angehalten" in driver.find_element(By.ID, "screen-said").text
    assert driver.execute_script("return document.getElementById('exam-form').inert") is True
    driver.save_screenshot(str(tmp_path / "sharing-stopped.png"))
    assert _wait(lambda: db.session.scalars(select(Flag).where(
        Flag.attempt_id == attempt_id, Flag.kind == FlagKind.SCREEN_STOPPED)).all())
    tiles = proctor_client.get("/api/proctor/live").get_json()["attempts"]
    assert [t["screen"] for t in tiles if t["attempt_id"] == attempt_id] == ["stopped"]

    # Sharing again lifts the block; the recording goes on in the same part.
    driver.find_element(By.ID, "screen-share").click()
    WebDriverWait(driver, 10).until(lambda d: not overlay.is_displayed())
    assert _wait(lambda: "screen_resumed" in _events(attempt_id))
    tiles = proctor_client.get("/api/proctor/live").get_json()["attempts"]
    assert [t["screen"] for t in tiles if t["attempt_id"] == attempt_id] == ["shared"]
    time.sleep(3)
    driver.find_element(By.ID, "submit").click()
    confirm_submit(driver, "Antworten können danach nicht mehr geändert werden")
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/result"))
    wait_parts_closed(attempt_id)
    blobs = recordings(attempt_id)
    assert len(blobs) == 1
    webm = vault.read(blobs[0])
    streams = ffprobe_streams(webm, tmp_path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("video", "vp8"), ("audio", "opus"),
                                                                    ("video", "vp8")], streams
    # Decodable: on this busy machine Chromium sends fewer frames than 30 a second, and a frame that lost a
    # packet on the way fails until the next keyframe, as in any player; the bulk must decode.
    frames = decoded_frames(webm)
    # The webcam (about 10 s); Chromium lowers its resolution when the machine is short of CPU (not the screen's:
    # its content hint "detail" keeps the screen's resolution and drops frames instead).
    assert frames[0][0] > 60 and frames[0][1] in ((640, 480), (480, 360), (320, 240)), frames
    assert frames[1][0] > 300, frames  # the microphone
    # Chromium's fake screen at a few frames a second, within the page's cap of 1920x1080
    assert frames[2][0] >= 5 and 800 <= frames[2][1][0] <= 1920 and 600 <= frames[2][1][1] <= 1080, frames
