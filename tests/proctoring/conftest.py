"""Media fixtures: loopback-only engine settings, an aiortc sender, and helpers to decode recordings."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
from flask import Flask

from storage import vault


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Loopback only; no face flags unless a test asks (they cost CPU)."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False}


@pytest.fixture(autouse=True)
def _stop_engine(app: Flask) -> Iterator[None]:
    yield
    eng = app.extensions.get("aufsicht.media")
    if eng is not None:
        eng.stop()


#: The media planes the media tests run on (README "Media plane on Janus").
PLANES = ["aiortc", "janus"]


def use_plane(app: Flask, plane: str) -> None:
    """Run this test's media on ``plane``: set before the first offer (the engine starts on it). Janus missing
    (Debian packages janus, gstreamer1.0-tools, -plugins-good, -plugins-bad) skips, and fails under CI=true."""
    if plane == "janus":
        from proctoring.janus import available
        from tests.conftest import need_service

        if not available():
            need_service("Janus", "install the Debian packages janus, gstreamer1.0-tools, gstreamer1.0-plugins-good "
                         "and gstreamer1.0-plugins-bad")
        from proctoring.ice import use_host_addresses

        # Janus leaves loopback out of its candidates: the engine side and the stand-in browser of this process
        # (aiortc, patched to loopback by an earlier test's engine) use the machine's other interfaces.
        app.config["MEDIA_HOST_ADDRESSES"] = None
        use_host_addresses(None)
    app.config["MEDIA_PLANE"] = plane


class PatternTrack:
    """A 640x480 video track whose picture changes every frame (so the encoder has work)."""

    def __new__(cls) -> Any:
        from aiortc.mediastreams import VideoStreamTrack

        class _Track(VideoStreamTrack):
            async def recv(self) -> av.VideoFrame:
                pts, time_base = await self.next_timestamp()
                img = np.zeros((480, 640, 3), np.uint8)
                x = (pts // 3000) % 600
                img[100:380, x:x + 40] = (40, 200, 90)
                frame = av.VideoFrame.from_ndarray(img, format="bgr24")
                frame.pts, frame.time_base = pts, time_base
                return frame

        return _Track()


async def aiortc_offer(with_video: bool = True, audio: Any = None) -> tuple[Any, Any]:
    """An aiortc peer (the stand-in browser) and its offer (silent audio unless ``audio`` is a track)."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    pc = RTCPeerConnection()
    if with_video:
        pc.addTrack(PatternTrack())
    pc.addTrack(audio if audio is not None else AudioStreamTrack())
    channel = pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, channel


async def connect(client: Any, attempt_id: int, pc: Any) -> None:
    """Signal ``pc``'s offer through the real endpoint as the candidate's browser does; wait until connected."""
    from aiortc import RTCSessionDescription

    loop = asyncio.get_running_loop()
    resp = await loop.run_in_executor(None, lambda: client.post(
        f"/api/attempts/{attempt_id}/media/offer", json={"type": "offer", "sdp": pc.localDescription.sdp}))
    assert resp.status_code == 200, resp.get_json()
    await pc.setRemoteDescription(RTCSessionDescription(**resp.get_json()))
    for _ in range(50):
        if pc.connectionState == "connected":
            return
        await asyncio.sleep(0.1)
    assert pc.connectionState == "connected"


def send_for(client: Any, attempt_id: int, seconds: float, events: list[str] | None = None,
             audio: Any = None) -> dict[str, Any]:
    """Connect an aiortc sender through the real signalling endpoint and stream for ``seconds``."""

    async def run() -> dict[str, Any]:
        pc, channel = await aiortc_offer(audio=audio() if audio is not None else None)
        await connect(client, attempt_id, pc)
        await asyncio.sleep(0.5)
        for e in events or []:
            channel.send(json.dumps({"type": e}))
        await asyncio.sleep(seconds)
        await pc.close()
        return {"ok": True}

    result = asyncio.run(run())
    wait_parts_closed(attempt_id)
    return result


async def watch_live(client: Any, url: str, kinds: list[str], on_track: Any,
                     extra: dict[str, Any] | None = None) -> Any:
    """A proctor's receive-only peer (aiortc) watching through the live view's endpoints as ``proctor.js`` does:
    POST the offer to ``url`` (``.../live/offer``); an answer ends it (aiortc's engine), an offer from the media
    server (Janus) is answered at ``.../live/answer``. ``kinds``: the offer's transceivers ("video", "audio",
    "video" for the screen too); ``extra``: more fields in the offer's body. aiortc cannot roll its offer back, so a
    fresh peer answers. Returns the peer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection()
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")
    pc.on("track", on_track)
    await pc.setLocalDescription(await pc.createOffer())
    resp = await loop.run_in_executor(None, lambda: client.post(url, json={**(extra or {}),
                                                                          "sdp": pc.localDescription.sdp}))
    assert resp.status_code == 200, resp.get_json()
    reply = resp.get_json()
    if reply["type"] == "answer":
        await pc.setRemoteDescription(RTCSessionDescription(**reply))
        return pc
    await pc.close()
    pc = RTCPeerConnection()
    pc.on("track", on_track)
    await pc.setRemoteDescription(RTCSessionDescription(**reply))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = url.removesuffix("/offer") + "/answer"
    resp = await loop.run_in_executor(None, lambda: client.post(answer, json={"sdp": pc.localDescription.sdp}))
    assert resp.status_code == 200, resp.get_json()
    return pc


def wait_parts_closed(attempt_id: int, timeout: float = 20) -> None:
    """The engine closes a part when it sees the peer go; wait for that (DTLS close or ICE timeout)."""
    import time

    from kernel.db import db
    from storage.models import BlobState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a new snapshot: the engine's writes are in other sessions
        if all(b.state == BlobState.COMPLETE for b in recordings(attempt_id)):
            return
        time.sleep(0.2)
    raise AssertionError("recording part was not closed after the peer left")


def recordings(attempt_id: int) -> list[Any]:
    """The attempt's recording blobs, oldest first."""
    return vault.blobs_of(attempt_id=attempt_id, category="recording")


def probe(webm: bytes) -> dict[str, Any]:
    """Streams, codecs, size and duration (from packet timestamps: streamed WebM has no duration)."""
    c = av.open(io.BytesIO(webm))
    info: dict[str, Any] = {"streams": sorted((s.type, s.codec_context.name) for s in c.streams)}
    v = next(s for s in c.streams if s.type == "video")
    info["size"] = (v.codec_context.width, v.codec_context.height)
    pts = {"video": [], "audio": []}
    for pkt in c.demux():
        if pkt.pts is not None and pkt.stream.type in pts:
            pts[pkt.stream.type].append(float(pkt.pts * pkt.time_base))
    info["video_packets"], info["audio_packets"] = len(pts["video"]), len(pts["audio"])
    info["duration"] = max(pts["video"]) - min(pts["video"]) if pts["video"] else 0.0
    decoded = 0
    c2 = av.open(io.BytesIO(webm))
    for frame in c2.decode(video=0):
        decoded += 1
        info["decoded_size"] = (frame.width, frame.height)
    info["decoded_frames"] = decoded
    return info





class CollectSink:
    """A recording sink that keeps the bytes in memory."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def finish_cut(self) -> bool:
        return False


def tiny_webm(seconds: float = 2.0, noise: bool = False) -> bytes:
    """A short WebM part as the recorder writes it (VP8 frames of a moving bar and Opus packets, streamed);
    ``noise``: every frame random pixels, which compress badly (megabytes in a few seconds)."""
    import fractions

    from proctoring.recorder import WebmRecorder

    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.options = {"deadline": "realtime", "g": "30"}
    if noise:
        enc.bit_rate = 20_000_000
    sink = CollectSink()
    rec = WebmRecorder(sink)
    rng = np.random.default_rng(7)
    for i in range(int(seconds * 30)):
        img = rng.integers(0, 255, (240, 320, 3), np.uint8) if noise else np.zeros((240, 320, 3), np.uint8)
        img[60:180, (i * 4) % 280:(i * 4) % 280 + 40] = (40, 200, 90)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for packet in enc.encode(frame):
            rec.video(bytes(packet), i * 3000, now=100 + i / 30)
        rec.audio(b"\xfc\xff\xfe", i * 1600, now=100 + i / 30)  # an Opus frame of silence
    rec.close()
    return bytes(sink.data)
