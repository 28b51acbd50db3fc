"""QR codes for pages (an authenticator app's enrolment link), as a data: URI the CSP allows."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """``data`` as a QR code: an SVG image in a ``data:`` URI for an ``<img src>``."""
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(img.to_string()).decode()
