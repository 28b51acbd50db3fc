"""The liveness challenge over WebRTC: an aiortc "browser" streams a camera that moves as the server
prompts; the media engine takes the frames from the video it receives; the identity job decides.

The server draws the moves and tells the page only the current one; the stand-in camera learns each
move by asking the server, like the page, and only then starts moving. A textured 3D head that really
turns passes; a flat photo turned in perspective the same way is refused. No picture is uploaded.
The capture runs on both media planes (aiortc, and Janus: ``proctoring.janus_capture``).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bench.camera import live_challenge
from idcheck.models import IdCheck
from kernel.db import db
from tests.idcheck.live import PromptedCamera, drawer
from tests.proctoring.conftest import PLANES, use_plane


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Loopback only; no face flags (they cost CPU)."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False}


@pytest.fixture(autouse=True)
def _stop_engine(app: Flask) -> Iterator[None]:
    yield
    eng = app.extensions.get("aufsicht.media")
    if eng is not None:
        eng.stop()


def _ready(client, exam, faces) -> None:
    """Consent and the ID photo: the check waits for the camera."""
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    r = client.post(f"/api/identity/{exam.id}/document",
                    data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    assert r.status_code == 200, r.json


def run_challenge(client, exam, camera: PromptedCamera, linger: float = 1.0) -> dict[str, Any]:
    """Connect the camera through the real signalling endpoint, start the challenge, follow its prompts
    (``bench.camera.live_challenge``, as the page does) and wait for the identity check's outcome; returns
    the status the page would show."""
    api = f"/api/identity/{exam.id}"

    def call(method: str, path: str, body: Any) -> tuple[int, Any]:
        resp = client.open(path, method=method, json=body)
        return resp.status_code, resp.get_json(silent=True)

    asyncio.run(live_challenge(call, api, camera, linger=linger))
    assert camera.states[0]["phase"] == "straight" and camera.states[0]["move"] is None  # no move told ahead
    assert all(set(s) <= {"phase", "move", "step", "steps", "ms_left"} for s in camera.states)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = client.get(api).json
        if state["status"] not in ("started", "processing"):
            return state
        time.sleep(0.3)
    raise AssertionError(f"the identity check did not finish: {client.get(api).json}")


@pytest.mark.parametrize("plane", PLANES)
def test_a_head_turning_as_prompted_on_the_live_camera_is_verified(app, candidate_at_exam, faces, plane):
    use_plane(app, plane)
    _inst, exam, cand, client = candidate_at_exam
    _ready(client, exam, faces)
    assert client.post(f"/api/identity/{exam.id}/selfie").status_code in (404, 405)  # no upload path
    # through a virtual camera: noted for a reviewer, never a refusal
    camera = PromptedCamera(drawer(faces, "head"), label="OBS Virtual Camera")
    state = run_challenge(client, exam, camera)
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert state["status"] == "verified", (check.reason, check.challenge)
    assert len(camera.seen) == len(check.challenge) >= 3  # each move learnt only when prompted
    assert [k.split(":")[1] for k in camera.seen] == [s["move"] for s in check.challenge]
    assert check.liveness_passed and check.selfie_uploads == 1
    assert check.virtual_camera == "OBS Virtual Camera"
    from storage import vault

    assert vault.blobs_of(category="recording") == []  # the identity camera is not recorded, on either plane


@pytest.mark.parametrize("plane", PLANES)
def test_hanging_up_right_after_the_last_move_still_hands_over_the_frames(app, candidate_at_exam, faces, plane):
    use_plane(app, plane)
    # The camera closes the moment the page learns the moves are done, while the engine still takes frames
    # (the last deadline plus a tail) and converts them: the frames taken are handed over all the same (a
    # hang-up once cancelled the capture, and the check waited for frames that never came).
    _inst, exam, cand, client = candidate_at_exam
    _ready(client, exam, faces)
    state = run_challenge(client, exam, PromptedCamera(drawer(faces, "head")), linger=0.0)
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert state["status"] == "verified", (state, check.reason)
    assert check.liveness_passed and check.selfie_uploads == 1


def test_a_flat_photo_turned_as_prompted_is_refused(candidate_at_exam, faces):
    # On aiortc only: the refusal is the frames' analysis, the same on either plane (a capture on Janus that lost
    # frames would send this check to a person as well, so running it there would prove nothing more; ~18 s of CI).
    _inst, exam, cand, client = candidate_at_exam
    _ready(client, exam, faces)
    state = run_challenge(client, exam, PromptedCamera(drawer(faces, "flat")))
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert state["status"] == "review"  # never refused by the computer alone: a person looks
    assert check.liveness_passed is False and "liveness" in (check.reason or ""), check.reason
    assert check.virtual_camera is None  # a webcam's label ("Integrated Camera") is not kept
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409


@pytest.mark.parametrize("plane", PLANES)
def test_no_capture_once_the_camera_hung_up(app, candidate_at_exam, faces, plane):
    # The engine lost the camera between the page's start and the capture: it says so (NotLive, which the
    # challenge's start passes on without counting the try), on either plane.
    from aiortc import RTCSessionDescription

    from proctoring.engine import NotLive
    from proctoring.media import media
    from proctoring.sessions import identity_session_id
    from tests.proctoring.conftest import aiortc_offer

    use_plane(app, plane)
    _inst, exam, cand, client = candidate_at_exam
    _ready(client, exam, faces)
    session = identity_session_id(cand.id, exam.id)

    async def connect_and_hang_up() -> None:
        pc, _channel = await aiortc_offer()
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: client.post(
            f"/api/identity/{exam.id}/camera/offer", json={"type": "offer", "sdp": pc.localDescription.sdp}))
        assert resp.status_code == 200, resp.get_json()
        await pc.setRemoteDescription(RTCSessionDescription(**resp.get_json()))
        for _ in range(100):
            if (media(app).stats(session) or {}).get("state") == "connected":
                break
            await asyncio.sleep(0.1)
        assert media(app).stats(session)["state"] == "connected"
        await pc.close()

    asyncio.run(connect_and_hang_up())
    for _ in range(100):
        if (media(app).stats(session) or {}).get("state") != "connected":
            break
        time.sleep(0.1)
    with pytest.raises(NotLive):
        media(app).capture_liveness(session, 1, 0, time.time() + 3, 5.0)
