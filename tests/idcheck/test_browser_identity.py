"""A real Chromium with a fake webcam goes through the identity check: the ID photo, then the head
movements on the live camera, the frames taken by our media engine from the video Chromium sends.

How the fake webcam can follow prompts it cannot see: Chromium's ``--use-file-for-fake-video-capture``
plays a file from its start when the page opens the camera, and the file cannot react to the prompts.
So the test learns the moves before the browser starts, by the draw hook of the app's configuration
(``IDCHECK_CHALLENGE_DRAW``, a callable in the config the test sets; there is no route for it): the test
draws the moves itself with the production ``draw_challenge`` and the server uses that draw. The test
renders the file for that sequence (a textured 3D head from bench/spoofs.py that really turns): looking
straight for ``WAIT_S`` seconds, then each move at the time the server will prompt it, given that the
challenge starts when "Start the movements" is pressed. The test presses it when the page's camera
preview has played ``WAIT_S`` seconds (the video element's ``currentTime``), so file time and server time
line up to within a few hundred ms, well inside each step's 3 s. The server's clock, the prompts, the
deadlines and the frames are the production ones; only the draw and the moment of pressing are known
to the test. Still to do by hand: a person really turning their head (tests/idcheck/test_live_challenge.py
has a stream that does react to each prompt, over aiortc).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from idcheck.liveness import LEAD_MS, STEP_MS, draw_challenge
from idcheck.models import IdCheck
from kernel.db import db
from tests.browser import chromium, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.idcheck.live import head, pose_after
from tests.proctoring.conftest import PLANES, use_plane

pytestmark = pytest.mark.browser

WAIT_S = 8.0  # looking straight in the file before the challenge starts (connecting takes less)
FPS = 30  # Chromium plays an MJPEG file at 30 frames a second
MOVES = draw_challenge()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Loopback only; the draw the test knows (see the module's docstring)."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False,
            "IDCHECK_CHALLENGE_DRAW": lambda: list(MOVES)}


@pytest.fixture(autouse=True)
def _stop_engine(app):
    yield
    eng = app.extensions.get("aufsicht.media")
    if eng is not None:
        eng.stop()


def head_video(faces: Path, folder: Path, moves: list[str]) -> Path:
    """An MJPEG file: the 3D head looking straight for WAIT_S, then answering each move as it is prompted."""
    render = head(faces / "obama.jpg").render
    cache: dict[tuple[float, float], bytes] = {}
    total_ms = WAIT_S * 1000 + LEAD_MS + STEP_MS * len(moves) + 4000
    path = folder / "head.mjpeg"
    with path.open("wb") as out:
        for n in range(int(total_ms * FPS / 1000)):
            t = n * 1000 / FPS - WAIT_S * 1000 - LEAD_MS  # ms since the first prompt
            i = int(t // STEP_MS) if t >= 0 else -1
            pose = pose_after(moves[i], t - i * STEP_MS) if 0 <= i < len(moves) else (0.0, 0.0)
            if pose not in cache:
                buf = io.BytesIO()
                Image.fromarray(render(*pose)).save(buf, "JPEG", quality=85)
                cache[pose] = buf.getvalue()
            out.write(cache[pose])
    return path


def open_identity_page(d, live_server, cand, exam, faces) -> None:  # noqa: F811
    log_in(d, live_server, cand.email, PASSWORD)
    WebDriverWait(d, 10).until(lambda drv: "/candidate" in drv.current_url)
    d.get(f"{live_server}/candidate/exams/{exam.id}/identity")
    d.find_element(By.ID, "consent-yes").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "doc-file"))
    d.find_element(By.ID, "doc-file").send_keys(str(faces / "obama2.jpg"))
    d.find_element(By.CSS_SELECTOR, "#doc-form button").click()
    WebDriverWait(d, 15).until(lambda drv: "✓" in drv.find_element(By.ID, "doc-state").text)


def begin_at(d, seconds: float | None) -> None:
    """Connect the camera; press "Start the movements" once the preview has played ``seconds`` (None: at once)."""
    d.find_element(By.ID, "selfie-start").click()
    WebDriverWait(d, 20).until(lambda drv: drv.find_element(By.ID, "liveness-begin").is_displayed())
    if seconds is not None:
        played = d.execute_script("return document.getElementById('selfie-video').currentTime")
        assert played < seconds - 0.3, f"connecting took {played:.1f} s of the file's {seconds} s"
        while d.execute_script("return document.getElementById('selfie-video').currentTime") < seconds - 0.05:
            time.sleep(0.01)
    d.execute_script("document.getElementById('liveness-begin').click()")


def outcome(d) -> str:
    status = d.find_element(By.ID, "idcheck-status")
    WebDriverWait(d, 90).until(lambda drv: status.get_attribute("data-status") in ("review", "verified", "retake"))
    return str(status.get_attribute("data-status"))


@pytest.mark.parametrize("plane", PLANES)
def test_a_head_turning_in_the_live_video_is_verified(plane, app, chromium, live_server, fake_webcam,  # noqa: F811
                                                    faces, make_institution, make_user, make_exam, tmp_path):
    use_plane(app, plane)  # on Janus: Chromium's own VP8 packets through Janus to the capture
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False)
    cand = make_user("candidate", inst)
    d = chromium(video=head_video(faces, tmp_path, MOVES), audio=fake_webcam[1])
    open_identity_page(d, live_server, cand, exam, faces)
    begin_at(d, WAIT_S)
    # the page shows one move after the other, as the server prompts them
    shown: list[str] = []
    prompt = d.find_element(By.ID, "challenge")
    end = time.monotonic() + 20
    while time.monotonic() < end and len(shown) < len(MOVES):
        step = prompt.get_attribute("data-step")
        if step in ("left", "right", "up", "down") and (not shown or shown[-1] != step):
            shown.append(step)
        time.sleep(0.1)
    state = outcome(d)
    d.save_screenshot(str(tmp_path / "identity-verified.png"))
    db.session.rollback()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert shown == MOVES
    assert state == "verified", (check.reason, check.challenge)
    assert check.liveness_passed and check.selfie_uploads == 1


def test_a_still_photo_as_the_webcam_goes_to_a_person(app, chromium, live_server, fake_webcam, faces,  # noqa: F811
                                                     make_institution, make_user, make_exam, tmp_path):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False)
    cand = make_user("candidate", inst)
    d = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    open_identity_page(d, live_server, cand, exam, faces)
    begin_at(d, None)
    state = outcome(d)
    d.save_screenshot(str(tmp_path / "identity-review.png"))
    # the fake webcam shows a still photo: liveness cannot pass, so a person reviews (never refused)
    assert state == "review"
    db.session.rollback()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.liveness_passed is False and check.auto_decision == "match", (check.distance, check.reason)
