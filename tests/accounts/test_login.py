"""Login, throttling, audit, logout everywhere, cookies."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from accounts.models import LoginEvent
from kernel.clock import clock
from kernel.db import db
from tests.conftest import PASSWORD, login


def test_login_and_audit(client, make_user):
    user = make_user("candidate")
    resp = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    event = db.session.scalar(select(LoginEvent))
    assert (event.user_id, event.success, event.ip) == (user.id, True, "203.0.113.7")


def test_proctor_login_audits_password_and_second_factor(client, make_user):
    user = make_user("proctor")
    resp = login(client, user, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert resp.headers["Location"] == "/"
    events = db.session.scalars(select(LoginEvent).order_by(LoginEvent.id)).all()
    assert [(e.user_id, e.success, e.ip, e.detail) for e in events] == [
        (user.id, True, "203.0.113.7", None), (user.id, True, "203.0.113.7", "second factor")]


def test_wrong_password_is_generic_and_audited(client, make_user):
    user = make_user("staff")
    resp = client.post("/login", data={"email": user.email, "password": "wrong"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
    assert resp.status_code == unknown.status_code == 401
    assert resp.get_data(as_text=True).count('id="login-error"') == 1
    events = db.session.scalars(select(LoginEvent).order_by(LoginEvent.id)).all()
    assert [e.success for e in events] == [False, False]
    assert events[0].user_id == user.id and events[1].user_id is None


def test_throttle_after_repeated_failures_then_recovers(client, make_user):
    user = make_user("candidate")
    for _ in range(5):
        assert client.post("/login", data={"email": user.email, "password": "nope"}).status_code == 401
    # even the right password is refused while throttled
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 429
    clock.advance(dt.timedelta(minutes=16))
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_throttle_is_per_ip_too(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 5
    users = [make_user("candidate") for _ in range(6)]
    for u in users[:5]:
        client.post("/login", data={"email": u.email, "password": "x"}, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    resp = client.post("/login", data={"email": users[5].email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert resp.status_code == 429


def test_logout_everywhere_ends_other_sessions(app, make_user):
    user = make_user("candidate")
    phone, laptop = app.test_client(), app.test_client()
    login(phone, user)
    login(laptop, user)
    assert phone.get("/candidate/").status_code == 200
    assert laptop.post("/logout-everywhere").status_code == 302
    assert phone.get("/candidate/").status_code == 302  # sent to the login page


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user("candidate")
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_open_redirect_after_login_is_refused(client, make_user):
    user = make_user("candidate")
    resp = client.post("/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/"
