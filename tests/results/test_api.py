"""Institution API tokens: shown once and stored as a hash only, scoped, revocable, last use noted, one institution
only; the bearer API reads results and manages the roster through the roster domain."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from sqlalchemy import select

from exams.models import Enrolment
from kernel.clock import clock, utcnow
from kernel.db import db
from privacy.models import AccessLog
from results.models import ApiToken
from results.tokens import Scope, create_token
from tests.conftest import login


def _token(staff, *scopes: Scope) -> str:
    return create_token(staff, "Campus-System", [s.value for s in scopes], utcnow()).token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_office_sees_a_new_token_once_and_only_its_hash_is_stored(client, office):
    login(client, office.staff)
    home = client.get("/staff/").get_data(as_text=True)
    assert 'id="api-link">API und Webhooks<' in home
    page = client.post("/staff/api/tokens", data={"name": "Campus-System", "scopes": ["results:read"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "nur dieses eine Mal gezeigt" in html
    token = re.search(r'<code id="new-token">(afs_[A-Za-z0-9_-]+)</code>', html).group(1)
    row = db.session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.scopes == ["results:read"]
    stored = [str(getattr(row, c.name)) for c in ApiToken.__table__.columns]
    assert not any(token in value for value in stored) and row.prefix == token[:12]
    again = client.get("/staff/api").get_data(as_text=True)
    assert token not in again and f"{token[:12]}…" in again and "Ergebnisse lesen" in again
    assert client.get(f"/api/v1/exams/{office.exam.id}/results", headers=_auth(token)).status_code == 200


def test_a_token_does_only_what_its_scopes_allow(client, office, released):
    reader = _token(office.staff, Scope.RESULTS_READ)
    roster = _token(office.staff, Scope.ROSTERS_MANAGE)
    exam = office.exam.id
    assert client.get(f"/api/v1/exams/{exam}/results", headers=_auth(reader)).status_code == 200
    for method, path in (("GET", f"/api/v1/exams/{exam}/roster"), ("POST", f"/api/v1/exams/{exam}/roster")):
        resp = client.open(path, method=method, headers=_auth(reader), json={"email": "x@example.org"})
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/exams/{exam}/results", headers=_auth(roster)).status_code == 403
    assert client.get(f"/api/v1/exams/{exam}/roster", headers=_auth(roster)).status_code == 200
    assert client.get("/api/v1/exams", headers=_auth(roster)).get_json() == {"exams": [
        {"id": exam, "title": "Deutsch B1", "opens_at": office.exam.opens_at.replace(microsecond=0).isoformat() + "Z",
         "closes_at": office.exam.closes_at.replace(microsecond=0).isoformat() + "Z"}]}


def test_no_token_a_wrong_one_or_a_session_is_refused(client, office):
    for headers in ({}, {"Authorization": "Bearer afs_not-a-token"}, {"Authorization": "Basic eDp5"}):
        resp = client.get(f"/api/v1/exams/{office.exam.id}/results", headers=headers)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.get_json()["error"]["code"] == "invalid_token"
    login(client, office.staff)  # a logged-in exam office is no token
    assert client.get(f"/api/v1/exams/{office.exam.id}/results").status_code == 401


def test_a_revoked_token_is_refused_at_once_after_asking(client, office):
    token = _token(office.staff, Scope.RESULTS_READ)
    row = db.session.scalars(select(ApiToken)).one()
    login(client, office.staff)
    ask = client.post(f"/staff/api/tokens/{row.id}/revoke")
    assert "Den API-Schlüssel „Campus-System“ widerrufen?" in ask.get_data(as_text=True)
    assert client.get("/api/v1/exams", headers=_auth(token)).status_code == 200  # asking revoked nothing
    assert client.post(f"/staff/api/tokens/{row.id}/revoke", data={"confirm": "yes"}).status_code == 302
    assert client.get("/api/v1/exams", headers=_auth(token)).status_code == 401
    db.session.refresh(row)
    assert row.revoked_at is not None and row.revoked_by_id == office.staff.id
    assert "widerrufen am" in client.get("/staff/api").get_data(as_text=True)


def test_the_last_use_is_noted(client, office):
    token = _token(office.staff, Scope.RESULTS_READ)
    row = db.session.scalars(select(ApiToken)).one()
    assert row.last_used_at is None
    client.get("/api/v1/exams", headers=_auth(token))
    db.session.refresh(row)
    first = row.last_used_at
    assert first is not None
    clock.advance(dt.timedelta(minutes=2))
    client.get("/api/v1/exams", headers=_auth(token))
    db.session.refresh(row)
    assert row.last_used_at > first


def test_a_token_sees_its_own_institution_only(client, office, released, make_institution, make_user, make_exam):
    other = make_institution("Andere Schule")
    other_staff = make_user("staff", other)
    other_exam = make_exam(institution=other, title="Fremd")
    token = _token(other_staff, Scope.RESULTS_READ, Scope.ROSTERS_MANAGE)
    for method, path in (("GET", f"/api/v1/exams/{office.exam.id}/results"),
                         ("GET", f"/api/v1/exams/{office.exam.id}/roster"),
                         ("POST", f"/api/v1/exams/{office.exam.id}/roster")):
        resp = client.open(path, method=method, headers=_auth(token), json={"email": released.erika.user.email})
        assert resp.status_code == 404 and b"Mustermann" not in resp.data
    assert [e["id"] for e in client.get("/api/v1/exams", headers=_auth(token)).get_json()["exams"]] == [other_exam.id]
    # nor can it enrol the other institution's candidate in its own exam
    resp = client.post(f"/api/v1/exams/{other_exam.id}/roster", headers=_auth(token),
                       json={"email": released.erika.user.email})
    assert resp.status_code == 404
    login(client, office.staff)
    assert client.post(f"/staff/api/tokens/{db.session.scalars(select(ApiToken)).one().id}/revoke",
                       data={"confirm": "yes"}).status_code == 404


def test_results_as_json_with_the_reading_in_the_access_log(client, office, released):
    token = _token(office.staff, Scope.RESULTS_READ)
    body = client.get(f"/api/v1/exams/{office.exam.id}/results", headers=_auth(token)).get_json()
    assert body["unreleased"] == 1 and [i["id"] for i in body["items"]] == ["q1", "q2", "q3", "q4"]
    erika = body["results"][0]
    assert erika["candidate"]["name"] == "Erika Mustermann" and erika["items"] == {"q1": 2, "q2": 2, "q3": 1, "q4": 4}
    assert (erika["percent"], erika["passed"], erika["identity_method"], erika["review"]) == \
        ("90.00", True, "person", "not_reviewed")
    assert body["results"][1]["certificate_id"] is None
    logged = db.session.scalars(select(AccessLog).where(AccessLog.what == "results")).all()
    assert sorted(e.subject_id for e in logged) == sorted([released.erika.user_id, released.max.user_id])
    assert all(e.actor_id is None and e.why == "results read by the institution's system (API)" for e in logged)
    client.get(f"/api/v1/exams/{office.exam.id}/results", headers=_auth(token))  # polled again within 10 minutes
    assert len(db.session.scalars(select(AccessLog).where(AccessLog.what == "results")).all()) == 2


def test_the_roster_is_read_and_a_candidate_enrolled(client, office, make_user, make_exam):
    exam = make_exam(institution=office.inst, title="Deutsch C1", enrol_all=False)
    cand = make_user("candidate", office.inst, enrolled=False)
    token = _token(office.staff, Scope.ROSTERS_MANAGE)
    path = f"/api/v1/exams/{exam.id}/roster"
    assert client.get(path, headers=_auth(token)).get_json() == {"exam_id": exam.id, "enrolments": []}
    resp = client.post(path, headers=_auth(token), json={"email": cand.email.upper()})
    assert resp.status_code == 200 and resp.get_json()["email"] == cand.email and resp.get_json()["session"] is None
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.exam_id == exam.id,
                                                        Enrolment.user_id == cand.id)) is not None
    assert [e["email"] for e in client.get(path, headers=_auth(token)).get_json()["enrolments"]] == [cand.email]
    assert client.post(path, headers=_auth(token), json={"email": "niemand@example.org"}).status_code == 404
    for bad in ({}, {"email": 3}, {"email": cand.email, "session_id": "eins"}, [1]):
        assert client.post(path, headers=_auth(token), json=bad).status_code == 400
    assert client.post(path, headers=_auth(token), json={"email": cand.email, "session_id": 999999}).status_code == 404
