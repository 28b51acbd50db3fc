"""Advisory flags from sampled frames, as the media engine hands them over (about one per second)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus
from idcheck.images import load_upload
from idcheck.matching import face_encoding
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from proctoring.flags import add_accommodation
from proctoring.live import LiveState, _on_frame
from proctoring.models import Flag, FlagKind
from proctoring.sessions import session_id
from storage import vault
from tests.conftest import FACES
from tests.idcheck.conftest import resized


@pytest.fixture
def app_config():
    return {"PROCTORING_FACE_FLAGS": True, "SNAPSHOT_STORE_SECONDS": 3600}


@pytest.fixture(scope="module")
def workers():
    """One face worker process for the module, as production runs it (PROCTORING_FACE_PROCESSES=1)."""
    from idcheck.facework import FacePool

    pool = FacePool(1)
    yield pool
    pool.close()


@pytest.fixture
def state(workers) -> LiveState:
    """Fresh live state per test, sharing the module's worker process."""
    live = LiveState(0)
    live.faces = workers
    return live


@pytest.fixture
def attempt(app, make_user, make_exam):
    exam = make_exam(identity_check_required=True, proctoring_required=True)
    cand = make_user("candidate", exam.institution)
    att = Attempt(exam=exam, user=cand, deadline_at=exam.closes_at, seed=1, layout={}, status=AttemptStatus.IN_PROGRESS)
    db.session.add(att)
    enc = face_encoding(load_upload((FACES / "obama2.jpg").read_bytes()))
    template = vault.store("face_template", enc.tobytes(), user_id=cand.id)
    db.session.add(IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.VERIFIED,
                           template_blob_id=template.id))
    db.session.commit()
    return att


def frame(name: str) -> np.ndarray:
    """A webcam frame (BGR, 640x480) showing a test photo."""
    return cv2.cvtColor(resized(FACES / name, 640, 480), cv2.COLOR_RGB2BGR)


def kinds(att) -> list[str]:
    db.session.rollback()
    return sorted(f.kind.value for f in db.session.scalars(select(Flag).where(Flag.attempt_id == att.id)))


def test_no_face_for_a_few_seconds(app, attempt, state):
    sid = session_id(attempt.id)
    blank = np.full((480, 640, 3), 60, np.uint8)
    _on_frame(app, state, sid, blank, time.time())
    assert kinds(attempt) == []  # one empty frame is not a flag
    state.no_face_since[attempt.id] -= 5  # five seconds later, still nobody
    _on_frame(app, state, sid, blank, time.time())
    assert kinds(attempt) == ["no_face"]
    assert state.snapshots[attempt.id][1][:2] == b"\xff\xd8"  # the grid's snapshot is a JPEG


def test_a_small_face_is_looked_for_before_a_no_face_flag(app, attempt, state):
    sid = session_id(attempt.id)
    far = np.full((480, 640, 3), 90, np.uint8)  # the candidate sits far from the camera: a 36-pixel face
    far[300:420, 400:560] = cv2.cvtColor(resized(FACES / "obama.jpg", 160, 120), cv2.COLOR_RGB2BGR)
    _on_frame(app, state, sid, far, time.time())
    state.no_face_since[attempt.id] -= 5  # the fast pass has not seen a face for five seconds
    _on_frame(app, state, sid, far, time.time())
    assert kinds(attempt) == [] and attempt.id not in state.no_face_since


def test_two_faces_and_another_person(app, attempt, state):
    sid = session_id(attempt.id)
    _on_frame(app, state, sid, frame("obama.jpg"), time.time())
    assert kinds(attempt) == []  # the verified candidate
    _on_frame(app, state, sid, frame("two_people.jpg"), time.time())
    state.identity_checked_at[attempt.id] -= 10  # the next comparison with the verified face is due
    _on_frame(app, state, sid, frame("biden.jpg"), time.time())
    assert kinds(attempt) == ["multiple_faces", "other_person"]


def test_the_face_is_compared_every_few_seconds(app, attempt, state):
    sid = session_id(attempt.id)
    _on_frame(app, state, sid, frame("obama.jpg"), time.time())
    _on_frame(app, state, sid, frame("biden.jpg"), time.time())
    assert kinds(attempt) == []  # compared a moment ago: not yet again (a face encoding is costly)
    state.identity_checked_at[attempt.id] -= app.config["PROCTORING_IDENTITY_SECONDS"]
    _on_frame(app, state, sid, frame("biden.jpg"), time.time())
    assert kinds(attempt) == ["other_person"]


class CountingFaces:
    """The module's face workers, counting the passes that asked for an encoding (dlib's ~0.1 s)."""

    def __init__(self, pool) -> None:
        self.pool, self.encodings = pool, 0

    def run(self, rgb, *, thorough_if_none: bool, encode: bool):
        self.encodings += encode
        return self.pool.run(rgb, thorough_if_none=thorough_if_none, encode=encode)


def test_two_people_in_view_are_encoded_once_a_period_not_every_second(app, attempt, state):
    """A picture with two faces allows no comparison with the verified face; the encoding of it was still made,
    so the next one waits for the period, as after a comparison (each second's encoding cost ten times a
    candidate's face work)."""
    sid = session_id(attempt.id)
    state.faces = counting = CountingFaces(state.faces)
    for _ in range(3):
        _on_frame(app, state, sid, frame("two_people.jpg"), time.time())
    assert counting.encodings == 1
    assert kinds(attempt) == ["multiple_faces"]
    state.identity_checked_at[attempt.id] -= app.config["PROCTORING_IDENTITY_SECONDS"]
    _on_frame(app, state, sid, frame("biden.jpg"), time.time())  # due again: one person, not the verified one
    assert counting.encodings == 2
    assert kinds(attempt) == ["multiple_faces", "other_person"]


def test_accommodation_silences_a_flag_type(app, attempt, make_user, state):
    add_accommodation(attempt.user_id, attempt.exam_id, FlagKind.OTHER_PERSON, "twin sister in the room",
                      make_user("staff", attempt.exam.institution))
    _on_frame(app, state, session_id(attempt.id), frame("biden.jpg"), time.time())
    assert kinds(attempt) == []


def _longest_stall(thread, work) -> float:
    """Run ``work`` on ``thread`` (an executor of one thread, as the engine's analysis threads are) while
    this thread ticks every millisecond, as the engine's event loop does; return the longest gap between
    two ticks (seconds)."""
    job = thread.submit(work)
    longest, last = 0.0, time.perf_counter()
    while not job.done():
        time.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    job.result()
    return longest


def test_face_work_in_a_worker_process_does_not_stall_the_engine(app, attempt, state, workers):
    """dlib keeps the GIL while it detects and encodes: in the engine's own threads (FacePool(0)) that
    stops every other thread, the event loop included; in the worker process it does not."""
    from concurrent.futures import ThreadPoolExecutor

    from idcheck.facework import FacePool

    image = cv2.cvtColor(frame("biden.jpg"), cv2.COLOR_BGR2RGB)
    inline = FacePool(0)

    def passes(pool):
        return lambda: [pool.run(image, thorough_if_none=False, encode=True) for _ in range(3)]

    with ThreadPoolExecutor(1) as thread:
        thread.submit(passes(inline)).result()  # the models are loaded in that thread first
        workers.run(image, thorough_if_none=False, encode=True)  # and the worker is up
        # The least of three runs: a busy machine may not schedule this thread for a while either way,
        # but only dlib in this process stops it on every run.
        in_thread = min(_longest_stall(thread, passes(inline)) for _ in range(3))
        in_process = min(_longest_stall(thread, passes(workers)) for _ in range(3))
    assert in_thread > 0.03, f"dlib did not hold the GIL for long ({in_thread * 1000:.0f} ms): the test proves nothing"
    print(f"longest stall: {in_thread * 1000:.0f} ms in the engine process, {in_process * 1000:.0f} ms with a worker")
    assert in_process < in_thread / 3, (in_process, in_thread)


def test_a_dead_worker_is_replaced(app, attempt):
    """A worker process that dies costs one sample; the next frame gets a new worker."""
    import os
    import signal

    from idcheck.facework import FacePool

    pool = FacePool(1)
    try:
        image = cv2.cvtColor(frame("obama.jpg"), cv2.COLOR_BGR2RGB)
        first = pool.run(image, thorough_if_none=False, encode=False)
        assert first is not None and len(first.boxes) == 1
        for pid in list(pool._executor._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert pool.run(image, thorough_if_none=False, encode=False) is None  # that sample is lost
        again = pool.run(image, thorough_if_none=False, encode=True)
        assert again is not None and len(again.boxes) == 1 and again.encoding is not None
    finally:
        pool.close()


def test_the_face_coming_back_is_logged_as_the_run_that_cleared_the_flag(app, attempt, state):
    from oversight.runlog import runs_of

    sid = session_id(attempt.id)
    blank = np.full((480, 640, 3), 60, np.uint8)
    _on_frame(app, state, sid, blank, time.time())
    state.no_face_since[attempt.id] -= 5
    _on_frame(app, state, sid, blank, time.time())
    assert kinds(attempt) == ["no_face"]
    state.snapshots.pop(attempt.id, None)
    _on_frame(app, state, sid, frame("obama.jpg"), time.time())  # the candidate is back
    _on_frame(app, state, sid, frame("obama.jpg"), time.time())  # and stays: no second clearing run
    db.session.rollback()
    assert [(r.flag_kind, r.outcome) for r in runs_of(attempt.id)] == [("no_face", "raised"), ("no_face", "cleared")]
