"""The web app's side of the media engine: one engine per process, sinks into encrypted storage,
snapshots for the proctor grid, and advisory flags from frames and browser events.

Everything here runs on the engine's worker pool or in requests, never inside the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import cv2
import numpy as np
from flask import Flask

from idcheck.facework import FacePool
from proctoring.engine import MediaEngine
from proctoring.janus import JanusEngine
from proctoring.page_events import apply_event, reportable
from proctoring.sessions import PHONE_CATEGORY, DiscardSink, attempt_of, phone_attempt_of

log = logging.getLogger(__name__)

NO_FACE_AFTER = 3.0  # seconds without a face before the flag is raised
PHONE_PICTURE_SECONDS = 5.0  # the tile's picture of the phone, the second camera


class LiveState:
    """Per-process live data for the proctor grid: latest snapshot and face tracking per attempt."""

    def __init__(self, processes: int = 1) -> None:
        self.lock = threading.Lock()
        self.snapshots: dict[int, tuple[float, bytes]] = {}
        self.no_face_since: dict[int, float] = {}
        self.no_face_confirmed: set[int] = set()  # no face even on the thorough pass, until one is seen
        self.identity_checked_at: dict[int, float] = {}
        self.raised_by_video: dict[int, set[str]] = {}  # kinds the face detectors raised and have not seen end
        self.last_stored: dict[int, float] = {}
        self.faces = FacePool(processes)
        self.screens: dict[int, tuple[float, bytes]] = {}  # the latest thumbnail of the candidate's screen
        self.phones: dict[int, tuple[float, bytes]] = {}  # the latest picture of the phone, the second camera


def engine(app: Flask) -> MediaEngine | JanusEngine:
    """The media engine of this process, created and started on first use: aiortc in this process, or Janus
    (``MEDIA_PLANE = "janus"``, ``proctoring.janus``) with our recorders beside it."""
    eng = app.extensions.get("aufsicht.media")
    if eng is None:
        state = LiveState(max(0, int(app.config.get("PROCTORING_FACE_PROCESSES", 1))))
        app.extensions["aufsicht.live"] = state
        cfg = app.config
        if cfg.get("MEDIA_PLANE", "aiortc") == "janus":
            eng = _janus_engine(app, state)
            app.extensions["aufsicht.media"] = eng
            return eng
        eng = MediaEngine(
            ice_servers=cfg.get("MEDIA_ICE_SERVERS") or [],
            host_addresses=cfg.get("MEDIA_HOST_ADDRESSES"),
            decode_video=bool(cfg.get("MEDIA_DECODE_VIDEO", True)),
            on_frame=lambda sid, frame, ts: _on_frame(app, state, sid, frame, ts),
            on_event=lambda sid, event: _on_event(app, sid, event),
            recording_retry=float(cfg.get("MEDIA_RECORDING_RETRY_SECONDS", 10)),
            workers=max(1, int(cfg.get("MEDIA_ENGINE_WORKERS", 2))),
            max_sessions=max(0, int(cfg.get("MEDIA_ENGINE_MAX_SESSIONS", 0))),
            max_transcodes=max(0, int(cfg.get("MEDIA_ENGINE_MAX_TRANSCODES", 0))),
            messages_per_minute=max(0, int(cfg.get("MEDIA_DATACHANNEL_MESSAGES_PER_MINUTE", 0))),
            on_screen_frame=lambda sid, frame, _ts: _on_screen_frame(state, sid, frame),
        )
        eng.on_stop = state.faces.close
        # The phone as the second camera: a picture for the proctor's tile every few seconds is enough (no face
        # checks run on it), which spares decoding a keyframe of its 720p video each second.
        eng.picture_interval = lambda sid: PHONE_PICTURE_SECONDS if sid.startswith(("phone-", "phonecheck-")) else None
        if cfg.get("PROCTORING_FACE_FLAGS", True) and eng.decode_video:
            state.faces.start()
        eng.start()
        app.extensions["aufsicht.media"] = eng
    return eng


def _janus_engine(app: Flask, state: LiveState) -> JanusEngine:
    """The Janus plane: the same callbacks as the aiortc engine (snapshots, face flags, the page's events)."""
    cfg = app.config
    eng = JanusEngine(
        host_addresses=cfg.get("MEDIA_HOST_ADDRESSES"),
        decode_video=bool(cfg.get("MEDIA_DECODE_VIDEO", True)),
        on_frame=lambda sid, frame, ts: _on_frame(app, state, sid, frame, ts),
        on_event=lambda sid, event: _on_event(app, sid, event),
        workers=max(1, int(cfg.get("MEDIA_ENGINE_WORKERS", 2))),
        max_sessions=max(0, int(cfg.get("MEDIA_ENGINE_MAX_SESSIONS", 0))),
        messages_per_minute=max(0, int(cfg.get("MEDIA_DATACHANNEL_MESSAGES_PER_MINUTE", 0))),
        rtp_ports=cfg.get("MEDIA_JANUS_RTP_PORTS"), nat_1_1=cfg.get("MEDIA_JANUS_NAT_1_1"),
        on_screen_frame=lambda sid, frame, _ts: _on_screen_frame(state, sid, frame),
    )
    eng.on_stop = state.faces.close
    if cfg.get("PROCTORING_FACE_FLAGS", True) and eng.decode_video:
        state.faces.start()
    eng.start()
    return eng


def live_state(app: Flask) -> LiveState | None:
    """Live data of this process (None until the engine started)."""
    return app.extensions.get("aufsicht.live")


def sink_factory(app: Flask, attempt_id: int, user_id: int, institution_id: int) -> Any:
    """A factory of encrypted recording parts for one attempt (called on the engine's worker pool)."""

    def make(session: str, part: int) -> Any:
        from privacy.settings import settings_for
        from storage import vault

        # The phone as the second camera records as a stream kind of its own, owned like the webcam's parts.
        category = PHONE_CATEGORY if phone_attempt_of(session) is not None else "recording"
        with app.app_context():
            if not settings_for(institution_id).recording:
                return DiscardSink()  # the institution switched recording off: live supervision only
            return vault.open_writer(category, content_type="video/webm", begin=True, attempt_id=attempt_id,
                                     user_id=user_id, institution_id=institution_id)

    return make


def _on_event(app: Flask, session: str, event: dict[str, Any]) -> None:
    phone_of = phone_attempt_of(session)
    if phone_of is not None:  # the attempt's phone: its own events and flag (proctoring.phone)
        from proctoring.phone_events import on_engine_event

        on_engine_event(app, phone_of, event)
        return
    attempt_id = attempt_of(session)
    origin = str(event.get("origin", ""))
    if attempt_id is None or not reportable(event, origin):  # junk over the data channel costs no database work
        return
    from exams.models import Attempt
    from kernel.clock import utcnow
    from kernel.db import db

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is not None:
            apply_event(attempt, event, origin, utcnow())


def _on_screen_frame(state: LiveState, session: str, frame: np.ndarray) -> None:
    """A picture of the candidate's screen: kept as the grid's thumbnail (not stored: the recording holds it)."""
    attempt_id = attempt_of(session)
    if attempt_id is None:
        return
    small = cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if ok:
        with state.lock:
            state.screens[attempt_id] = (time.time(), jpeg.tobytes())


def _on_phone_frame(state: LiveState, attempt_id: int, frame: np.ndarray) -> None:
    """The phone's picture, kept as the tile's second camera (the recording holds the video itself)."""
    height, width = frame.shape[:2]
    small = cv2.resize(frame, (320, max(2, round(320 * height / max(1, width)))), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if ok:
        with state.lock:
            state.phones[attempt_id] = (time.time(), jpeg.tobytes())


def _on_frame(app: Flask, state: LiveState, session: str, frame: np.ndarray, ts: float) -> None:
    """One sampled frame: keep a JPEG snapshot for the grid, check faces, store a snapshot now and then."""
    phone_of = phone_attempt_of(session)
    if phone_of is not None:  # the phone's picture: the grid's second camera only (no face checks, not stored)
        _on_phone_frame(state, phone_of, frame)
        return
    attempt_id = attempt_of(session)
    if attempt_id is None:
        return
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if ok:
        with state.lock:
            state.snapshots[attempt_id] = (time.time(), jpeg.tobytes())
    if app.config.get("PROCTORING_FACE_FLAGS", True):
        _face_flags(app, state, attempt_id, frame)
    every = float(app.config.get("SNAPSHOT_STORE_SECONDS", 60))
    if ok and time.monotonic() - state.last_stored.get(attempt_id, 0) >= every:
        state.last_stored[attempt_id] = time.monotonic()
        _store_snapshot(app, attempt_id, jpeg.tobytes())


def _store_snapshot(app: Flask, attempt_id: int, jpeg: bytes) -> None:
    from exams.models import Attempt
    from kernel.db import db
    from storage import vault

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is not None:
            vault.store("snapshot", jpeg, content_type="image/jpeg", attempt_id=attempt_id, user_id=attempt.user_id,
                        institution_id=attempt.exam.institution_id)


def _face_flags(app: Flask, state: LiveState, attempt_id: int, frame_bgr: np.ndarray) -> None:
    """No face for a few seconds, more than one face, or (every PROCTORING_IDENTITY_SECONDS) another person
    than the verified one. The dlib work runs in the face worker processes (idcheck/facework.py)."""
    from idcheck.quality import SECOND_FACE_RATIO

    now = time.monotonic()
    since = state.no_face_since.get(attempt_id, now)
    # A candidate far from a small camera: the upsampled pass, several times the cost, once per absence.
    thorough = now - since >= NO_FACE_AFTER and attempt_id not in state.no_face_confirmed
    every = float(app.config.get("PROCTORING_IDENTITY_SECONDS", 10))
    template = None
    if now - state.identity_checked_at.get(attempt_id, float("-inf")) >= every:
        template = _template(app, attempt_id)
        if template is None:
            state.identity_checked_at[attempt_id] = now  # nothing to compare with: ask again later
    seen = state.faces.run(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), thorough_if_none=thorough,
                           encode=template is not None)
    if seen is None:
        return  # no answer from the workers: this sample is skipped, the next one comes in a second
    boxes = seen.boxes
    raised: list[tuple[str, dict[str, Any]]] = []
    ended: set[str] = set()  # kinds this observation examined and found absent
    if not boxes:
        state.no_face_since.setdefault(attempt_id, now)
        if seen.thorough:
            state.no_face_confirmed.add(attempt_id)
        if now - since >= NO_FACE_AFTER:
            raised.append(("no_face", {"seconds": round(now - since, 1)}))
    else:
        state.no_face_since.pop(attempt_id, None)
        state.no_face_confirmed.discard(attempt_id)
        ended.add("no_face")
        main = (boxes[0][2] - boxes[0][0]) * (boxes[0][1] - boxes[0][3])
        others = [b for b in boxes[1:] if (b[2] - b[0]) * (b[1] - b[3]) >= SECOND_FACE_RATIO * main]
        if others:
            raised.append(("multiple_faces", {"faces": 1 + len(others)}))
        else:
            ended.add("multiple_faces")
        if template is not None:
            # The encoding was asked for (the costly part, ~0.1 s of dlib): the next one is due a period later
            # whether or not this picture allowed a comparison. Marking only a comparison made had a picture of
            # two faces (or a face HOG cannot place) encoded every second, ten times the face work of a candidate.
            state.identity_checked_at[attempt_id] = now
        if not others and template is not None and seen.encoding is not None:
            d = float(np.linalg.norm(np.frombuffer(template, dtype=np.float64) - seen.encoding))
            if d >= float(app.config.get("IDCHECK_NO_MATCH_MIN", 0.6)):
                raised.append(("other_person", {"distance": round(d, 3)}))
            else:
                ended.add("other_person")
    open_kinds = state.raised_by_video.setdefault(attempt_id, set())
    cleared = sorted(open_kinds & ended)  # only a transition touches the database, not every observation
    open_kinds.difference_update(ended)
    open_kinds.update(kind for kind, _detail in raised)
    if raised:
        _raise(app, attempt_id, raised)
    if cleared:
        _clear(app, attempt_id, cleared)


def _clear(app: Flask, attempt_id: int, kinds: list[str]) -> None:
    """The face detectors saw the condition of ``kinds`` end: the detector-run log records the clearing run."""
    from exams.models import Attempt
    from kernel.clock import utcnow
    from kernel.db import db
    from proctoring.flags import clear_flag
    from proctoring.models import FlagKind

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None:
            return
        for kind in kinds:
            clear_flag(attempt, FlagKind(kind), utcnow())


def _template(app: Flask, attempt_id: int) -> bytes | None:
    """The verified face template of the attempt's candidate for this exam, if one is kept."""
    from exams.models import Attempt
    from idcheck.verification import template_of
    from kernel.db import db

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        return template_of(attempt.user_id, attempt.exam_id) if attempt else None


def _raise(app: Flask, attempt_id: int, raised: list[tuple[str, dict[str, Any]]]) -> None:
    from exams.models import Attempt, AttemptStatus
    from kernel.clock import utcnow
    from kernel.db import db
    from proctoring.flags import raise_flag
    from proctoring.models import FlagKind

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.IN_PROGRESS:
            return
        for kind, detail in raised:
            raise_flag(attempt, FlagKind(kind), utcnow(), source="video", **detail)
