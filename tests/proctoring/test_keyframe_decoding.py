"""Decoding only what analysis needs: about one keyframe a second is decoded (asked for with RTCP PLI), the
recording still holds every frame the browser sent, and snapshots and face flags still come."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import av
import numpy as np
import pytest
from sqlalchemy import select

from kernel.db import db
from proctoring.engine import MediaEngine
from proctoring.live import live_state
from proctoring.models import Flag, FlagKind, SystemCheck
from proctoring.sessions import session_id
from tests.conftest import login, start_exam
from tests.proctoring.conftest import connect, probe, wait_parts_closed


class MemorySink:
    """A recording part kept in memory."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.closed = False

    def write(self, data: bytes) -> int:
        return self.buf.write(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def finish_cut(self) -> bool:
        return False


def counting_track(picture: np.ndarray | None = None) -> Any:
    """A 640x480@30 video track (a moving bar, or ``picture``) that counts the frames it hands the encoder."""
    from aiortc.mediastreams import VideoStreamTrack

    class Track(VideoStreamTrack):
        sent = 0

        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            if picture is None:
                img = np.zeros((480, 640, 3), np.uint8)
                x = (pts // 3000) % 600
                img[100:380, x:x + 40] = (40, 200, 90)
            else:
                img = picture
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = pts, time_base
            Track.sent += 1
            return frame

    return Track()


def test_only_keyframes_for_pictures_are_decoded_and_every_frame_is_recorded():
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    pictures: list[tuple[float, tuple[int, ...]]] = []
    sink = MemorySink()
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=True, frame_interval=1.0,
                         on_frame=lambda _sid, frame, _ts: pictures.append((time.monotonic(), frame.shape)))
    engine.start()
    track = counting_track()
    seconds = 5.0

    async def run() -> dict[str, Any]:
        pc = RTCPeerConnection()
        pc.addTrack(track)
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        answer = await asyncio.get_running_loop().run_in_executor(
            None, lambda: engine.answer("s1", pc.localDescription.sdp, lambda _s, _p: sink))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.sleep(seconds)
        await pc.close()
        sent = type(track).sent
        for _ in range(50):  # the engine closes the part when it sees the peer go
            stats = engine.stats("s1")
            assert stats is not None
            if stats["recording"] == "closed" or sink.closed:
                break
            await asyncio.sleep(0.1)
        return {**stats, "sent": sent}

    try:
        stats = asyncio.run(run())
    finally:
        engine.stop()
    # about one picture a second, each a whole 640x480 frame
    assert seconds - 2 <= len(pictures) <= seconds + 1, pictures
    assert all(shape == (480, 640, 3) for _t, shape in pictures)
    gaps = np.diff([t for t, _s in pictures])
    assert gaps.min() >= 0.6 and 0.8 <= np.median(gaps) <= 1.3, gaps
    # only those keyframes were decoded, not the 30 frames a second received
    assert stats["frames_decoded"] <= len(pictures) + 2, stats
    assert stats["keyframes_requested"] >= len(pictures) - 2, stats
    # the recording is a copy of every frame the sender encoded (a frame or two may still be in flight)
    assert stats["sent"] - 3 <= stats["video_frames"] <= stats["sent"], stats
    info = probe(sink.buf.getvalue())
    assert info["video_packets"] == stats["video_frames"]
    assert info["decoded_frames"] == info["video_packets"]  # every frame decodes: no reference is missing
    assert info["size"] == (640, 480)


@pytest.fixture
def app_config():
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": True, "SNAPSHOT_STORE_SECONDS": 3600}


def test_snapshots_and_the_no_face_flag_still_come_from_keyframes(app, make_institution, make_user, make_exam):
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    attempt_id = start_exam(client, exam.id)
    nobody = np.full((480, 640, 3), 90, np.uint8)
    seen: list[float] = []
    decoded: dict[str, Any] = {}

    def no_face_flags() -> list[Flag]:
        db.session.rollback()
        return list(db.session.scalars(select(Flag).where(Flag.attempt_id == attempt_id)))

    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(counting_track(nobody))
        pc.addTrack(AudioStreamTrack())
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        await connect(client, attempt_id, pc)
        t0 = time.monotonic()
        first = None  # count from the first snapshot on
        while time.monotonic() - t0 < 30 and (first is None or time.monotonic() - first < 6.5):
            state = live_state(app)
            snap = state.snapshots.get(attempt_id) if state else None
            if snap and (not seen or snap[0] != seen[-1]):
                seen.append(snap[0])
                first = first or time.monotonic()
            await asyncio.sleep(0.1)
        decoded.update(app.extensions["aufsicht.media"].stats(session_id(attempt_id)))
        while time.monotonic() - t0 < 60 and not no_face_flags():  # the thorough look for a small face first
            await asyncio.sleep(0.5)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(attempt_id)
    # a fresh snapshot about every second; the thorough pass once nobody was seen for 3 s takes longer (and
    # much longer on a busy machine)
    assert 3 <= len(seen) <= 9, seen
    assert [f.kind for f in no_face_flags()] == [FlagKind.NO_FACE]
    assert decoded["frames_decoded"] <= len(seen) + 2 < decoded["video_frames"] / 10, decoded
