"""The identity job decodes a bounded number of pixels per check: each upload passes the per-image bound, but many
large ones together go to a person instead of holding a worker (and its memory) for long."""

from __future__ import annotations

import io

import numpy as np
import pytest
from sqlalchemy import select

from idcheck.models import IdCheck, IdCheckStatus
from idcheck.verification import accept_live_frames, begin_live_challenge
from kernel.clock import utcnow
from kernel.db import db
from tests.idcheck.conftest import candidate_at_exam, faces  # noqa: F401
from tests.idcheck.live import timed_frames
from tests.idcheck.test_flow import wait_done


@pytest.fixture
def app_config():
    return {"IDCHECK_MAX_PIXELS_PER_JOB": 4_000_000}


def test_pixels_per_identity_job_are_bounded(candidate_at_exam, faces):  # noqa: F811
    _inst, exam, cand, client = candidate_at_exam
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    r = client.post(f"/api/identity/{exam.id}/document",
                    data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    assert r.status_code == 200, r.json
    # the live challenge's frames as the engine hands them over, each 1600x1200 (2 MP, well within the
    # per-image bound): together far beyond 4 MP
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    challenge = begin_live_challenge(check, utcnow())
    big = np.full((1200, 1600, 3), 120, np.uint8)
    accepted = accept_live_frames(check.id, challenge.steps[0].prompted_ms, timed_frames(challenge, None, big),
                                  utcnow())
    assert accepted.status == IdCheckStatus.PROCESSING
    state = wait_done(client, exam)
    db.session.rollback()  # the job changed the check meanwhile: read it afresh
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert state["status"] == "review" and check.status == IdCheckStatus.REVIEW
    assert "too many pixels" in check.reason
