"""A browser that offers only H.264: the engine re-encodes to VP8 for the recording (the fallback);
VP8 is still copied without re-encoding (tests/proctoring/test_recording.py)."""

from __future__ import annotations

import asyncio

from storage import vault
from tests.proctoring.conftest import PatternTrack, connect, probe, recordings, wait_parts_closed
from tests.proctoring.test_recording import live  # noqa: F401


def test_h264_only_browser_is_recorded_as_vp8(live):  # noqa: F811
    from aiortc import RTCPeerConnection, RTCRtpSender
    from aiortc.mediastreams import AudioStreamTrack

    client, attempt_id = live["client"], live["attempt_id"]

    async def run() -> None:
        pc = RTCPeerConnection()
        video = pc.addTransceiver(PatternTrack(), direction="sendonly")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                   if c.mimeType == "video/H264"])
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        assert "VP8" not in pc.localDescription.sdp and "H264" in pc.localDescription.sdp
        await connect(client, attempt_id, pc)
        await asyncio.sleep(4.0)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(attempt_id)
    info = probe(vault.read(recordings(attempt_id)[0]))
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")]
    assert info["decoded_frames"] >= 60 and 2.5 <= info["duration"] <= 6.0, info
