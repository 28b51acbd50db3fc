"""Talking to the candidate (issue 29): a proctor opens a two-way call with any supervised candidate during the
exam (not only in an oral exam); both see and hear each other through the media engine, the call is in the
recording and on the timeline, and the candidate's page is told who is calling and when the call ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from exams.attempts import timeline
from exams.models import Attempt
from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from tests.conftest import login, start_exam
from tests.proctoring.conftest import PLANES, PatternTrack, connect, recordings, use_plane, wait_parts_closed
from tests.proctoring.test_oral import _frames, candidate_receives, receive_offered
from tests.proctoring.test_screen import ffprobe_streams, screen_attempt  # noqa: F401


@pytest.fixture
def supervised(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    proctor_client = app.test_client()
    login(proctor_client, proctor)
    return {"client": client, "proctor_client": proctor_client, "attempt_id": start_exam(client, exam.id),
            "exam": exam, "proctor": proctor}


@pytest.mark.parametrize("plane", PLANES)
def test_a_proctor_talks_to_a_candidate_of_an_ordinary_exam_and_the_call_is_recorded(app, supervised, tmp_path,
                                                                                     plane):
    use_plane(app, plane)
    client, aid, pc_client = supervised["client"], supervised["attempt_id"], supervised["proctor_client"]
    assert not supervised["exam"].oral
    got: dict[str, Any] = {}

    async def run() -> None:
        cand = RTCPeerConnection()
        cand.addTrack(PatternTrack())
        cand.addTrack(AudioStreamTrack())
        cand.createDataChannel("events")
        from_proctor: dict[str, Any] = {}
        cand.on("track", lambda t: from_proctor.__setitem__(t.kind, t))
        await cand.setLocalDescription(await cand.createOffer())
        await connect(client, aid, cand)
        await asyncio.sleep(1.0)

        proctor_pc = RTCPeerConnection()
        proctor_pc.addTrack(PatternTrack())
        proctor_pc.addTrack(AudioStreamTrack())
        from_candidate: dict[str, Any] = {}
        proctor_pc.on("track", lambda t: from_candidate.__setitem__(t.kind, t))
        await proctor_pc.setLocalDescription(await proctor_pc.createOffer())
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: pc_client.post(
            f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": proctor_pc.localDescription.sdp}))
        assert resp.status_code == 200, resp.get_json()
        joined = resp.get_json()
        await proctor_pc.setRemoteDescription(RTCSessionDescription(type=joined["type"], sdp=joined["sdp"]))
        receivers: list[Any] = []
        await receive_offered(pc_client, f"/api/proctor/attempts/{aid}/call/receive", joined.get("receive"),
                              from_candidate, receivers)
        for _ in range(50):
            if proctor_pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        assert proctor_pc.connectionState == "connected"
        await candidate_receives(client, aid, from_proctor, receivers)
        for _ in range(50):
            if all(pc.connectionState == "connected" for pc in receivers):
                break
            await asyncio.sleep(0.1)
        got["candidate_sees"], got["proctor_sees"], got["candidate_hears"], got["proctor_hears"] = \
            await asyncio.gather(_frames(from_proctor["video"], 30), _frames(from_candidate["video"], 30),
                                 _frames(from_proctor["audio"], 50), _frames(from_candidate["audio"], 50))
        got["notices"] = (await loop.run_in_executor(None, lambda: client.get(
            f"/api/attempts/{aid}/notices").get_json()))["notices"]
        await loop.run_in_executor(None, lambda: pc_client.post(f"/api/proctor/attempts/{aid}/call/end", json={}))
        await proctor_pc.close()
        for pc in receivers:
            await pc.close()
        await asyncio.sleep(1.5)  # the candidate stays a moment after the call
        await cand.close()

    asyncio.run(run())
    assert got["candidate_sees"] >= 30 and got["proctor_sees"] >= 30, got
    assert got["candidate_hears"] >= 50 and got["proctor_hears"] >= 50, got
    # The candidate's page learns who is calling (the proctor's name, not a code).
    started = [n for n in got["notices"] if n["kind"] == "call_started"]
    assert started and started[0]["detail"]["proctor"] == supervised["proctor"].display_name
    kinds = [e.kind for e in timeline(db.session.get(Attempt, aid))]
    assert kinds.index("call_started") < kinds.index("call_ended")
    notices = client.get(f"/api/attempts/{aid}/notices").get_json()["notices"]
    assert [n["kind"] for n in notices][-1] == "call_ended"
    # The call is part of the recording: a part with the proctor's video and voice beside the candidate's.
    wait_parts_closed(aid)
    parts = recordings(aid)
    assert len(parts) == (2 if plane == "aiortc" else 3)  # on Janus a part without the proctor follows (README)
    streams = ffprobe_streams(vault.read(parts[1]), tmp_path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "vp8"), ("audio", "opus"), ("video", "vp8"), ("audio", "opus")], streams
    # The proctor's page offers the call; the timeline shows it in words.
    page = pc_client.get(f"/proctor/attempts/{aid}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Gespräch mit der Aufsicht begonnen" in page and "call_started" not in page.split('id="timeline"')[1] \
        .replace('data-kind="call_started"', "")


def test_the_call_is_refused_after_the_end_and_to_others(supervised, app, make_institution, make_user):
    aid = supervised["attempt_id"]
    outsider = make_user("proctor", make_institution())
    other = app.test_client()
    login(other, outsider)
    assert other.post(f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": "v=0\r\n"}).status_code == 404
    assert other.post(f"/api/proctor/attempts/{aid}/call/end", json={}).status_code == 404
    assert supervised["client"].post(f"/api/proctor/attempts/{aid}/call/offer",
                                     json={"sdp": "v=0\r\n"}).status_code == 403  # a candidate cannot call
    # The candidate is not connected yet: a clear error, nothing on the timeline.
    resp = supervised["proctor_client"].post(f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": "v=0\r\n"})
    assert resp.status_code >= 400 and resp.get_json()["error"]["message"]
    assert "call_started" not in [e.kind for e in timeline(db.session.get(Attempt, aid))]
    assert supervised["client"].post(f"/api/attempts/{aid}/submit").status_code == 200
    ended = supervised["proctor_client"].post(f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": "v=0\r\n"})
    assert ended.status_code == 409 and ended.get_json()["error"]["message"]
    page = supervised["proctor_client"].get(f"/proctor/attempts/{aid}").get_data(as_text=True)
    assert 'id="oral-join"' not in page


@pytest.mark.parametrize("plane", PLANES)
def test_the_call_ends_on_the_candidates_page_when_the_proctors_side_goes_away(app, supervised, plane):
    """No "Hang up": the proctor's tab closes. The engine notices and the call ends on the timeline."""
    import time

    use_plane(app, plane)
    client, aid, pc_client = supervised["client"], supervised["attempt_id"], supervised["proctor_client"]

    async def run() -> None:
        cand = RTCPeerConnection()
        cand.addTrack(PatternTrack())
        cand.addTrack(AudioStreamTrack())
        cand.createDataChannel("events")
        await cand.setLocalDescription(await cand.createOffer())
        await connect(client, aid, cand)
        proctor_pc = RTCPeerConnection()
        proctor_pc.addTrack(PatternTrack())
        proctor_pc.addTrack(AudioStreamTrack())
        await proctor_pc.setLocalDescription(await proctor_pc.createOffer())
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: pc_client.post(
            f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": proctor_pc.localDescription.sdp}))
        joined = resp.get_json()
        await proctor_pc.setRemoteDescription(RTCSessionDescription(type=joined["type"], sdp=joined["sdp"]))
        for _ in range(50):
            if proctor_pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        await proctor_pc.close()  # the tab goes, nobody clicks "Hang up"
        for _ in range(100):
            kinds = [n["kind"] for n in (await loop.run_in_executor(None, lambda: client.get(
                f"/api/attempts/{aid}/notices").get_json()))["notices"]]
            if "call_ended" in kinds:
                break
            await asyncio.sleep(0.1)
        await cand.close()

    started = time.monotonic()
    asyncio.run(run())
    kinds = [n["kind"] for n in client.get(f"/api/attempts/{aid}/notices").get_json()["notices"]]
    assert kinds[-2:] == ["call_started", "call_ended"], (kinds, time.monotonic() - started)
    # A hang-up afterwards by the proctor's page adds nothing twice on the candidate's side.
    assert kinds.count("call_ended") == 1


@pytest.mark.parametrize("plane", PLANES)
def test_a_call_beside_the_shared_screen_is_recorded_after_it(app, screen_attempt, make_user, tmp_path,  # noqa: F811
                                                              plane):
    """An exam that records the screen: the call's part holds camera, microphone, screen, and the proctor's video
    and voice last, each by its name; the screen's count (the grid's thumbnail) is the screen's alone."""
    from proctoring.sessions import session_id
    from tests.proctoring.test_screen import ScreenTrack, decoded_frames

    use_plane(app, plane)
    client, aid, exam = screen_attempt["client"], screen_attempt["attempt_id"], screen_attempt["exam"]
    proctor = make_user("proctor", exam.institution)
    exam.proctors.append(proctor)
    db.session.commit()
    staff = app.test_client()
    login(staff, proctor)
    during: dict[str, Any] = {}

    async def run() -> None:
        cand = RTCPeerConnection()
        cand.addTrack(PatternTrack())
        cand.addTrack(AudioStreamTrack())
        cand.addTrack(ScreenTrack())
        cand.createDataChannel("events")
        await cand.setLocalDescription(await cand.createOffer())
        await connect(client, aid, cand)
        await asyncio.sleep(1.0)
        proctor_pc = RTCPeerConnection()
        proctor_pc.addTrack(PatternTrack())
        proctor_pc.addTrack(AudioStreamTrack())
        await proctor_pc.setLocalDescription(await proctor_pc.createOffer())
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: staff.post(
            f"/api/proctor/attempts/{aid}/call/offer", json={"sdp": proctor_pc.localDescription.sdp}))
        assert resp.status_code == 200, resp.get_json()
        await proctor_pc.setRemoteDescription(RTCSessionDescription(type="answer", sdp=resp.get_json()["sdp"]))
        for _ in range(50):
            if proctor_pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)
        during.update(app.extensions["aufsicht.media"].stats(session_id(aid)) or {})
        await proctor_pc.close()
        await cand.close()

    asyncio.run(run())
    # About 5 screen frames a second for at most 6 s since the candidate connected; the proctor's 30 are not among them.
    assert 0 < during["screen_frames"] <= 40, during
    wait_parts_closed(aid)
    webm = vault.read(recordings(aid)[1])
    streams = ffprobe_streams(webm, tmp_path)
    assert [s["codec_type"] for s in streams] == ["video", "audio", "video", "video", "audio"], streams
    titles = [next((v for k, v in s.get("tags", {}).items() if k.lower() == "title"), None) for s in streams]
    assert titles[2:] == ["screen", "examiner_video", "examiner_audio"], titles
    frames = decoded_frames(webm)
    assert frames[2][1] == (1280, 720) and frames[3][1] == (640, 480) and frames[3][0] >= 30, frames
    assert frames[4][0] >= 50, frames
