"""A proctor reviews an ended attempt in a real Chromium: jumps to a flag, the player seeks there and shows the frame.

The recording is a real one (an aiortc webcam through the signalling endpoint into encrypted storage), remuxed
by the job into its seekable copy. Screenshots of the review go to the test's output folder.
"""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from kernel.db import db
from kernel.jobs import runner
from proctoring.models import Flag, FlagKind, RecordingPlayback
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.conftest import recordings, send_for
from tests.proctoring.test_recording import live  # noqa: F401
from tests.proctoring.test_screen import screen_attempt  # noqa: F401

pytestmark = pytest.mark.browser

AT = 3.0  # seconds into the part where the flag is


@pytest.fixture
def app_config():
    """Loopback media; a snapshot stored every 2 s so that the timeline has some."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False, "SNAPSHOT_STORE_SECONDS": 2}


FRAME = """
const v = arguments[0];
const c = document.createElement('canvas');
c.width = v.videoWidth; c.height = v.videoHeight;
const g = c.getContext('2d');
g.drawImage(v, 0, 0);
const d = g.getImageData(0, 0, c.width, c.height).data;
let lit = 0;
for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] > 150) { lit++; } }
return lit;
"""


def test_proctor_jumps_to_a_flag_and_the_player_shows_that_moment(app, chromium, live_server, live,  # noqa: F811
                                                                 make_user, tmp_path):
    aid, exam = live["attempt_id"], live["exam"]
    cand = live["client"]
    assert cand.post(f"/api/attempts/{aid}/chat", json={"text": "Darf ich Papier benutzen?"}).status_code == 200
    send_for(cand, aid, 7.0)
    assert cand.post(f"/api/attempts/{aid}/submit").status_code == 200
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=120) == 1  # type: ignore
    db.session.rollback()
    part = recordings(aid)[0]
    row = db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == part.id))
    assert row.state == "ready" and row.duration_ms > (AT + 1) * 1000
    at = row.started_at + dt.timedelta(seconds=AT)
    db.session.add(Flag(attempt_id=aid, kind=FlagKind.MULTIPLE_FACES, started_at=at, last_seen_at=at))
    proctor = make_user("proctor", live["inst"])
    exam.proctors.append(proctor)
    db.session.commit()

    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    p.get(f"{live_server}/proctor/attempts/{aid}")
    p.find_element(By.ID, "review-link").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "player"))
    video = p.find_element(By.CSS_SELECTOR, "video.playback")
    WebDriverWait(p, 20).until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
    # The copy has a duration and an index: the whole part is seekable.
    duration, seekable_end = p.execute_script(
        "const v = arguments[0]; return [v.duration, v.seekable.length ? v.seekable.end(0) : 0];", video)
    assert abs(duration - row.duration_ms / 1000) < 0.5 and seekable_end > AT
    page = p.find_element(By.TAG_NAME, "body").text
    assert "Darf ich Papier benutzen?" in page and "chat_from_candidate" not in p.page_source
    # The flag in words (proctoring/flag_labels.py: kind – status), still open, so with its decision form.
    flags = p.find_element(By.ID, "flags")
    assert "Mehr als ein Gesicht – offen" in flags.text, flags.text
    assert flags.find_elements(By.CSS_SELECTOR, "li.flag form.flag-decision button.confirm-flag")
    p.save_screenshot(str(tmp_path / "1-review.png"))

    p.find_element(By.CSS_SELECTOR, "#flags li.flag button.jump").click()
    WebDriverWait(p, 20).until(lambda d: d.execute_script(
        "const v = arguments[0]; "
        "return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - arguments[1]) < 0.05",
        video, AT))
    assert abs(p.execute_script("return arguments[0].currentTime", video) - AT) < 0.05
    assert p.execute_script("return arguments[0].videoWidth", video) == 640
    assert p.execute_script(FRAME, video) > 1000  # a decoded picture (the moving bar), not a black or empty frame
    p.save_screenshot(str(tmp_path / "2-jumped-to-flag.png"))

    Select(p.find_element(By.ID, "speed")).select_by_value("8")
    assert p.execute_script("return arguments[0].playbackRate", video) == 8
    p.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    WebDriverWait(p, 10).until(lambda d: d.execute_script("return arguments[0].currentTime", video) > AT + 1)
    assert p.execute_script("return arguments[0].playbackRate", video) == 8  # play keeps the chosen speed
    p.save_screenshot(str(tmp_path / "3-playing-8x.png"))
    p.execute_script("document.getElementById('timeline').scrollIntoView()")
    WebDriverWait(p, 10).until(lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('img.snapshot')).every(i => i.complete)"))
    shots = p.execute_script("return Array.from(document.querySelectorAll('img.snapshot')).map(i => i.naturalWidth)")
    assert all(w > 0 for w in shots)  # stored snapshots on the timeline decode
    p.save_screenshot(str(tmp_path / "4-timeline.png"))
    # The exam began before the camera connected: no recording covers that moment, and the page says so.
    p.find_element(By.CSS_SELECTOR, '#timeline li[data-kind="event"] button.jump').click()
    WebDriverWait(p, 5).until(lambda d: d.find_element(By.ID, "jump-state").text)
    assert "keine Aufnahme" in p.find_element(By.ID, "jump-state").text


def test_the_screen_plays_beside_the_camera_and_follows_it(app, chromium, live_server, screen_attempt,  # noqa: F811
                                                           make_user, tmp_path):
    """An exam that records the screen: the review shows camera and screen side by side on one clock; a jump
    to a flag seeks both to that moment, and the screen plays and pauses with the camera."""
    import asyncio

    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    from tests.proctoring.conftest import PatternTrack, connect, wait_parts_closed
    from tests.proctoring.test_screen import ScreenTrack

    aid, exam, cand = screen_attempt["attempt_id"], screen_attempt["exam"], screen_attempt["client"]

    async def stream() -> None:
        pc = RTCPeerConnection()
        for track in (PatternTrack(), AudioStreamTrack(), ScreenTrack()):
            pc.addTrack(track)
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(cand, aid, pc)
        await asyncio.sleep(8.0)
        await pc.close()

    asyncio.run(stream())
    wait_parts_closed(aid)
    assert cand.post(f"/api/attempts/{aid}/submit").status_code == 200
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=120) == 1  # type: ignore
    db.session.rollback()
    row = db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == recordings(aid)[0].id))
    assert row.state == "ready" and row.screen_copy_id, row.error
    at = row.started_at + dt.timedelta(seconds=AT)
    db.session.add(Flag(attempt_id=aid, kind=FlagKind.TAB_HIDDEN, started_at=at, last_seen_at=at))
    proctor = make_user("proctor", exam.institution)
    exam.proctors.append(proctor)
    db.session.commit()

    # From the login page by clicking: home, the review queue, this attempt.
    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-session-reviews"))
    p.find_element(By.ID, "to-session-reviews").click()
    WebDriverWait(p, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-attempt="{aid}"]')).find_element(
        By.TAG_NAME, "a").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "player"))
    camera, screen = p.find_element(By.ID, "playback-1"), p.find_element(By.ID, "screen-1")
    assert "Bildschirm" in p.find_element(By.CSS_SELECTOR, '.player-source[data-source="screen"]').text
    for v in (camera, screen):
        WebDriverWait(p, 20).until(lambda d, v=v: d.execute_script("return arguments[0].readyState >= 1", v))
    assert p.execute_script("return arguments[0].duration", screen) > AT + 1  # the screen's copy is seekable

    p.find_element(By.CSS_SELECTOR, "#flags li.flag button.jump").click()
    at_flag = ("const v = arguments[0]; "
               "return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - arguments[1]) < 0.05")
    # the same moment in both: the screen's copy begins where the screen began in the part
    screen_at = AT - row.screen_offset_ms / 1000
    assert 0 < screen_at < AT
    for v, t in ((camera, AT), (screen, screen_at)):
        WebDriverWait(p, 20).until(lambda d, v=v, t=t: d.execute_script(at_flag, v, t))
    assert p.execute_script("return [arguments[0].videoWidth, arguments[1].videoWidth]", camera, screen) == [640, 1280]
    assert p.execute_script(FRAME, screen) > 1000  # the screen's picture decoded at that moment
    p.save_screenshot(str(tmp_path / "1-camera-and-screen-at-flag.png"))

    # Played from the camera, the screen plays along on the same clock; paused, it pauses.
    p.execute_script("arguments[0].muted = true; arguments[0].play();", camera)
    WebDriverWait(p, 10).until(lambda d: d.execute_script("return arguments[0].currentTime", camera) > AT + 2)
    WebDriverWait(p, 5).until(lambda d: d.execute_script(
        "return !arguments[1].paused && Math.abs(arguments[0].currentTime - arguments[2] - arguments[1].currentTime)"
        " < 0.6", camera, screen, row.screen_offset_ms / 1000))
    p.save_screenshot(str(tmp_path / "2-playing-side-by-side.png"))
    p.execute_script("arguments[0].pause();", camera)
    WebDriverWait(p, 5).until(lambda d: d.execute_script("return arguments[0].paused", screen))
