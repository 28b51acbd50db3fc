"""Uploads are validated by content: clear errors for broken files, non-images and image bombs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from idcheck.images import UnusableImage, load_frame, load_upload
from tests.idcheck.conftest import jpeg


def _reason(data: bytes, **kw) -> str:
    with pytest.raises(UnusableImage) as err:
        load_upload(data, **kw)
    with pytest.raises(UnusableImage) as frame_err:  # the live challenge's frames: the same checks
        load_frame(data, **kw)
    assert frame_err.value.reason == err.value.reason
    return err.value.reason


def test_real_images_of_each_format_load():
    arr = np.random.default_rng(0).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    for fmt in ("PNG", "WEBP"):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, fmt)
        assert load_upload(buf.getvalue()).shape == (100, 120, 3)
    assert load_upload(jpeg(arr)).shape == (100, 120, 3)


def test_truncated_jpeg_text_pdf_and_empty_are_refused(faces):
    assert _reason((faces / "obama.jpg").read_bytes()[:3000]) == "corrupt"
    assert _reason(b"hello, this is text") == "not_an_image"
    assert _reason(b"%PDF-1.7\n%...") == "not_an_image"
    assert _reason(b"") == "empty"
    assert _reason(b"\xff\xd8\xff" + b"\x00" * 100) == "corrupt"
    assert _reason(b"x" * 200, max_bytes=100) == "too_large"


def test_decompression_bomb_is_refused_before_decoding():
    # A tiny PNG that declares 30000 x 30000 pixels.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    assert len(bomb) < 200
    assert _reason(bomb) == "too_many_pixels"


def test_polyglot_with_trailing_junk_decodes_as_the_image(faces):
    data = (faces / "obama_small.jpg").read_bytes() + b"<script>alert(1)</script>PK\x03\x04"
    assert load_upload(data).shape[:2] == (240, 320)


def test_exif_orientation_is_applied():
    arr = np.zeros((100, 200, 3), np.uint8)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert load_upload(buf.getvalue()).shape[:2] == (200, 100)


def test_a_frame_decodes_as_an_upload_does(faces):
    data = jpeg(np.asarray(Image.open(faces / "obama.jpg").convert("RGB")))
    frame, upload = load_frame(data), load_upload(data)
    assert frame.shape == upload.shape and frame.dtype == np.uint8
    assert np.abs(frame.astype(int) - upload.astype(int)).mean() < 1.0  # two JPEG decoders, the same picture
    with pytest.raises(UnusableImage) as err:
        load_frame(data, max_pixels=1000)
    assert err.value.reason == "too_many_pixels"
    assert _reason(jpeg(np.zeros((48, 200, 3), np.uint8))) == "too_small"
