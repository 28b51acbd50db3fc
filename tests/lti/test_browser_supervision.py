"""Issue 28 point 5 in a real Chromium against the Open edX platform of the suite (tests/lti_peer.py): the platform's
proctoring launch, the identity check (set as verified, as the other LTI tests do; its own flow is tested in
tests/idcheck) and the real system check, the supervision window live and recording (camera and the whole screen,
Chromium's fake devices), only then ``LtiStartAssessment`` at the platform; the proctor sees the candidate on the
live grid and terminates there, which reaches the platform's Assessment Control Service; ``LtiEndAssessment`` ends
it. The recording is an encrypted part of the supervision attempt that decrypts to WebM with the camera and screen.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from lti.models import LtiProctoring
from storage import vault
from tests.browser import chromium, fake_webcam, live_server  # noqa: F401  (fixtures)
from tests.conftest import login
from tests.lti.test_platform_interop import PROFILE, lms  # noqa: F401  (fixture)
from tests.proctoring.conftest import recordings, wait_parts_closed
from tests.proctoring.test_screen import decoded_frames, ffprobe_streams

pytestmark = pytest.mark.browser

FILL_PROFILE = """
var values = arguments[0];
Object.keys(values).forEach(function (name) {
  var el = document.querySelector('[name="' + name + '"]');
  if (el.type === 'checkbox') { el.checked = true; } else { el.value = values[name]; }
});
"""


def _platform_launch(driver, platform, **query: str) -> None:
    """A person opens the course item at the platform; the platform's launch form goes to the tool (Open edX's page
    posts it by itself; the test platform's page is the bare form, so the test posts it as that script would)."""
    driver.get(f"{platform.base}/launch?{urlencode(query)}")
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "form[method=post]"))
    driver.execute_script("document.forms[0].submit();")


def _wait(what, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.3)
    return what()


def test_platform_assessment_runs_under_recorded_supervision(lms, chromium, fake_webcam, make_exam,  # noqa: F811
                                                             make_user, app, tmp_path):
    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, title="Aufsichtsprüfung", identity_check_required=True,
                     proctoring_required=True, screen_capture=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    driver = chromium(video=fake_webcam[0], audio=fake_webcam[1])

    # The platform launches LtiStartProctoring; the new account gives its details once, then the checks.
    _platform_launch(driver, platform, kind="proctoring", user="student-1", role="student", name="Lena Schmidt",
                     attempt="1", custom_aufsicht_exam=str(exam.id))
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/candidate/profile"))
    driver.execute_script(FILL_PROFILE, PROFILE)
    driver.find_element(By.ID, "privacy").find_element(By.XPATH, "ancestor::form").submit()
    session = db.session.scalar(select(LtiProctoring))
    checks_url = f"{base}/lti/proctoring/{session.id}"
    WebDriverWait(driver, 20).until(lambda d: d.current_url == checks_url)
    assert len(driver.find_elements(By.CSS_SELECTOR, '#lti-checks [data-passed="no"]')) == 2
    db.session.add(IdCheck(user_id=session.user_id, exam_id=exam.id, status=IdCheckStatus.VERIFIED, biometric=True))
    db.session.commit()

    # The real system check: camera, microphone, the whole screen and the connection reach the media engine.
    driver.refresh()
    driver.find_element(By.CSS_SELECTOR, '[data-gate="system"] a').click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "check-start"))[0].click()
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes")
    driver.back()
    driver.refresh()
    WebDriverWait(driver, 10).until(lambda d: d.current_url == checks_url)
    assert len(driver.find_elements(By.CSS_SELECTOR, '#lti-checks [data-passed="yes"]')) == 2
    start = driver.find_element(By.ID, "lti-start-button")
    WebDriverWait(driver, 5).until(lambda d: not start.is_enabled())  # no supervision yet: no start
    assert driver.find_element(By.ID, "lti-live").get_attribute("data-live") == "no"
    driver.save_screenshot(str(tmp_path / "lti-checks-waiting.png"))

    # The supervision window opens beside it: camera and microphone, the whole screen shared.
    main = driver.current_window_handle
    driver.find_element(By.CSS_SELECTOR, "#lti-supervision-open button").click()
    WebDriverWait(driver, 10).until(lambda d: len(d.window_handles) == 2)
    window = next(h for h in driver.window_handles if h != main)
    driver.switch_to.window(window)
    WebDriverWait(driver, 20).until(lambda d: d.current_url == f"{checks_url}/supervision")
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "screen-share").is_displayed())
    assert not platform.state()["assessments"]
    driver.find_element(By.ID, "screen-share").click()
    WebDriverWait(driver, 40).until(
        lambda d: d.find_element(By.ID, "media-status").get_attribute("data-state") == "connected")
    driver.save_screenshot(str(tmp_path / "lti-supervision-window.png"))
    db.session.expire_all()
    attempt_id = db.session.get(LtiProctoring, session.id).attempt_id
    assert attempt_id is not None

    # Live and recording: the checks page lets the assessment start, and only now does it reach the platform.
    driver.switch_to.window(main)
    WebDriverWait(driver, 40).until(
        lambda d: d.find_element(By.ID, "lti-live").get_attribute("data-live") == "yes")
    assert recordings(attempt_id), "an encrypted recording part has started"
    assert not platform.state()["assessments"]
    driver.save_screenshot(str(tmp_path / "lti-checks-live.png"))
    driver.find_element(By.ID, "lti-start-button").click()
    WebDriverWait(driver, 20).until(lambda d: "Assessment started" in d.page_source)
    assessment = platform.state()["assessments"][0]
    assert assessment["user"] == "student-1" and assessment["verified_user"]["family_name"] == "Schmidt"
    assert len(driver.window_handles) == 2  # the supervision window stays open beside the assessment

    # The proctor sees the candidate on the same live grid, with the live picture, and terminates there.
    desk = app.test_client()
    login(desk, proctor)
    tiles = _wait(lambda: [t for t in desk.get("/api/proctor/live").get_json()["attempts"]
                           if t["attempt_id"] == attempt_id and t.get("snapshot_age_ms") is not None])
    assert tiles and tiles[0]["candidate"] == "Lena Schmidt", tiles
    time.sleep(3)  # a few seconds of supervision in the recording
    done = desk.post(f"/api/proctor/attempts/{attempt_id}/terminate", json={"reason": "Handy auf dem Tisch"})
    assert done.status_code == 200, done.get_data(as_text=True)
    acs = platform.state()["acs"]
    assert acs[-1]["action"] == "terminate" and acs[-1]["user"] == {"iss": platform.base, "sub": "student-1"}
    driver.switch_to.window(window)
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "lti-supervision-ended"))
    driver.save_screenshot(str(tmp_path / "lti-supervision-ended.png"))

    # The platform ends the assessment.
    driver.switch_to.window(main)
    _platform_launch(driver, platform, kind="end", user="student-1", role="student", attempt="1",
                     custom_aufsicht_exam=str(exam.id))
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "lti-ended"))
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).status == "ended"
    assert db.session.get(Attempt, attempt_id).status == AttemptStatus.TERMINATED
    assert platform.state()["launches"] == ["LtiStartProctoring", "LtiEndAssessment"]

    # The recording: encrypted at rest, decrypted it is WebM with the camera, the microphone and the screen.
    wait_parts_closed(attempt_id)
    parts = recordings(attempt_id)
    assert len(parts) >= 1
    webm = vault.read(parts[0])
    streams = [(s["codec_type"], s["codec_name"]) for s in ffprobe_streams(webm, tmp_path)]
    assert streams == [("video", "vp8"), ("audio", "opus"), ("video", "vp8")], streams
    frames = decoded_frames(webm)
    assert frames[0][0] > 30 and frames[2][0] >= 2, frames  # the camera's and the screen's pictures decode
