"""Review after the attempt: timeline, playback with seeking by byte range, outcome, access and retention."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from exams.models import Attempt, AttemptEvent
from kernel.clock import clock
from kernel.db import db
from storage import vault
from storage.retention import purge_expired
from tests.conftest import login
from tests.proctoring.conftest import recordings, send_for
from tests.proctoring.test_recording import live  # noqa: F401


def test_review_playback_seek_outcome_access_and_purge(app, live, make_user):  # noqa: F811
    aid, inst = live["attempt_id"], live["inst"]
    send_for(live["client"], aid, 2.0)
    live["client"].post(f"/api/attempts/{aid}/submit")
    staff = app.test_client()
    reviewer = make_user("staff", inst)
    login(staff, reviewer)
    page = staff.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    blob = recordings(aid)[0]
    assert f"/recordings/{blob.id}" in page and "media_connected" not in page
    whole = vault.read(blob)
    full = staff.get(f"/proctor/attempts/{aid}/recordings/{blob.id}")
    assert full.status_code == 200 and full.data == whole
    part = staff.get(f"/proctor/attempts/{aid}/recordings/{blob.id}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == whole[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    beyond = staff.get(f"/proctor/attempts/{aid}/recordings/{blob.id}", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416
    viewed = db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == aid,
                                                          AttemptEvent.kind == "recording_viewed")).all()
    assert len(viewed) == 1 and viewed[0].actor_id == reviewer.id  # audit of who opened it
    from privacy.rights import access_log_of

    audit = access_log_of(recordings(aid)[0].user_id)
    assert [(a.what, a.actor_id, a.attempt_id) for a in audit] == [("recording", reviewer.id, aid),
                                                                   ("chat", reviewer.id, aid)]  # newest first

    assert staff.post(f"/proctor/attempts/{aid}/review", data={"outcome": "findings", "note": ""}).status_code == 400
    staff.post(f"/proctor/attempts/{aid}/review", data={"outcome": "clean", "note": "ok"})
    db.session.rollback()
    assert db.session.get(Attempt, aid).review_outcome == "clean"

    outsider = app.test_client()
    login(outsider, make_user("proctor", inst))  # not assigned to this exam
    foreign = app.test_client()
    login(foreign, make_user("staff"))  # another institution
    for c in (outsider, foreign):
        assert c.get(f"/proctor/attempts/{aid}/review").status_code == 404
        assert c.get(f"/proctor/attempts/{aid}/recordings/{blob.id}").status_code == 404

    attempt = db.session.get(Attempt, aid)
    attempt.result_released_at = clock.now()
    db.session.commit()
    clock.advance(dt.timedelta(days=8))
    purge_expired(clock.now())
    assert staff.get(f"/proctor/attempts/{aid}/recordings/{blob.id}").status_code == 410
    review_page = staff.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert f'class="part-gone" data-blob="{blob.id}"' in review_page
