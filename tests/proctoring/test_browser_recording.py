"""A real Chromium with a fake webcam (a face photo) takes a supervised attempt and is recorded."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from kernel.db import db
from proctoring.models import Flag
from storage import vault
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.proctoring.conftest import PLANES, probe, recordings, use_plane, wait_parts_closed

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("run", [1, 2, 3])
def test_chromium_webcam_is_recorded_with_video_every_time(run, plane, app, chromium, live_server,  # noqa: F811
                                                           fake_webcam, make_institution, make_user,  # noqa: F811
                                                           make_exam):
    use_plane(app, plane)  # the system check's stream and the exam's both go to that plane
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Erzählen Sie.", "points": 1}])
    cand = make_user("candidate", inst)
    driver = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(driver, live_server, cand.email, PASSWORD)
    WebDriverWait(driver, 10).until(lambda d: "/candidate" in d.current_url)
    driver.get(f"{live_server}/candidate/exams/{exam.id}")
    driver.find_element(By.ID, "start").click()
    error = WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "start-error"))[0]
    assert "systemcheck" in error.text.lower()  # German UI
    driver.find_element(By.ID, "to-system-check").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "check-start"))[0].click()
    WebDriverWait(driver, 40).until(
        lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes"
        or d.find_element(By.ID, "check-connection").get_attribute("data-state") == "failed")
    for step in ("camera", "microphone", "connection"):
        found = driver.find_element(By.ID, f"check-{step}")
        assert found.get_attribute("data-state") == "ok", (step, found.text)
    driver.find_element(By.ID, "to-exam").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "start"))[0].click()
    status = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "media-status"))
    WebDriverWait(driver, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    connected_at = time.monotonic()
    attempt_id = int(driver.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(driver)
    # The page's events reach us on both planes: over the data channel (aiortc), over HTTP (Janus, media.js).
    driver.execute_script("document.dispatchEvent(new ClipboardEvent('copy'))")
    time.sleep(10)
    # The submit question is answered at once here: the recording's length is what this test measures.
    driver.find_element(By.ID, "submit").click()
    confirm_submit(driver)
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/result"))
    walked = time.monotonic() - connected_at  # 10 s of exam plus the submit walk (longer on a busy machine)
    wait_parts_closed(attempt_id)
    flags = db.session.scalars(select(Flag).where(Flag.attempt_id == attempt_id)).all()
    assert "copy_paste" in [f.kind.value for f in flags], plane
    blobs = recordings(attempt_id)
    assert len(blobs) == 1
    info = probe(vault.read(blobs[0]))
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")], info
    assert info["audio_packets"] > 300 and info["video_packets"] > 150, info
    # The whole exam and no more: from the connection to the result page (the hang-up comes with leaving the page).
    assert 9.0 <= info["duration"] <= walked + 0.5, (info, walked)
    # 640x480 as asked; Chromium's encoder may step down for a while (480x360, 320x240: its bandwidth estimate
    # ramping up, a busy machine): the picture keeps its shape and stays big enough to see a face.
    for size in (info["size"], info["decoded_size"]):
        assert size[0] * 3 == size[1] * 4 and 320 <= size[0] <= 640, info


def test_a_full_media_server_is_said_at_the_system_check(app, chromium, live_server, fake_webcam,  # noqa: F811
                                                         make_institution, make_user, make_exam):
    import asyncio

    from proctoring.models import SystemCheck
    from tests.conftest import login, start_exam
    from tests.proctoring.conftest import aiortc_offer, connect

    app.config["MEDIA_ENGINE_MAX_SESSIONS"] = 1
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    first = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=first.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, first)
    attempt_id = start_exam(client, exam.id)
    cand = make_user("candidate", inst)
    driver = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(driver, live_server, cand.email, PASSWORD)
    WebDriverWait(driver, 10).until(lambda d: "/candidate" in d.current_url)

    async def check_while_the_place_is_taken() -> str:
        pc = (await aiortc_offer())[0]
        try:
            await connect(client, attempt_id, pc)  # the engine's one place
            loop = asyncio.get_running_loop()
            page = f"{live_server}/candidate/exams/{exam.id}/system-check"
            await loop.run_in_executor(None, lambda: driver.get(page))
            await loop.run_in_executor(None, lambda: driver.find_element(By.ID, "check-start").click())
            step = driver.find_element(By.ID, "check-connection")
            for _ in range(200):
                if step.get_attribute("data-state") in ("ok", "failed"):
                    break
                await asyncio.sleep(0.2)
            return str(step.get_attribute("data-state")) + ": " + step.text
        finally:
            await pc.close()

    said = asyncio.run(check_while_the_place_is_taken())
    assert said.startswith("failed: ") and "ausgelastet" in said, said
