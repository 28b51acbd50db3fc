"""A second Chromium, with mobile emulation (a Pixel 7's screen and user agent) and a fake camera, plays the
candidate's phone as the second camera, paired by the link the exam page's QR code encodes (decoded from the
picture with OpenCV's QR detector). The exam does not start until the phone's camera arrives; once it runs, the
phone moves into the attempt's recording, the proctor's tile shows both cameras, stopping the phone's camera is
a flag, the spent link is refused on another phone, and the phone's video is decrypted from its recording part
and checked, then shown in the review beside the webcam on the same clock.

What cannot run here: a real phone (Chrome on Android, Safari on iOS). The emulation gives the page a phone's
screen, touch and user agent; the camera is Chromium's fake capture fed from the suite's camera file.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import AttemptEvent
from kernel.db import db
from kernel.jobs import runner
from proctoring.models import Flag, FlagKind, SystemCheck
from storage import vault
from storage.models import BlobState
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, login, totp_code
from tests.proctoring.conftest import recordings
from tests.proctoring.test_screen import decoded_frames, ffprobe_streams

pytestmark = pytest.mark.browser

STOP_CAMERA = "window.aufsichtPhone.stop();"


def _wait(what, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.3)
    return what()


def _events(attempt_id: int) -> list[str]:
    db.session.rollback()
    return [e.kind for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                                                .order_by(AttemptEvent.id))]


def _phone_parts(attempt_id: int) -> list:
    db.session.rollback()
    return vault.blobs_of(attempt_id=attempt_id, category="phone_recording")


def _qr_link(driver, folder) -> str:
    """The link the QR code on the page encodes, read from its picture as a phone's camera app would."""
    img = WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "phone-qr") if d.find_element(
        By.ID, "phone-qr").get_attribute("src") else None)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return arguments[0].complete && "
                                                               "arguments[0].naturalWidth > 0", img))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", img)  # a picture of it whole
    png = np.frombuffer(img.screenshot_as_png, np.uint8)
    picture = cv2.imdecode(png, cv2.IMREAD_COLOR)
    cv2.imwrite(str(folder / "qr-code.png"), picture)
    # The page around the code is its quiet zone (the element's picture ends at the code's own small margin).
    picture = cv2.copyMakeBorder(picture, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    assert text, "the QR code did not decode"
    return str(text)


def test_phone_pairs_by_qr_gates_the_start_streams_into_the_recording_and_its_stop_is_a_flag(
        app, chromium, live_server, fake_webcam, make_institution, make_user, make_exam, tmp_path):  # noqa: F811
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, second_camera=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Erzählen Sie.", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))  # the webcam's check: test_browser_recording
    db.session.commit()

    laptop = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(laptop, live_server, cand.email, PASSWORD)
    WebDriverWait(laptop, 10).until(lambda d: "/candidate" in d.current_url)
    laptop.get(f"{live_server}/candidate/exams/{exam.id}")
    assert "Handy" in laptop.find_element(By.ID, "second-camera-notice").text

    # Without the phone the exam does not start (the server refuses; the page says why).
    laptop.find_element(By.ID, "start").click()
    error = WebDriverWait(laptop, 10).until(lambda d: d.find_element(By.ID, "start-error"))
    assert "Handy als zweite Kamera" in error.text
    assert "/candidate/attempts/" not in laptop.current_url

    # The phone scans the code: the link is read from the QR picture, as the phone's camera app reads it.
    link = _qr_link(laptop, tmp_path)
    assert link == laptop.find_element(By.ID, "phone-pairing").get_attribute("data-link")
    assert link.startswith(live_server + "/phone/pair/")
    laptop.save_screenshot(str(tmp_path / "exam-page-qr.png"))
    phone = chromium(video=fake_webcam[0], mobile=True)
    phone.get(link)
    assert phone.current_url.endswith("/phone/camera")
    assert phone.execute_script("return window.innerWidth") < 500  # a phone's screen
    assert phone.find_element(By.CSS_SELECTOR, ".phone-placement svg").is_displayed()
    status = phone.find_element(By.ID, "phone-status")
    WebDriverWait(phone, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    assert "nicht aufgezeichnet" in status.text
    # Screen Wake Lock: held where the browser grants it (headless Chromium may refuse it; the page says so).
    assert phone.find_element(By.ID, "phone-awake").get_attribute("data-wake-lock") in ("held", "refused")
    phone.save_screenshot(str(tmp_path / "phone-waiting.png"))
    state = laptop.find_element(By.ID, "phone-state")
    WebDriverWait(laptop, 20).until(lambda d: state.get_attribute("data-state") == "streaming")
    # The spent code was replaced on the page: a new one is shown for the next scan.
    WebDriverWait(laptop, 10).until(lambda d: d.find_element(By.ID, "phone-pairing").get_attribute("data-link")
                                    != link)

    # Now the exam starts; the phone moves into the attempt's recording by itself.
    laptop.find_element(By.ID, "start").click()
    WebDriverWait(laptop, 10).until(lambda d: "/candidate/attempts/" in d.current_url)
    attempt_id = int(laptop.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(laptop)
    media = laptop.find_element(By.ID, "media-status")
    WebDriverWait(laptop, 30).until(lambda d: media.get_attribute("data-state") == "connected")
    WebDriverWait(phone, 30).until(lambda d: "aufgezeichnet" in status.text and "nicht" not in status.text)
    assert _wait(lambda: "phone_connected" in _events(attempt_id)), _events(attempt_id)
    phone.save_screenshot(str(tmp_path / "phone-recording.png"))
    time.sleep(6)

    # The proctor's tile shows both cameras.
    proctor_client = app.test_client()
    login(proctor_client, proctor)
    tile = _wait(lambda: [t for t in proctor_client.get("/api/proctor/live").get_json()["attempts"]
                          if t["attempt_id"] == attempt_id and t.get("phone_url")])
    assert tile and tile[0]["phone"] == "streaming"
    picture = proctor_client.get(tile[0]["phone_url"])
    assert picture.status_code == 200 and picture.data[:2] == b"\xff\xd8"

    # The spent link on another phone: a clear page, nothing recorded for it.
    stranger = chromium(video=fake_webcam[0], mobile=True)
    stranger.get(link)
    refused = stranger.find_element(By.ID, "phone-refused")
    assert refused.get_attribute("data-reason") == "used" and "schon benutzt" in refused.text
    stranger.save_screenshot(str(tmp_path / "phone-link-used.png"))

    # The phone's camera stops: a flag, and the tile says so.
    phone.execute_script(STOP_CAMERA)
    assert _wait(lambda: db.session.scalars(select(Flag).where(
        Flag.attempt_id == attempt_id, Flag.kind == FlagKind.PHONE_LOST)).all()), _events(attempt_id)
    tiles = proctor_client.get("/api/proctor/live").get_json()["attempts"]
    assert [t["phone"] for t in tiles if t["attempt_id"] == attempt_id] == ["stopped"]

    laptop.find_element(By.ID, "submit").click()
    confirm_submit(laptop)
    WebDriverWait(laptop, 10).until(lambda d: d.current_url.endswith("/result"))
    assert _wait(lambda: _phone_parts(attempt_id) and all(b.state == BlobState.COMPLETE
                                                          for b in _phone_parts(attempt_id)))

    # The phone's video, decrypted from its recording part: one VP8 video track of the phone's camera, no sound.
    parts = _phone_parts(attempt_id)
    assert len(parts) == 1, parts
    webm = vault.read(parts[0])
    streams = ffprobe_streams(webm, tmp_path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("video", "vp8")], streams
    frames = decoded_frames(webm)
    # The fake camera is the 640x480 file (the page's ideal 1280x720 is not upscaled; Chromium may crop it to 16:9
    # and lowers it when the machine is short of CPU).
    assert frames[0][0] > 60 and 320 <= frames[0][1][0] <= 640 and 180 <= frames[0][1][1] <= 480, frames
    assert parts[0].content_type == "video/webm" and parts[0].wrapped_key  # encrypted like the webcam's part

    # The review shows it beside the webcam, both on the wall clock of their first frames.
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=120) >= 2  # type: ignore
    webcam = recordings(attempt_id)
    assert webcam
    review = proctor_client.get(f"/proctor/attempts/{attempt_id}/review").get_data(as_text=True)
    assert 'id="phone-source"' in review and 'data-source="phone"' in review
    copy = proctor_client.get(f"/proctor/attempts/{attempt_id}/recordings/{parts[0].id}")
    assert copy.status_code == 200 and copy.data[:4] == b"\x1a\x45\xdf\xa3"  # WebM

    # In the review, by clicking from the login page: the phone plays beside the webcam, on the same clock.
    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-session-reviews"))
    p.find_element(By.ID, "to-session-reviews").click()
    WebDriverWait(p, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-attempt="{attempt_id}"]')
                               ).find_element(By.TAG_NAME, "a").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "player"))
    camera, second = p.find_element(By.ID, "playback-1"), p.find_element(By.ID, "phone-1")
    assert "Handy" in p.find_element(By.ID, "phone-source").text
    for v in (camera, second):
        WebDriverWait(p, 20).until(lambda d, v=v: d.execute_script("return arguments[0].readyState >= 1", v))
    # A moment both cover (the phone joins the attempt's recording a few seconds after the webcam).
    at = p.execute_script("return Date.parse(arguments[0].dataset.started) + 2000", second)
    p.execute_script("window.aufsichtReview.seekTo(arguments[0]);", at)
    offset = ("return (Date.parse(arguments[0].dataset.started) + arguments[0].currentTime * 1000)"
              " - (Date.parse(arguments[1].dataset.started) + arguments[1].currentTime * 1000)")
    WebDriverWait(p, 20).until(lambda d: abs(d.execute_script(offset, camera, second)) < 100)
    p.execute_script("arguments[0].muted = true; arguments[0].play();", camera)
    WebDriverWait(p, 15).until(lambda d: d.execute_script(
        "return !arguments[1].paused && arguments[1].currentTime > 3", camera, second))
    assert abs(p.execute_script(offset, camera, second)) < 600  # the phone follows the webcam within 0.6 s
    assert p.execute_script("return arguments[0].videoWidth", second) >= 320  # its picture decodes
    p.save_screenshot(str(tmp_path / "review-webcam-and-phone.png"))
    p.execute_script("arguments[0].pause();", camera)
    WebDriverWait(p, 5).until(lambda d: d.execute_script("return arguments[0].paused", second))
