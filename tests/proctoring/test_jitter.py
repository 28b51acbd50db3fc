"""Frames leave the engine's receive buffer as soon as they are complete (``proctoring.jitter``): the buffer's
rules on packets, the aiortc internals it relies on, and an oral call whose picture is not held a frame at
the engine."""

from __future__ import annotations

import asyncio
import fractions
import io
import itertools
import queue
import re
import statistics
import time
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtcrtpreceiver import TimestampMapper
from aiortc.rtp import RtpPacket

from proctoring.jitter import CompleteFrameBuffer, release_when_complete

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


class _Receiver:
    """What the buffer uses of aiortc's RTCRtpReceiver (its private names), with a plain decoder queue."""

    def __init__(self, codec: RTCRtpCodecParameters) -> None:
        self._RTCRtpReceiver__decoder_queue: queue.Queue = queue.Queue()
        self._RTCRtpReceiver__decoder_thread = True
        self._RTCRtpReceiver__codecs = {codec.payloadType: codec}
        self._RTCRtpReceiver__timestamp_mapper = TimestampMapper()

    def handed_on(self) -> list[bytes]:
        out = []
        while not self._RTCRtpReceiver__decoder_queue.empty():
            _codec, frame = self._RTCRtpReceiver__decoder_queue.get()
            out.append(frame.data)
        return out


def _packet(seq: int, timestamp: int, data: bytes, marker: bool = False, pt: int = 96) -> RtpPacket:
    packet = RtpPacket(payload_type=pt, marker=int(marker), sequence_number=seq, timestamp=timestamp)
    packet._data = data  # type: ignore[attr-defined]  (the depayloaded bytes, as the receiver sets them)
    return packet


def _video() -> tuple[CompleteFrameBuffer, _Receiver]:
    receiver = _Receiver(VP8)
    return CompleteFrameBuffer(receiver, 512, is_video=True), receiver


def test_a_video_frame_is_handed_on_with_its_last_packet_not_when_the_next_frame_begins():
    buf, rx = _video()
    assert buf.add(_packet(1, 3000, b"a1")) == (False, None) and rx.handed_on() == []
    buf.add(_packet(2, 3000, b"a2"))
    assert rx.handed_on() == []
    buf.add(_packet(3, 3000, b"a3", marker=True))
    assert rx.handed_on() == [b"a1a2a3"]  # aiortc's own buffer would wait for packet 4
    buf.add(_packet(4, 6000, b"b", marker=True))
    assert rx.handed_on() == [b"b"]


def test_timestamps_are_mapped_as_the_receiver_maps_them():
    buf, rx = _video()
    buf.add(_packet(10, 900_000, b"x", marker=True))
    buf.add(_packet(11, 903_000, b"y", marker=True))
    stamps = []
    while not rx._RTCRtpReceiver__decoder_queue.empty():
        stamps.append(rx._RTCRtpReceiver__decoder_queue.get()[1].timestamp)
    assert stamps == [0, 3000]


def test_reordered_packets_make_the_frame_once_the_missing_one_arrives():
    buf, rx = _video()
    buf.add(_packet(1, 3000, b"a1"))
    buf.add(_packet(3, 3000, b"a3", marker=True))  # packet 2 late
    assert rx.handed_on() == []
    buf.add(_packet(2, 3000, b"a2"))
    assert rx.handed_on() == [b"a1a2a3"]


def test_a_retransmission_completing_several_frames_hands_them_all_on_in_order_with_no_lag_after():
    buf, rx = _video()
    buf.add(_packet(1, 3000, b"a", marker=True))
    buf.add(_packet(3, 9000, b"c", marker=True))  # frame b (packet 2) lost: c waits behind the gap
    buf.add(_packet(4, 12000, b"d", marker=True))
    assert rx.handed_on() == [b"a"]
    buf.add(_packet(2, 6000, b"b", marker=True))  # the retransmission
    assert rx.handed_on() == [b"b", b"c", b"d"]
    buf.add(_packet(5, 15000, b"e", marker=True))
    assert rx.handed_on() == [b"e"]  # on time, not a packet behind


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_gap_no_retransmission_fills_is_given_up_in_time_and_a_keyframe_is_asked_for():
    # aiortc held everything behind one packet lost for good until 512 more had come (about 4 s of webcam).
    rx, clock = _Receiver(VP8), _Clock()
    buf = CompleteFrameBuffer(rx, 512, is_video=True, give_up_s=0.6, clock=clock)
    buf.add(_packet(1, 3000, b"a", marker=True))
    assert rx.handed_on() == [b"a"]
    buf.add(_packet(3, 6000, b"b2", marker=True))  # packet 2, the start of frame b, is lost for good
    buf.add(_packet(4, 9000, b"c", marker=True))
    clock.now += 0.5
    assert buf.add(_packet(5, 12000, b"d", marker=True)) == (False, None)
    assert rx.handed_on() == []  # still waiting for the retransmission
    clock.now += 0.2
    assert buf.add(_packet(6, 15000, b"e", marker=True)) == (True, None)  # given up: ask for a keyframe
    assert rx.handed_on() == [b"c", b"d", b"e"]  # frame b, cut by the gap, is not handed on
    buf.add(_packet(2, 6000, b"b1"))  # the retransmission, too late: ignored
    buf.add(_packet(7, 18000, b"f", marker=True))
    assert rx.handed_on() == [b"f"]


def test_a_second_gap_is_timed_from_when_it_opens():
    rx, clock = _Receiver(VP8), _Clock()
    buf = CompleteFrameBuffer(rx, 512, is_video=True, give_up_s=0.6, clock=clock)
    buf.add(_packet(1, 3000, b"a", marker=True))
    buf.add(_packet(3, 9000, b"c", marker=True))  # 2 lost
    clock.now += 0.4
    buf.add(_packet(2, 6000, b"b", marker=True))  # retransmitted in time
    buf.add(_packet(5, 15000, b"e", marker=True))  # 4 lost
    assert rx.handed_on() == [b"a", b"b", b"c"]
    clock.now += 0.3  # 0.7 s after the first gap opened, 0.3 s after this one
    buf.add(_packet(6, 18000, b"f", marker=True))
    assert rx.handed_on() == []
    buf.add(_packet(4, 12000, b"d", marker=True))
    assert rx.handed_on() == [b"d", b"e", b"f"]


def test_an_audio_gap_is_given_up_after_a_tenth_of_a_second():
    rx, clock = _Receiver(OPUS), _Clock()
    buf = CompleteFrameBuffer(rx, 16, whole_packets=True, clock=clock)
    buf.add(_packet(1, 960, b"1", pt=111))
    buf.add(_packet(3, 2880, b"3", pt=111))
    clock.now += 0.05
    buf.add(_packet(4, 3840, b"4", pt=111))
    assert rx.handed_on() == [b"1"]
    clock.now += 0.06
    assert buf.add(_packet(5, 4800, b"5", pt=111)) == (False, None)  # no keyframe to ask for in audio
    assert rx.handed_on() == [b"3", b"4", b"5"]


def test_a_sender_that_never_marks_a_frames_end_still_gets_its_frames_one_frame_late():
    buf, rx = _video()
    buf.add(_packet(1, 3000, b"a1"))
    buf.add(_packet(2, 3000, b"a2"))
    assert rx.handed_on() == []
    buf.add(_packet(3, 6000, b"b"))
    assert rx.handed_on() == [b"a1a2"]


def test_audio_packets_are_handed_on_at_once_and_in_order():
    rx = _Receiver(OPUS)
    buf = CompleteFrameBuffer(rx, 16, whole_packets=True)
    buf.add(_packet(1, 960, b"1", pt=111))
    assert rx.handed_on() == [b"1"]  # aiortc's audio buffer holds four more packets first
    buf.add(_packet(3, 2880, b"3", pt=111))
    assert rx.handed_on() == []
    buf.add(_packet(2, 1920, b"2", pt=111))
    assert rx.handed_on() == [b"2", b"3"]


def test_nothing_is_handed_on_before_the_receiver_receives():
    buf, rx = _video()
    rx._RTCRtpReceiver__decoder_thread = None
    buf.add(_packet(1, 3000, b"a", marker=True))
    assert rx.handed_on() == []


def test_aiortcs_receiver_still_has_what_the_buffer_replaces_and_uses():
    from proctoring.recorder import tap_receiver

    async def run() -> None:
        pc = RTCPeerConnection()
        for kind in ("video", "audio"):
            receiver = pc.addTransceiver(kind, direction="recvonly").receiver
            tap_receiver(receiver, lambda c, f: None, lambda: False)  # every receiver the engine taps
            buffer = receiver._RTCRtpReceiver__jitter_buffer
            assert isinstance(buffer, CompleteFrameBuffer) and buffer._is_video == (kind == "video")
        await pc.close()

    asyncio.run(run())
    with pytest.raises(RuntimeError, match="aiortc internals changed"):
        release_when_complete(object())


def _paint(value: int) -> av.VideoFrame:
    img = np.full((240, 320, 3), 128, np.uint8)
    for bit in range(8):
        img[100:140, 10 + bit * 38:40 + bit * 38] = 255 if (value >> bit) & 1 else 0
    return av.VideoFrame.from_ndarray(img, format="bgr24")


def _read(frame: av.VideoFrame) -> int:
    img = frame.to_ndarray(format="bgr24")
    return sum(1 << bit for bit in range(8) if img[105:135, 15 + bit * 38:35 + bit * 38].mean() > 128)


def test_the_oral_calls_picture_reaches_the_candidate_without_waiting_for_the_next_frame():
    # The examiner sends 4 pictures a second, each with its number painted in. aiortc's own buffer would hold
    # each at the engine until the next arrives (250 ms); the candidate's side (a stand-in for a browser,
    # which releases complete frames) uses the same buffer as the engine.
    from bench.screen import connect_oral
    from proctoring.engine import MediaEngine

    sent: dict[int, float] = {}

    class Examiner(VideoStreamTrack):
        n = 0

        async def recv(self) -> av.VideoFrame:
            await asyncio.sleep(0.25)
            self.n = self.n % 255 + 1
            sent[self.n] = time.monotonic()
            frame = _paint(self.n)
            frame.pts, frame.time_base = self.n * 22500, VIDEO_TIME_BASE
            return frame

    class Camera(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = _paint(0)
            frame.pts, frame.time_base = pts, time_base
            return frame

    def like_a_browser(pc: Any, track: Any) -> None:
        release_when_complete(next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track))

    delays: list[float] = []
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False)
    engine.start()

    async def run() -> None:
        cand, examiner, got = await connect_oral(engine, "attempt-jitter", Camera(), Examiner(), like_a_browser)
        seen: set[int] = set()
        until = time.monotonic() + 6
        while time.monotonic() < until:
            try:
                frame = await asyncio.wait_for(got["cand"]["video"].recv(), timeout=1.0)
            except Exception:  # noqa: S112  a frame late, or the track ended: the loop ends at ``until``
                continue
            value = _read(frame)
            if value in sent and value not in seen:
                seen.add(value)
                delays.append(1000 * (time.monotonic() - sent[value]))
        await examiner.close()
        await cand.close()

    try:
        asyncio.run(run())
    finally:
        engine.stop()
    assert len(delays) >= 10, delays
    assert statistics.median(delays) < 150, delays  # one frame held at the engine alone would be 250



def test_a_video_packet_lost_for_good_costs_the_recording_well_under_a_second_not_seconds():
    # A candidate's browser loses one packet and its retransmission. aiortc's buffer held every later frame until
    # 512 packets had come (about 4 s of a webcam), and they were missing from the recording.
    from aiortc.rtp import RtpPacket as Parsed

    from proctoring.engine import MediaEngine
    from tests.proctoring.conftest import CollectSink, PatternTrack

    sinks: list[CollectSink] = []
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False)
    engine.start()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pc = RTCPeerConnection()
        sender = pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())

        def sink(_session: str, _part: int) -> CollectSink:
            sinks.append(CollectSink())
            return sinks[-1]

        answer = await loop.run_in_executor(None, lambda: engine.answer("attempt-loss", pc.localDescription.sdp, sink))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.sleep(3.0)
        lose = {"seq": None}
        video_pt = int(re.search(r"m=video \d+ \S+ (\d+)", answer).group(1))  # the codec the engine chose
        send, retransmit = sender.transport._send_rtp, sender._retransmit

        async def lossy_send(data: bytes) -> None:
            packet = Parsed.parse(data)
            if packet.payload_type == video_pt and lose["seq"] is None:
                lose["seq"] = packet.sequence_number
            if packet.payload_type == video_pt and packet.sequence_number == lose["seq"]:
                return  # lost on the way
            await send(data)

        async def no_second_chance(seq: int) -> None:
            if seq != lose["seq"]:
                await retransmit(seq)

        sender.transport._send_rtp, sender._retransmit = lossy_send, no_second_chance
        await asyncio.sleep(6.0)
        sender.transport._send_rtp, sender._retransmit = send, retransmit
        await pc.close()

    try:
        asyncio.run(run())
    finally:
        engine.stop()
    container = av.open(io.BytesIO(bytes(sinks[0].data)))
    stream = container.streams.video[0]
    times = sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.pts is not None)
    hole = max(b - a for a, b in itertools.pairwise(times))
    assert len(times) > 150, len(times)
    assert hole < 1.0, f"{hole:.2f} s of video missing after one lost packet"
