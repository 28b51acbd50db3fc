"""Oral exams: the examiner joins the candidate's session through the media engine, which forwards both sides'
encoded frames without re-encoding; both sides land in the recording; the examiner grades the oral items."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from exams.models import Attempt
from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from tests.conftest import login, start_exam
from tests.proctoring.conftest import PLANES, PatternTrack, connect, recordings, use_plane, wait_parts_closed
from tests.proctoring.test_screen import decoded_frames, ffprobe_streams

ORAL_QUESTIONS = [{"id": "q1", "type": "single_choice", "prompt": "2+2?", "points": 1,
                   "options": [{"id": "a", "text": "4", "correct": True}, {"id": "b", "text": "5"}]},
                  {"id": "o1", "type": "oral", "prompt": "Stellen Sie sich vor.", "points": 10}]


@pytest.fixture
def oral(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=ORAL_QUESTIONS)
    examiner = make_user("proctor", inst)
    exam.proctors.append(examiner)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    examiner_client = app.test_client()
    login(examiner_client, examiner)
    return {"client": client, "examiner_client": examiner_client, "attempt_id": start_exam(client, exam.id),
            "exam": exam, "examiner": examiner}


async def _frames(track: Any, want: int, seconds: float = 10.0) -> int:
    """Frames aiortc decodes from a received track, up to ``want`` of them, within ``seconds``.

    Stops at ``want`` so that a loaded machine (a CI host running other work) only makes the wait longer, not the
    count smaller: the assertion is about the media flowing, not about the frame rate."""
    assert isinstance(want, int), "want is a number of frames (the time is the third argument)"
    n = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while n < want and loop.time() < end:
        try:
            await asyncio.wait_for(track.recv(), timeout=max(0.05, end - loop.time()))
        except Exception:  # a timeout, or the track ended
            break
        n += 1
    return n


async def receive_offered(client: Any, url: str, offer: dict[str, Any] | None, tracks: dict[str, Any],
                          pcs: list[Any]) -> None:
    """Where the media plane sends the other side of the call on a connection of its own (Janus: its offer, in
    ``offer``), answer it as the pages do and post the answer to ``url``; its tracks land in ``tracks``."""
    if offer is None:
        return
    pc = RTCPeerConnection()
    pcs.append(pc)
    pc.on("track", lambda t: tracks.__setitem__(t.kind, t))
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    loop = asyncio.get_running_loop()
    resp = await loop.run_in_executor(None, lambda: client.post(url, json={"sdp": pc.localDescription.sdp}))
    assert resp.status_code == 200, resp.get_json()


async def candidate_receives(client: Any, aid: int | str, tracks: dict[str, Any], pcs: list[Any]) -> None:
    """The candidate's page asks for the caller on a connection of its own until there is one (Janus: ``wait``
    until then), or is told the call comes on the camera's connection (aiortc: ``receive`` false)."""
    loop = asyncio.get_running_loop()
    url = aid if isinstance(aid, str) else f"/api/attempts/{aid}/media/receive"  # an attempt's, or this route
    for _ in range(50):
        resp = await loop.run_in_executor(None, lambda: client.post(url, json={}))
        body = resp.get_json()
        assert resp.status_code == 200, body
        if not body.get("wait"):  # else the examiner's connection is not up yet
            await receive_offered(client, url, body if body.get("type") == "offer" else None, tracks, pcs)
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the caller never reached the candidate")


@pytest.mark.parametrize("plane", PLANES)
def test_examiner_and_candidate_see_and_hear_each_other_and_both_are_recorded(app, oral, tmp_path, plane):
    use_plane(app, plane)
    client, aid = oral["client"], oral["attempt_id"]
    got: dict[str, Any] = {}

    async def run() -> None:
        cand = RTCPeerConnection()
        cand.addTrack(PatternTrack())
        cand.addTrack(AudioStreamTrack())
        cand.createDataChannel("events")
        from_examiner: dict[str, Any] = {}
        cand.on("track", lambda t: from_examiner.__setitem__(t.kind, t))
        await cand.setLocalDescription(await cand.createOffer())
        await connect(client, aid, cand)
        await asyncio.sleep(1.0)

        exam_pc = RTCPeerConnection()
        exam_pc.addTrack(PatternTrack())
        exam_pc.addTrack(AudioStreamTrack())
        from_candidate: dict[str, Any] = {}
        exam_pc.on("track", lambda t: from_candidate.__setitem__(t.kind, t))
        await exam_pc.setLocalDescription(await exam_pc.createOffer())
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: oral["examiner_client"].post(
            f"/api/proctor/attempts/{aid}/oral/offer", json={"sdp": exam_pc.localDescription.sdp}))
        assert resp.status_code == 200, resp.get_json()
        joined = resp.get_json()
        await exam_pc.setRemoteDescription(RTCSessionDescription(type=joined["type"], sdp=joined["sdp"]))
        receivers: list[Any] = []
        await receive_offered(oral["examiner_client"], f"/api/proctor/attempts/{aid}/oral/receive",
                              joined.get("receive"), from_candidate, receivers)
        for _ in range(50):
            if exam_pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        assert exam_pc.connectionState == "connected"
        await candidate_receives(client, aid, from_examiner, receivers)
        for _ in range(50):
            if all(pc.connectionState == "connected" for pc in receivers):
                break
            await asyncio.sleep(0.1)
        assert set(from_examiner) == {"video", "audio"} and set(from_candidate) == {"video", "audio"}
        got["candidate_sees"], got["examiner_sees"], got["candidate_hears"], got["examiner_hears"] = \
            await asyncio.gather(_frames(from_examiner["video"], 90), _frames(from_candidate["video"], 90),
                                 _frames(from_examiner["audio"], 150), _frames(from_candidate["audio"], 150))
        await exam_pc.close()
        for pc in receivers:
            await pc.close()
        await asyncio.sleep(1.5)  # the candidate stays a moment after the examiner left
        await cand.close()

    asyncio.run(run())
    assert got["candidate_sees"] >= 30 and got["examiner_sees"] >= 30, got  # 3 s at 30 fps asked for, 1 s at least
    assert got["candidate_hears"] >= 50 and got["examiner_hears"] >= 50, got  # 20 ms audio frames
    wait_parts_closed(aid)
    parts = recordings(aid)
    # Before the examiner joined, and with the examiner; on Janus the examiner's leaving (before the candidate's)
    # starts a part without the examiner's tracks (GStreamer's muxer would wait for them; README).
    assert len(parts) == (2 if plane == "aiortc" else 3), parts
    if plane == "janus":
        assert [s["codec_type"] for s in ffprobe_streams(vault.read(parts[2]), tmp_path)] == ["video", "audio"]
    webm = vault.read(parts[1])
    streams = ffprobe_streams(webm, tmp_path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "vp8"), ("audio", "opus"), ("video", "vp8"), ("audio", "opus")], streams
    # The examiner's tracks by name, as the review and playback find them (a track's title on aiortc, the TITLE tag
    # GStreamer writes on Janus).
    titles = [next((v for k, v in s.get("tags", {}).items() if k.lower() == "title"), None) for s in streams]
    assert titles[2:] == ["examiner_video", "examiner_audio"], titles
    # The review's copy holds both sides; the examiner's video is not taken for a screen.
    from kernel.clock import utcnow
    from proctoring.playback import make_playback
    from storage.models import Blob

    row = make_playback(parts[1], utcnow())
    assert row.state == "ready" and row.copy_id and not row.screen_copy_id, (row.state, row.error)
    assert len(ffprobe_streams(vault.read(db.session.get(Blob, row.copy_id)), tmp_path)) == 4
    frames = decoded_frames(webm)
    assert frames[0][0] >= 50 and frames[2][0] >= 50, frames  # the candidate's and the examiner's video
    assert frames[1][0] >= 50 and frames[3][0] >= 50, frames
    # In sync: the examiner's video starts within a moment of the candidate's on the part's one clock.
    import io

    import av

    with av.open(io.BytesIO(webm)) as c:
        first: dict[int, float] = {}
        for pkt in c.demux():
            if pkt.pts is not None and pkt.stream.index not in first:
                first[pkt.stream.index] = float(pkt.pts * pkt.time_base)
    assert abs(first[2] - first[0]) < 2.5, first


def test_the_examiner_grades_the_oral_item_with_points_and_a_note(oral):
    client, aid = oral["client"], oral["attempt_id"]
    ex = oral["examiner_client"]
    too_early = ex.post(f"/proctor/attempts/{aid}/oral-grades", data={"question_id": "o1", "points": "8"})
    assert too_early.status_code == 409  # not while the exam goes on
    assert client.put(f"/api/attempts/{aid}/answers/o1", json={"value": "typed"}).status_code == 400
    client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    assert client.post(f"/api/attempts/{aid}/submit").status_code == 200
    attempt = db.session.get(Attempt, aid)
    db.session.refresh(attempt)
    assert attempt.pending_manual is True and attempt.points == 1
    page = ex.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert 'id="oral-grading"' in page and "Stellen Sie sich vor." in page
    assert ex.post(f"/proctor/attempts/{aid}/oral-grades",
                   data={"question_id": "o1", "points": "11"}).status_code == 400  # over the maximum
    assert ex.post(f"/proctor/attempts/{aid}/oral-grades",
                   data={"question_id": "q1", "points": "1"}).status_code == 404  # not an oral item
    resp = ex.post(f"/proctor/attempts/{aid}/oral-grades",
                   data={"question_id": "o1", "points": "8", "note": "Flüssig, kleine Fehler im Perfekt."})
    assert resp.status_code == 302
    db.session.refresh(attempt)
    assert attempt.points == 9 and attempt.pending_manual is False
    page = ex.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert "Flüssig, kleine Fehler im Perfekt." in page and 'data-graded="yes"' in page


def test_another_institutions_proctor_cannot_join_or_grade(oral, app, make_institution, make_user):
    other = make_user("proctor", make_institution())
    c = app.test_client()
    login(c, other)
    aid = oral["attempt_id"]
    assert c.post(f"/api/proctor/attempts/{aid}/oral/offer", json={"sdp": "v=0\r\n"}).status_code == 404
    assert c.post(f"/proctor/attempts/{aid}/oral-grades", data={"question_id": "o1", "points": "1"}).status_code == 404


def test_the_recording_waits_for_the_examiners_keyframe_and_says_so():
    # A part with the examiner's tracks records their video from a keyframe on; until one has come the part
    # says it waits (the engine then asks the examiner's browser for one, which otherwise sends none).
    import fractions

    import av
    import numpy as np

    from proctoring.engine import ORAL_TRACKS
    from proctoring.recorder import CAMERA_ONLY, PartRecorder, WebmRecorder

    class Sink:
        def write(self, b: bytes) -> int:
            return len(b)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.options = {"deadline": "realtime"}
    packets = []
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 40 * i, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in enc.encode(frame)]
    key, delta = packets[0], packets[-1]
    rec = WebmRecorder(Sink(), layout=CAMERA_ONLY + ORAL_TRACKS)
    assert rec.waits_for_keyframe("examiner_video") and not rec.waits_for_keyframe("examiner_audio")
    rec.feed("video", key, 0, now=0.9)  # the part starts with the camera's keyframe
    rec.feed("examiner_video", delta, 3000, now=1.0)  # joined mid-picture: not recorded, still waiting
    assert rec.waits_for_keyframe("examiner_video")
    rec.feed("examiner_video", key, 6000, now=1.1)
    assert not rec.waits_for_keyframe("examiner_video")
    assert not WebmRecorder(Sink()).waits_for_keyframe("examiner_video")  # a part without the examiner
    # The examiner's keyframe before the camera's: the part has not started, so it is dropped, and the part
    # still waits for one (marking the track started then let its frames in with nothing to decode from).
    early = WebmRecorder(Sink(), layout=CAMERA_ONLY + ORAL_TRACKS)
    early.feed("examiner_video", key, 0, now=1.0)
    early.feed("video", key, 0, now=1.1)
    early.feed("examiner_video", delta, 3000, now=1.2)
    assert early.waits_for_keyframe("examiner_video") and not early.waits_for_keyframe("video")
    early.feed("examiner_video", key, 6000, now=1.3)
    assert not early.waits_for_keyframe("examiner_video")
    between = PartRecorder(lambda: Sink(), lambda _status: None)  # no part open yet: the next one's layout
    between.set_layout(CAMERA_ONLY + ORAL_TRACKS)
    assert between.waits_for_keyframe("examiner_video")


@pytest.mark.parametrize("plane", PLANES)
def test_an_examiner_whose_camera_sends_nothing_does_not_hold_the_recording_back(app, oral, plane):
    """The examiner's connection stays up but its camera sends nothing: the candidate goes on being recorded. On
    Janus (GStreamer's muxer would wait for the silent track) the part goes on without the examiner's tracks once
    Janus says it receives nothing, and with them when the camera sends again."""
    from proctoring.sessions import session_id

    use_plane(app, plane)
    client, aid = oral["client"], oral["attempt_id"]
    samples: list[tuple[float, object, int]] = []  # (time, part, the part's video frames)

    async def run() -> None:
        cand = RTCPeerConnection()
        cand.addTrack(PatternTrack())
        cand.addTrack(AudioStreamTrack())
        cand.createDataChannel("events")
        await cand.setLocalDescription(await cand.createOffer())
        await connect(client, aid, cand)
        exam_pc = RTCPeerConnection()
        camera = exam_pc.addTrack(PatternTrack())
        exam_pc.addTrack(AudioStreamTrack())
        await exam_pc.setLocalDescription(await exam_pc.createOffer())
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: oral["examiner_client"].post(
            f"/api/proctor/attempts/{aid}/oral/offer", json={"sdp": exam_pc.localDescription.sdp}))
        assert resp.status_code == 200, resp.get_json()
        await exam_pc.setRemoteDescription(RTCSessionDescription(type="answer", sdp=resp.get_json()["sdp"]))
        for _ in range(50):
            if exam_pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        camera.replaceTrack(None)  # the examiner's camera sends nothing from now on; the connection stays
        await asyncio.sleep(1.0)
        for _ in range(22):  # 5.5 s of the silence, read every quarter second (a new part restarts the count)
            got = app.extensions["aufsicht.media"].stats(session_id(aid)) or {}
            samples.append((loop.time(), got.get("part"), got.get("video_frames", 0)))
            await asyncio.sleep(0.25)
        camera.replaceTrack(PatternTrack())  # and sends again
        await asyncio.sleep(3.0)
        await exam_pc.close()
        await asyncio.sleep(1.5)
        await cand.close()

    asyncio.run(run())
    # While the examiner's camera is silent the candidate's camera goes on being recorded: some 2 s within one part
    # hold 20 frames or more (30 fps asked for). A part held back by the silent track grows by nothing.
    assert any(p1 == p2 and t2 - t1 >= 2.0 and f2 - f1 >= 20
               for i, (t1, p1, f1) in enumerate(samples) for t2, p2, f2 in samples[i + 1:]), samples
    wait_parts_closed(aid)
    import io

    import av

    tracks = []
    for part in recordings(aid):
        with av.open(io.BytesIO(vault.read(part))) as c:
            tracks.append(len(c.streams))
    # aiortc: the candidate alone, then with the examiner (a silent track is no trouble there); Janus: alone, with
    # the examiner, without while the camera sent nothing, with the examiner again, without once the examiner left.
    assert tracks == ([2, 4] if plane == "aiortc" else [2, 4, 2, 4, 2]), tracks
