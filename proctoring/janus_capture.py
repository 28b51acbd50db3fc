"""The identity check's liveness capture on the Janus plane (``JanusEngine.capture``).

While a capture runs, Janus forwards the candidate's camera (its RTP, VP8) a second time, to a UDP socket of ours
on loopback; nothing else is added to the session (its recorder, a discarding one for the identity camera, goes on
as before). Python takes the RTP apart (RFC 7741: at most a few hundred packets a second, for the ~10 s of a
challenge), and times each frame by this server's clock when its last packet arrived: no jitter buffer in between
(the recorder's holds packets 300 ms) and never the sender's RTP timestamps, which a sender chooses. About ``fps``
frames a second are marked to keep, as on aiortc (``liveness_capture.grab``). At the end the forwarder goes, the
frames since the first keyframe are decoded with PyAV (a VP8 decoder needs every frame since a keyframe) on the
engine's analysis pool and the kept ones converted to JPEG (``liveness_capture.to_jpegs``); nothing is written to
a disk. A lost or reordered packet breaks its frame: the frames after it wait for the next keyframe, which is asked
for at once (Janus passes the request on to the browser).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from proctoring.liveness_capture import MAX_FRAMES

log = logging.getLogger(__name__)

#: At most this much compressed video is held by one capture (a sender at a hostile bitrate ends it early).
MAX_BYTES = 32 * 1024 * 1024
#: A keyframe is asked for at most this often while the frames wait for one.
KEYFRAME_EVERY = 0.25


def rtp_payload(packet: bytes) -> tuple[int, int, bool, bytes] | None:
    """(sequence number, timestamp, marker, payload) of an RTP packet; None if it is not one."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    pos = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # a header extension: 16-bit profile, 16-bit length in words
        if len(packet) < pos + 4:
            return None
        pos += 4 + 4 * int.from_bytes(packet[pos + 2:pos + 4], "big")
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
    if pos >= end:
        return None
    return (int.from_bytes(packet[2:4], "big"), int.from_bytes(packet[4:8], "big"), bool(packet[1] & 0x80),
            packet[pos:end])


def vp8_payload(payload: bytes) -> tuple[bool, bytes] | None:
    """(starts the frame, VP8 bytes) of an RTP VP8 payload (RFC 7741's descriptor taken off); None if malformed."""
    first, pos = payload[0], 1
    if first & 0x80:  # extended control bits
        if len(payload) < 2:
            return None
        ext, pos = payload[1], 2
        if ext & 0x80:  # picture id, 7 or 15 bits
            if len(payload) <= pos:
                return None
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # TL0PICIDX
            pos += 1
        if ext & 0x30:  # TID / KEYIDX
            pos += 1
    if pos >= len(payload):
        return None
    return bool(first & 0x10) and first & 0x07 == 0, payload[pos:]


class Vp8Frames:
    """Puts VP8 frames together from RTP packets in arrival order; ``push`` returns a finished frame as
    (VP8 bytes, keyframe) or None. ``broken`` is set when a packet was missing (the caller asks for a keyframe)."""

    def __init__(self) -> None:
        self._seq: int | None = None
        self._ts: int | None = None
        self._parts: list[bytes] = []
        self._whole = False  # the frame being put together has every packet so far
        self.broken = False

    def push(self, packet: bytes) -> tuple[bytes, bool] | None:
        """Take one RTP packet."""
        rtp = rtp_payload(packet)
        if rtp is None:
            return None
        seq, ts, marker, payload = rtp
        if self._seq is not None:
            step = (seq - self._seq) & 0xFFFF
            if step == 0 or step >= 0x8000:  # a duplicate or a late packet: its frame is already given up
                return None
            if step != 1:
                self._whole, self.broken = False, True
        self._seq = seq
        vp8 = vp8_payload(payload)
        if vp8 is None:
            self._whole, self.broken = False, True
            return None
        starts, body = vp8
        if ts != self._ts or starts:
            if self._ts is not None and ts != self._ts and self._parts:  # the last frame never ended
                self.broken = True
            self._ts, self._parts, self._whole = ts, [], starts
        self._parts.append(body)
        if not marker:
            return None
        frame, whole = b"".join(self._parts), self._whole
        self._parts, self._whole = [], False
        if not whole or not frame:
            self.broken = True
            return None
        return frame, not frame[0] & 0x01  # the frame tag's P bit: 0 for a keyframe


#: What a tap hands on: (arrival in unix ms, VP8 frame, kept) for every frame since the first keyframe.
TimedVp8 = list[tuple[int, bytes, bool]]


class LivenessTap:
    """A UDP socket on loopback where Janus forwards the camera during one capture; ``run`` receives until unix
    time ``until`` (or ``MAX_FRAMES`` kept, or ``MAX_BYTES`` held) and returns the frames to decode.

    ``ask_keyframe`` is called (from ``run``'s thread) when the frames wait for a keyframe: at the start and after
    a loss, at most every ``KEYFRAME_EVERY`` seconds."""

    def __init__(self, until: float, fps: float, ask_keyframe: Callable[[], None]) -> None:
        self.until = until
        self.every = 1.0 / max(fps, 0.5)
        self.ask_keyframe = ask_keyframe
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.port = int(self.sock.getsockname()[1])
        self.packets = 0
        self.cpu = 0.0  # seconds of CPU ``run`` took (the log says, for the README's figures)
        self.gaps = 0  # frames given up for a lost or reordered packet

    def close(self) -> None:
        """Let go of the socket."""
        self.sock.close()

    def run(self) -> TimedVp8:
        """Receive until the window ends; each frame timed when its last packet came."""
        started = time.thread_time()
        try:
            return self._receive()
        finally:
            self.cpu = time.thread_time() - started

    def _receive(self) -> TimedVp8:
        frames = Vp8Frames()
        out: TimedVp8 = []
        kept = held = 0
        synced = False  # every frame since a keyframe is in ``out``: the next one decodes
        asked_at = float("-inf")
        next_at = 0.0
        while kept < MAX_FRAMES and held < MAX_BYTES:
            now = time.time()
            if now >= self.until:
                break
            if not synced and time.monotonic() - asked_at >= KEYFRAME_EVERY:
                asked_at = time.monotonic()
                self.ask_keyframe()
            self.sock.settimeout(min(0.25, self.until - now))
            try:
                packet = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            arrived = time.time()
            self.packets += 1
            frame = frames.push(packet)
            if frames.broken:
                frames.broken, synced = False, False
                self.gaps += 1
            if frame is None:
                continue
            data, key = frame
            synced = synced or key
            if not synced:
                continue
            keep = arrived >= next_at
            if keep:
                kept += 1
                next_at = arrived + self.every
            held += len(data)
            out.append((int(arrived * 1000), data, keep))
        return out


def decode(frames: TimedVp8) -> list[tuple[int, Any]]:
    """The kept frames decoded, (unix ms, av.VideoFrame); every frame goes through the decoder (on a worker)."""
    import av

    codec = av.CodecContext.create("vp8", "r")
    out: list[tuple[int, Any]] = []
    for t_ms, data, keep in frames:
        try:
            pictures = codec.decode(av.Packet(data))
        except av.FFmpegError:
            log.warning("a liveness frame did not decode")
            continue
        if keep and pictures:
            out.append((t_ms, pictures[-1]))
    return out
