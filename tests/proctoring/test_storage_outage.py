"""Storage full in the middle of a recorded exam: a clear error, the proctor alerted, answers still saved.

The recordings go to local storage on a real 4 MiB tmpfs. While a candidate streams, the disk is
filled to the last byte: the part being written ends (what was durable stays readable, marked
truncated), the proctor's live grid shows the alert, the review timeline records it, a chat
message (which needs storage) is refused with a clear 503, and answers (in the database) keep
saving. Once space is freed, recording resumes in a new part without the candidate doing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exams.models import Answer, AttemptEvent
from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from storage.models import BlobState
from tests.conftest import login, need_service, start_exam
from tests.proctoring.conftest import aiortc_offer, connect, probe, recordings

pytestmark = pytest.mark.browser  # heavy: WebRTC for about 15 seconds


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs: a real file system that really fills up."""
    root = tmp_path / "blobs"
    root.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        need_service("a tmpfs mount (root)", done.stderr.strip())
    yield root
    subprocess.run(["umount", "-l", str(root)], check=False)


@pytest.fixture
def app_config(small_disk: Path) -> dict[str, Any]:
    """Recordings on the small disk, small segments (durable often), a quick retry."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False,
            "STORAGE_LOCAL_ROOT": str(small_disk), "STORAGE_SEGMENT_SIZE": 16384,
            "MEDIA_RECORDING_RETRY_SECONDS": 1}


def fill(root: Path) -> Path:
    """Write until the file system says it is full (ENOSPC)."""
    filler = root / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sealed(attempt_id: int) -> int:
    """Segments of the attempt's first part that are on disk."""
    db.session.rollback()
    parts = recordings(attempt_id)
    return vault.backend().size(parts[0].key) // 16384 if parts else 0


def test_storage_full_mid_exam(app, make_institution, make_user, make_exam, small_disk):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand, proctor = make_user("candidate", inst), make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    candidate, watcher = app.test_client(), app.test_client()
    login(candidate, cand)
    login(watcher, proctor)
    attempt_id = start_exam(candidate, exam.id)
    signalling = app.test_client()
    login(signalling, cand)

    stop = threading.Event()

    async def stream() -> None:
        pc, _channel = await aiortc_offer()
        await connect(signalling, attempt_id, pc)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await pc.close()

    sender = threading.Thread(target=lambda: asyncio.run(stream()))
    sender.start()

    def tile() -> dict[str, Any]:
        tiles = watcher.get("/api/proctor/live").get_json()["attempts"]
        return next(t for t in tiles if t["attempt_id"] == attempt_id)

    saved = []
    try:
        wait_for(lambda: tile()["recording"] == "recording", 20, "recording to start")
        wait_for(lambda: sealed(attempt_id) >= 4, 20, "some sealed segments on disk")
        filler = fill(small_disk)
        for i in range(6):  # the exam goes on while the disk is full
            r = candidate.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": f"Antwort {i}"})
            assert r.status_code == 200, r.get_json()
            saved.append(f"Antwort {i}")
            time.sleep(0.3)
        alerted = wait_for(lambda: tile()["recording"] == "storage_failed" and tile(), 15, "the proctor's alert")
        assert alerted["connection"] == "connected"  # live supervision is not affected
        chat = candidate.post(f"/api/attempts/{attempt_id}/chat", json={"text": "Hallo?"})
        assert chat.status_code == 503 and chat.get_json()["error"]["code"] == "storage_unavailable"
        page = watcher.get("/proctor/live").get_data(as_text=True)
        assert "data-label-recording-failed" in page
        filler.unlink()  # space again: the next retry opens a new part
        wait_for(lambda: tile()["recording"] == "recording", 15, "recording to resume")
        time.sleep(2.0)
    finally:
        stop.set()
        sender.join(30)

    db.session.rollback()
    answer = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id, Answer.question_id == "q1"))
    assert answer is not None and answer.value == saved[-1]
    kinds = [e.kind for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                                                .order_by(AttemptEvent.id))]
    assert "recording_failed" in kinds and "recording_resumed" in kinds
    assert kinds.index("recording_failed") < kinds.index("recording_resumed")

    parts = wait_for(lambda: (db.session.rollback(), recordings(attempt_id))[1] if len(
        recordings(attempt_id)) >= 2 and recordings(attempt_id)[-1].state == BlobState.COMPLETE else None,
        20, "the resumed part to be closed")
    cut, resumed = parts[0], parts[-1]
    assert cut.state == BlobState.CUT  # ended by the full disk: finished, truncated, as after a crash
    reader = vault.open_reader(cut)
    assert reader.truncated
    before = probe(reader.read())
    assert before["video_packets"] > 0 and before["duration"] >= 1.0, before
    after = probe(vault.read(resumed))
    assert after["video_packets"] > 0 and after["duration"] >= 1.5, after
