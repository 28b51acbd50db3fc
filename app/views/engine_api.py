"""The media engine's internal API (``flask --app app media serve``), used by ``proctoring.media.RemoteMedia``.

Every call needs ``Authorization: Bearer <MEDIA_ENGINE_TOKEN>``; without a configured token the
API does not exist (404). Never expose it to browsers: only web workers call it.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, make_response, request
from werkzeug.wrappers import Response

from app.extensions import csrf
from proctoring.media import LocalMedia
from proctoring.sdp import BadOffer

bp = Blueprint("engine_api", __name__, url_prefix="/engine")
csrf.exempt(bp)


@bp.before_request
def _authorise() -> None:
    token = str(current_app.config.get("MEDIA_ENGINE_TOKEN") or "")
    if not current_app.config.get("MEDIA_ENGINE_API") or not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(403)


def _local() -> LocalMedia:
    return LocalMedia(current_app._get_current_object())  # type: ignore[attr-defined]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/healthz")
def healthz() -> Response:
    """Alive, and how many sessions this engine holds."""
    eng = current_app.extensions.get("aufsicht.media")
    return jsonify({"sessions": len(eng.sessions()) if eng is not None else 0})


@bp.post("/sessions/<session>/offer")
def offer(session: str) -> Response:
    """A candidate's offer (recording into encrypted storage, or a discarded system-check stream)."""
    body = _body()
    rec = body.get("recording")
    if rec is not None and not (isinstance(rec, list) and len(rec) == 3 and all(type(x) is int for x in rec)):
        raise BadOffer("recording must be [attempt_id, user_id, institution_id]")
    recording = (rec[0], rec[1], rec[2]) if rec is not None else None
    return jsonify({"sdp": _local().offer(session, body.get("sdp"), recording)})


@bp.post("/sessions/<session>/watch")
def watch(session: str) -> Response:
    """Relay a session to a proctor's browser."""
    body = _body()
    return jsonify({"sdp": _local().watch(session, str(body.get("viewer", "viewer"))[:64], body.get("sdp"))})


@bp.get("/sessions/<session>")
def stats(session: str) -> Response:
    """A session's connection state and counts."""
    found = _local().stats(session)
    if found is None:
        abort(404)
    return jsonify({k: v for k, v in found.items() if isinstance(v, str | int | float | bool | type(None))})


@bp.delete("/sessions/<session>")
def close(session: str) -> Response:
    """Hang up."""
    _local().close(session)
    return jsonify({"closed": session})


@bp.get("/live")
def live() -> Response:
    """Snapshot times and connection states of the listed attempts."""
    ids = [int(x) for x in request.args.get("attempts", "").split(",") if x.isdigit()][:500]
    return jsonify({str(k): v for k, v in _local().live(ids).items()})


@bp.get("/attempts/<int:attempt_id>/snapshot")
def snapshot(attempt_id: int) -> Response:
    """The latest JPEG of an attempt held here."""
    data = _local().snapshot(attempt_id)
    if data is None:
        abort(404)
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg"
    return resp
