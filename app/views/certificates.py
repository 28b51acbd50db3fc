"""Certificate downloads (PDF, signed JWS, Open Badges JSON-LD and JWT) for the holder and the exam office."""

from __future__ import annotations

import json

from flask import Blueprint
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams.certificates import certificate_pdf, get_certificate_for
from exams.issuer import openbadge, openbadge_jwt

bp = Blueprint("certificates", __name__, url_prefix="/certificates")


@bp.get("/<public_id>.pdf")
@role_required(Role.CANDIDATE, Role.STAFF, Role.ADMIN)
def pdf(public_id: str) -> Response:
    """The certificate as a PDF."""
    cert = get_certificate_for(user(), public_id)
    return Response(certificate_pdf(cert), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.public_id}.pdf"'})


@bp.get("/<public_id>.jwt")
@role_required(Role.CANDIDATE, Role.STAFF, Role.ADMIN)
def credential(public_id: str) -> Response:
    """The signed credential (compact JWS) to share with anyone who wants to verify it."""
    cert = get_certificate_for(user(), public_id)
    return Response(cert.credential + "\n", mimetype="application/jwt",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.public_id}.jwt"'})


@bp.get("/<public_id>/credential.jsonld")
@role_required(Role.CANDIDATE, Role.STAFF, Role.ADMIN)
def openbadge_jsonld(public_id: str) -> Response:
    """The Open Badges 3.0 credential with its Data Integrity proof (for wallets and VC verifiers)."""
    cert = get_certificate_for(user(), public_id)
    body = json.dumps(openbadge(cert), ensure_ascii=False, indent=2) + "\n"
    return Response(body, mimetype="application/ld+json",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.public_id}.jsonld"'})


@bp.get("/<public_id>/credential.jwt")
@role_required(Role.CANDIDATE, Role.STAFF, Role.ADMIN)
def openbadge_jwt_file(public_id: str) -> Response:
    """The Open Badges 3.0 credential as a JWT signed ES256 (what 1EdTech's validator takes)."""
    cert = get_certificate_for(user(), public_id)
    return Response(openbadge_jwt(cert) + "\n", mimetype="application/jwt",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.public_id}-ob3.jwt"'})
