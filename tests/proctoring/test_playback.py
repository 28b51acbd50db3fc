"""The review's playback copies: a finished part remuxed (packets copied) into a WebM with duration and cues, by
the job, encrypted like the part and purged with it; the review page's chat text, snapshots and flag states; every
opening of a recording or chat in the staff access log, whatever the range."""

from __future__ import annotations

import datetime as dt
import io

import av
import pytest
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import runner
from privacy.models import AccessLog
from proctoring.models import Flag, FlagKind, FlagStatus, RecordingPlayback
from proctoring.playback import CATEGORY, make_playback
from storage import vault
from storage.models import Blob, BlobState
from storage.retention import purge_expired
from tests.conftest import login
from tests.proctoring.conftest import recordings, send_for
from tests.proctoring.test_recording import live  # noqa: F401

EBML = b"\x1a\x45\xdf\xa3"


def _packets(webm: bytes) -> list[tuple[str, int, bytes]]:
    c = av.open(io.BytesIO(webm))
    out = [(p.stream.type, int(p.pts), bytes(p)) for p in c.demux() if p.pts is not None]
    c.close()
    return out


@pytest.fixture
def ended(app, live, make_user):  # noqa: F811
    """An attempt with a 3 s recording, submitted, and a staff reviewer logged in."""
    aid = live["attempt_id"]
    send_for(live["client"], aid, 3.0)
    assert live["client"].post(f"/api/attempts/{aid}/submit").status_code == 200
    staff = app.test_client()
    reviewer = make_user("staff", live["inst"])
    login(staff, reviewer)
    return {**live, "staff": staff, "reviewer": reviewer, "part": recordings(aid)[0]}


def test_the_job_remuxes_a_finished_part_into_an_encrypted_seekable_copy(app, ended):
    part = ended["part"]
    original = vault.read(part)
    assert av.open(io.BytesIO(original)).duration is None  # as recorded: streamed WebM, no duration, no cues

    job_id = runner().enqueue("proctoring.remux_recordings")
    assert runner().wait(job_id, timeout=120) == 1  # type: ignore[attr-defined]
    db.session.rollback()
    row = db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == part.id))
    assert row is not None and row.state == "ready", row and row.error
    assert row.screen_copy_id is None  # camera and microphone only: no screen copy
    copy = db.session.get(Blob, row.copy_id)
    assert copy.category == CATEGORY and copy.state == BlobState.COMPLETE
    assert (copy.attempt_id, copy.user_id, copy.institution_id) == (part.attempt_id, part.user_id,
                                                                     part.institution_id)
    assert vault.backend().read_range(copy.key, 0, 4) != EBML  # encrypted on disk like the part

    webm = vault.read(copy)
    assert webm[:4] == EBML and b"\x1c\x53\xbb\x6b" in webm[len(webm) // 2:]  # the index (cues) is written
    c = av.open(io.BytesIO(webm))
    assert c.duration is not None and 2.0 <= c.duration / 1e6 <= 6.0
    assert abs(row.duration_ms - c.duration / 1000) < 100
    c.close()
    assert _packets(webm) == _packets(original)  # every packet copied unchanged: no re-encoding
    # The recorder stamps the first frame's wall time; the copy knows where the part starts.
    assert abs((row.started_at - part.created_at).total_seconds()) < 10

    # The job runs again: nothing more to do, no second copy.
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=60) == 0  # type: ignore
    assert make_playback(part, clock.now()).id == row.id

    # The review serves the copy (the player can seek in it) under the part's address.
    staff, aid = ended["staff"], ended["attempt_id"]
    full = staff.get(f"/proctor/attempts/{aid}/recordings/{part.id}")
    assert full.status_code == 200 and full.data == webm and full.headers["Content-Length"] == str(len(webm))
    page = staff.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert 'data-seekable="yes"' in page and f'data-duration="{row.duration_ms}"' in page

    # Retention: the copy goes with the part, under the same rule.
    attempt = db.session.get(Attempt, aid)
    attempt.result_released_at = clock.now()
    db.session.commit()
    clock.advance(dt.timedelta(days=8))
    purge_expired(clock.now())
    db.session.rollback()
    assert db.session.get(Blob, copy.id).state == BlobState.PURGED
    assert db.session.get(Blob, part.id).state == BlobState.PURGED
    assert staff.get(f"/proctor/attempts/{aid}/recordings/{part.id}").status_code == 410


def test_a_part_that_is_not_webm_is_marked_failed_and_plays_as_recorded(app, ended):
    bogus = vault.store("recording", b"not a webm at all " * 100, content_type="video/webm",
                        attempt_id=ended["attempt_id"], user_id=ended["part"].user_id,
                        institution_id=ended["part"].institution_id)
    row = make_playback(bogus, clock.now())
    assert row.state == "failed" and row.copy_id is None and row.error
    # No half-made copy is left readable.
    assert not db.session.scalars(select(Blob).where(Blob.category == CATEGORY,
                                                     Blob.state != BlobState.PURGED)).all()
    served = ended["staff"].get(f"/proctor/attempts/{ended['attempt_id']}/recordings/{bogus.id}")
    assert served.status_code == 200 and served.data == b"not a webm at all " * 100


def _audit(subject_id: int, what: str = "recording") -> list[AccessLog]:
    db.session.rollback()
    return list(db.session.scalars(select(AccessLog).where(AccessLog.subject_id == subject_id,
                                                           AccessLog.what == what).order_by(AccessLog.id)))


def test_review_page_shows_chat_text_snapshots_and_flag_states_and_logs_the_chat_reading(app, live,  # noqa: F811
                                                                                       make_user):
    aid = live["attempt_id"]
    cand = live["client"]
    proctor_client = app.test_client()
    reviewer = make_user("staff", live["inst"])
    login(proctor_client, reviewer)
    assert cand.post(f"/api/attempts/{aid}/chat", json={"text": "Mein Netz ist <b>langsam</b>"}).status_code == 200
    assert proctor_client.post(f"/api/proctor/attempts/{aid}/chat", json={"text": "Kein Problem"}).status_code == 200
    attempt = db.session.get(Attempt, aid)
    snap = vault.store("snapshot", b"\xff\xd8\xff\xe0 jpeg", content_type="image/jpeg", attempt_id=aid,
                       user_id=attempt.user_id, institution_id=attempt.exam.institution_id)
    now = clock.now()
    db.session.add_all([Flag(attempt_id=aid, kind=FlagKind.TAB_HIDDEN, started_at=now, last_seen_at=now),
                        Flag(attempt_id=aid, kind=FlagKind.VOICE, started_at=now, last_seen_at=now,
                             status=FlagStatus.DISMISSED, note="liest laut vor")])
    db.session.commit()
    assert cand.post(f"/api/attempts/{aid}/submit").status_code == 200

    page = proctor_client.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert "Mein Netz ist &lt;b&gt;langsam&lt;/b&gt;" in page and "Kein Problem" in page  # the text, escaped
    assert "chat_from_candidate" not in page and "chat_from_proctor" not in page
    assert f"/proctor/attempts/{aid}/snapshots/{snap.id}" in page
    assert 'data-state="open"' in page and 'data-state="dismissed"' in page and "liest laut vor" in page
    assert "tab_hidden" not in page.replace('data-kind="', "").split("<h2>")[2]  # flag kinds shown in words
    img = proctor_client.get(f"/proctor/attempts/{aid}/snapshots/{snap.id}")
    assert img.status_code == 200 and img.data == b"\xff\xd8\xff\xe0 jpeg"
    assert img.headers["Cache-Control"] == "no-store"

    audit = _audit(attempt.user_id, "chat")
    assert [(a.actor_id, a.attempt_id) for a in audit] == [(reviewer.id, aid)]  # the live chat's reading included
    assert [a.actor_id for a in _audit(attempt.user_id, "snapshot")] == [reviewer.id]
    # A proctor's live chat polls every few seconds: one entry per window, not one per poll.
    for _ in range(3):
        proctor_client.get(f"/api/proctor/attempts/{aid}/chat")
    assert len(_audit(attempt.user_id, "chat")) == 1
    clock.advance(dt.timedelta(seconds=app.config["ACCESS_LOG_WINDOW_SECONDS"] + 1))
    proctor_client.get(f"/api/proctor/attempts/{aid}/chat")
    assert len(_audit(attempt.user_id, "chat")) == 2


def test_every_label_of_the_review_has_words():
    from app import create_app
    from exams.models import AttemptStatus
    from proctoring.page_events import TIMELINE_EVENTS
    from proctoring.timeline_labels import EVENT_LABELS, FLAG_LABELS, FLAG_STATE_LABELS, STATUS_LABELS

    assert set(FlagKind) == set(FLAG_LABELS) and set(FlagStatus) == set(FLAG_STATE_LABELS)
    assert {s.value for s in AttemptStatus} == set(STATUS_LABELS)
    assert set().union(*TIMELINE_EVENTS.values()) <= set(EVENT_LABELS)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.test_request_context(headers={"Accept-Language": "de"}):
        german = {str(v) for v in EVENT_LABELS.values()}
    assert "Kamera und Mikrofon verbunden" in german and "Chatnachricht der Person, die die Prüfung ablegt" in german


def test_a_part_cut_by_a_crash_is_remuxed_as_far_as_it_got(app, make_user, make_exam):
    from proctoring.jobs import remux_recordings
    from tests.conftest import write_and_die
    from tests.proctoring.conftest import tiny_webm

    exam = make_exam(identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", exam.institution)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, status=AttemptStatus.SUBMITTED, started_at=now, deadline_at=now,
                  ended_at=now, seed=1, layout={})
    db.session.add(att)
    db.session.commit()
    whole = tiny_webm(4.0)
    app.config["STORAGE_SEGMENT_SIZE"] = 4096  # small segments, so that most of this short part is sealed
    write_and_die(whole, attempt_id=att.id, user_id=cand.id, institution_id=exam.institution_id)
    part = recordings(att.id)[0]
    assert remux_recordings() == 0  # still being written as far as anyone knows: not yet
    vault.finish_cut(part)  # what the finish_cut_recordings job does ten minutes after the attempt
    assert remux_recordings() == 1
    row = db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == part.id))
    assert row.state == "ready"
    readable = vault.open_reader(part).read()
    assert len(readable) < len(whole)  # the unsealed tail is gone
    copy = vault.read(db.session.get(Blob, row.copy_id))
    assert _packets(copy) == _packets(readable)[:len(_packets(copy))] and len(_packets(copy)) > 10
    assert 0 < row.duration_ms < 4000


def test_a_part_bigger_than_the_head_is_copied_byte_for_byte_past_it(app, make_user, make_exam):
    from proctoring.playback import HEAD_LIMIT
    from tests.proctoring.conftest import tiny_webm

    exam = make_exam(identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", exam.institution)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, status=AttemptStatus.SUBMITTED, started_at=now, deadline_at=now,
                  ended_at=now, seed=1, layout={})
    db.session.add(att)
    db.session.commit()
    webm = tiny_webm(3.0, noise=True)
    assert len(webm) > 2 * HEAD_LIMIT
    part = vault.store("recording", webm, content_type="video/webm", attempt_id=att.id, user_id=cand.id,
                       institution_id=exam.institution_id)
    row = make_playback(part, now)
    assert row.state == "ready", row.error
    copy = vault.read(db.session.get(Blob, row.copy_id))
    assert len(copy) > 2 * HEAD_LIMIT and _packets(copy) == _packets(webm)
    c = av.open(io.BytesIO(copy))
    assert c.duration is not None and abs(c.duration / 1e6 - row.duration_ms / 1000) < 0.1
    c.seek(2_000_000)  # the index takes a demuxer straight to the keyframe before 2 s
    first = next(p for p in c.demux(video=0) if p.pts is not None)
    assert first.is_keyframe and float(first.pts * first.time_base) <= 2.0
    c.close()
