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
import contextlib
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
from proctoring.ice import hide_mdns_candidates, offered_candidates, path_of, use_host_addresses, watch_connection
from proctoring.recorder import PartRecorder, Sink, limit_remb, tap_audio_levels, tap_receiver, vp8_keyframe_size
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


class TranscodeFull(EngineFull):
    """The browser sends video only as H.264 (re-encoded to VP8 for the recording, about a core each), and this
    engine re-encodes as many streams as it may (MEDIA_ENGINE_MAX_TRANSCODES)."""

    code = "media_transcode_full"

    @classmethod
    def default_message(cls) -> str:
        """What the candidate reads."""
        return str(_l("Your browser sends video in a format our media servers can take only a few of at a time, "
                      "and they are all taken. Please use a current Chrome, Firefox or Edge; the connection is "
                      "tried again by itself, your exam goes on."))


FrameCallback = Callable[[str, Any, float], None]
_GONE_KEPT = 1000
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
    h264: bool = False  # the answer took H.264: this session will be re-encoded (counted against the cap)
    messages_minute: int = 0  # data-channel messages in this minute (more than the limit are dropped)
    messages_in_minute: int = 0
    screen_receiver: Any = None  # the candidate's screen: the second video track of the same connection
    screen: Any = None  # its track (relayed to a proctor watching live)
    oral: OralCall | None = None  # an oral exam: the examiner's call, forwarded both ways (see OralCall)
    keyframes_requested: int = 0  # keyframes asked for because a picture was due (what they cost: bench)
    keyframe_lead: float = 0.0  # how long before a picture is due its keyframe is asked for (the answer's delay)
    frames_decoded: int = 0
    captures: int = 0  # liveness captures under way (proctoring.liveness_capture): every frame is decoded
    frame_interval: float = 1.0  # seconds between pictures for analysis (MediaEngine.picture_interval)


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
        if s.watchers or s.transcode or s.captures:
            wanted = self._synced or self._key
            if not wanted:
                self._ask(now, eng.frame_interval / 4)
        elif not eng.decode_video or eng.on_frame is None or not eng._picture_due(s, now):
            wanted = False
        else:
            wanted = self._key
            if wanted and self._asked_at > s.last_frame_at:  # learn how long the browser takes to answer
                s.keyframe_lead = min(s.frame_interval / 2, 0.7 * s.keyframe_lead + 0.3 * (now - self._asked_at))
            if not wanted:
                self._ask(now, s.frame_interval)
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
                 recording_retry: float = 10.0, workers: int = 2, max_sessions: int = 0, max_transcodes: int = 0,
                 messages_per_minute: int = 0, on_screen_frame: FrameCallback | None = None,
                 screen_interval: float = 5.0, connect_timeout: float = 20.0) -> None:
        self.ice_servers = ice_servers or []
        # Seconds a browser has to reach the engine after its answer; then the connection is closed and the reason
        # logged (the browser's page says so too). Without it a browser that offered only mDNS names (which the
        # engine leaves out, see proctoring.ice) and never sent a check would hold its connection for ever.
        self.connect_timeout = connect_timeout
        self._timers: set[asyncio.Task[None]] = set()
        self.max_sessions = max_sessions  # live sessions at most (0: no limit); reconnects always get in
        self.max_transcodes = max_transcodes  # H.264 sessions re-encoded at once (0: no limit)
        self.messages_per_minute = messages_per_minute  # data-channel messages per session a minute (0: no limit)
        # Sessions dropped from the table because their connection failed or closed: part number, time of
        # leaving and last stats, so that a reconnect continues the numbering and knows its gap, and the stats
        # still answer (the last ``_GONE_KEPT`` only: a few numbers each, nothing of aiortc).
        self._gone: dict[str, tuple[int, float | None, dict[str, Any]]] = {}
        self.recording_retry = recording_retry  # seconds between attempts to reopen storage after it failed
        self.host_addresses = host_addresses
        self.decode_video = decode_video
        self.frame_interval = frame_interval
        # Per session, the seconds between pictures for analysis when not ``frame_interval`` (by session id; the
        # phone as the second camera needs only the tile's picture now and then: proctoring.live).
        self.picture_interval: Callable[[str], float | None] = lambda _sid: None
        self.on_frame = on_frame
        self.on_event = on_event
        self.on_stop: Callable[[], None] | None = None  # called last by stop(): the caller's workers close
        self.on_screen_frame = on_screen_frame  # a picture of the candidate's screen every ``screen_interval`` s
        self.screen_interval = screen_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[str, _Session] = {}
        self._captures: set[asyncio.Future[None]] = set()  # liveness captures under way (they outlive a hang-up)
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
        use_host_addresses(self.host_addresses)
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

    def answer(self, session_id: str, offer_sdp: str, sink_factory: SinkFactory, timeout: float = 20, *,
               screen: bool = False, oral: bool = False) -> str:
        """Accept a browser's offer for ``session_id`` and return the answer SDP (raises BadOffer).

        ``screen``: the exam records the candidate's screen, sent as the second video track (without it a
        second video track is not recorded). ``oral``: an oral exam; the candidate's camera and microphone
        tracks also carry the examiner's back (see :meth:`join`)."""
        sdp = check_offer(offer_sdp)
        return str(self._call(self._answer(session_id, sdp, sink_factory, screen=screen, oral=oral), timeout))

    def join(self, session_id: str, examiner_id: str, offer_sdp: str, timeout: float = 20) -> str:
        """An examiner joins a live oral session with camera and microphone; returns the answer SDP.

        Both sides' encoded frames are forwarded as they are (no decoding, mixing or re-encoding), and the
        recording continues in a new part that holds the examiner's tracks beside the candidate's."""
        sdp = check_offer(offer_sdp)
        return str(self._call(self._join(session_id, examiner_id, sdp), timeout))

    def receive(self, session_id: str, viewer_id: str, timeout: float = 20) -> str | None:
        """None: here each side of a call receives the other on its own connection (the candidate's camera and
        microphone transceivers, the examiner's offer); the Janus plane offers a second connection instead."""
        return None

    def receive_answer(self, session_id: str, viewer_id: str, answer_sdp: object, timeout: float = 20) -> None:
        """Nothing was offered here (see :meth:`receive`)."""
        raise NotLive("No call is going on right now.")

    def watch(self, session_id: str, viewer_id: str, offer_sdp: str, timeout: float = 20) -> str:
        """Relay a live session's video and audio to a viewer (a proctor's browser); returns the answer SDP."""
        if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0") or len(offer_sdp) > 64 * 1024:
            raise BadOffer("The offer is not SDP.")
        return str(self._call(self._watch(session_id, viewer_id, offer_sdp), timeout))

    def close_session(self, session_id: str, timeout: float = 10) -> None:
        """Hang up and finish the recording part."""
        self._call(self._close(session_id), timeout)

    def capture(self, session_id: str, until: float, fps: float,
                on_done: Callable[[list[tuple[int, bytes]]], None], timeout: float = 10) -> None:
        """Take about ``fps`` frames a second of the session's received video until unix time ``until``, timed
        at arrival, and hand them as (unix ms, JPEG) to ``on_done`` on the worker pool (NotLive without video)."""
        self._call(self._capture(session_id, until, fps, on_done), timeout)

    def stats(self, session_id: str) -> dict[str, Any] | None:
        """Connection state and recording counters of a session (None if unknown)."""
        s = self._sessions.get(session_id)
        if s is None:
            gone = self._gone.get(session_id)
            return dict(gone[2]) if gone is not None else None
        rec = s.recorder
        return {"state": s.state, "part": s.part, "video_frames": rec.video_frames if rec else 0,
                "audio_frames": rec.audio_frames if rec else 0, "size": rec.size if rec else None,
                "recording": rec.status if rec else None, "frames_decoded": s.frames_decoded,
                "keyframes_requested": s.keyframes_requested,
                "screen_frames": rec.frames("screen") if rec else 0,
                "path": path_of(s.pc) if s.pc is not None and s.state == "connected" else None}

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

        def cancel_timers() -> None:
            for timer in list(self._timers):
                timer.cancel()

        loop.call_soon_threadsafe(cancel_timers)
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
        if self.on_stop is not None:
            self.on_stop()

    # ------------------------------------------------------------------ inside the loop

    async def _answer(self, session_id: str, sdp: str, sink_factory: SinkFactory, *, screen: bool = False,
                      oral: bool = False) -> str:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
        from aiortc.rtcrtpsender import RTCRtpSender

        if self.max_sessions and session_id not in self._sessions and self.live_sessions() >= self.max_sessions:
            raise EngineFull()
        if session_id not in self._sessions and session_id in self._gone:
            part, left, _stats = self._gone.pop(session_id)
            self._sessions[session_id] = _Session(part=part, disconnected_at=left)
        session = self._sessions.setdefault(session_id, _Session())
        session.frame_interval = self.picture_interval(session_id) or self.frame_interval
        if session.pc is not None:
            await self._hang_up(session)
        session.part += 1
        part = session.part
        # max-bundle: with aiortc's default ("balanced") a second video track of a browser's offer (the screen)
        # keeps the transport the first one had before BUNDLE moved it, and receives nothing (aiortc 1.16).
        config = RTCConfiguration(iceServers=[RTCIceServer(**srv) for srv in self.ice_servers],
                                  bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
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
            if track.kind == "video" and _video_index(pc, receiver) >= 1:
                if screen and _video_index(pc, receiver) == 1:
                    _on_screen_track(self, session_id, session, track, receiver, recorder, loop)
            elif track.kind == "video":
                session.video, session.video_receiver = track, receiver

                gate = _VideoGate(self, session, loop)

                def on_video(codec: Any, f: Any) -> None:
                    gate.saw(codec, f.data)
                    if codec.mimeType.lower() == "video/vp8":
                        recorder.video(f.data, f.timestamp)  # copied as received
                        if session.oral is not None and session.oral.live:
                            session.oral.to_examiner.video.push(f.data, f.timestamp)
                    elif not session.transcode:  # only codecs that can't be copied are re-encoded
                        session.transcode = True
                        session.tasks.append(asyncio.ensure_future(
                            self._transcode(session, session.relay.subscribe(track, buffered=False), recorder)))

                # Decoded video is needed for snapshots and flags (keyframes only), while someone watches
                # live, and to re-encode (every frame).
                tap_receiver(receiver, on_video, gate.decode)
                limit_remb(receiver)
                if self.decode_video:
                    session.tasks.append(asyncio.ensure_future(
                        self._sample(session_id, session, session.relay.subscribe(track, buffered=False))))
            else:
                session.audio = track
                # Audio is decoded only while a proctor listens; voice activity comes from RTP audio levels.
                def on_audio(_c: Any, f: Any) -> None:
                    recorder.audio(f.data, f.timestamp)
                    if session.oral is not None and session.oral.live:
                        session.oral.to_examiner.audio.push(f.data, f.timestamp)

                tap_receiver(receiver, on_audio, lambda: bool(session.watchers))
                tap_audio_levels(receiver, lambda level: self._on_level(session_id, session, level))

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            @channel.on("message")
            def on_message(message: Any) -> None:
                if self.on_event is None or not isinstance(message, str) or len(message) > 4096:
                    return
                if not self._message_allowed(session):
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
                    # A failed connection holds nothing worth keeping: its peer connection, relay and tasks go,
                    # and so does its entry (a browser that never comes back leaves nothing behind).
                    if session.pc is pc and self._sessions.get(session_id) is session:
                        await self._hang_up(session)
                        # Closed meanwhile (a hang-up, the engine stopping: seen in bench/recording.py's phone row
                        # as a KeyError here): then _close has removed it already.
                        if self._sessions.get(session_id) is not session:
                            return
                        final = self.stats(session_id) or {}
                        del self._sessions[session_id]
                        self._gone.pop(session_id, None)
                        self._gone[session_id] = (session.part, session.disconnected_at, final)
                        while len(self._gone) > _GONE_KEPT:
                            del self._gone[next(iter(self._gone))]

        offered = offered_candidates(sdp)
        sdp, _hidden = hide_mdns_candidates(sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if screen and sum(1 for t in pc.getTransceivers() if t.kind == "video") >= 2:
                recorder.set_layout(SCREEN_LAYOUT)
            elif not oral and not _sends_audio(sdp):  # a camera without a microphone (the phone as second camera)
                recorder.set_layout(VIDEO_ONLY)
            if oral:
                session.oral = OralCall.for_candidate(pc, session, loop)
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
        session.h264 = _video_codec(pc.localDescription.sdp) not in (None, "vp8")
        if session.h264 and self.max_transcodes and sum(
                1 for other in list(self._sessions.values())
                if other is not session and other.h264 and other.pc is not None) >= self.max_transcodes:
            await self._hang_up(session)
            if self._sessions.get(session_id) is session:
                del self._sessions[session_id]
            raise TranscodeFull()
        self._watch_connection(pc, f"session {session_id}", offered)
        return _raise_bitrate(pc.localDescription.sdp)

    def _watch_connection(self, pc: Any, what: str, offered: dict[str, int]) -> None:
        """Log why ``pc`` fails, and close it if the browser has not reached it within ``connect_timeout``."""
        timer = watch_connection(pc, what, offered, self.connect_timeout)
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    def _message_allowed(self, session: _Session) -> bool:
        """Count a data-channel message; False past ``messages_per_minute`` in this minute (it is dropped)."""
        if not self.messages_per_minute:
            return True
        minute = int(time.monotonic() // 60)
        if session.messages_minute != minute:
            session.messages_minute, session.messages_in_minute = minute, 0
        session.messages_in_minute += 1
        if session.messages_in_minute == self.messages_per_minute + 1:
            log.warning("data-channel messages over the limit (%d a minute): the rest of this minute is dropped",
                        self.messages_per_minute)
        return session.messages_in_minute <= self.messages_per_minute

    async def _capture(self, session_id: str, until: float, fps: float,
                       on_done: Callable[[list[tuple[int, bytes]]], None]) -> None:
        from proctoring import liveness_capture

        session = self._sessions.get(session_id)
        if session is None or session.video is None or session.relay is None:
            raise NotLive("The camera is not connected right now.")
        loop = asyncio.get_running_loop()
        track = session.relay.subscribe(session.video, buffered=False)
        session.captures += 1
        self._request_keyframe(loop, session)  # decoding starts at the next keyframe: ask for one now

        async def run() -> None:
            try:
                frames = await liveness_capture.grab(track, until, fps)
            finally:
                session.captures -= 1
                track.stop()  # leaves the relay
            jpegs = await loop.run_in_executor(self._analysis, liveness_capture.to_jpegs, frames)
            loop.run_in_executor(self._pool, _safely, on_done, jpegs)

        # Not one of the session's tasks, which a hang-up cancels: a candidate who closes the camera right
        # after the last move (the page, a lost connection) still hands over the frames taken, or too few
        # for a decision (then the check asks for a retake); never nothing, which left the check waiting.
        task = asyncio.ensure_future(run())
        self._captures.add(task)
        task.add_done_callback(self._captures.discard)

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

        offered = offered_candidates(sdp)
        sdp, _hidden = hide_mdns_candidates(sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            pc.addTrack(session.relay.subscribe(session.video, buffered=False))
            if session.audio is not None:
                pc.addTrack(session.relay.subscribe(session.audio, buffered=False))
            if session.screen is not None and sdp.count("m=video") >= 2:  # the viewer asked for the screen too
                pc.addTrack(session.relay.subscribe(session.screen, buffered=False))
                _ask_keyframe(asyncio.get_running_loop(), session.screen_receiver)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:
            session.watchers.pop(viewer_id, None)
            await pc.close()
            log.info("viewer offer refused by aiortc: %s: %s", type(err).__name__, err)
            raise BadOffer("The offer could not be accepted.") from None
        self._watch_connection(pc, f"viewer {viewer_id} of {session_id}", offered)
        return str(pc.localDescription.sdp)

    async def _join(self, session_id: str, examiner_id: str, sdp: str) -> str:
        """The examiner's connection of an oral exam (see :class:`OralCall`)."""
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

        session = self._sessions.get(session_id)
        if session is None or session.video is None or session.oral is None or session.recorder is None:
            raise NotLive("The candidate is not connected right now.")
        call, recorder, loop = session.oral, session.recorder, asyncio.get_running_loop()
        if call.pc is not None:  # the examiner reconnects (or another one takes over): one examiner at a time
            old, call.pc = call.pc, None
            await old.close()
        call.to_examiner = _Pair(PacketTrack("video"), PacketTrack("audio"))  # nothing stale from a previous call
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(**srv) for srv in self.ice_servers],
                                                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        call.pc, call.examiner_id, call.examiner_video, call.live = pc, examiner_id, None, False

        @pc.on("track")
        def on_track(track: Any) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            kind = track.kind
            if kind == "video":
                call.examiner_video = receiver

            asked = [float("-inf")]

            def forward(codec: Any, f: Any) -> None:
                if kind == "video" and codec.mimeType.lower() != "video/vp8":
                    return
                getattr(call.to_candidate, kind).push(f.data, f.timestamp)
                recorder.feed("examiner_" + kind, f.data, f.timestamp)
                # The recording starts the examiner's video at a keyframe. The first one can come before the
                # part with the examiner's tracks is open (a new part opens off this thread), and a browser
                # sends the next only when asked: ask, at most once a second, until the part has one.
                if kind == "video" and recorder.waits_for_keyframe("examiner_video"):
                    now = time.monotonic()
                    if now - asked[0] >= 1.0:
                        asked[0] = now
                        _ask_keyframe(loop, receiver)

            tap_receiver(receiver, forward, lambda: False)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if call.pc is not pc:
                return
            if pc.connectionState == "connected":
                call.live = True
                call.ask_keyframes(loop)
            elif pc.connectionState in ("failed", "closed"):
                call.pc = call.examiner_video = None
                call.live = False
                if self.on_event is not None:  # the candidate's page takes the call away (issue 29)
                    loop.run_in_executor(self._pool, self.on_event, session_id,
                                         {"type": "call_lost", "origin": "engine"})

        offered = offered_candidates(sdp)
        sdp, _hidden = hide_mdns_candidates(sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for kind in ("video", "audio"):
                sender = pc.addTrack(getattr(call.to_examiner, kind))
                if kind == "video":  # the examiner's browser asks for a keyframe: the candidate's sends one
                    sender._send_keyframe = lambda: self._request_keyframe(loop, session)  # type: ignore[method-assign]
            _prefer_vp8(pc)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:
            call.pc = None
            await pc.close()
            log.info("examiner offer refused by aiortc: %s: %s", type(err).__name__, err)
            raise BadOffer("The offer could not be accepted.") from None
        self._watch_connection(pc, f"examiner {examiner_id} of {session_id}", offered)
        # The recording goes on in a new part with the examiner's tracks (a WebM header cannot grow).
        recorder.set_layout(tuple(dict.fromkeys(recorder.layout + ORAL_TRACKS)))
        await loop.run_in_executor(self._pool, recorder.new_part)
        self._request_keyframe(loop, session)
        return _raise_bitrate(pc.localDescription.sdp)

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
        return (not session.frame_pending
                and now - session.last_frame_at >= session.frame_interval - session.keyframe_lead)

    def _recording_status(self, session_id: str, part: int, status: str) -> None:
        """Tell the platform that recording failed (storage unreachable or full) or resumed."""
        if self.on_event is not None:
            kind = "recording_failed" if status == "storage_failed" else "recording_resumed"
            self._pool.submit(self.on_event, session_id, {"type": kind, "part": part, "origin": "engine"})

    def _request_keyframe(self, loop: asyncio.AbstractEventLoop, session: _Session) -> None:
        """Ask the browser for a keyframe (RTCP PLI), so that a new recording part starts at once."""
        for receiver in (session.video_receiver, session.screen_receiver):
            _ask_keyframe(loop, receiver)

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
        if session.oral is not None and session.oral.pc is not None:
            await session.oral.pc.close()
        session.oral = None
        for watcher in list(session.watchers.values()):
            await watcher.close()
        session.watchers.clear()
        session.video = session.audio = session.relay = session.video_receiver = session.screen_receiver = None
        session.screen = None
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
        self._gone.pop(session_id, None)
        session = self._sessions.pop(session_id, None)
        if session is not None:
            await self._hang_up(session)
            session.state = "closed"


#: The track of a part from a browser that sends a camera and no microphone (the phone as the second camera).
VIDEO_ONLY = ("video",)


def _sends_audio(sdp: str) -> bool:
    """Whether an offer's audio section sends (an inactive or receive-only one, or none, does not)."""
    section = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            if section == "audio":
                return True
            section = "audio" if line.startswith("m=audio") and line.split()[1:2] != ["0"] else "other"
        elif section == "audio" and line in ("a=inactive", "a=recvonly"):
            section = "silent"
    return section == "audio"


def _video_codec(sdp: str) -> str | None:
    """The video codec an answer took (its first payload type's name, lower case), or None without video."""
    payload = None
    for line in sdp.splitlines():
        if line.startswith("m=video"):
            fields = line.split()
            if len(fields) < 4 or fields[1] == "0":
                return None
            payload = fields[3]
        elif payload is not None and line.startswith(f"a=rtpmap:{payload} "):
            return line.split(" ", 1)[1].split("/", 1)[0].lower()
    return None


# ---------------------------------------------------------------------- the candidate's screen (issue 19)

#: The tracks of a recording part with the candidate's screen.
SCREEN_LAYOUT = ("video", "audio", "screen")


def _video_index(pc: Any, receiver: Any) -> int:
    """Which video track of the connection ``receiver`` receives: 0 is the camera, 1 the screen (the page adds
    the camera first, so its m-line comes first)."""
    videos = [t.receiver for t in pc.getTransceivers() if t.kind == "video"]
    return videos.index(receiver) if receiver in videos else 0


class _ScreenGate:
    """Which frames of the screen aiortc decodes: every frame (from a keyframe on) while a proctor watches live,
    else one keyframe every ``screen_interval`` seconds for the grid's thumbnail (asked for by PLI when due)."""

    def __init__(self, engine: MediaEngine, session: _Session, loop: asyncio.AbstractEventLoop) -> None:
        self._engine, self._session, self._loop = engine, session, loop
        self.key = self._synced = False
        self.last = self._asked = float("-inf")

    def due(self, now: float) -> bool:
        """Whether the thumbnail wants a new picture."""
        return self._engine.on_screen_frame is not None and now - self.last >= self._engine.screen_interval

    def decode(self) -> bool:
        """Whether the frame last seen goes to the decoder."""
        now = time.monotonic()
        if self._session.watchers:
            wanted = self._synced or self.key
        elif self.due(now):
            wanted = self.key
            if not wanted and now - self._asked >= self._engine.screen_interval:
                self._asked = now
                _ask_keyframe(self._loop, self._session.screen_receiver)
        else:
            wanted = False
        self._synced = wanted and (self._synced or self.key)
        return wanted


def _on_screen_track(engine: MediaEngine, session_id: str, session: _Session, track: Any, receiver: Any,
                     recorder: PartRecorder, loop: asyncio.AbstractEventLoop) -> None:
    """The screen is copied into the recording as it arrives (VP8, a few frames a second); decoded only for the
    thumbnail (a keyframe every few seconds) and while a proctor watches it live."""
    from aiortc.contrib.media import MediaRelay

    session.screen_receiver, session.screen = receiver, track
    if session.relay is None:
        session.relay = MediaRelay()
    gate = _ScreenGate(engine, session, loop)

    def on_screen(codec: Any, f: Any) -> None:
        gate.key = codec.mimeType.lower() == "video/vp8" and vp8_keyframe_size(f.data) is not None
        if codec.mimeType.lower() == "video/vp8":
            recorder.feed("screen", f.data, f.timestamp)

    tap_receiver(receiver, on_screen, gate.decode)
    if engine.on_screen_frame is not None:
        session.tasks.append(asyncio.ensure_future(
            _sample_screen(engine, session_id, gate, session.relay.subscribe(track, buffered=False))))


async def _sample_screen(engine: MediaEngine, session_id: str, gate: _ScreenGate, track: Any) -> None:
    """Hand a decoded screen picture to ``on_screen_frame`` (on the analysis pool) every ``screen_interval``."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            frame = await track.recv()
        except Exception:  # track ended
            return
        now = time.monotonic()
        if gate.due(now) and engine.on_screen_frame is not None:
            gate.last = now
            loop.run_in_executor(engine._analysis, _deliver_screen, engine.on_screen_frame, session_id, frame)


def _deliver_screen(callback: FrameCallback, session_id: str, frame: Any) -> None:
    """On the analysis pool: the picture as BGR pixels to the callback (a failure is logged, never raised)."""
    try:
        callback(session_id, frame.to_ndarray(format="bgr24"), time.time())
    except Exception:
        log.exception("screen frame callback failed for %s", session_id)


def _ask_keyframe(loop: asyncio.AbstractEventLoop, receiver: Any) -> None:
    """Send RTCP PLI for every source ``receiver`` receives (None: nothing to ask)."""
    if receiver is None:
        return
    for source in receiver.getSynchronizationSources():
        asyncio.run_coroutine_threadsafe(receiver._send_rtcp_pli(source.source), loop)


# ---------------------------------------------------------------------- oral exams (issue 19)

#: The examiner's tracks in a recording part of an oral exam, after the candidate's.
ORAL_TRACKS = ("examiner_video", "examiner_audio")


class PacketTrack:
    """A track that sends encoded frames it is handed (VP8 or Opus, with their RTP timestamps) as they are.

    aiortc's sender packetises an ``av.Packet`` without encoding it; a frame is dropped when the receiving
    side lags (queue full) rather than delaying the call. Created inside the engine's loop; ``push`` is
    called there too (from a receiver's ``TapQueue``)."""

    def __new__(cls, kind: str) -> Any:
        from aiortc.mediastreams import MediaStreamTrack

        clock = fractions.Fraction(1, 90000 if kind == "video" else 48000)

        class _Track(MediaStreamTrack):
            def __init__(self) -> None:
                super().__init__()
                self.kind = kind
                self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=120)

            def push(self, data: bytes, timestamp: int) -> None:
                import av

                if self.readyState != "live":
                    return
                packet = av.Packet(data)
                packet.pts, packet.time_base = timestamp, clock
                with contextlib.suppress(asyncio.QueueFull):  # the receiving side lags: drop, don't delay
                    self._queue.put_nowait(packet)

            async def recv(self) -> Any:
                return await self._queue.get()

        return _Track()


@dataclasses.dataclass
class _Pair:
    video: Any
    audio: Any


@dataclasses.dataclass
class OralCall:
    """An oral exam's call: the engine forwards the examiner's encoded frames to the candidate and the
    candidate's to the examiner (no decoding, mixing or re-encoding), and records both."""

    to_candidate: _Pair
    to_examiner: _Pair
    candidate_session: _Session
    pc: Any = None  # the examiner's connection
    examiner_id: str = ""
    examiner_video: Any = None  # the examiner's video receiver (to ask it for keyframes)
    live: bool = False  # the examiner's connection is up: the candidate's frames go to it from now on

    @classmethod
    def for_candidate(cls, pc: Any, session: _Session, loop: asyncio.AbstractEventLoop) -> OralCall:
        """Put the examiner's tracks on the candidate's camera and microphone transceivers (before the answer).

        A candidate who reconnects gets a new call: the examiner joins again."""
        call = cls(_Pair(PacketTrack("video"), PacketTrack("audio")), _Pair(PacketTrack("video"), PacketTrack("audio")),
                   session)
        for kind in ("video", "audio"):
            sender = pc.addTrack(getattr(call.to_candidate, kind))
            if kind == "video":  # the candidate's browser asks for a keyframe: the examiner's sends one
                sender._send_keyframe = lambda: _ask_keyframe(loop, call.examiner_video)
        return call

    def ask_keyframes(self, loop: asyncio.AbstractEventLoop) -> None:
        """Both browsers send a keyframe now (the call has just started)."""
        _ask_keyframe(loop, self.examiner_video)
        _ask_keyframe(loop, self.candidate_session.video_receiver)


def _prefer_vp8(pc: Any) -> None:
    """VP8 for every video transceiver: forwarded frames are VP8 (what the candidate's browser sends)."""
    from aiortc.rtcrtpsender import RTCRtpSender

    caps = RTCRtpSender.getCapabilities("video")
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType in ("video/VP8", "video/rtx")])
def _safely(callback: Callable[[Any], None], value: Any) -> None:
    try:
        callback(value)
    except Exception:
        log.exception("capture callback failed")


def _raise_bitrate(sdp: str) -> str:
    """Ask the browser to start its video at a usable bitrate (its estimator starts low on loopback)."""
    out = []
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("m=video"):
            out.append("b=AS:2000")
    return "\r\n".join(out) + "\r\n"
