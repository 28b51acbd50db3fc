"""Public certificate verification: the page behind the QR code, the JSON API and our public keys."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.wrappers import Response

from app.extensions import csrf
from app.ratelimit import limit
from exams.certificates import check_credential, jwks, lookup_certificate
from exams.credentials import InvalidCertificateId
from kernel.errors import ValidationFailed

bp = Blueprint("verify", __name__)


def _limit() -> None:
    limit(f"verify:{request.remote_addr}", int(current_app.config["VERIFY_RATE_LIMIT_PER_MINUTE"]))


def _page(text: str) -> tuple[str, int]:
    _limit()
    try:
        result = lookup_certificate(text)
    except InvalidCertificateId as err:
        return render_template("verify/verify.html", entered=text, error=err.message, result=None), 400
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


@bp.get("/.well-known/jwks.json")
def well_known_jwks() -> Response:
    """The public keys certificates are signed with."""
    resp = jsonify(jwks())
    resp.headers["Cache-Control"] = "public, max-age=3600"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.post("/api/verify/credential")
@csrf.exempt
def api_credential() -> Response:
    """Check a signed credential: ``{"credential": "<JWS>"}`` (or the JWS as the body)."""
    _limit()
    body = request.get_json(silent=True)
    jws = body.get("credential") if isinstance(body, dict) else None
    if jws is None and not request.is_json:
        jws = request.get_data(as_text=True).strip() or None
    if not isinstance(jws, str):
        raise ValidationFailed('Send {"credential": "<JWS>"}.', fields={"credential": "missing"})
    return jsonify(check_credential(jws))
