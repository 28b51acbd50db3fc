"""Recording without re-encoding: the encoded VP8 and Opus frames aiortc receives are muxed into WebM.

aiortc always decodes what it receives, and its MediaRecorder re-encodes and (with a real
browser) silently loses the video track. We instead tap the receiver's queue of *encoded*
frames (see ``tap_receiver``) and copy them into a WebM container with PyAV: about a tenth of
the CPU, no quality loss, and the video track is there from the first keyframe on.

The muxer writes to a non-seekable sink (the encrypted storage writer); clusters are cut every
second, so a crash loses at most the last second. Streams are opened only once the first video
keyframe has arrived (its header gives the size); audio that comes before is dropped.
"""

from __future__ import annotations

import fractions
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import av

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000


class Sink(Protocol):
    """Where the WebM bytes go (the encrypted blob writer)."""

    def write(self, data: bytes) -> int:
        """Append bytes."""

    def flush(self) -> None:
        """Make written bytes durable."""

    def close(self) -> None:
        """Finish."""

    def finish_cut(self) -> bool:
        """After a failed close: make what reached storage readable (truncated); whether anything did."""


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) if ``frame`` is a VP8 keyframe (RFC 6386 section 9.1), else None."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(frame[8:10], "little") & 0x3FFF)


def opus_head(channels: int = 2, rate: int = AUDIO_CLOCK) -> bytes:
    """The OpusHead block WebM needs as the audio track's codec private data (RFC 7845 5.1)."""
    return b"OpusHead" + bytes([1, channels]) + (312).to_bytes(2, "little") + rate.to_bytes(4, "little") + b"\0\0\0"


class _SinkIO:
    """Adapter PyAV writes through: a write-only, non-seekable file object."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.sink.write(bytes(data))
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()

    def seekable(self) -> bool:
        return False


class WebmRecorder:
    """Copies encoded VP8/Opus frames into one WebM part; thread-safe ``video``/``audio`` entry points."""

    def __init__(self, sink: Sink) -> None:
        self._io = _SinkIO(sink)
        self.sink = sink
        self._lock = threading.Lock()
        self._container: Any = None
        self._vstream: Any = None
        self._astream: Any = None
        self._t0: float | None = None  # wall clock of the first video keyframe
        self._first: dict[str, tuple[int, float]] = {}  # kind -> (first rtp ts, wall offset s)
        self._last_pts: dict[str, int] = {}
        self.size: tuple[int, int] | None = None
        self.video_frames = 0
        self.audio_frames = 0
        self.closed = False

    def _open(self, width: int, height: int) -> None:
        self._container = av.open(self._io, mode="w", format="webm",
                                  options={"cluster_time_limit": "1000", "live": "1",
                                           "max_interleave_delta": "500000"})
        v = self._container.add_stream("libvpx", rate=30)
        v.width, v.height = width, height
        v.time_base = fractions.Fraction(1, 1000)
        v.codec_context.time_base = fractions.Fraction(1, 1000)
        a = self._container.add_stream("libopus", rate=AUDIO_CLOCK)
        a.time_base = fractions.Fraction(1, 1000)
        a.codec_context.extradata = opus_head()
        self._vstream, self._astream = v, a
        self._container.start_encoding()

    def _pts(self, kind: str, ts: int, clock: int, now: float) -> int:
        if kind not in self._first:
            assert self._t0 is not None  # noqa: S101
            self._first[kind] = (ts, now - self._t0)
        first_ts, offset = self._first[kind]
        pts = round(((ts - first_ts) / clock + offset) * 1000)
        pts = max(pts, self._last_pts.get(kind, -1) + 1)  # strictly increasing per stream
        self._last_pts[kind] = pts
        return pts

    def video(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded VP8 frame with its RTP timestamp (90 kHz)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.closed:
                return
            key = vp8_keyframe_size(data)
            if self._container is None:
                if key is None:
                    return  # wait for the first keyframe
                self._t0 = now
                self.size = key
                self._open(*key)
            pkt = av.Packet(data)
            pkt.pts = pkt.dts = self._pts("video", timestamp, VIDEO_CLOCK, now)
            pkt.time_base = self._vstream.time_base
            pkt.stream = self._vstream
            pkt.is_keyframe = key is not None
            self._container.mux(pkt)
            self.video_frames += 1

    def audio(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded Opus frame with its RTP timestamp (48 kHz)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.closed or self._container is None or not data:
                return
            pkt = av.Packet(data)
            pkt.pts = pkt.dts = self._pts("audio", timestamp, AUDIO_CLOCK, now)
            pkt.time_base = self._astream.time_base
            pkt.stream = self._astream
            self._container.mux(pkt)
            self.audio_frames += 1

    def close(self) -> None:
        """Finish the WebM part and close the sink."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self._container is not None:
                try:
                    self._container.close()
                except Exception:  # a broken part must not keep the sink open
                    log.exception("closing the WebM muxer failed")
            self.sink.close()


class TapQueue(queue.Queue):
    """Replaces an RTCRtpReceiver's decoder queue: hands every encoded frame to ``on_encoded``
    and passes it on to aiortc's decoder only while ``decode`` is true (snapshots, flags)."""

    def __init__(self, on_encoded: Callable[[Any, Any], None], decode: Callable[[], bool]) -> None:
        super().__init__()
        self._on_encoded = on_encoded
        self._decode = decode

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Called by aiortc with ``(codec, JitterFrame)`` or None (end)."""
        if item is not None:
            try:
                self._on_encoded(*item)
            except Exception:
                log.exception("recording an encoded frame failed")
            if not self._decode():
                return
        super().put(item, block, timeout)


def tap_receiver(receiver: Any, on_encoded: Callable[[Any, Any], None], decode: Callable[[], bool]) -> None:
    """Install a TapQueue on an aiortc RTCRtpReceiver before it starts receiving.

    This touches aiortc internals (name-mangled ``__decoder_queue``, aiortc 1.16); the test
    ``tests/proctoring/test_recording.py`` pins it so an upgrade that moves it fails loudly.
    """
    attr = "_RTCRtpReceiver__decoder_queue"
    if not hasattr(receiver, attr):
        raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no decoder queue to tap")
    setattr(receiver, attr, TapQueue(on_encoded, decode))


def tap_audio_levels(receiver: Any, on_level: Callable[[int], None]) -> None:
    """Call ``on_level`` with each audio packet's RFC 6464 level (-dBov) before aiortc handles the packet.

    Wraps the receiver's (internal) packet handler; packets without the extension are ignored.
    """
    handle = receiver._handle_rtp_packet

    async def with_level(packet: Any, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level
        if level is not None:
            on_level(int(level[1]))
        await handle(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = with_level



class PartRecorder:
    """A session's recording as WebM parts that outlive a storage outage.

    Storage going away (unreachable, or full) must not end the exam or the live view. The part
    being written ends where storage failed (what was durable reads back as truncated),
    ``on_status("storage_failed")`` tells the proctor, and every ``retry`` seconds a new part is
    tried; once one opens, recording resumes at the next keyframe (``request_keyframe`` asks the
    browser for one), ``on_status("recording")`` says so, and the part the outage cut is finished up
    (``Sink.finish_cut``: on S3 its multipart upload is completed). Nothing is kept back meanwhile: no
    plaintext on disk, no growing buffer in memory; the outage is a gap in the recording.

    ``open_part`` is blocking (database and storage); it runs through ``run_later`` (a thread pool)
    except in :meth:`start`, which the caller already runs off the media thread.
    """

    def __init__(self, open_part: Callable[[], Sink], on_status: Callable[[str], None], *,
                 request_keyframe: Callable[[], None] = lambda: None,
                 run_later: Callable[[Callable[[], None]], Any] | None = None, retry: float = 10.0) -> None:
        self._open_part, self._on_status, self._request_keyframe = open_part, on_status, request_keyframe
        self._run_later = run_later or (lambda fn: threading.Thread(target=fn, daemon=True).start())
        self._retry = retry
        self._lock = threading.Lock()
        self._rec: WebmRecorder | None = None
        self._cut: list[Sink] = []  # parts whose close failed: finished up once storage works again
        self._failed_at = 0.0
        self._opening = False
        self._done_frames = [0, 0]  # video, audio frames of parts already ended
        self.parts = 0
        self.status = "starting"
        self.closed = False

    def start(self) -> None:
        """Open the first part (blocking); a failure is reported and retried like any other."""
        self._reopen(first=True)

    @property
    def video_frames(self) -> int:
        """Video frames recorded over all parts."""
        rec = self._rec
        return self._done_frames[0] + (rec.video_frames if rec else 0)

    @property
    def audio_frames(self) -> int:
        """Audio frames recorded over all parts."""
        rec = self._rec
        return self._done_frames[1] + (rec.audio_frames if rec else 0)

    @property
    def size(self) -> tuple[int, int] | None:
        """The video size of the current part."""
        rec = self._rec
        return rec.size if rec else None

    def video(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded VP8 frame (see :meth:`WebmRecorder.video`)."""
        self._feed("video", data, timestamp, now)

    def audio(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded Opus frame (see :meth:`WebmRecorder.audio`)."""
        self._feed("audio", data, timestamp, now)

    def _feed(self, kind: str, data: bytes, timestamp: int, now: float | None) -> None:
        rec = self._rec
        if rec is None:
            self._maybe_retry()
            return
        try:
            (rec.video if kind == "video" else rec.audio)(data, timestamp, now)
        except Exception as err:
            self._fail(rec, err)

    def _fail(self, rec: WebmRecorder, err: BaseException) -> None:
        with self._lock:
            if self._rec is not rec:
                return
            self._rec = None
            self._done_frames[0] += rec.video_frames
            self._done_frames[1] += rec.audio_frames
            self._failed_at = time.monotonic()
            self.status = "storage_failed"
        log.warning("recording storage failed, part ended: %s", err)
        self._run_later(lambda: self._end_part(rec))
        self._on_status("storage_failed")

    def _end_part(self, rec: WebmRecorder) -> None:
        if not _close_quietly(rec):
            with self._lock:
                self._cut.append(rec.sink)

    def _finish_cut(self) -> None:
        """Storage works again: the parts it cut become readable as far as they got (on S3 their multipart
        upload is completed from the parts uploaded before the cut)."""
        with self._lock:
            cut, self._cut = self._cut, []
        for sink in cut:
            try:
                sink.finish_cut()
            except Exception:
                log.warning("finishing a cut recording part failed; the next new part tries again", exc_info=True)
                with self._lock:
                    self._cut.append(sink)

    def _maybe_retry(self) -> None:
        with self._lock:
            if self.closed or self._opening or self.status != "storage_failed":
                return
            if time.monotonic() - self._failed_at < self._retry:
                return
            self._opening = True
        self._run_later(self._reopen)

    def _reopen(self, first: bool = False) -> None:
        try:
            sink = self._open_part()
        except Exception as err:
            with self._lock:
                self._opening = False
                self._failed_at = time.monotonic()
                changed = self.status != "storage_failed"
                self.status = "storage_failed"
            log.warning("recording storage unavailable, no part opened: %s", err)
            if changed:
                self._on_status("storage_failed")
            return
        with self._lock:
            self._opening = False
            if self.closed:
                stale = True
            else:
                stale = False
                self._rec = WebmRecorder(sink)
                self.parts += 1
                resumed = self.status == "storage_failed"
                self.status = "recording"
        if stale:
            _close_quietly(sink)
            return
        self._finish_cut()
        if resumed:
            self._on_status("recording")
        if not first:
            self._request_keyframe()

    def close(self) -> None:
        """Finish the current part (a failing close leaves it truncated, never raises)."""
        with self._lock:
            self.closed = True
            rec, self._rec = self._rec, None
        if rec is not None:
            self._done_frames[0] += rec.video_frames
            self._done_frames[1] += rec.audio_frames
            _close_quietly(rec)


def _close_quietly(part: WebmRecorder | Sink) -> bool:
    """Close a recording part; while storage still fails it stays as durable as it got (truncated)."""
    try:
        part.close()
    except Exception:
        log.warning("closing a recording part failed; it stays truncated", exc_info=True)
        return False
    return True
