"""The candidate's screen: a second video track of the same connection, copied into the same recording."""

from __future__ import annotations

import asyncio
import fractions
import io
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from storage.models import Blob
from tests.conftest import login, start_exam
from tests.proctoring.conftest import (
    PLANES,
    PatternTrack,
    connect,
    recordings,
    use_plane,
    wait_parts_closed,
    watch_live,
)


class ScreenTrack:
    """A 1280x720 "screen" at 5 fps whose content moves (a text cursor), like a shared monitor. ``stop_after``
    seconds: then it sends nothing more (the candidate stopped sharing; the connection stays)."""

    def __new__(cls, stop_after: float | None = None) -> Any:
        from aiortc.mediastreams import VideoStreamTrack

        class _Track(VideoStreamTrack):
            started: float | None = None

            async def recv(self) -> av.VideoFrame:
                if self.started is not None and stop_after is not None and time.monotonic() - self.started > stop_after:
                    await asyncio.Event().wait()  # until the connection closes
                # Timestamps of the real capture times, as a browser's (aiortc's next_timestamp counts 30 a
                # second, which at 5 fps would squeeze the screen's clock to a sixth in the recording).
                await asyncio.sleep(0.2)
                now = time.monotonic()
                if self.started is None:
                    self.started = now
                pts, time_base = round((now - self.started) * 90000), fractions.Fraction(1, 90000)
                img = np.full((720, 1280, 3), 235, np.uint8)
                x = (pts // 18000) % 1200
                img[300:320, x:x + 60] = (20, 20, 20)
                frame = av.VideoFrame.from_ndarray(img, format="bgr24")
                frame.pts, frame.time_base = pts, time_base
                return frame

        return _Track()


def ffprobe_streams(webm: bytes, folder: Path) -> list[dict[str, Any]]:
    """The streams ffprobe (the command-line tool) sees in a decrypted recording."""
    if shutil.which("ffprobe") is None:
        from tests.conftest import need_service

        need_service("ffprobe", "install the Debian package ffmpeg")
    path = folder / "recording.webm"
    path.write_bytes(webm)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return list(json.loads(out)["streams"])


def decoded_frames(webm: bytes) -> dict[int, tuple[int, tuple[int, int]]]:
    """Per stream index: frames that decode and the last video frame's size ((0, 0) for audio).

    Packet by packet, as a player does: a frame that fails (a packet lost on the way) is skipped, not fatal.
    """
    import io

    out: dict[int, tuple[int, tuple[int, int]]] = {}
    with av.open(io.BytesIO(webm)) as c:
        decoders = {s.index: av.CodecContext.create(s.codec_context.name, "r") for s in c.streams}
        counts = {i: 0 for i in decoders}
        sizes = {i: (0, 0) for i in decoders}
        for pkt in c.demux():
            if pkt.size == 0:
                continue
            try:
                got = decoders[pkt.stream.index].decode(pkt)
            except av.error.InvalidDataError:
                continue
            for frame in got:
                counts[pkt.stream.index] += 1
                if isinstance(frame, av.VideoFrame):
                    sizes[pkt.stream.index] = (frame.width, frame.height)
        for i in decoders:
            out[i] = (counts[i], sizes[i])
    return out


@pytest.fixture
def screen_attempt(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     screen_capture=True, questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    return {"client": client, "attempt_id": start_exam(client, exam.id), "exam": exam}


@pytest.mark.parametrize("plane", PLANES)
def test_the_screen_is_a_second_video_stream_of_the_same_recording(app, screen_attempt, tmp_path, plane):
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    use_plane(app, plane)
    client, aid = screen_attempt["client"], screen_attempt["attempt_id"]

    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(ScreenTrack())
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(client, aid, pc)
        await asyncio.sleep(3.0)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(aid)
    blobs = recordings(aid)
    assert len(blobs) == 1
    webm = vault.read(blobs[0])
    streams = ffprobe_streams(webm, tmp_path)
    kinds = [(s["codec_type"], s["codec_name"]) for s in streams]
    assert kinds == [("video", "vp8"), ("audio", "opus"), ("video", "vp8")], kinds
    assert (streams[2]["width"], streams[2]["height"]) == (1280, 720)  # the screen's own size, from its keyframe
    frames = decoded_frames(webm)
    assert frames[0][0] >= 50 and frames[0][1] == (640, 480), frames
    assert frames[1][0] >= 100, frames  # audio decodes
    assert 8 <= frames[2][0] <= 20 and frames[2][1] == (1280, 720), frames  # about 5 fps for 3 s

    # The tracks are named in the file; the review's copies: the whole part, and the screen alone (a browser
    # plays only a file's first video track), both seekable, with the part's clock.
    from kernel.clock import utcnow
    from proctoring.playback import make_playback

    with av.open(io.BytesIO(webm)) as part:  # aiortc names the tracks, GStreamer tags the screen's (TITLE)
        titles = [{k.lower(): v for k, v in st.metadata.items()}.get("title") for st in part.streams]
        assert titles == (["video", "audio", "screen"] if plane == "aiortc" else ["Video", "Audio", "screen"]), titles
    row = make_playback(blobs[0], utcnow())
    assert row.state == "ready" and row.copy_id and row.screen_copy_id, (row.state, row.error)
    screen = vault.read(db.session.get(Blob, row.screen_copy_id))
    only = ffprobe_streams(screen, tmp_path)
    assert [(s["codec_type"], s["width"], s["height"]) for s in only] == [("video", 1280, 720)], only
    assert decoded_frames(screen)[0][0] == frames[2][0]  # every screen frame, copied, not re-encoded
    # From 0, with a duration (and cues: the player can seek), and where in the part it began.
    with av.open(io.BytesIO(screen)) as copy, av.open(io.BytesIO(webm)) as part:
        first = next(p for p in part.demux(part.streams[2]) if p.pts is not None)
        assert row.screen_offset_ms == round(float(first.pts * first.time_base) * 1000) > 0
        pts = [int(p.pts * p.time_base * 1000) for p in copy.demux() if p.pts is not None]
        assert pts[0] == 0 and copy.duration > 0.5e6, (pts, copy.duration, row.screen_offset_ms)
    assert len(ffprobe_streams(vault.read(db.session.get(Blob, row.copy_id)), tmp_path)) == 3


@pytest.mark.parametrize("plane", PLANES)
def test_a_screen_that_stops_sending_does_not_hold_the_camera_back(app, screen_attempt, plane):
    """The candidate stops sharing and the connection stays: the camera goes on being recorded. On aiortc the
    screen's track just ends in the same part; on Janus (whose muxer would wait for the screen) the silent screen
    ends the part after ``ScreenRelay.SILENT`` seconds and camera and microphone go on in the next one."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    from tests.proctoring.conftest import probe

    use_plane(app, plane)
    client, aid = screen_attempt["client"], screen_attempt["attempt_id"]

    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(ScreenTrack(stop_after=1.5))
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(client, aid, pc)
        await asyncio.sleep(6.5)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(aid)
    webms = [vault.read(b) for b in recordings(aid)]
    frames = [decoded_frames(w) for w in webms]
    assert 6 <= frames[0][2][0] <= 12, frames  # the screen's 1.5 s at 5 fps
    camera = sum(f[0][0] for f in frames)
    assert camera >= 6.5 * 30 * 0.6, frames  # the camera's whole time, not only while the screen sent
    if plane == "aiortc":
        assert len(webms) == 1
    else:
        assert len(webms) == 2, frames
        info = probe(webms[1])  # the part after the screen stopped: camera and microphone
        assert info["streams"] == [("audio", "opus"), ("video", "vp8")] and info["video_packets"] > 30, info


def test_camera_only_offer_still_records_two_streams(screen_attempt):
    """Without a screen track the part is the usual camera and microphone (nothing waits for a screen)."""
    from tests.proctoring.conftest import probe, send_for

    send_for(screen_attempt["client"], screen_attempt["attempt_id"], 1.5)
    info = probe(vault.read(recordings(screen_attempt["attempt_id"])[0]))
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")] and info["video_packets"] > 20


@pytest.mark.parametrize("plane", PLANES)
def test_the_proctor_sees_a_thumbnail_of_the_screen_and_watches_it_live(screen_attempt, app, make_user, plane):
    """The grid's picture of the screen (from its keyframes), and the live view: camera, microphone and screen
    relayed to the proctor (on Janus a VideoRoom subscriber: Janus offers, the proctor's browser answers)."""
    import cv2
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    use_plane(app, plane)
    client, aid, exam = screen_attempt["client"], screen_attempt["attempt_id"], screen_attempt["exam"]
    proctor = make_user("proctor", exam.institution)
    exam.proctors.append(proctor)
    db.session.commit()
    watcher = app.test_client()
    login(watcher, proctor)
    got: dict[str, Any] = {}

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(ScreenTrack())
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(client, aid, pc)
        await asyncio.sleep(0.5)
        resp = await loop.run_in_executor(None, lambda: client.post(  # the page's events over HTTP: both planes
            f"/api/attempts/{aid}/events", json={"events": [{"type": "screen_shared"}]}))
        assert resp.status_code == 200, resp.get_json()
        tile: dict[str, Any] = {}
        for _ in range(40):
            await asyncio.sleep(0.25)
            tiles = (await loop.run_in_executor(None, lambda: watcher.get("/api/proctor/live"))).get_json()
            tile = next(t for t in tiles["attempts"] if t["attempt_id"] == aid)
            if tile["screen_url"]:
                url = tile["screen_url"]
                resp = await loop.run_in_executor(None, watcher.get, url)
                if resp.status_code == 200:
                    got["thumb"] = resp.data
                    break
        got["tile"] = tile
        tracks: list[Any] = []
        viewer = await watch_live(watcher, f"/api/proctor/attempts/{aid}/live/offer", ["video", "audio", "video"],
                                  tracks.append)
        for _ in range(50):
            if len(tracks) == 3:
                break
            await asyncio.sleep(0.1)
        assert [t.kind for t in tracks] == ["video", "audio", "video"], tracks
        camera = await asyncio.wait_for(tracks[0].recv(), timeout=15)
        screen = await asyncio.wait_for(tracks[2].recv(), timeout=15)
        got["live_camera"], got["live_screen"] = (camera.width, camera.height), (screen.width, screen.height)
        got["audio"] = await asyncio.wait_for(tracks[1].recv(), timeout=15)
        await viewer.close()
        await pc.close()

    asyncio.run(run())
    assert got["tile"]["screen"] == "shared" and got.get("thumb"), got["tile"]
    thumb = cv2.imdecode(np.frombuffer(got["thumb"], np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape == (180, 320, 3) and thumb.mean() > 150  # the light "desktop", not the webcam
    assert got["live_camera"] == (640, 480) and got["live_screen"] == (1280, 720)
    assert got["audio"] is not None
    wait_parts_closed(aid)


def test_on_janus_a_screen_not_shared_yet_does_not_hold_the_camera_back(app, screen_attempt):
    """The page offers the screen's transceiver before the candidate shares (no track yet: nothing is sent)."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    from tests.proctoring.conftest import probe

    use_plane(app, "janus")
    client, aid = screen_attempt["client"], screen_attempt["attempt_id"]

    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.addTransceiver("video", direction="sendonly")
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(client, aid, pc)
        await asyncio.sleep(6.0)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(aid)
    infos = [probe(vault.read(b)) for b in recordings(aid)]
    assert infos and all(i["streams"] == [("audio", "opus"), ("video", "vp8")] for i in infos), infos
    assert sum(i["decoded_frames"] for i in infos) >= 6.0 * 30 * 0.6, infos
