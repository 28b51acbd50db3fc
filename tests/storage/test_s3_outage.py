"""The S3 server goes down in the middle of a recording and comes back: the part under way ends where the
outage cut it and, once storage is back, reads as far as its uploaded parts go; recording resumes in a new
part; a new part cannot be opened while the server is down (the proctor's alert stays on)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from kernel.db import db
from proctoring.recorder import PartRecorder
from storage import vault
from storage.backends import PART_SIZE
from storage.models import Blob, BlobState
from tests.storage.conftest import WeedServer


@pytest.fixture
def weed(tmp_path: Path) -> Any:
    """A private S3 server this test may kill."""
    server = WeedServer(tmp_path / "weed")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(weed: WeedServer) -> dict[str, Any]:
    """The platform on the private S3 server."""
    c = weed.config
    return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": c["endpoint_url"], "S3_BUCKET": c["bucket"],
            "S3_ACCESS_KEY": c["access_key"], "S3_SECRET_KEY": c["secret_key"]}


def _keyframes(n: int) -> list[bytes]:
    """Large VP8 keyframes (noise at a high bitrate), so that a few dozen fill an S3 part."""
    import av
    import numpy as np

    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 640, 480, "yuv420p"
    enc.time_base, enc.bit_rate, enc.gop_size = Fraction(1, 30), 40_000_000, 1
    rng = np.random.default_rng(7)
    out: list[bytes] = []
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), format="rgb24")
        frame.pts = i
        out += [bytes(p) for p in enc.encode(frame.reformat(format="yuv420p"))]
    out += [bytes(p) for p in enc.encode(None)]
    return out


def test_s3_down_mid_recording(app, weed, live_attempt):
    att = live_attempt
    frames = _keyframes(8)
    statuses: list[str] = []

    def open_part() -> Any:
        return vault.open_writer("recording", content_type="video/webm", begin=True, attempt_id=att.id,
                                 user_id=att.user_id)

    rec = PartRecorder(open_part, statuses.append, run_later=lambda fn: fn(), retry=0)
    rec.start()
    sent, ts = 0, 0

    def feed(nbytes: int) -> None:
        nonlocal sent, ts
        goal = sent + nbytes
        while sent < goal and rec.status == "recording":
            frame = frames[ts % len(frames)]
            rec.video(frame, ts * 3000, ts / 30)
            sent, ts = sent + len(frame), ts + 1

    feed(2 * PART_SIZE)  # the muxer holds a cluster back: this gets the first 8 MiB part uploaded
    before_outage = sent
    weed.kill()
    feed(3 * PART_SIZE)  # the next part cannot go out: the recording part ends there
    assert rec.status == "storage_failed" and statuses == ["storage_failed"]
    rec.video(frames[0], ts * 3000, ts / 30)  # a new part is tried and cannot be opened while S3 is down
    assert rec.status == "storage_failed" and rec.parts == 1

    weed.start()
    rec.video(frames[0], ts * 3000, ts / 30)  # storage is back: a new part opens, the cut one is finished
    assert rec.status == "recording" and statuses[-1] == "recording" and rec.parts == 2
    feed(1024 * 1024)
    rec.close()

    db.session.rollback()
    cut, resumed = db.session.scalars(db.select(Blob).where(Blob.attempt_id == att.id).order_by(Blob.id)).all()
    assert cut.state == BlobState.CUT and cut.completed_at is not None
    reader = vault.open_reader(cut)
    assert reader.truncated and PART_SIZE * 0.9 < reader.plaintext_size < before_outage
    assert reader.read(0, 4) == b"\x1aE\xdf\xa3"  # a WebM (EBML) file from its start
    assert resumed.state == BlobState.COMPLETE and not vault.open_reader(resumed).truncated
