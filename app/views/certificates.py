"""Certificate downloads (PDF and signed credential) for the holder and the exam office."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams.certificates import certificate_pdf, get_certificate_for

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
