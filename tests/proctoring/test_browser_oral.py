"""Two real Chromiums in one oral exam: the candidate (a face as webcam, a 440 Hz tone) and the examiner (Chromium's
own fake camera and beep) each receive the other's video and audio through the media engine, and both sides land
in the recording."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.conftest import PLANES, recordings, use_plane, wait_parts_closed
from tests.proctoring.test_oral import ORAL_QUESTIONS
from tests.proctoring.test_screen import decoded_frames, ffprobe_streams

pytestmark = pytest.mark.browser

# Test-only: keep the page's peer connections reachable, to read what each browser receives (getStats).
KEEP_CONNECTIONS = """
window.__pcs = [];
var Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (c) { var p = new Native(c); window.__pcs.push(p); return p; };
window.RTCPeerConnection.prototype = Native.prototype;
"""
RECEIVED = """
var done = arguments[0], p = window.__pcs[window.__pcs.length - 1], out = {};
p.getStats().then(function (r) {
  r.forEach(function (v) {
    if (v.type !== 'inbound-rtp') { return; }
    out[v.kind] = v.kind === 'video' ? (v.framesDecoded || 0) : (v.packetsReceived || 0);
  });
  done(out);
});
"""


def _received(driver) -> dict[str, int]:
    return driver.execute_async_script(RECEIVED)


@pytest.mark.parametrize("plane", PLANES)
def test_two_chromiums_see_and_hear_each_other_in_an_oral_exam(app, chromium, live_server, fake_webcam,  # noqa: F811
                                                                make_institution, make_user, make_exam, tmp_path,
                                                                plane):
    use_plane(app, plane)  # on Janus each side receives the other on a second connection (the last one kept)
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=ORAL_QUESTIONS)
    examiner = make_user("proctor", inst)
    exam.proctors.append(examiner)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))  # the system check has its own tests
    db.session.commit()

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    c.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_CONNECTIONS})
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    status = WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status"))
    WebDriverWait(c, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(c)  # the supervised exam asks for fullscreen first, as the candidate does
    assert "mündlich" in c.find_element(By.CSS_SELECTOR, 'fieldset[data-question="o1"]').text

    e = chromium()  # Chromium's own fake camera (a moving pattern) and microphone (a beep)
    e.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_CONNECTIONS})
    log_in(e, live_server, examiner.email, PASSWORD, code=lambda: totp_code(examiner))
    WebDriverWait(e, 10).until(lambda d: "/proctor" in d.current_url)
    e.get(f"{live_server}/proctor/attempts/{attempt_id}")
    e.find_element(By.ID, "oral-join").click()
    state = e.find_element(By.ID, "oral-state")
    WebDriverWait(e, 30).until(lambda d: state.get_attribute("data-state") in ("connected", "failed"))
    assert state.get_attribute("data-state") == "connected", state.text

    # Each side decodes the other's video and receives the other's audio, through the engine.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        at_candidate, at_examiner = _received(c), _received(e)
        if min(at_candidate.get("video", 0), at_examiner.get("video", 0)) >= 30 and \
                min(at_candidate.get("audio", 0), at_examiner.get("audio", 0)) >= 100:
            break
        time.sleep(0.5)
    assert at_candidate.get("video", 0) >= 30 and at_candidate.get("audio", 0) >= 100, at_candidate
    assert at_examiner.get("video", 0) >= 30 and at_examiner.get("audio", 0) >= 100, at_examiner
    assert c.execute_script("return document.getElementById('examiner-view').videoWidth") > 0
    assert e.execute_script("return document.getElementById('oral-remote').videoWidth") > 0
    c.save_screenshot(str(tmp_path / "candidate-sees-examiner.png"))
    e.save_screenshot(str(tmp_path / "examiner-sees-candidate.png"))
    time.sleep(3)

    c.find_element(By.ID, "submit").click()
    confirm_submit(c, "Antworten können danach nicht mehr geändert werden")
    WebDriverWait(c, 10).until(lambda d: d.current_url.endswith("/result"))
    wait_parts_closed(attempt_id)
    parts = recordings(attempt_id)
    assert len(parts) == 2, parts  # the candidate alone, then with the examiner
    webm = vault.read(parts[-1])
    streams = ffprobe_streams(webm, tmp_path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "vp8"), ("audio", "opus"), ("video", "vp8"), ("audio", "opus")], streams
    frames = decoded_frames(webm)
    assert frames[0][0] > 30 and frames[2][0] > 30, (frames, _packets(webm))  # both sides' video decode
    assert frames[1][0] > 100 and frames[3][0] > 100, frames  # and both voices


def _packets(webm: bytes) -> dict[int, tuple[int, int, int]]:
    """Per stream index: packets, keyframes among them, and the first keyframe's time in ms (-1: none)."""
    import io

    import av

    out: dict[int, list[int]] = {}
    with av.open(io.BytesIO(webm)) as c:
        for pkt in c.demux():
            if pkt.size:
                row = out.setdefault(pkt.stream.index, [0, 0, -1])
                row[0] += 1
                if pkt.is_keyframe:
                    row[1] += 1
                    if row[2] < 0:
                        row[2] = int(pkt.pts * pkt.time_base * 1000)
    return {i: (a, b, t) for i, (a, b, t) in out.items()}
