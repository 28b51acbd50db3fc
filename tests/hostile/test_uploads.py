"""Hostile uploads to the identity endpoints: polyglots, empty, huge and bomb files get a clear 4xx and leave
nothing behind (no blob row, no stored file), and a real image with a payload appended is only ever served
back as an image."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from storage.models import Blob
from tests.conftest import login


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 20000) -> bytes:
    """A real, complete grey PNG of side x side pixels, almost all zero: 400 MB of pixels in about 400 KB."""
    z = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one byte per pixel
    parts = [z.compress(b"\x00" + b"\xff" * 16 + b"\x00" * (side - 16))]  # a few white pixels
    parts += [z.compress(row) for _ in range(side - 1)]
    parts.append(z.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def real_image(fmt: str = "JPEG") -> bytes:
    """A small real photo-like image."""
    buf = io.BytesIO()
    arr = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def zip_bytes() -> bytes:
    """A zip archive holding an HTML file."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", "<script>alert(1)</script>")
    return buf.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
BAD = {
    # magic bytes of an image, then a web page: not decodable
    "jpeg_header_then_html": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + HTML, 422),
    # PNG signature and a valid header chunk, then a zip archive instead of image data
    "png_header_then_zip": (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0))
                            + zip_bytes(), 422),
    # a zip with a PNG signature glued in front
    "png_signature_then_zip": (b"\x89PNG\r\n\x1a\n" + zip_bytes(), 422),
    "html_named_jpg": (HTML, 422),
    "zero_bytes": (b"", 422),
    # over the 8 MB identity limit, under the request limit: read only up to the limit, then refused
    "nine_megabytes": (b"\xff\xd8\xff\xe0" + b"\x00" * (9 * 1024 * 1024), 422),
}


@pytest.fixture
def candidate(app: Flask, make_institution, make_user, make_exam) -> dict[str, Any]:
    """A candidate who consented to the automatic identity check of an exam."""
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    user = make_user("candidate", inst)
    client = app.test_client()
    login(client, user)
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"}).status_code == 302
    return {"client": client, "exam": exam, "user": user}


def stored(app: Flask, user: Any) -> tuple[int, int]:
    """Blob rows of the user and files in the local store."""
    db.session.rollback()
    rows = db.session.scalar(select(func.count()).select_from(Blob).where(Blob.user_id == user.id)) or 0
    root = Path(app.config.get("STORAGE_LOCAL_ROOT") or Path(app.instance_path, "blobs"))
    files = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return rows, files


def post_document(client: FlaskClient, exam: Any, data: bytes, name: str = "ausweis.jpg") -> Any:
    """Upload as the identity page does. The multipart body is built here in memory: for bodies over 500 KB
    the test client spools to a temporary file it never closes (its ResourceWarning, not the app's)."""
    boundary = "grenze4711"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/api/identity/{exam.id}/document", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"Accept": "application/json"})


def assert_clear_error(resp: Any, status: int) -> None:
    """A 4xx JSON error with a code and a message, never a server error."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/json"
    assert resp.json["error"]["code"] and resp.json["error"]["message"]


@pytest.mark.parametrize("case", sorted(BAD))
def test_hostile_id_document_is_refused_and_nothing_stored(app, candidate, case):
    data, status = BAD[case]
    before = stored(app, candidate["user"])
    resp = post_document(candidate["client"], candidate["exam"], data)
    assert_clear_error(resp, status)
    assert resp.json["error"]["code"] == "unusable_image"
    assert stored(app, candidate["user"]) == before
    assert candidate["client"].get(f"/api/identity/{candidate['exam'].id}").json["has_id_photo"] is False


def test_decompression_bomb_is_refused_without_decoding(app, candidate):
    data = bomb_png()
    assert len(data) < 2 * 1024 * 1024  # small on disk, 400 million pixels inside
    before = stored(app, candidate["user"])
    resp = post_document(candidate["client"], candidate["exam"], data, "bombe.png")
    assert_clear_error(resp, 422)
    assert resp.json["error"]["code"] == "unusable_image"
    assert stored(app, candidate["user"]) == before


def test_thirty_megabytes_are_refused_before_reading(app, candidate):
    data = real_image() + b"\x00" * (30 * 1024 * 1024)
    before = stored(app, candidate["user"])
    resp = post_document(candidate["client"], candidate["exam"], data)
    assert_clear_error(resp, 413)
    assert stored(app, candidate["user"]) == before


def test_no_picture_of_the_head_movements_can_be_uploaded(app, candidate):
    """The frames of the liveness challenge come only from the live video our media engine receives: the
    routes that took uploaded selfie frames are gone, and starting the challenge needs the camera live."""
    client, exam = candidate["client"], candidate["exam"]
    assert post_document(client, exam, real_image()).status_code == 200
    before = stored(app, candidate["user"])
    for bad in (bomb_png(), BAD["jpeg_header_then_html"][0], real_image()):
        frames = [(io.BytesIO(real_image()), "f0.jpg"), (io.BytesIO(bad), "f1.jpg")]
        resp = client.post(f"/api/identity/{exam.id}/selfie", data={"frames": frames},
                           headers={"Accept": "application/json"})
        assert resp.status_code == 404
    assert client.post(f"/api/identity/{exam.id}/challenge").status_code == 404
    resp = client.post(f"/api/identity/{exam.id}/liveness", headers={"Accept": "application/json"})
    assert_clear_error(resp, 409)  # no camera connected: no challenge drawn, no retake used
    assert stored(app, candidate["user"]) == before
    db.session.rollback()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == candidate["user"].id))
    assert check.status == IdCheckStatus.STARTED and check.selfie_blob_id is None
    assert check.challenge == [] and check.selfie_uploads == 0


@pytest.mark.parametrize("fmt,payload", [("JPEG", HTML), ("PNG", zip_bytes())])
def test_image_with_appended_payload_is_only_ever_served_as_an_image(app, candidate, make_user, fmt, payload):
    """A complete image followed by HTML or a zip decodes as the image (phones append data after the image
    too, e.g. motion photos), so it is accepted; what is stored is the image alone, encoded again (nothing
    appended survives), and the reviewer gets it back as an image, never as a page."""
    client, exam = candidate["client"], candidate["exam"]
    data = real_image(fmt) + payload
    assert post_document(client, exam, data).status_code == 200
    db.session.rollback()
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == candidate["user"].id))
    check.status = IdCheckStatus.REVIEW  # as after a doubtful automatic match
    db.session.commit()
    staff = app.test_client()
    login(staff, make_user("staff", exam.institution))
    resp = staff.get(f"/review/identity/{check.id}/image/id")
    assert resp.status_code == 200 and payload not in resp.data and resp.data[:4] == data[:4]
    assert resp.mimetype == f"image/{fmt.lower()}"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("case", ["zero_bytes", "jpeg_header_then_html", "nine_megabytes"])
def test_upload_errors_are_in_the_candidates_language(app, candidate, case):
    """identity.js shows the message as is, so it must be in the page's language like everything else."""
    client, exam = candidate["client"], candidate["exam"]
    msgs = {}
    for lang in ("de", "en"):
        client.post("/language", data={"lang": lang})
        resp = post_document(client, exam, BAD[case][0])
        assert resp.status_code == 422
        msgs[lang] = resp.json["error"]["message"]
    assert msgs["de"] != msgs["en"] and all(msgs.values())
    if case == "nine_megabytes":
        assert "8 MB" in msgs["de"] and "8 MB" in msgs["en"]
