"""The exam page's events over HTTP (``POST /api/attempts/<id>/events``): the same timeline entries and flags as
over the data channel, for the candidate's own running attempt only, bounded, at the server's time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from exams.models import Attempt, AttemptEvent, AttemptStatus
from kernel.clock import utcnow
from kernel.db import db
from proctoring.models import Flag
from proctoring.page_events import PAGE_EVENTS
from proctoring.sessions import session_id
from tests.conftest import login, start_exam


@pytest.fixture
def running(app, make_institution, make_user, make_exam):
    """Two candidates of one supervised exam, each in a running attempt (no system check: no media here)."""
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    out = []
    for _ in range(2):
        client = app.test_client()
        login(client, make_user("candidate", inst))
        out.append({"client": client, "attempt_id": start_exam(client, exam.id)})
    return out


def _post(client: Any, attempt_id: int, events: Any) -> Any:
    return client.post(f"/api/attempts/{attempt_id}/events", json={"events": events})


def _outcome(attempt_id: int) -> dict[str, Any]:
    """What the proctor sees of an attempt's events: its timeline (the flag entries included) and its flags."""
    events = db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                                .order_by(AttemptEvent.at, AttemptEvent.id)).all()
    flags = db.session.scalars(select(Flag).where(Flag.attempt_id == attempt_id).order_by(Flag.id)).all()
    return {"timeline": [(e.kind, e.detail) for e in events if e.kind not in ("started", "attempt_started")],
            "flags": [(f.kind.value, f.detail, f.status.value) for f in flags]}


EVENTS = [{"type": "tab_hidden"}, {"type": "tab_visible"}, {"type": "fullscreen_exit"}, {"type": "copy"},
          {"type": "screen_refused", "surface": "window"}, {"type": "camera_lost"}, {"type": "media_back"}]


def test_http_and_data_channel_give_the_same_timeline_and_flags(app, running):
    """The engine's data-channel handler (what aiortc calls per message) and the endpoint: one meaning."""
    from proctoring.live import _on_event

    over_channel, over_http = running[0]["attempt_id"], running[1]["attempt_id"]
    for event in EVENTS:
        _on_event(app, session_id(over_channel), {**event, "at": "2020-01-01T00:00:00Z", "origin": "browser"})
    resp = _post(running[1]["client"], over_http, [{**e, "at": "2020-01-01T00:00:00Z"} for e in EVENTS])
    assert resp.status_code == 200 and resp.json == {"recorded": len(EVENTS)}
    db.session.expire_all()
    channel, http = _outcome(over_channel), _outcome(over_http)
    assert channel == http
    kinds = [k for k, _ in http["timeline"]]
    assert kinds.count("flag") == 4  # tab_hidden, fullscreen_exit, copy_paste, media_lost
    assert ("screen_refused", {"surface": "window"}) in http["timeline"]
    assert kinds.index("tab_visible") < kinds.index("screen_refused") < kinds.index("media_back")  # page's order
    assert [f[0] for f in http["flags"]] == ["tab_hidden", "fullscreen_exit", "copy_paste", "media_lost"]
    assert http["flags"][3][1] == {"source": "browser", "device": "camera"}


def test_a_forged_page_time_does_not_backdate_the_flag(running):
    before = utcnow()
    a = running[0]
    resp = _post(a["client"], a["attempt_id"], [{"type": "tab_hidden", "at": "2000-01-01T00:00:00Z"}])
    assert resp.status_code == 200
    flag = db.session.scalars(select(Flag).where(Flag.attempt_id == a["attempt_id"])).one()
    assert before - dt.timedelta(seconds=1) <= flag.started_at <= utcnow()


@pytest.mark.parametrize("events", [
    [{"type": "media_connected"}],                       # the engine's own events: the page cannot claim them
    [{"type": "call_lost"}],
    [{"type": "tab_hidden"}, {"type": "no_such_event"}],  # one unknown refuses all: nothing half-recorded
    [{"type": ["tab_hidden"]}], ["tab_hidden"], [], [{"type": "copy"}] * 21, "tab_hidden", None,
])
def test_bad_events_are_refused_whole(running, events):
    a = running[0]
    resp = _post(a["client"], a["attempt_id"], events)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "validation_failed"
    db.session.expire_all()
    assert _outcome(a["attempt_id"]) == {"timeline": [], "flags": []}


def test_engine_details_from_the_page_are_not_kept(running):
    a = running[0]
    _post(a["client"], a["attempt_id"], [{"type": "tab_visible", "part": 7, "gap_seconds": 99}])
    assert _outcome(a["attempt_id"])["timeline"] == [("tab_visible", {})]


def test_huge_and_non_json_bodies(running):
    a = running[0]
    url = f"/api/attempts/{a['attempt_id']}/events"
    huge = a["client"].post(url, data=b'{"events": [' + b'{"type": "copy"},' * 2000 + b'{"type": "copy"}]}',
                            content_type="application/json")
    assert huge.status_code == 413
    assert a["client"].post(url, data=b"\xff\x00", content_type="application/json").status_code == 400
    assert _outcome(a["attempt_id"]) == {"timeline": [], "flags": []}


def test_someone_elses_attempt_an_ended_one_and_other_roles(app, running, make_user):
    mine, theirs = running
    assert _post(mine["client"], theirs["attempt_id"], [{"type": "tab_hidden"}]).status_code == 404
    assert _post(mine["client"], 10**9, [{"type": "tab_hidden"}]).status_code == 404
    assert _post(app.test_client(), mine["attempt_id"], [{"type": "tab_hidden"}]).status_code == 401
    attempt = db.session.get(Attempt, mine["attempt_id"])
    proctor = make_user("proctor", attempt.exam.institution)
    staff = app.test_client()
    login(staff, proctor)
    assert _post(staff, mine["attempt_id"], [{"type": "tab_hidden"}]).status_code == 403
    assert mine["client"].post(f"/api/attempts/{mine['attempt_id']}/submit", json={}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Attempt, mine["attempt_id"]).status == AttemptStatus.SUBMITTED
    after = _post(mine["client"], mine["attempt_id"], [{"type": "tab_hidden"}])
    assert after.status_code == 409 and after.json["error"]["code"] == "attempt_closed"
    for a in running:
        assert _outcome(a["attempt_id"])["flags"] == []


def test_a_flood_is_cut_per_attempt_and_counted_by_event(app, running):
    app.config["PAGE_EVENTS_PER_MINUTE"] = 30
    a, b = running
    for _ in range(3):
        assert _post(a["client"], a["attempt_id"], [{"type": "copy"}] * 10).status_code == 200
    flood = _post(a["client"], a["attempt_id"], [{"type": "copy"}])
    assert flood.status_code == 429 and flood.headers["Content-Type"].startswith("application/json")
    assert _post(b["client"], b["attempt_id"], [{"type": "copy"}]).status_code == 200  # the other attempt's own
    db.session.expire_all()
    assert len(_outcome(a["attempt_id"])["timeline"]) == 1  # thirty copies: one flag, extended


def test_the_allow_list_is_the_data_channels(running):
    """Every kind the page may send has a label (checked in tests/test_labels.py) and is taken here."""
    a = running[0]
    kinds = sorted(PAGE_EVENTS)
    resp = _post(a["client"], a["attempt_id"], [{"type": k} for k in kinds])
    assert resp.status_code == 200 and resp.json["recorded"] == len(kinds)


def test_the_page_says_where_its_events_go(app, make_institution, make_user, make_exam):
    from proctoring.models import SystemCheck

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    aid = start_exam(client, exam.id)
    page = client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)
    assert f'data-events-url="/api/attempts/{aid}/events"' in page and 'data-events-channel="yes"' in page
    app.config["MEDIA_PLANE"] = "janus"  # only the page is rendered: no engine starts
    assert 'data-events-channel="no"' in client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)


def test_the_phone_page_says_its_camera_stopped_over_http(app, make_institution, make_user, make_exam):
    """The phone's ``camera_lost`` where its data channel does not carry it: the same flag and entry as over it."""
    import re

    from proctoring.live import _on_event
    from proctoring.sessions import phone_session_id

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, second_camera=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    attempts, phones = [], []
    for seed in (1, 2):
        cand = make_user("candidate", inst)
        client = app.test_client()
        login(client, cand)
        phone = app.test_client()
        waiting_link = client.post(f"/api/exams/{exam.id}/phone/pairing").get_json()["link"]
        assert phone.get(re.sub(r"^https?://[^/]+", "", waiting_link)).status_code == 302
        lost = phone.post("/phone/events", json={"type": "camera_lost"})  # before the exam: nothing to flag
        assert lost.status_code == 200 and lost.json == {"recorded": 0}
        attempt = Attempt(exam=exam, user=cand, started_at=utcnow(), deadline_at=utcnow() + dt.timedelta(hours=1),
                          seed=seed, layout={"questions": ["q1"], "options": {}})
        db.session.add(attempt)
        db.session.commit()
        link = client.post(f"/api/exams/{exam.id}/phone/pairing").get_json()["link"]
        assert phone.get(re.sub(r"^https?://[^/]+", "", link)).status_code == 302
        assert phone.get("/phone/state").get_json()["state"] == "exam"
        attempts.append(attempt.id)
        phones.append(phone)
    _on_event(app, phone_session_id(attempts[0]), {"type": "camera_lost", "origin": "browser"})
    resp = phones[1].post("/phone/events", json={"type": "camera_lost", "at": "2000-01-01T00:00:00Z"})
    assert resp.status_code == 200 and resp.json == {"recorded": 1}
    db.session.expire_all()
    assert _outcome(attempts[0]) == _outcome(attempts[1])
    assert _outcome(attempts[1])["flags"] == [("phone_lost", {"source": "browser"}, "open")]
    for bad in ({"type": "media_connected"}, {"type": "tab_hidden"}, {"type": ["camera_lost"]}, []):
        refused = phones[1].post("/phone/events", json=bad)
        assert refused.status_code == 400
    assert app.test_client().post("/phone/events", json={"type": "camera_lost"}).status_code == 410  # no pairing
    db.session.expire_all()
    assert _outcome(attempts[0]) == _outcome(attempts[1])


@pytest.mark.parametrize("junk", [{"type": ["tab_hidden"]}, {"type": {"a": 1}}, {"type": None}, {},
                                  {"type": "media_connected"}, {"type": "tab_hidden" * 10}])
def test_junk_over_the_data_channel_records_nothing(app, running, junk):
    from proctoring.live import _on_event

    a = running[0]
    _on_event(app, session_id(a["attempt_id"]), {**junk, "origin": "browser"})
    assert _outcome(a["attempt_id"]) == {"timeline": [], "flags": []}
