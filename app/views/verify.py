"""Public certificate verification: the page behind the QR code, the JSON API and our public keys."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.extensions import csrf
from app.ratelimit import limit
from exams.certificates import check_credential, jwks, lookup_certificate
from exams.credentials import InvalidCertificateId
from exams.issuer import UploadVerdict, check_upload, es256_jwks
from kernel.errors import ValidationFailed

bp = Blueprint("verify", __name__)
MAX_UPLOAD = 256 * 1024


def _limit() -> None:
    limit(f"verify:{request.remote_addr}", int(current_app.config["VERIFY_RATE_LIMIT_PER_MINUTE"]))


def _id_problem(err: InvalidCertificateId) -> str:
    """What is wrong with a typed certificate id, in the reader's language."""
    if err.problem == "length":
        return _("it must have %(expected)s characters, not %(got)s.", **err.params)
    if err.problem == "characters":
        return _("it contains characters that are never used: %(chars)s", **err.params)
    if err.problem == "check":
        return _("a character is mistyped (the check character does not match).")
    return _("please check what you typed.")


def _page(text: str) -> tuple[str, int]:
    _limit()
    try:
        result = lookup_certificate(text)
    except InvalidCertificateId as err:
        return render_template("verify/verify.html", entered=text, error=_id_problem(err), result=None), 400
    return render_template("verify/verify.html", entered=result.certificate_id, result=result), 200


@bp.get("/verify")
def form() -> tuple[str, int]:
    """The form to enter a certificate id (and its result when ``?id=`` is given)."""
    text = request.args.get("id", "").strip()
    if not text:
        return render_template("verify/verify.html", entered="", result=None), 200
    return _page(text)


@bp.get("/verify/<public_id>")
def certificate(public_id: str) -> tuple[str, int]:
    """Verification of one certificate (the QR code's target)."""
    return _page(public_id)


@bp.post("/verify/upload")
def upload() -> tuple[str, int]:
    """Check an uploaded credential file or pasted text (JSON-LD with proof, or a JWT)."""
    _limit()
    file = request.files.get("credential_file")
    text = file.read(MAX_UPLOAD + 1) if file and file.filename else request.form.get("credential_text", "").encode()
    verdict = check_upload(text)
    return render_template("verify/verify.html", entered="", result=verdict.certificate, verdict=verdict), 200


@bp.get("/.well-known/jwks.json")
def well_known_jwks() -> Response:
    """The public keys certificates are signed with."""
    keys = jwks()
    keys["keys"] += es256_jwks()
    resp = jsonify(keys)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.post("/api/verify/credential")
@csrf.exempt
def api_credential() -> Response:
    """Check a signed credential: ``{"credential": "<JWS>"}`` (or the JWS as the body).

    A JSON-LD credential (``{"credential": {...}}``, or the credential itself as the body) or the
    ES256 JWT is answered with the upload check's verdict: ``{"status", "reason", "form"}``.
    """
    _limit()
    body = request.get_json(silent=True)
    if isinstance(body, dict) and ("proof" in body or isinstance(body.get("credential"), dict)):
        document = body["credential"] if isinstance(body.get("credential"), dict) else body
        return jsonify(_verdict_json(check_upload(json.dumps(document))))
    jws = body.get("credential") if isinstance(body, dict) else None
    if jws is None and not request.is_json:
        jws = request.get_data(as_text=True).strip() or None
    if not isinstance(jws, str):
        raise ValidationFailed('Send {"credential": "<JWS>"}.', fields={"credential": "missing"})
    if jws.count(".") == 2 and '"ES256"' in _header_text(jws):
        return jsonify(_verdict_json(check_upload(jws)))
    return jsonify(check_credential(jws))


def _header_text(token: str) -> str:
    head = token.split(".", 1)[0]
    try:
        return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("utf-8", errors="replace")
    except ValueError:
        return ""


def _verdict_json(verdict: UploadVerdict) -> dict[str, Any]:
    found = verdict.certificate
    claims: dict[str, Any] = {}
    if found is not None and found.status != "unknown":
        claims = {"certificate_id": found.certificate_id, "holder_name": found.holder_name,
                  "exam_title": found.exam_title, "result": found.result,
                  "completed_on": found.completed_on.isoformat() if found.completed_on else None}
    return {"valid": verdict.status == "valid", "status": verdict.status, "reason": verdict.reason or None,
            "message": verdict.reason, "form": verdict.form, "claims": claims,
            "certificate_id": found.certificate_id if found else None}
