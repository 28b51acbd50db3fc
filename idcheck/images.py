"""Uploaded images, validated by content: real JPEG/PNG/WebP, size and pixel limits, EXIF orientation.

Nothing here touches the disk; the decoded image is an RGB numpy array.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import DomainError

FORMATS = {"JPEG", "PNG", "WEBP"}


class UnusableImage(DomainError):
    """The upload is not an image we can use; ``reason`` is a stable code for the UI."""

    status = 422
    code = "unusable_image"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sniff(data: bytes) -> str | None:
    """The image format by its magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def load_upload(data: bytes, *, max_bytes: int = 8 * 1024 * 1024, max_pixels: int = 40_000_000) -> np.ndarray:
    """Decode an upload into an upright RGB array, or raise UnusableImage with a clear reason."""
    if not data:
        raise UnusableImage("empty", "The file is empty.")
    if len(data) > max_bytes:
        raise UnusableImage("too_large", f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    fmt = sniff(data)
    if fmt is None:
        raise UnusableImage("not_an_image", "This is not a JPEG, PNG or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in FORMATS or img.format != fmt:
                raise UnusableImage("not_an_image", "This is not a JPEG, PNG or WebP image.")
            width, height = img.size
            if width * height > max_pixels or width > 20000 or height > 20000:
                raise UnusableImage("too_many_pixels", "The image has too many pixels.")
            img.load()
            upright = ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img
            rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
    except UnusableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnusableImage("too_many_pixels", "The image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnusableImage("corrupt", "The image file is damaged or incomplete. Please take it again.") from None
    if min(rgb.size) < 64:
        raise UnusableImage("too_small", "The image is too small.")
    return np.asarray(rgb)
