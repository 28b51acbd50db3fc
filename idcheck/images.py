"""Uploaded images, validated by content: real JPEG/PNG/WebP, size and pixel limits, EXIF orientation.

Nothing here touches the disk; the decoded image is an RGB numpy array. What is stored is the image
encoded again (``without_metadata``): no EXIF (GPS position, camera serial, time), no XMP, no comments,
nothing appended after the image.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from flask import has_request_context
from flask_babel import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

from kernel.errors import DomainError

FORMATS = {"JPEG", "PNG", "WEBP"}


def N_(message: str) -> str:  # noqa: N802 - the conventional name pybabel extracts
    """Mark a message for translation; it is translated when shown (see ``UnusableImage.message``)."""
    return message


class UnusableImage(DomainError):
    """The upload is not an image we can use; ``reason`` is a stable code for the UI."""

    status = 422
    code = "unusable_image"

    def __init__(self, reason: str, message: str, **params: int) -> None:
        super().__init__(message % params if params else message)
        self.reason = reason
        self._msgid, self._params = message, params

    @property
    def message(self) -> str:
        """In the language of the request (the candidate reads it on the identity page); English elsewhere."""
        if has_request_context():
            return gettext(self._msgid, **self._params)
        return super().message


def sniff(data: bytes) -> str | None:
    """The image format by its magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def pixels_of(data: bytes) -> int:
    """Width times height as the image's header says, without decoding it (0 for what is no image)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0
    return int(width) * int(height)


def load_upload(data: bytes, *, max_bytes: int = 8 * 1024 * 1024, max_pixels: int = 40_000_000) -> np.ndarray:
    """Decode an upload into an upright RGB array, or raise UnusableImage with a clear reason."""
    # the pixels only: an array carries none of the upload's metadata, so no fresh copy is made (the frames of
    # a liveness challenge are decoded by the dozen)
    return np.asarray(_upright_rgb(data, max_bytes, max_pixels)[0])


def load_frame(data: bytes, *, max_bytes: int = 8 * 1024 * 1024, max_pixels: int = 40_000_000) -> np.ndarray:
    """A frame of the live challenge as ``accept_live_frames`` stored it (already encoded again, upright, no
    metadata): decoded by OpenCV straight into an RGB array, about twice as fast as ``load_upload`` (which
    decodes with Pillow and copies the pixels out; the job decodes some fifty frames). Anything but a whole
    JPEG (ending with its end marker, so that a cut-off file is not half decoded) goes to ``load_upload``: the
    same checks and the same UnusableImage reasons either way."""
    import cv2

    if len(data) > max_bytes or sniff(data) != "JPEG" or not data.endswith(b"\xff\xd9"):
        return load_upload(data, max_bytes=max_bytes, max_pixels=max_pixels)
    pixels = pixels_of(data)  # the header only: nothing is decoded beyond the bound
    if pixels == 0:
        raise UnusableImage("corrupt", N_("The image file is damaged or incomplete. Please take it again."))
    if pixels > max_pixels:
        raise UnusableImage("too_many_pixels", N_("The image has too many pixels."))
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.ndim != 3:
        raise UnusableImage("corrupt", N_("The image file is damaged or incomplete. Please take it again."))
    if min(bgr.shape[:2]) < 64:
        raise UnusableImage("too_small", N_("The image is too small."))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def without_metadata(data: bytes, *, max_bytes: int = 8 * 1024 * 1024, max_pixels: int = 40_000_000) -> bytes:
    """The upload encoded again in its own format, upright, with no metadata at all (EXIF with GPS, XMP, ICC,
    comments); what is stored of an ID photo or selfie. Raises UnusableImage like ``load_upload``."""
    upright, fmt = _upright_rgb(data, max_bytes, max_pixels)
    # A fresh image: nothing of the upload's info (EXIF, XMP, ICC, comments) travels with it.
    rgb = Image.new("RGB", upright.size)
    rgb.paste(upright)
    out = io.BytesIO()
    if fmt == "PNG":
        rgb.save(out, "PNG", optimize=False)
    elif fmt == "WEBP":
        rgb.save(out, "WEBP", quality=95)
    else:
        rgb.save(out, "JPEG", quality=95, subsampling=0)
    return out.getvalue()


def _upright_rgb(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image, str]:
    if not data:
        raise UnusableImage("empty", N_("The file is empty."))
    if len(data) > max_bytes:
        raise UnusableImage("too_large", N_("The file is larger than %(n)d MB."), n=max_bytes // (1024 * 1024))
    fmt = sniff(data)
    if fmt is None:
        raise UnusableImage("not_an_image", N_("This is not a JPEG, PNG or WebP image."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in FORMATS or img.format != fmt:
                raise UnusableImage("not_an_image", N_("This is not a JPEG, PNG or WebP image."))
            width, height = img.size
            if width * height > max_pixels or width > 20000 or height > 20000:
                raise UnusableImage("too_many_pixels", N_("The image has too many pixels."))
            img.load()
            upright = ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img
            rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
    except UnusableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnusableImage("too_many_pixels", N_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnusableImage("corrupt", N_("The image file is damaged or incomplete. Please take it again.")) from None
    if min(rgb.size) < 64:
        raise UnusableImage("too_small", N_("The image is too small."))
    return rgb, fmt
