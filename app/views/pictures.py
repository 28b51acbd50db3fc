"""The pictures of a running exam's items by their signed addresses (``app.pictures``)."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from app.pictures import blob_of_token, picture_bytes
from kernel.clock import utcnow

bp = Blueprint("pictures", __name__)


@bp.get("/pictures/<token>")
def picture(token: str) -> Response:
    """An item's picture: the address is the permission (no session needed); never cached, never a download."""
    content_type, data = picture_bytes(blob_of_token(token, utcnow()))
    return Response(data, mimetype=content_type,
                    headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})
