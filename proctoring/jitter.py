"""Received frames handed on as soon as they are complete, not one frame later.

aiortc's receive buffer (``aiortc.jitterbuffer.JitterBuffer``) releases a video frame only when the first
packet of the *next* frame arrives, one frame interval later (33 ms at 30 fps), and holds audio until four
more packets are in (80 ms of Opus). The engine pays that on every hop: an oral exam's picture goes
examiner -> engine -> candidate -> engine -> examiner, and the recording and the proctor's live view wait
too. libwebrtc releases a frame once its packets are in. ``release_when_complete`` gives a receiver a
buffer that does the same: a video frame goes out with its last packet (the RTP marker bit, RFC 7741) once
every packet before it has arrived; an audio packet is a frame of its own and goes out once the packets
before it are in. Packets are placed by sequence number, and a gap holds what comes after it until a
retransmission (asked for with a NACK) or a late packet fills it. aiortc gave a gap up only when the buffer
overflowed: 512 video packets, about 4 s of a webcam that went missing from the recording after one packet
lost for good. Here a gap is given up after ``VIDEO_GAP_S`` (audio, which is not retransmitted:
``AUDIO_GAP_S``): the frame it cut into is dropped, and for video a keyframe is asked for (the frames after a
lost one refer to it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

_PRIVATE = "_RTCRtpReceiver__"
VIDEO_GAP_S = 0.6  # a retransmission has this long to fill a gap (a few round trips of a slow home link)
AUDIO_GAP_S = 0.1  # only reordering fills an audio gap


class CompleteFrameBuffer(JitterBuffer):
    """aiortc's jitter buffer for one receiver, handing each frame on as soon as all its packets are in.

    ``whole_packets``: every packet is a frame (audio); otherwise a frame ends with the packet that carries
    the RTP marker bit (video). A sender that never sets the marker still gets its frames, one frame late,
    by aiortc's own rule. The receiver takes at most one frame from each packet, so a retransmission that
    completes several frames at once would leave the later ones a packet behind, and every later frame with
    them: the buffer puts every completed frame on the receiver's decoder queue itself (its timestamp mapped
    as the receiver maps it), in order, and gives the receiver none. A gap still open ``give_up_s`` after it
    was first seen is given up (see the module).
    """

    def __init__(self, receiver: Any, capacity: int, *, whole_packets: bool = False, is_video: bool = False,
                 give_up_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(capacity, prefetch=0, is_video=is_video)
        self._receiver = receiver
        self._whole_packets = whole_packets
        self._highest: int | None = None
        self._give_up_s = give_up_s if give_up_s is not None else (VIDEO_GAP_S if is_video else AUDIO_GAP_S)
        self._clock = clock
        self._gap: tuple[int, float] | None = None  # the first missing packet's number, and since when
        self._cut_timestamp: int | None = None  # the frame a given-up gap cut into: dropped, not handed on

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Place ``packet`` and hand on the frames it completes; returns (ask for a keyframe, None)."""
        filled_gap = self._highest is not None and uint16_add(packet.sequence_number, -self._highest) > 0x8000
        if not filled_gap:
            self._highest = packet.sequence_number
        pli, frame = super().add(packet)
        frames = [frame] if frame is not None else []
        if frame is not None and frame.timestamp == self._cut_timestamp:  # aiortc's rule found the cut frame
            frames, self._cut_timestamp = [], None
        if packet.marker or self._whole_packets or filled_gap:
            frames += self._complete_frames()
        gap = self._waited_out()
        if gap is not None:
            self._give_gap_up(gap)
            pli = pli or self._is_video
            frames += self._complete_frames()
            self._waited_out()  # the next gap, if any, is timed from now
        if frames:
            self._hand_on(packet, frames)
        return pli, None

    def _complete_frames(self) -> list[JitterFrame]:
        out = []
        while (complete := self._complete_frame()) is not None:
            out.append(complete)
        return out

    def _first_gap(self) -> int | None:
        """How many packets from the buffer's start come before the first missing one that a later packet
        is waiting behind; None when nothing waits."""
        if self._origin is None or self._highest is None:
            return None
        waiting = uint16_add(self._highest, -self._origin)
        if waiting >= 0x8000:
            return None  # everything up to the highest packet is handed on
        for count in range(min(waiting, self.capacity - 1) + 1):
            if self._packets[(self._origin + count) % self.capacity] is None:
                return count
        return None

    def _waited_out(self) -> int | None:
        """The first gap's place (as ``_first_gap``) once it has been open for ``give_up_s``, else None (a new
        gap starts its own time)."""
        count = self._first_gap()
        if count is None or self._origin is None:
            self._gap = None
            return None
        missing, now = uint16_add(self._origin, count), self._clock()
        if self._gap is None or self._gap[0] != missing:
            self._gap = (missing, now)
        return count if now - self._gap[1] >= self._give_up_s else None

    def _give_gap_up(self, count: int) -> None:
        """Drop the ``count`` packets before the first gap (a frame missing a packet) and the gap, and mark
        the frame of the first packet after it as cut (its beginning may have been in the gap)."""
        self.remove(count)
        for _ in range(self.capacity):
            first = self._packets[self._origin % self.capacity]  # type: ignore[operator]
            if first is not None:
                if not self._whole_packets:
                    self._cut_timestamp = first.timestamp
                return
            self.remove(1)

    def _complete_frame(self) -> JitterFrame | None:
        """The first frame in the buffer if its packets are all in, removed from it; else None."""
        if self._origin is None:
            return None
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None or (packets and packet.timestamp != packets[0].timestamp):
                return None
            packets.append(packet)
            if self._whole_packets or packet.marker:
                self.remove(count + 1)
                if packets[0].timestamp == self._cut_timestamp:  # the frame a given-up gap cut into
                    self._cut_timestamp = None
                    return self._complete_frame()
                return JitterFrame(data=b"".join(p._data for p in packets),  # type: ignore[attr-defined]
                                   timestamp=packets[0].timestamp)
        return None

    def _hand_on(self, packet: RtpPacket, frames: list[JitterFrame]) -> None:
        """What the receiver does with the frame ``add`` returns, for each of ``frames``."""
        receiver = self._receiver
        if not getattr(receiver, _PRIVATE + "decoder_thread"):
            return  # not receiving yet (the receiver drops the frame then too)
        codec = getattr(receiver, _PRIVATE + "codecs")[packet.payload_type]
        mapper = getattr(receiver, _PRIVATE + "timestamp_mapper")
        decoder_queue = getattr(receiver, _PRIVATE + "decoder_queue")
        for frame in frames:
            frame.timestamp = mapper.map(frame.timestamp)
            decoder_queue.put((codec, frame))


def release_when_complete(receiver: Any) -> None:
    """Give an aiortc ``RTCRtpReceiver`` (before it receives) a buffer that hands frames on once complete.

    ``proctoring.recorder.tap_receiver`` calls it for every receiver the engine taps. This touches aiortc
    internals (the name-mangled ``__jitter_buffer``, ``__kind``, ``__decoder_queue``, ``__decoder_thread``,
    ``__codecs`` and ``__timestamp_mapper``, aiortc 1.16); the tests in ``tests/proctoring/test_jitter.py``
    pin them, so an upgrade that moves them fails loudly. The capacities are aiortc's own.
    """
    names = ("jitter_buffer", "kind", "decoder_queue", "decoder_thread", "codecs", "timestamp_mapper")
    if not all(hasattr(receiver, _PRIVATE + name) for name in names):
        raise RuntimeError("aiortc internals changed: RTCRtpReceiver lacks the buffer and queue to replace")
    video = getattr(receiver, _PRIVATE + "kind") == "video"
    setattr(receiver, _PRIVATE + "jitter_buffer",
            CompleteFrameBuffer(receiver, 512 if video else 16, whole_packets=not video, is_video=video))
