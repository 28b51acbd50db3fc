"""The media engine's internal API (``flask --app app media serve``), used by ``proctoring.media.RemoteMedia``.

Every call needs ``Authorization: Grant <grant>``: a grant a web worker signed for this one call
(``proctoring.grants``), checked with the public key, for this engine (``MEDIA_ENGINE_URL``) and this
request body, accepted once. The grant names the session and the purpose, and what the engine acts on
comes from it only: the owner of a recording, the viewer, the attempts whose pictures may be read.
Outside ``media serve`` the API does not exist (404); ``media serve`` serves nothing else. Never expose
it to browsers: only web workers call it.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, make_response, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from app.extensions import csrf
from proctoring import grants
from proctoring.grants import Grant, GrantRefused
from proctoring.media import LocalMedia, grant_public_keys
from proctoring.sdp import BadOffer
from proctoring.sessions import attempt_of, phone_attempt_of, phone_session_id, session_id

bp = Blueprint("engine_api", __name__, url_prefix="/engine")
csrf.exempt(bp)


@bp.before_request
def _only_in_engine() -> None:
    if not current_app.config.get("MEDIA_ENGINE_API"):
        abort(404)
    keys = current_app.extensions.get("aufsicht.media_grant_keys")
    if keys is None:
        keys = current_app.extensions["aufsicht.media_grant_keys"] = grant_public_keys(current_app)
    g.media_grant_keys = keys


def _replay_guard() -> grants.ReplayGuard:
    guard = current_app.extensions.get("aufsicht.media_grant_replay")
    if guard is None:
        guard = current_app.extensions.setdefault("aufsicht.media_grant_replay", grants.ReplayGuard())
    return guard


def _grant(purpose: str | tuple[str, ...], session: str | None = None) -> Grant:
    """The request's grant, for ``purpose`` (and ``session``), for this engine (``MEDIA_ENGINE_URL``) and this
    request's body, not used before; else 403."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Grant "):
        raise GrantRefused("No media grant.")
    return grants.check(g.media_grant_keys, header.removeprefix("Grant "), purpose=purpose, session=session,
                        engine=str(current_app.config.get("MEDIA_ENGINE_URL") or ""),
                        body=request.get_data(cache=True), replay=_replay_guard())


def _local() -> LocalMedia:
    return LocalMedia(current_app._get_current_object())  # type: ignore[attr-defined]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/healthz")
def healthz() -> Response:
    """Alive, and how many sessions this engine holds."""
    _grant("probe")
    eng = current_app.extensions.get("aufsicht.media")
    return jsonify({"sessions": len(eng.sessions()) if eng is not None else 0})


@bp.post("/sessions/<session>/offer")
def offer(session: str) -> Response:
    """A candidate's offer: recorded as the grant's attempt, user and institution, or not kept (``check``)."""
    grant = _grant(("record", "check"), session)
    if grant.purpose == "record":
        if grant.attempt is None or grant.user is None or grant.institution is None \
                or session not in (session_id(grant.attempt), phone_session_id(grant.attempt)):
            raise GrantRefused("The media grant does not name this recording.")
        recording: tuple[int, int, int] | None = (grant.attempt, grant.user, grant.institution)
    else:
        if attempt_of(session) is not None or phone_attempt_of(session) is not None:  # an exam's is always recorded
            raise GrantRefused("An exam's stream needs a recording grant.")
        recording = None
    body = _body()
    return jsonify({"sdp": _local().offer(session, body.get("sdp"), recording, screen=body.get("screen") is True,
                                          oral=body.get("oral") is True)})


@bp.post("/sessions/<session>/join")
def join(session: str) -> Response:
    """The examiner of an oral exam joins the session (the examiner named by the grant)."""
    grant = _grant("join", session)
    return jsonify({"sdp": _local().join(session, grant.viewer or "examiner", _body().get("sdp"))})


@bp.post("/sessions/<session>/receive")
def receive(session: str) -> Response:
    """The other side of a call for the grant's viewer: without ``sdp`` the engine's offer (or none), with it the
    browser's answer to that offer."""
    grant = _grant("join", session)
    viewer, body = grant.viewer or "examiner", _body()
    if "sdp" in body:
        _local().receive_answer(session, viewer, body.get("sdp"))
        return jsonify({"started": True})
    return jsonify({"sdp": _local().receive(session, viewer)})


@bp.post("/sessions/<session>/watch")
def watch(session: str) -> Response:
    """Relay a session to the grant's viewer."""
    grant = _grant("watch", session)
    if not grant.viewer:
        raise GrantRefused("The media grant names no viewer.")
    return jsonify(_local().watch(session, grant.viewer[:64], _body().get("sdp")))


@bp.post("/sessions/<session>/watch/answer")
def watch_answer(session: str) -> Response:
    """The grant's viewer answers the offer its watch got (Janus)."""
    grant = _grant("watch", session)
    if not grant.viewer:
        raise GrantRefused("The media grant names no viewer.")
    _local().watch_answer(session, grant.viewer[:64], _body().get("sdp"))
    return jsonify({"started": True})


@bp.post("/sessions/<session>/liveness")
def liveness(session: str) -> Response:
    """Take timed frames of the session's video for the grant's identity check's liveness challenge."""
    check_id = _grant("liveness", session).check
    if check_id is None:
        raise GrantRefused("The media grant names no identity check.")
    body = _body()
    at, until, fps = (body.get(k) for k in ("challenge_at", "until", "fps"))
    if type(at) is not int or not isinstance(until, int | float) or \
            not isinstance(fps, int | float) or not 0 < until - time.time() <= 60 or not 0.5 <= fps <= 30:
        raise BadOffer("challenge_at, until (within a minute) and fps (0.5-30) are required")
    _local().capture_liveness(session, check_id, at, float(until), float(fps))
    return jsonify({"capturing": session})


@bp.get("/sessions/<session>")
def stats(session: str) -> Response:
    """A session's connection state and counts."""
    _grant("control", session)
    found = _local().stats(session)
    if found is None:
        abort(404)
    return jsonify({k: v for k, v in found.items() if isinstance(v, str | int | float | bool | type(None))})


@bp.delete("/sessions/<session>")
def close(session: str) -> Response:
    """Hang up."""
    _grant("control", session)
    _local().close(session)
    return jsonify({"closed": session})


@bp.get("/live")
def live() -> Response:
    """Snapshot times and connection states of the listed attempts the grant names."""
    allowed = set(_grant("snapshot").attempts)
    ids = [int(x) for x in request.args.get("attempts", "").split(",") if x.isdigit() and int(x) in allowed][:500]
    return jsonify({str(k): v for k, v in _local().live(ids).items()})


@bp.get("/attempts/<int:attempt_id>/snapshot")
def snapshot(attempt_id: int) -> Response:
    """The latest JPEG of an attempt held here, if the grant names it."""
    if attempt_id not in _grant("snapshot").attempts:
        raise GrantRefused("The media grant is for another attempt.")
    data = _local().snapshot(attempt_id)
    if data is None:
        abort(404)
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg"
    return resp


@bp.get("/attempts/<int:attempt_id>/screen")
def screen_snapshot(attempt_id: int) -> Response:
    """The latest thumbnail of an attempt's shared screen held here, if the grant names it."""
    if attempt_id not in _grant("snapshot").attempts:
        raise GrantRefused("The media grant is for another attempt.")
    data = _local().screen_snapshot(attempt_id)
    if data is None:
        abort(404)
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg"
    return resp


@bp.get("/attempts/<int:attempt_id>/phone")
def phone_snapshot(attempt_id: int) -> Response:
    """The latest picture of an attempt's phone (the second camera) held here, if the grant names it."""
    if attempt_id not in _grant("snapshot").attempts:
        raise GrantRefused("The media grant is for another attempt.")
    data = _local().phone_snapshot(attempt_id)
    if data is None:
        abort(404)
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg"
    return resp


class EngineOnly:
    """WSGI middleware of ``media serve``: the engine's port answers the engine API and nothing else (no
    login page, no candidate's or proctor's route is reachable on an engine host)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Pass ``/engine/...`` on, answer 404 to anything else."""
        if not str(environ.get("PATH_INFO", "")).startswith("/engine/"):
            return NotFound()(environ, start_response)
        return self.wsgi_app(environ, start_response)
