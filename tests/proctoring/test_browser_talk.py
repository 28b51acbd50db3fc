"""Talking to the candidate, walked in two real Chromiums by clicking (issue 29): the proctor clicks "Talk" on the
attempt's page; the candidate's page shows the proctor's video, a call indicator with the proctor's name and who is
speaking; "Hang up" ends it on both sides; the timeline has both."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from exams.attempts import timeline
from exams.models import Attempt
from kernel.db import db
from proctoring.models import SystemCheck
from tests.browser import chromium, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.conftest import PLANES, use_plane

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("plane", PLANES)
def test_a_proctor_clicks_talk_and_the_candidate_sees_who_is_calling(app, chromium, live_server,  # noqa: F811
                                                                       fake_webcam, make_institution,  # noqa: F811
                                                                       make_user, make_exam, tmp_path, plane):
    use_plane(app, plane)
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    status = WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status"))
    WebDriverWait(c, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(c)
    assert not c.find_element(By.ID, "examiner").is_displayed()  # no call, no call window

    p = chromium()  # Chromium's own fake camera and microphone (a beep)
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    p.get(f"{live_server}/proctor/attempts/{attempt_id}#oral-call")
    talk = p.find_element(By.ID, "oral-join")
    assert talk.text == "Sprechen"
    WebDriverWait(p, 5).until(  # ready from an alert's link (the page's scripts run deferred)
        lambda d: d.execute_script("return document.activeElement.id") == "oral-join")
    talk.click()
    state = p.find_element(By.ID, "oral-state")
    WebDriverWait(p, 30).until(lambda d: state.get_attribute("data-state") in ("connected", "failed"))
    assert state.get_attribute("data-state") == "connected", state.text

    indicator = c.find_element(By.ID, "call-indicator")
    WebDriverWait(c, 15).until(lambda d: indicator.get_attribute("data-state") == "on")
    assert f"Im Gespräch mit {proctor.display_name} von der Aufsicht" in indicator.text
    WebDriverWait(c, 20).until(
        lambda d: d.execute_script("return document.getElementById('examiner-view').videoWidth") > 0)
    assert c.find_element(By.ID, "examiner").is_displayed()
    speaking = c.find_element(By.ID, "call-speaking")
    WebDriverWait(c, 20).until(lambda d: speaking.get_attribute("data-who") in ("proctor", "candidate"))
    assert speaking.text.startswith("Es spricht gerade: ")
    WebDriverWait(p, 20).until(
        lambda d: d.execute_script("return document.getElementById('oral-remote').videoWidth") > 0)
    c.save_screenshot(str(tmp_path / "candidate-in-call.png"))

    p.find_element(By.ID, "call-end").click()
    WebDriverWait(c, 15).until(lambda d: indicator.get_attribute("data-state") == "ended")
    assert indicator.text == "Das Gespräch mit der Aufsicht ist beendet."
    assert not c.find_element(By.ID, "examiner").is_displayed()
    kinds = [e.kind for e in timeline(db.session.get(Attempt, attempt_id))]
    assert kinds.index("call_started") < kinds.index("call_ended")
