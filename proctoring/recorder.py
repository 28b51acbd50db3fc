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

import datetime as dt
import fractions
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import av

from proctoring.jitter import release_when_complete

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


#: The tracks of a part, in file order: the camera and microphone always; the candidate's screen where the
#: exam records it; the examiner's camera and microphone in an oral exam. Names ending in "audio" are Opus.
CAMERA_ONLY = ("video", "audio")
#: How long a part waits (buffering) for the first keyframe of every other video track before it opens.
OPEN_WAIT = 2.0
_PLACEHOLDER_SIZE = (640, 480)  # a video track without a keyframe yet (VP8 frames carry their own size)


def is_audio(track: str) -> bool:
    """Whether a track of a part's layout is Opus audio (else VP8 video)."""
    return track.endswith("audio")


class WebmRecorder:
    """Copies encoded VP8/Opus frames into one WebM part; thread-safe ``video``/``audio``/``feed`` entry points.

    ``layout`` names the part's tracks (``CAMERA_ONLY`` by default). The part opens at the camera's first
    keyframe; where the layout has other video tracks (the screen, the examiner), their frames are held
    for at most ``OPEN_WAIT`` seconds until each has sent a keyframe too (its size goes into the header),
    so all tracks share one clock from the first second. Every track's time is its RTP clock anchored at
    the moment its first frame arrived, so tracks stay in sync however late one starts.
    """

    def __init__(self, sink: Sink, layout: tuple[str, ...] = CAMERA_ONLY,
                 sizes: dict[str, tuple[int, int]] | None = None) -> None:
        self._io = _SinkIO(sink)
        self.sink = sink
        self.layout = layout
        self._hints = dict(sizes or {})
        self._lock = threading.Lock()
        self._container: Any = None
        self._streams: dict[str, Any] = {}
        self._t0: float | None = None  # wall clock of the first camera keyframe
        self._first: dict[str, tuple[int, float]] = {}  # track -> (first rtp ts, wall offset s)
        self._last_pts: dict[str, int] = {}
        self._keyed: set[str] = set()  # video tracks whose first keyframe arrived
        self._held: list[tuple[str, bytes, int, float]] = []  # frames waiting for the part to open
        self.sizes: dict[str, tuple[int, int]] = {}
        self.frames: dict[str, int] = {}
        self.closed = False

    @property
    def size(self) -> tuple[int, int] | None:
        """The camera's video size (None before its first keyframe)."""
        return self.sizes.get("video")

    @property
    def video_frames(self) -> int:
        """Camera frames written."""
        return self.frames.get("video", 0)

    @property
    def audio_frames(self) -> int:
        """Microphone frames written."""
        return self.frames.get("audio", 0)

    @property
    def opened(self) -> bool:
        """Whether the container is open (its layout is fixed from then on)."""
        return self._container is not None

    def waits_for_keyframe(self, track: str) -> bool:
        """Whether this part records video track ``track`` and has not had its first keyframe yet."""
        return track in self.layout and not is_audio(track) and track not in self._keyed

    def _open(self) -> None:
        self._container = av.open(self._io, mode="w", format="webm",
                                  options={"cluster_time_limit": "1000", "live": "1",
                                           "max_interleave_delta": "500000"})
        # The wall time of the first camera frame (pts 0), written as the WebM's date: the review maps times onto
        # it. The part may open up to OPEN_WAIT after that frame (waiting for the other tracks' keyframes).
        started = time.time() - (time.monotonic() - self._t0) if self._t0 is not None else time.time()
        self._container.metadata["creation_time"] = dt.datetime.fromtimestamp(started, dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        for track in self.layout:
            if is_audio(track):
                s = self._container.add_stream("libopus", rate=AUDIO_CLOCK)
                s.codec_context.extradata = opus_head()
            else:
                s = self._container.add_stream("libvpx", rate=30)
                s.width, s.height = self.sizes.get(track) or self._hints.get(track) or _PLACEHOLDER_SIZE
                s.codec_context.time_base = fractions.Fraction(1, 1000)
            s.time_base = fractions.Fraction(1, 1000)
            s.metadata["title"] = track  # the track's name in the file: the review finds the screen by it
            self._streams[track] = s
        self._container.start_encoding()

    def _pts(self, track: str, ts: int, clock: int, now: float) -> int:
        if track not in self._first:
            assert self._t0 is not None  # noqa: S101
            self._first[track] = (ts, now - self._t0)
        first_ts, offset = self._first[track]
        pts = round(((ts - first_ts) / clock + offset) * 1000)
        pts = max(pts, self._last_pts.get(track, -1) + 1)  # strictly increasing per stream
        self._last_pts[track] = pts
        return pts

    def video(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded VP8 frame of the camera with its RTP timestamp (90 kHz)."""
        self.feed("video", data, timestamp, now)

    def audio(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded Opus frame of the microphone with its RTP timestamp (48 kHz)."""
        self.feed("audio", data, timestamp, now)

    def feed(self, track: str, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded frame of a track of the layout (frames of other tracks are ignored)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.closed or not data or track not in self.layout:
                return
            key = None
            if not is_audio(track) and track not in self._keyed:
                key = vp8_keyframe_size(data)
                if key is None:
                    return  # a video track starts at its first keyframe
            if self._container is None and self._t0 is None:
                if track != "video":
                    # The part starts with the camera's keyframe: what came before is dropped (a keyframe of
                    # another track too, which then still waits for one: its frames would not decode).
                    return
                self._t0 = now
            if key is not None:
                self._keyed.add(track)
                self.sizes[track] = key
            if self._container is None:
                self._held.append((track, data, timestamp, now))
                waiting = {t for t in self.layout if not is_audio(t)} - self._keyed
                assert self._t0 is not None  # noqa: S101  (set above: the camera's keyframe started the part)
                if waiting and now - self._t0 < OPEN_WAIT:
                    return
                self._open()
                held, self._held = self._held, []
                for item in held:
                    self._mux(*item)
                return
            self._mux(track, data, timestamp, now)

    def _mux(self, track: str, data: bytes, timestamp: int, now: float) -> None:
        stream = self._streams[track]
        pkt = av.Packet(data)
        pkt.pts = pkt.dts = self._pts(track, timestamp, AUDIO_CLOCK if is_audio(track) else VIDEO_CLOCK, now)
        pkt.time_base = stream.time_base
        pkt.stream = stream
        if not is_audio(track):
            pkt.is_keyframe = vp8_keyframe_size(data) is not None
        self._container.mux(pkt)
        self.frames[track] = self.frames.get(track, 0) + 1

    def close(self) -> None:
        """Finish the WebM part and close the sink."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self._container is None and self._held:
                try:  # a part shorter than the wait for the other tracks: what it has is still kept
                    self._open()
                    for item in self._held:
                        self._mux(*item)
                except Exception:
                    log.exception("opening a short WebM part failed")
                self._held = []
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
    """Install a TapQueue on an aiortc RTCRtpReceiver before it starts receiving, and a receive buffer that
    hands each frame on as soon as it is complete (``proctoring.jitter``).

    This touches aiortc internals (name-mangled ``__decoder_queue``, aiortc 1.16); the test
    ``tests/proctoring/test_recording.py`` pins it so an upgrade that moves it fails loudly.
    """
    attr = "_RTCRtpReceiver__decoder_queue"
    if not hasattr(receiver, attr):
        raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no decoder queue to tap")
    setattr(receiver, attr, TapQueue(on_encoded, decode))
    release_when_complete(receiver)


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


def limit_remb(receiver: Any, interval: float = 0.25) -> None:
    """Send the receiver's bandwidth estimate (RTCP REMB) at most every ``interval`` seconds.

    aiortc's estimator answers every packet with a REMB while it judges the link overused; on an engine
    whose CPU is busy, late arrivals look like congestion, and the engine sent about 150 REMBs a second
    per stream (14 % of its event loop in one profile), which made the overload worse. libwebrtc sends
    one about every 200 ms. Wraps the receiver's (internal) ``_send_rtcp``; other RTCP passes untouched.
    """
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket

    send = receiver._send_rtcp
    last = [float("-inf")]

    async def limited(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            now = time.monotonic()
            if now - last[0] < interval:
                return
            last[0] = now
        await send(packet)

    receiver._send_rtcp = limited


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
        self.layout: tuple[str, ...] = CAMERA_ONLY  # the tracks of the next part (and of the current one
        # while it has not opened yet): see ``set_layout``
        self._sizes: dict[str, tuple[int, int]] = {}  # last known video sizes, the header's guess for a new part

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

    def frames(self, track: str) -> int:
        """Frames of one track recorded in the current part."""
        rec = self._rec
        return rec.frames.get(track, 0) if rec else 0

    def waits_for_keyframe(self, track: str) -> bool:
        """Whether the part being written (or the next one, between parts) records video track ``track`` but
        has no keyframe of it yet: nothing of it is recorded until one comes, so its sender should be asked."""
        rec = self._rec
        return rec.waits_for_keyframe(track) if rec is not None else track in self.layout

    def video(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded VP8 frame (see :meth:`WebmRecorder.video`)."""
        self.feed("video", data, timestamp, now)

    def audio(self, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded Opus frame (see :meth:`WebmRecorder.audio`)."""
        self.feed("audio", data, timestamp, now)

    def feed(self, track: str, data: bytes, timestamp: int, now: float | None = None) -> None:
        """One encoded frame of a named track (see :meth:`WebmRecorder.feed`)."""
        rec = self._rec
        if rec is None:
            self._maybe_retry()
            return
        try:
            rec.feed(track, data, timestamp, now)
        except Exception as err:
            self._fail(rec, err)

    def set_layout(self, layout: tuple[str, ...]) -> bool:
        """The tracks to record from now on. A part that has not opened yet takes them at once; an open part
        keeps its own (a WebM header cannot grow): returns False then, and :meth:`new_part` starts one."""
        with self._lock:
            self.layout = layout
            rec = self._rec
            if rec is not None and not rec.opened:
                rec.layout = layout
                return True
            return rec is None

    def new_part(self) -> None:
        """End the current part and open the next one with the current layout (blocking: call it off the
        media thread). The new part starts at the camera's next keyframe, which is asked for."""
        with self._lock:
            if self.closed:
                return
            rec, self._rec = self._rec, None
            if rec is not None:
                self._done_frames[0] += rec.video_frames
                self._done_frames[1] += rec.audio_frames
                self._sizes.update(rec.sizes)
        if rec is not None:
            _close_quietly(rec)
        self._reopen()

    def _fail(self, rec: WebmRecorder, err: BaseException) -> None:
        with self._lock:
            if self._rec is not rec:
                return
            self._rec = None
            self._done_frames[0] += rec.video_frames
            self._done_frames[1] += rec.audio_frames
            self._sizes.update(rec.sizes)
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
                self._rec = WebmRecorder(sink, self.layout, self._sizes)
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
