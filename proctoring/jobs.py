"""Background jobs of the proctoring domain."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from exams.models import Attempt
from kernel.clock import utcnow
from kernel.db import db
from kernel.jobs import exclusive, job
from proctoring import roomscan  # noqa: F401  (registers the room scan's gate on a started attempt)
from proctoring.playback import make_playback, pending_parts
from storage import vault
from storage.errors import StorageUnavailable
from storage.models import Blob, BlobState

log = logging.getLogger(__name__)

# An attempt's recording parts are closed seconds after it ends; one still open this long after was cut.
CUT_AFTER = dt.timedelta(minutes=10)


@job("proctoring.finish_cut_recordings", every=dt.timedelta(minutes=10))
def finish_cut_recordings() -> int:
    """Make the recording parts a crash or a storage outage cut readable as far as they got (on S3 the
    multipart upload is completed from its uploaded parts); returns how many were finished."""
    ended = select(Attempt.id).where(Attempt.ended_at < utcnow() - CUT_AFTER)
    cut = db.session.scalars(select(Blob).where(
        Blob.category == "recording", Blob.state == BlobState.WRITING, Blob.completed_at.is_(None),
        Blob.attempt_id.in_(ended)).order_by(Blob.id)).all()
    for blob in cut:
        readable = vault.finish_cut(blob)
        log.info("recording part %s of attempt %s was cut; %s", blob.id, blob.attempt_id,
                 "readable as far as it got" if readable else "nothing of it reached storage")
    return len(cut)


@job("proctoring.expire_room_scans", every=dt.timedelta(minutes=1))
def expire_room_scans() -> int:
    """End room scans past their time limit (the candidate's page may be gone) with a flag; returns how many."""
    from proctoring.roomscan import expire_all

    return expire_all(utcnow())


@job("proctoring.remux_recordings", every=dt.timedelta(minutes=1))
def remux_recordings() -> int:
    """Make the seekable playback copy of every finished recording part that has none; returns how many."""
    made = 0
    for part in pending_parts():
        with exclusive(f"proctoring.remux:{part.id}") as mine:
            if not mine:
                continue  # another worker is on it
            try:
                make_playback(part, utcnow())
                made += 1
            except StorageUnavailable:
                log.warning("storage unavailable; recording part %s is remuxed on a later run", part.id)
                db.session.rollback()
                break
    return made
