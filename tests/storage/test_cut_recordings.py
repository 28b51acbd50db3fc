"""A recording part cut on S3 (its engine crashed, or gave it up when storage failed) is a multipart upload
that was never completed: nothing to read. The proctoring job finishes it from the parts uploaded before the
cut, so that the review plays it back as far as it got."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

from exams.models import AttemptStatus
from kernel.clock import clock, utcnow
from kernel.jobs import run_job
from storage import vault
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState
from tests.conftest import write_and_die


@pytest.fixture
def app_config(seaweedfs: dict[str, Any]) -> dict[str, Any]:
    """The platform on the real S3 server."""
    return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": seaweedfs["endpoint_url"], "S3_BUCKET": seaweedfs["bucket"],
            "S3_ACCESS_KEY": seaweedfs["access_key"], "S3_SECRET_KEY": seaweedfs["secret_key"]}


def test_a_cut_part_on_s3_is_finished_from_its_uploaded_parts(app, live_attempt):
    from kernel.db import db

    att = live_attempt
    video = os.urandom(9 * 1024 * 1024)
    write_and_die(video, attempt_id=att.id, user_id=att.user_id)  # one 8 MiB piece uploaded, the rest lost
    blob = db.session.scalars(db.select(Blob).where(Blob.attempt_id == att.id)).one()
    with pytest.raises(StorageIntegrityError):
        vault.open_reader(blob)  # a cut multipart upload is not an object yet

    att.status, att.ended_at = AttemptStatus.SUBMITTED, utcnow()
    db.session.commit()
    assert run_job("proctoring.finish_cut_recordings", {}) == 0  # the attempt just ended: its parts may be closing
    clock.advance(dt.timedelta(minutes=11))
    assert run_job("proctoring.finish_cut_recordings", {}) == 1

    db.session.refresh(blob)
    assert blob.state == BlobState.CUT and blob.completed_at is not None  # a final state, not writing forever
    reader = vault.open_reader(blob)
    assert reader.truncated
    played = reader.read()
    assert 7 * 1024 * 1024 < len(played) <= 8 * 1024 * 1024 and video.startswith(played)
    assert run_job("proctoring.finish_cut_recordings", {}) == 0
