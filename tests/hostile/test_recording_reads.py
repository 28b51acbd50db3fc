"""Reading a candidate's recording, chat or snapshots leaves a trace whatever the request looks like.

Before, only a request starting at byte 0 was logged: a suffix range (``bytes=-N``) or ``bytes=1-`` read a
whole recording unlogged, and reading the chat was never logged. Now every opening by a person is in the staff
access log (which the candidate sees), one entry per reader and attempt within ``ACCESS_LOG_WINDOW_SECONDS``,
and the ranges are served exactly, streamed segment by segment.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kernel.clock import clock
from kernel.db import db
from privacy.models import AccessLog
from storage import vault
from tests.conftest import login

BODY = bytes(range(256)) * 40  # 10 KiB over several storage segments


@pytest.fixture
def app_config():
    return {"STORAGE_SEGMENT_SIZE": 1024}


@pytest.fixture
def tenant(app, make_tenant):
    t = make_tenant("Lesespur")
    part = vault.store("recording", BODY, content_type="video/webm", attempt_id=t.attempt_live.id,
                       user_id=t.candidate.id, institution_id=t.inst.id)
    t.part = part
    t.url = f"/proctor/attempts/{t.attempt_live.id}/recordings/{part.id}"
    return t


def _log(subject_id: int, what: str) -> list[tuple[int | None, int | None]]:
    db.session.rollback()
    return [(a.actor_id, a.attempt_id) for a in db.session.scalars(
        select(AccessLog).where(AccessLog.subject_id == subject_id, AccessLog.what == what).order_by(AccessLog.id))]


@pytest.mark.parametrize("rng, expected", [
    ("bytes=-100", BODY[-100:]), ("bytes=1-", BODY[1:]), ("bytes=0-", BODY), ("bytes=5000-5999", BODY[5000:6000]),
    ("bytes=1023-1024", BODY[1023:1025]), (None, BODY)])
def test_any_range_is_logged_and_served_exactly(app, tenant, rng, expected):
    c = app.test_client()
    login(c, tenant.staff)
    resp = c.get(tenant.url, headers={"Range": rng} if rng else {})
    assert resp.status_code == (206 if rng else 200) and resp.data == expected
    assert resp.headers["Content-Length"] == str(len(expected))
    assert _log(tenant.candidate.id, "recording") == [(tenant.staff.id, tenant.attempt_live.id)]


def test_seeks_share_one_entry_per_window_and_every_reader_has_their_own(app, tenant):
    staff, proctor = app.test_client(), app.test_client()
    login(staff, tenant.staff)
    login(proctor, tenant.proctor)
    for r in ("bytes=-10", "bytes=100-", "bytes=0-99", "bytes=9000-"):
        assert staff.get(tenant.url, headers={"Range": r}).status_code == 206
    assert proctor.get(tenant.url, headers={"Range": "bytes=-1"}).status_code == 206
    assert _log(tenant.candidate.id, "recording") == [(tenant.staff.id, tenant.attempt_live.id),
                                                      (tenant.proctor.id, tenant.attempt_live.id)]
    clock.advance(dt.timedelta(seconds=app.config["ACCESS_LOG_WINDOW_SECONDS"] + 1))
    staff.get(tenant.url, headers={"Range": "bytes=1-1"})
    assert len(_log(tenant.candidate.id, "recording")) == 3  # a new opening after the window
    from exams.models import AttemptEvent

    viewed = db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == tenant.attempt_live.id,
                                                          AttemptEvent.kind == "recording_viewed")).all()
    assert [e.actor_id for e in viewed] == [tenant.staff.id, tenant.proctor.id, tenant.staff.id]  # the timeline too


def test_odd_ranges(app, tenant):
    c = app.test_client()
    login(c, tenant.staff)
    n = len(BODY)
    assert c.get(tenant.url, headers={"Range": f"bytes={n}-"}).status_code == 416
    assert c.get(tenant.url, headers={"Range": f"bytes=-{n * 2}"}).data == BODY  # a suffix longer than the part
    beyond = c.get(tenant.url, headers={"Range": f"bytes=10-{n * 3}"})
    assert beyond.data == BODY[10:] and beyond.headers["Content-Range"] == f"bytes 10-{n - 1}/{n}"
    several = c.get(tenant.url, headers={"Range": "bytes=0-1,5-6"})  # several ranges: the whole part
    assert several.status_code == 200 and several.data == BODY
    assert c.get(tenant.url, headers={"Range": "bytes=9-2"}).data == BODY  # a malformed range: ignored


def test_other_tenants_and_other_attempts_read_nothing_and_leave_no_entry(app, tenant, make_tenant):
    other = make_tenant("Fremd")
    c = app.test_client()
    login(c, other.staff)
    assert c.get(tenant.url, headers={"Range": "bytes=-100"}).status_code == 404
    # The part's id under the other tenant's own attempt: not theirs either.
    assert c.get(f"/proctor/attempts/{other.attempt_live.id}/recordings/{tenant.part.id}").status_code == 404
    snap = vault.store("snapshot", b"\xff\xd8 jpeg", content_type="image/jpeg", attempt_id=tenant.attempt_live.id,
                       user_id=tenant.candidate.id, institution_id=tenant.inst.id)
    assert c.get(f"/proctor/attempts/{other.attempt_live.id}/snapshots/{snap.id}").status_code == 404
    assert c.get(f"/api/proctor/attempts/{tenant.attempt_live.id}/chat").status_code == 404
    # A recording part asked for as a snapshot, and the reverse: not found.
    mine = app.test_client()
    login(mine, tenant.staff)
    assert mine.get(f"/proctor/attempts/{tenant.attempt_live.id}/snapshots/{tenant.part.id}").status_code == 404
    assert mine.get(f"/proctor/attempts/{tenant.attempt_live.id}/recordings/{snap.id}").status_code == 404
    for what in ("recording", "chat", "snapshot"):
        assert _log(tenant.candidate.id, what) == []


def test_reading_the_chat_is_logged(app, tenant):
    c = app.test_client()
    login(c, tenant.proctor)
    msgs = c.get(f"/api/proctor/attempts/{tenant.attempt_live.id}/chat").get_json()["messages"]
    assert [m["text"] for m in msgs] == ["Frage Lesespur"]
    assert _log(tenant.candidate.id, "chat") == [(tenant.proctor.id, tenant.attempt_live.id)]
    # The candidate reading their own chat is not a staff access.
    cand = app.test_client()
    login(cand, tenant.candidate)
    assert cand.get(f"/api/attempts/{tenant.attempt_live.id}/chat").status_code == 200
    assert len(_log(tenant.candidate.id, "chat")) == 1
