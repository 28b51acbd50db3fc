"""The media engine: one asyncio loop in its own thread owns every aiortc object.

Flask talks to it only through ``MediaEngine``'s methods, which take and return plain values
(SDP text, ids, dicts) and hand work to the loop with ``run_coroutine_threadsafe``. Each
session (an attempt) may reconnect: a new offer for the same session closes the old peer
connection and starts a new recording part. CPU-heavy work never runs in the loop: frames for
snapshots are handed to ``on_frame`` at about one per second, events to ``on_event``, both on
a worker pool.

Decoding is the costly part of receiving video, and analysis wants one picture a second: while nobody
watches live and nothing is re-encoded, only keyframes are decoded, and a keyframe is asked for (RTCP
PLI) when a picture is due (``_VideoGate``). The recording still gets every encoded frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import fractions
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

from kernel.errors import Conflict, DomainError
from proctoring.recorder import PartRecorder, Sink, tap_audio_levels, tap_receiver, vp8_keyframe_size
from proctoring.sdp import BadOffer, check_offer
from proctoring.voice import VoiceDetector

log = logging.getLogger(__name__)

SinkFactory = Callable[[str, int], Sink]


class NotLive(Conflict):
    """There is no live stream to watch (the candidate is not connected to this engine)."""

    code = "not_live"


class EngineBusy(DomainError):
    """The engine did not answer in time (overloaded); the browser retries."""

    status = 503
    code = "media_busy"


class EngineFull(EngineBusy):
    """The engine holds as many live sessions as it may (MEDIA_ENGINE_MAX_SESSIONS); a new one waits.

    The web app then tries another engine; the browser retries by itself, the exam goes on meanwhile.
    """

    code = "media_full"

    @classmethod
    def default_message(cls) -> str:
        """What the candidate reads."""
        return str(_l("All media servers are busy. The connection is tried again by itself; your exam goes on."))


FrameCallback = Callable[[str, Any, float], None]
EventCallback = Callable[[str, dict[str, Any]], None]


@dataclasses.dataclass
class _Session:
    pc: Any = None
    recorder: PartRecorder | None = None
    video_receiver: Any = None  # to ask the browser for a keyframe when a new part starts
    part: int = 0
    state: str = "new"
    connected_at: float | None = None
    disconnected_at: float | None = None
    last_frame_at: float = 0.0
    frame_pending: bool = False
    tasks: list[asyncio.Task[Any]] = dataclasses.field(default_factory=list)
    video: Any = None  # the candidate's video track and one relay that fans it out (sampler, viewers)
    audio: Any = None
    relay: Any = None
    watchers: dict[str, Any] = dataclasses.field(default_factory=dict)
    transcode: bool = False  # the browser sent H.264: decode and re-encode to VP8 for the recording
    voice: VoiceDetector = dataclasses.field(default_factory=VoiceDetector)
    voice_checked_at: float = 0.0
    voice_reported_at: float = 0.0
    keyframes_requested: int = 0  # keyframes asked for because a picture was due (what they cost: bench)
    keyframe_lead: float = 0.0  # how long before a picture is due its keyframe is asked for (the answer's delay)
    frames_decoded: int = 0


class _VideoGate:
    """Decides, frame by frame, whether aiortc decodes a received video frame.

    Every frame while someone watches live or the stream is re-encoded (from a keyframe on: a decoder
    that skipped frames has no pictures to refer to). Otherwise only when analysis wants a picture
    (``on_frame`` set, none pending, ``frame_interval`` since the last): then the next keyframe is
    decoded, and one is asked for (RTCP PLI, again after ``frame_interval`` if none came). ``saw`` is
    called with each frame just before ``decode`` is asked about the same frame (``TapQueue``'s order).
    """

    def __init__(self, engine: MediaEngine, session: _Session, loop: asyncio.AbstractEventLoop) -> None:
        self._engine, self._session, self._loop = engine, session, loop
        self._key = False
        self._synced = False  # the decoder has had every frame since a keyframe
        self._asked_at = float("-inf")

    def saw(self, codec: Any, data: bytes) -> None:
        """The frame about to be decided on (a VP8 keyframe? other codecs count as keyframes: decoded)."""
        self._key = codec.mimeType.lower() != "video/vp8" or vp8_keyframe_size(data) is not None

    def decode(self) -> bool:
        """Whether the frame last seen goes to the decoder."""
        s, eng = self._session, self._engine
        now = time.monotonic()
        if s.watchers or s.transcode:
            wanted = self._synced or self._key
            if not wanted:
                self._ask(now, eng.frame_interval / 4)
        elif not eng.decode_video or eng.on_frame is None or not eng._picture_due(s, now):
            wanted = False
        else:
            wanted = self._key
            if wanted and self._asked_at > s.last_frame_at:  # learn how long the browser takes to answer
                s.keyframe_lead = min(eng.frame_interval / 2, 0.7 * s.keyframe_lead + 0.3 * (now - self._asked_at))
            if not wanted:
                self._ask(now, eng.frame_interval)
        self._synced = wanted and (self._synced or self._key)
        if wanted:
            s.frames_decoded += 1
        return wanted

    def _ask(self, now: float, every: float) -> None:
        if now - self._asked_at >= every:
            self._asked_at = now
            self._session.keyframes_requested += 1
            self._engine._request_keyframe(self._loop, self._session)


class MediaEngine:
    """Receives candidates' WebRTC streams and records them; thread-safe facade over one event loop."""

    def __init__(self, *, ice_servers: list[dict[str, Any]] | None = None, host_addresses: list[str] | None = None,
                 decode_video: bool = True, frame_interval: float = 1.0,
                 on_frame: FrameCallback | None = None, on_event: EventCallback | None = None,
                 recording_retry: float = 10.0, workers: int = 2, max_sessions: int = 0) -> None:
        self.ice_servers = ice_servers or []
        self.max_sessions = max_sessions  # live sessions at most (0: no limit); reconnects always get in
        self.recording_retry = recording_retry  # seconds between attempts to reopen storage after it failed
        self.host_addresses = host_addresses
        self.decode_video = decode_video
        self.frame_interval = frame_interval
        self.on_frame = on_frame
        self.on_event = on_event
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[str, _Session] = {}
        # Two pools: signalling work (opening recording sinks, events, closing parts) never waits behind
        # frame analysis, and analysis is bounded to one pending frame per session (a slow machine drops
        # samples instead of queueing them without limit).
        # ``workers`` threads each (MEDIA_ENGINE_WORKERS): about the cores this engine process may use.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media-work")
        self._analysis = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                               thread_name_prefix="media-analysis")
        self._transcoder = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                                 thread_name_prefix="media-transcode")

    # ------------------------------------------------------------------ facade (any thread)

    def start(self) -> None:
        """Start the loop thread (idempotent)."""
        if self._thread is not None:
            return
        if self.host_addresses is not None:
            import aioice.ice

            addresses = list(self.host_addresses)
            aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: addresses
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            ready.set()
            try:
                self._loop.run_forever()
            finally:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.close()

        self._thread = threading.Thread(target=run, name="media-engine", daemon=True)
        self._thread.start()
        ready.wait()

    def _call(self, coro: Any, timeout: float) -> Any:
        if self._loop is None:
            self.start()
        assert self._loop is not None  # noqa: S101
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            log.warning("media engine call timed out after %s s", timeout)
            raise EngineBusy("The media server is busy. Please wait a moment.") from None

    def answer(self, session_id: str, offer_sdp: str, sink_factory: SinkFactory, timeout: float = 20) -> str:
        """Accept a browser's offer for ``session_id`` and return the answer SDP (raises BadOffer)."""
        sdp = check_offer(offer_sdp)
        return str(self._call(self._answer(session_id, sdp, sink_factory), timeout))

    def watch(self, session_id: str, viewer_id: str, offer_sdp: str, timeout: float = 20) -> str:
        """Relay a live session's video and audio to a viewer (a proctor's browser); returns the answer SDP."""
        if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0") or len(offer_sdp) > 64 * 1024:
            raise BadOffer("The offer is not SDP.")
        return str(self._call(self._watch(session_id, viewer_id, offer_sdp), timeout))

    def close_session(self, session_id: str, timeout: float = 10) -> None:
        """Hang up and finish the recording part."""
        self._call(self._close(session_id), timeout)

    def stats(self, session_id: str) -> dict[str, Any] | None:
        """Connection state and recording counters of a session (None if unknown)."""
        s = self._sessions.get(session_id)
        if s is None:
            return None
        rec = s.recorder
        return {"state": s.state, "part": s.part, "video_frames": rec.video_frames if rec else 0,
                "audio_frames": rec.audio_frames if rec else 0, "size": rec.size if rec else None,
                "recording": rec.status if rec else None, "frames_decoded": s.frames_decoded,
                "keyframes_requested": s.keyframes_requested}

    def sessions(self) -> list[str]:
        """Ids of the sessions this engine holds."""
        return list(self._sessions)

    def live_sessions(self) -> int:
        """Sessions with a connection that is up or on its way (not the ones whose browser is gone)."""
        return sum(1 for s in list(self._sessions.values()) if s.pc is not None and s.state not in ("failed", "closed"))

    def stop(self) -> None:
        """Close every session and stop the loop."""
        if self._loop is None:
            return
        for sid in list(self._sessions):
            try:
                self.close_session(sid)
            except Exception:  # stopping anyway
                log.exception("closing %s failed", sid)
        loop = self._loop
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout=5)
        # Wait for work under way (closing recording parts, events and flags written to the database), so
        # that nothing of a session is cut off and no database connection is left checked out; frames
        # still queued for analysis or re-encoding are dropped.
        self._pool.shutdown(wait=True)
        self._analysis.shutdown(wait=True, cancel_futures=True)
        self._transcoder.shutdown(wait=False, cancel_futures=True)
        self._loop, self._thread = None, None

    # ------------------------------------------------------------------ inside the loop

    async def _answer(self, session_id: str, sdp: str, sink_factory: SinkFactory) -> str:
        from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
        from aiortc.rtcrtpsender import RTCRtpSender

        if self.max_sessions and session_id not in self._sessions and self.live_sessions() >= self.max_sessions:
            raise EngineFull()
        session = self._sessions.setdefault(session_id, _Session())
        if session.pc is not None:
            await self._hang_up(session)
        session.part += 1
        part = session.part
        config = RTCConfiguration(iceServers=[RTCIceServer(**srv) for srv in self.ice_servers])
        pc = RTCPeerConnection(configuration=config)
        session.pc, session.state = pc, "connecting"
        loop = asyncio.get_running_loop()
        recorder = PartRecorder(lambda: sink_factory(session_id, part),
                                lambda status: self._recording_status(session_id, part, status),
                                request_keyframe=lambda: self._request_keyframe(loop, session),
                                run_later=self._pool.submit, retry=self.recording_retry)
        await loop.run_in_executor(self._pool, recorder.start)
        session.recorder = recorder

        @pc.on("track")
        def on_track(track: Any) -> None:
            from aiortc.contrib.media import MediaRelay

            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            if session.relay is None:
                session.relay = MediaRelay()
            if track.kind == "video":
                session.video, session.video_receiver = track, receiver

                gate = _VideoGate(self, session, loop)

                def on_video(codec: Any, f: Any) -> None:
                    gate.saw(codec, f.data)
                    if codec.mimeType.lower() == "video/vp8":
                        recorder.video(f.data, f.timestamp)  # copied as received
                    elif not session.transcode:  # only codecs that can't be copied are re-encoded
                        session.transcode = True
                        session.tasks.append(asyncio.ensure_future(
                            self._transcode(session, session.relay.subscribe(track, buffered=False), recorder)))

                # Decoded video is needed for snapshots and flags (keyframes only), while someone watches
                # live, and to re-encode (every frame).
                tap_receiver(receiver, on_video, gate.decode)
                if self.decode_video:
                    session.tasks.append(asyncio.ensure_future(
                        self._sample(session_id, session, session.relay.subscribe(track, buffered=False))))
            else:
                session.audio = track
                # Audio is decoded only while a proctor listens; voice activity comes from RTP audio levels.
                tap_receiver(receiver, lambda _c, f: recorder.audio(f.data, f.timestamp),
                             lambda: bool(session.watchers))
                tap_audio_levels(receiver, lambda level: self._on_level(session_id, session, level))

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            @channel.on("message")
            def on_message(message: Any) -> None:
                if self.on_event is None or not isinstance(message, str) or len(message) > 4096:
                    return
                try:
                    event = json.loads(message)
                except ValueError:
                    return
                if isinstance(event, dict):  # the browser cannot claim to be the engine
                    loop.run_in_executor(self._pool, self.on_event, session_id, {**event, "origin": "browser"})

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if session.pc is not pc:
                return
            session.state = pc.connectionState
            if pc.connectionState == "connected":
                gap = None if session.disconnected_at is None else time.monotonic() - session.disconnected_at
                session.connected_at, session.disconnected_at = time.monotonic(), None
                if self.on_event is not None:
                    loop.run_in_executor(self._pool, self.on_event, session_id,
                                         {"type": "media_connected", "part": part, "gap_seconds": gap,
                                          "origin": "engine"})
            elif pc.connectionState in ("failed", "closed", "disconnected"):
                if session.disconnected_at is None:
                    session.disconnected_at = time.monotonic()
                if pc.connectionState != "disconnected":
                    await loop.run_in_executor(self._pool, recorder.close)
                    if self.on_event is not None:
                        loop.run_in_executor(self._pool, self.on_event, session_id,
                                             {"type": "media_disconnected", "part": part, "origin": "engine"})

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    caps = RTCRtpSender.getCapabilities("video")
                    prefs = [c for c in caps.codecs if c.mimeType in ("video/VP8", "video/rtx")]
                    prefs += [c for c in caps.codecs if c.mimeType == "video/H264"]  # the fallback
                    transceiver.setCodecPreferences(prefs)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:
            await self._hang_up(session)
            # aiortc's text is for our log, not for the browser (it can name internals of the engine)
            log.info("offer refused by aiortc: %s: %s", type(err).__name__, err)
            raise BadOffer("The offer could not be accepted.") from None
        return _raise_bitrate(pc.localDescription.sdp)

    async def _watch(self, session_id: str, viewer_id: str, sdp: str) -> str:
        from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

        session = self._sessions.get(session_id)
        if session is None or session.video is None or session.relay is None:
            raise NotLive("The candidate is not connected right now.")
        old = session.watchers.pop(viewer_id, None)
        if old is not None:
            await old.close()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(**srv) for srv in self.ice_servers]))
        session.watchers[viewer_id] = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and session.watchers.get(viewer_id) is pc:
                session.watchers.pop(viewer_id, None)
                await pc.close()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            pc.addTrack(session.relay.subscribe(session.video, buffered=False))
            if session.audio is not None:
                pc.addTrack(session.relay.subscribe(session.audio, buffered=False))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:
            session.watchers.pop(viewer_id, None)
            await pc.close()
            log.info("viewer offer refused by aiortc: %s: %s", type(err).__name__, err)
            raise BadOffer("The offer could not be accepted.") from None
        return str(pc.localDescription.sdp)

    async def _sample(self, session_id: str, session: _Session, track: Any) -> None:
        """Consume decoded frames; hand one per interval to ``on_frame`` on the worker pool."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except Exception:  # track ended
                return
            now = time.monotonic()
            if self.on_frame is not None and self._picture_due(session, now):
                session.last_frame_at, session.frame_pending = now, True
                loop.run_in_executor(self._analysis, self._deliver, session_id, session, frame)

    def _picture_due(self, session: _Session, now: float) -> bool:
        """Whether analysis takes the next picture: none pending, and about ``frame_interval`` since the last
        (less the delay of a keyframe request, so that pictures come about every ``frame_interval``)."""
        return not session.frame_pending and now - session.last_frame_at >= self.frame_interval - session.keyframe_lead

    def _recording_status(self, session_id: str, part: int, status: str) -> None:
        """Tell the platform that recording failed (storage unreachable or full) or resumed."""
        if self.on_event is not None:
            kind = "recording_failed" if status == "storage_failed" else "recording_resumed"
            self._pool.submit(self.on_event, session_id, {"type": kind, "part": part, "origin": "engine"})

    def _request_keyframe(self, loop: asyncio.AbstractEventLoop, session: _Session) -> None:
        """Ask the browser for a keyframe (RTCP PLI), so that a new recording part starts at once."""
        receiver = session.video_receiver
        if receiver is None:
            return
        for source in receiver.getSynchronizationSources():
            asyncio.run_coroutine_threadsafe(receiver._send_rtcp_pli(source.source), loop)

    async def _transcode(self, session: _Session, track: Any, recorder: PartRecorder) -> None:
        """Re-encode decoded frames to VP8 for the recording, only while the browser sends a non-VP8 codec."""
        loop = asyncio.get_running_loop()
        encoder: Any = None
        size: tuple[int, int] | None = None

        def encode(frame: Any) -> None:
            nonlocal encoder, size
            import av

            if encoder is None:
                size = (frame.width - frame.width % 2, frame.height - frame.height % 2)
                encoder = av.CodecContext.create("libvpx", "w")
                encoder.width, encoder.height = size
                encoder.pix_fmt = "yuv420p"
                encoder.time_base = fractions.Fraction(1, 90000)
                encoder.bit_rate = 1_000_000
                encoder.gop_size = 60
                encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            assert size is not None  # noqa: S101
            img = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            img.pts, img.time_base = frame.pts, fractions.Fraction(1, 90000)
            for pkt in encoder.encode(img):
                recorder.video(bytes(pkt), int(pkt.pts or 0))

        while True:
            try:
                frame = await track.recv()
            except Exception:  # track ended
                return
            await loop.run_in_executor(self._transcoder, encode, frame)

    def _on_level(self, session_id: str, session: _Session, level: int) -> None:
        """One audio packet's level; once a second, report sustained speech (at most every 5 s)."""
        now = time.monotonic()
        session.voice.add(now, level)
        if now - session.voice_checked_at < 1.0:
            return
        session.voice_checked_at = now
        if self.on_event is not None and now - session.voice_reported_at >= 5.0 and session.voice.sustained(now):
            session.voice_reported_at = now
            asyncio.get_running_loop().run_in_executor(self._pool, self.on_event, session_id,
                                                       {"type": "voice_activity", "origin": "engine"})

    def _deliver(self, session_id: str, session: _Session, frame: Any) -> None:
        assert self.on_frame is not None  # noqa: S101
        try:
            self.on_frame(session_id, frame.to_ndarray(format="bgr24"), time.time())
        except Exception:
            log.exception("frame callback failed for %s", session_id)
        finally:
            session.frame_pending = False

    async def _hang_up(self, session: _Session) -> None:
        for watcher in list(session.watchers.values()):
            await watcher.close()
        session.watchers.clear()
        session.video = session.audio = session.relay = session.video_receiver = None
        for task in session.tasks:
            task.cancel()
        session.tasks.clear()
        pc, session.pc = session.pc, None
        if pc is not None:
            await pc.close()
        if session.recorder is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, session.recorder.close)
        if session.disconnected_at is None:
            session.disconnected_at = time.monotonic()

    async def _close(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            await self._hang_up(session)
            session.state = "closed"


def _raise_bitrate(sdp: str) -> str:
    """Ask the browser to start its video at a usable bitrate (its estimator starts low on loopback)."""
    out = []
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("m=video"):
            out.append("b=AS:2000")
    return "\r\n".join(out) + "\r\n"
