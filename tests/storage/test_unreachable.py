"""Object storage that cannot be reached (the S3 server is down): a clear 503, nothing half-stored, and the
exam goes on (answers live in the database)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from sqlalchemy import func, select

from exams.models import Answer
from kernel.db import db
from storage.models import Blob
from tests.conftest import login, start_exam


@pytest.fixture
def app_config() -> dict[str, Any]:
    """S3 storage at an address where no server listens (connection refused, as when it is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "S3_BUCKET": "aufsicht",
            "S3_ACCESS_KEY": "key", "S3_SECRET_KEY": "secret"}


def test_storage_down_is_a_clear_503_and_the_exam_goes_on(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    attempt_id = start_exam(client, exam.id)

    chat = client.post(f"/api/attempts/{attempt_id}/chat", json={"text": "Hallo?"},
                       headers={"Accept-Language": "de"})
    assert chat.status_code == 503
    assert chat.json["error"]["code"] == "storage_unavailable" and chat.json["error"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Blob)) == 0  # nothing half-stored

    saved = client.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "Antwort"})
    assert saved.status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(Answer.value).where(Answer.attempt_id == attempt_id)) == "Antwort"


def test_a_recording_part_does_not_open_while_storage_is_down(app):
    from storage import vault
    from storage.errors import StorageUnavailable

    with pytest.raises(StorageUnavailable):
        vault.open_writer("recording", content_type="video/webm", begin=True)
    assert db.session.scalar(select(func.count()).select_from(Blob)) == 0
