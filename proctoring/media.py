"""The one narrow interface between the web app and the media engines (CONVENTIONS #13).

Two implementations:

- ``LocalMedia`` (default): the engine runs in this process (one asyncio loop in a thread); what
  ``make run`` and the tests use.
- ``RemoteMedia`` (when ``MEDIA_ENGINES`` lists engine URLs): each engine is its own process
  (``flask --app app media serve``), possibly on another host. A session is assigned to an engine
  on its first offer, and the assignment is kept in the database (``MediaAssignment``), so any web
  worker routes signalling, live view, snapshots and hang-up to the engine that holds it. New
  sessions go to the reachable engine with the fewest sessions. Every call carries a grant signed for
  it (``proctoring.grants``): one session, one purpose, one engine, this body, once, within a minute.

Views call ``media(app)`` and never touch an engine directly.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

import urllib3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound
from proctoring import grants
from proctoring.engine import EngineFull, NotLive, TranscodeFull
from proctoring.models import MediaAssignment
from proctoring.sdp import BadOffer
from proctoring.sessions import DiscardSink, attempt_of, phone_session_id, session_id


class MediaUnavailable(DomainError):
    """No media engine answered: the candidate's page retries; answers still save."""

    status = 503
    code = "media_unavailable"


#: What an offer records into: (attempt_id, user_id, institution_id), or None for a test stream.
Recording = tuple[int, int, int] | None


class MediaService(Protocol):
    """What the web app asks of the media side."""

    def offer(self, session: str, sdp: object, recording: Recording, *, screen: bool = False,
              oral: bool = False) -> str:
        """Connect a candidate's browser; returns the answer SDP (BadOffer on bad input). ``screen``: record
        the second video track as the candidate's screen; ``oral``: the examiner's tracks come back on the
        candidate's camera and microphone transceivers."""

    def join(self, session: str, examiner: str, sdp: object) -> str:
        """An examiner joins an oral session with camera and microphone; returns the answer SDP."""

    def watch(self, session: str, viewer: str, sdp: object) -> dict[str, str]:
        """Relay a live session to a proctor's browser. Returns the engine's description, ``{"type", "sdp"}``: an
        answer to the browser's offer (aiortc), or an offer of its own the browser answers through
        ``watch_answer`` (Janus, whose subscribers are offered to; the browser's offer says what it wants)."""

    def watch_answer(self, session: str, viewer: str, sdp: object) -> None:
        """The browser's answer to an offer ``watch`` returned."""

    def receive(self, session: str, viewer: str) -> str | None:
        """The other side of a call for ``viewer`` (the examiner as in ``join``, or "candidate") on a connection of
        its own: the media server's offer (the Janus plane), or None where it comes on the viewer's own connection
        (aiortc). NotLive (or NotFound) while that side is not there."""

    def receive_answer(self, session: str, viewer: str, sdp: object) -> None:
        """The browser's answer to ``receive``'s offer."""

    def stats(self, session: str) -> dict[str, Any] | None:
        """Connection state and frame counts of a session, or None."""

    def close(self, session: str) -> None:
        """Hang up a session (its recording part is finished)."""

    def capture_liveness(self, session: str, check_id: int, challenge_at: int, until: float, fps: float) -> None:
        """Have the session's engine take timed frames of the received video until unix time ``until`` and hand
        them to the identity check ``check_id`` (``proctoring.liveness_capture``); NotLive without video."""

    def live(self, attempt_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Per attempt: ``snapshot_at`` (unix time or None), ``state`` of its connection and ``recording``
        (recording, storage_failed, or None when not connected)."""

    def snapshot(self, attempt_id: int) -> bytes | None:
        """The latest JPEG of a live attempt."""

    def screen_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest JPEG thumbnail of a live attempt's shared screen."""

    def phone_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest JPEG of a live attempt's phone, the second camera."""


def _description(out: Any) -> dict[str, str]:
    """An engine's reply to a viewer as ``{"type", "sdp"}``: aiortc's is the answer SDP, Janus's its offer."""
    if isinstance(out, dict):
        return {"type": "offer" if out.get("type") == "offer" else "answer", "sdp": str(out.get("sdp"))}
    return {"type": "answer", "sdp": str(out)}


class LocalMedia:
    """The engine in this process."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _engine(self) -> Any:
        from proctoring.live import engine

        return engine(self.app)

    def offer(self, session: str, sdp: object, recording: Recording, *, screen: bool = False,
              oral: bool = False) -> str:
        """Answer the offer with a recording sink (or a discarding one for a system check)."""
        from proctoring.live import sink_factory

        sinks = (sink_factory(self.app, *recording) if recording is not None
                 else lambda _s, _p: DiscardSink())
        return str(self._engine().answer(session, sdp, sinks, screen=screen, oral=oral))

    def join(self, session: str, examiner: str, sdp: object) -> str:
        """The examiner's side of an oral exam, on this engine."""
        if not isinstance(sdp, str):
            raise BadOffer("The offer must be SDP text.")
        return str(self._engine().join(session, examiner, sdp))

    def watch(self, session: str, viewer: str, sdp: object) -> dict[str, str]:
        """Relay to a viewer."""
        return _description(self._engine().watch(session, viewer, sdp))

    def watch_answer(self, session: str, viewer: str, sdp: object) -> None:
        """The viewer's answer, to this process's engine (only one that offers to viewers takes it)."""
        engine = self._engine()
        if not hasattr(engine, "watch_answer"):
            raise BadOffer("This media server answers the offer itself.")
        engine.watch_answer(session, viewer, sdp)

    def receive(self, session: str, viewer: str) -> str | None:
        """The other side of a call on a connection of its own (Janus), or None (aiortc)."""
        offer = self._engine().receive(session, viewer)
        return None if offer is None else str(offer)

    def receive_answer(self, session: str, viewer: str, sdp: object) -> None:
        """The browser's answer for ``receive``."""
        self._engine().receive_answer(session, viewer, sdp)

    def stats(self, session: str) -> dict[str, Any] | None:
        """Stats of a session held here."""
        eng = self.app.extensions.get("aufsicht.media")
        return eng.stats(session) if eng is not None else None

    def capture_liveness(self, session: str, check_id: int, challenge_at: int, until: float, fps: float) -> None:
        """Capture in this process's engine; the frames go to the identity check here."""
        from proctoring.liveness_capture import deliver_to_idcheck

        self._engine().capture(session, until, fps, deliver_to_idcheck(self.app, check_id, challenge_at))

    def close(self, session: str) -> None:
        """Hang up if held here."""
        eng = self.app.extensions.get("aufsicht.media")
        if eng is not None and (session in eng.sessions() or eng.stats(session) is not None):
            eng.close_session(session)

    def live(self, attempt_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Snapshot times and connection states from this process."""
        from proctoring.live import live_state

        state = live_state(self.app)
        out: dict[int, dict[str, Any]] = {}
        for aid in attempt_ids:
            snap = None
            if state is not None:
                with state.lock:
                    snap = state.snapshots.get(aid)
            st = self.stats(session_id(aid))
            out[aid] = {"snapshot_at": snap[0] if snap else None, "state": st["state"] if st else None,
                        "recording": st.get("recording") if st else None}
        return out

    def snapshot(self, attempt_id: int) -> bytes | None:
        """The latest JPEG held here."""
        from proctoring.live import live_state

        state = live_state(self.app)
        if state is None:
            return None
        with state.lock:
            snap = state.snapshots.get(attempt_id)
        return snap[1] if snap else None

    def screen_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest screen thumbnail held here."""
        from proctoring.live import live_state

        state = live_state(self.app)
        if state is None:
            return None
        with state.lock:
            snap = state.screens.get(attempt_id)
        return snap[1] if snap else None

    def phone_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest picture of the attempt's phone held here."""
        from proctoring.live import live_state

        state = live_state(self.app)
        if state is None:
            return None
        with state.lock:
            snap = state.phones.get(attempt_id)
        return snap[1] if snap else None


class RemoteMedia:
    """Media engines in other processes or on other hosts, reached over HTTP; each call with its own grant."""

    def __init__(self, app: Flask, engines: list[str], key: Ed25519PrivateKey) -> None:
        self.app = app
        self.engines = [e.rstrip("/") for e in engines]
        self.key = key
        ca = app.config.get("MEDIA_ENGINE_CA_FILE")  # engines behind TLS with a private CA
        self.http = urllib3.PoolManager(maxsize=16, timeout=urllib3.Timeout(connect=2.0, read=25.0),
                                        retries=False, ca_certs=str(ca) if ca else None)

    # -- transport

    def _headers(self, grant: grants.Grant, engine: str, data: bytes = b"") -> dict[str, str]:
        """A grant for this one call: to ``engine``, with body ``data``, once."""
        return {"Authorization": "Grant " + grants.sign(self.key, grant, engine=engine, body=data),
                "Content-Type": "application/json"}

    def _request(self, engine: str, method: str, path: str, grant: grants.Grant,
                 body: dict[str, Any] | None = None, timeout: float | None = None) -> urllib3.BaseHTTPResponse:
        data = None if body is None else json.dumps(body).encode()
        try:
            return self.http.request(method, engine + path, headers=self._headers(grant, engine, data or b""),
                                     body=data, timeout=timeout)
        except urllib3.exceptions.HTTPError as err:
            raise MediaUnavailable("The media server is not reachable. Please wait a moment.") from err

    def _json(self, engine: str, method: str, path: str, grant: grants.Grant,
              body: dict[str, Any] | None = None) -> Any:
        resp = self._request(engine, method, path, grant, body)
        error = _error_of(resp)
        if resp.status == 400:
            raise BadOffer(error.get("message") or "Bad offer.")
        if resp.status == 404:
            raise NotFound(error.get("message") or "Not live.")
        if resp.status == 503 and error.get("code") == TranscodeFull.code:
            raise TranscodeFull()  # in the web process: in the candidate's language
        if resp.status == 503 and error.get("code") == EngineFull.code:
            raise EngineFull()
        if resp.status >= 300:
            raise MediaUnavailable(f"The media server answered {resp.status}.")
        return resp.json()

    # -- assignment

    def _probe(self, engine: str) -> str:
        """"up", "busy" (accepts connections but answers slowly) or "down"."""
        try:
            resp = self.http.request("GET", engine + "/engine/healthz",
                                     headers=self._headers(grants.Grant("probe"), engine),
                                     timeout=urllib3.Timeout(connect=2.0, read=3.0))
        except urllib3.exceptions.ReadTimeoutError:
            return "busy"
        except urllib3.exceptions.HTTPError:
            return "down"
        return "up" if resp.status == 200 else "down"

    def _assigned(self, session: str) -> str | None:
        row = db.session.get(MediaAssignment, session)
        return row.engine_url if row is not None and row.engine_url in self.engines else None

    def _assign(self, session: str, exclude: str | None = None) -> str:
        found = self._assigned(session)
        if found is not None:
            return found
        load = dict(db.session.execute(select(MediaAssignment.engine_url, func.count())
                                       .group_by(MediaAssignment.engine_url)).all())
        busy = None
        for engine in sorted((e for e in self.engines if e != exclude), key=lambda e: load.get(e, 0)):
            state = self._probe(engine)
            if state == "up":
                break
            if state == "busy" and busy is None:
                busy = engine
        else:
            if busy is None:
                raise MediaUnavailable("No media server is reachable. Please wait a moment.")
            engine = busy  # slow to answer is still alive: better than refusing the candidate
        db.session.add(MediaAssignment(session_id=session, engine_url=engine, assigned_at=utcnow()))
        try:
            db.session.commit()
        except IntegrityError:  # another worker assigned it at the same moment: use theirs
            db.session.rollback()
            return self._assigned(session) or engine
        return engine

    # -- the interface

    def offer(self, session: str, sdp: object, recording: Recording, *, screen: bool = False,
              oral: bool = False) -> str:
        """Send the offer to the session's engine (assigning one on first contact).

        If the assigned engine is gone (crashed, host down) or full (a new session beyond
        MEDIA_ENGINE_MAX_SESSIONS), the session moves to another engine: the browser's reconnect then
        continues the recording there as a new part.
        """
        body = {"sdp": sdp, "screen": screen, "oral": oral}
        grant = (grants.Grant("record", session, *recording) if recording is not None
                 else grants.Grant("check", session))
        engine = self._assign(session)
        try:
            return str(self._json(engine, "POST", f"/engine/sessions/{session}/offer", grant, body)["sdp"])
        except (MediaUnavailable, EngineFull):
            db.session.execute(delete(MediaAssignment).where(MediaAssignment.session_id == session))
            db.session.commit()
            others = [e for e in self.engines if e != engine]
            if not others:
                raise
            engine = self._assign(session, exclude=engine)
            return str(self._json(engine, "POST", f"/engine/sessions/{session}/offer", grant, body)["sdp"])

    def watch(self, session: str, viewer: str, sdp: object) -> dict[str, str]:
        """Ask the session's engine to relay to a viewer (its answer, or a Janus engine's offer)."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("This candidate is not connected.")
        grant = grants.Grant("watch", session, attempt=attempt_of(session), viewer=viewer[:64])
        return _description(self._json(engine, "POST", f"/engine/sessions/{session}/watch", grant, {"sdp": sdp}))

    def watch_answer(self, session: str, viewer: str, sdp: object) -> None:
        """Hand the viewer's answer to the session's engine (a "watch" grant of its own)."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("This candidate is not connected.")
        grant = grants.Grant("watch", session, attempt=attempt_of(session), viewer=viewer[:64])
        self._json(engine, "POST", f"/engine/sessions/{session}/watch/answer", grant, {"sdp": sdp})

    def join(self, session: str, examiner: str, sdp: object) -> str:
        """Ask the session's engine to connect the examiner of an oral exam."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("This candidate is not connected.")
        grant = grants.Grant("join", session, attempt=attempt_of(session), viewer=examiner[:64])
        return str(self._json(engine, "POST", f"/engine/sessions/{session}/join", grant, {"sdp": sdp})["sdp"])

    def receive(self, session: str, viewer: str) -> str | None:
        """Ask the session's engine for the other side of a call (its offer, or None)."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("This candidate is not connected.")
        grant = grants.Grant("join", session, attempt=attempt_of(session), viewer=viewer[:64])
        resp = self._request(engine, "POST", f"/engine/sessions/{session}/receive", grant, {})
        if resp.status == 409:  # the other side is not there yet
            raise NotLive(_error_of(resp).get("message") or "No call is going on right now.")
        if resp.status >= 300:
            raise MediaUnavailable(f"The media server answered {resp.status}.")
        offer = resp.json().get("sdp")
        return str(offer) if isinstance(offer, str) else None

    def receive_answer(self, session: str, viewer: str, sdp: object) -> None:
        """Hand the browser's answer to the session's engine."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("This candidate is not connected.")
        grant = grants.Grant("join", session, attempt=attempt_of(session), viewer=viewer[:64])
        self._json(engine, "POST", f"/engine/sessions/{session}/receive", grant, {"sdp": sdp})

    def stats(self, session: str) -> dict[str, Any] | None:
        """Stats from the session's engine."""
        engine = self._assigned(session)
        if engine is None:
            return None
        try:
            return self._json(engine, "GET", f"/engine/sessions/{session}", grants.Grant("control", session))
        except NotFound:
            return None

    def capture_liveness(self, session: str, check_id: int, challenge_at: int, until: float, fps: float) -> None:
        """Ask the session's engine to capture; it hands the frames to the identity check itself."""
        engine = self._assigned(session)
        if engine is None:
            raise NotFound("The camera is not connected.")
        self._json(engine, "POST", f"/engine/sessions/{session}/liveness",
                   grants.Grant("liveness", session, check=check_id),
                   {"challenge_at": challenge_at, "until": until, "fps": fps})

    def close(self, session: str) -> None:
        """Hang up on the session's engine and forget the assignment."""
        engine = self._assigned(session)
        if engine is not None:
            try:
                self._request(engine, "DELETE", f"/engine/sessions/{session}", grants.Grant("control", session))
            finally:
                db.session.execute(delete(MediaAssignment).where(MediaAssignment.session_id == session))
                db.session.commit()

    def live(self, attempt_ids: list[int]) -> dict[int, dict[str, Any]]:
        """One request per engine for all its attempts; an unreachable engine shows them as unknown."""
        by_engine: dict[str, list[int]] = {}
        for aid in attempt_ids:
            engine = self._assigned(session_id(aid))
            if engine is not None:
                by_engine.setdefault(engine, []).append(aid)
        out: dict[int, dict[str, Any]] = {aid: {"snapshot_at": None, "state": None, "recording": None}
                                          for aid in attempt_ids}
        for engine, ids in by_engine.items():
            try:
                got = self._json(engine, "GET", "/engine/live?attempts=" + ",".join(map(str, ids)),
                                 grants.Grant("snapshot", attempts=tuple(ids)))
            except (MediaUnavailable, NotFound):
                for aid in ids:
                    out[aid]["state"] = "unreachable"
                continue
            for key, value in got.items():
                out[int(key)] = value
        return out

    def snapshot(self, attempt_id: int) -> bytes | None:
        """The latest JPEG from the attempt's engine."""
        engine = self._assigned(session_id(attempt_id))
        if engine is None:
            return None
        resp = self._request(engine, "GET", f"/engine/attempts/{attempt_id}/snapshot",
                             grants.Grant("snapshot", session_id(attempt_id), attempt=attempt_id,
                                          attempts=(attempt_id,)))
        return resp.data if resp.status == 200 else None

    def screen_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest screen thumbnail from the attempt's engine."""
        engine = self._assigned(session_id(attempt_id))
        if engine is None:
            return None
        resp = self._request(engine, "GET", f"/engine/attempts/{attempt_id}/screen",
                             grants.Grant("snapshot", session_id(attempt_id), attempt=attempt_id,
                                          attempts=(attempt_id,)))
        return resp.data if resp.status == 200 else None

    def phone_snapshot(self, attempt_id: int) -> bytes | None:
        """The latest picture of the attempt's phone from the engine that holds the phone's session."""
        engine = self._assigned(phone_session_id(attempt_id))
        if engine is None:
            return None
        resp = self._request(engine, "GET", f"/engine/attempts/{attempt_id}/phone",
                             grants.Grant("snapshot", phone_session_id(attempt_id), attempt=attempt_id,
                                          attempts=(attempt_id,)))
        return resp.data if resp.status == 200 else None


def _error_of(resp: urllib3.BaseHTTPResponse) -> dict[str, str]:
    """``code`` and ``message`` of an engine's error answer (our JSON error shape); empty for anything else."""
    if resp.status < 300:
        return {}
    try:
        error = resp.json()["error"]
        return {"code": str(error["code"]), "message": str(error["message"])}
    except (ValueError, KeyError, TypeError):
        return {}


def media(app: Flask | None = None) -> MediaService:
    """The media service of this app: remote engines when ``MEDIA_ENGINES`` is set, else in-process."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    svc = app.extensions.get("aufsicht.media_service")
    if svc is None:
        engines = app.config.get("MEDIA_ENGINES") or []
        svc = RemoteMedia(app, list(engines), grants.private_key(grant_seed(app))) if engines else LocalMedia(app)
        app.extensions["aufsicht.media_service"] = svc
    return svc


def grant_seed(app: Flask) -> bytes:
    """The seed of the key web workers sign media grants with: ``MEDIA_GRANT_KEY`` (base64 of 32 bytes), else
    generated once into the instance folder. Engines on other hosts need only its public key."""
    import base64

    from kernel.secrets import ensure_secret

    configured = app.config.get("MEDIA_GRANT_KEY")
    seed = base64.b64decode(configured) if configured else ensure_secret(app.instance_path, "media_grant_key")
    if len(seed) != 32:
        raise ValueError("MEDIA_GRANT_KEY must be base64 of 32 bytes")
    return seed


def grant_public_keys(app: Flask) -> list[Ed25519PublicKey]:
    """The keys an engine accepts grants from: ``MEDIA_GRANT_PUBLIC_KEYS``, else the public key of this
    host's own grant key (an engine beside the web app, sharing its instance folder or configuration)."""
    texts = app.config.get("MEDIA_GRANT_PUBLIC_KEYS") or [grants.public_key_text(grant_seed(app))]
    return grants.public_keys(list(texts))


def snapshot_age_ms(snapshot_at: float | None) -> int | None:
    """Age of a snapshot taken at unix time ``snapshot_at``, in ms."""
    return None if snapshot_at is None else int((time.time() - snapshot_at) * 1000)
