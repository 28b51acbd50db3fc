"""Sessions end on the server: logout, a password change or reset, erasure and an administrator's lock end
every session of the account, and a copied session cookie stops working. A candidate whose address changes in
the middle of the exam stays logged in; no session depends on a client-set X-Forwarded-For."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kernel.clock import utcnow
from tests.conftest import PASSWORD, link_in, login, mails_to
from tests.hostile.conftest import QUESTIONS


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (stolen, or synced)."""
    other = app.test_client()
    cookie = client.get_cookie("session", domain="aufsicht.test")
    assert cookie is not None
    other.set_cookie("session", cookie.value, domain="aufsicht.test")
    return other


def logged_in(client: FlaskClient, home: str = "/candidate/", **how: Any) -> bool:
    resp = client.get(home, **how)
    assert resp.status_code in (200, 302), resp.status_code
    return resp.status_code == 200


@pytest.fixture
def candidate(make_user):
    return make_user("candidate")


def test_a_copied_cookie_stops_working_after_logout(app, client, candidate):
    login(client, candidate)
    thief = copy_of(app, client)
    assert logged_in(thief)
    assert client.post("/logout").status_code == 302
    assert not logged_in(thief)
    assert not logged_in(client)


def test_a_password_change_ends_every_other_session_and_keeps_this_one(app, client, candidate):
    login(client, candidate)
    phone = app.test_client()
    login(phone, candidate)
    thief = copy_of(app, client)
    resp = client.post("/account/password", data={"current": PASSWORD, "password": "ein ganz neues Passwort"})
    assert resp.status_code == 302
    assert logged_in(client)
    assert not logged_in(phone) and not logged_in(thief)


def test_a_password_reset_ends_every_session(app, client, candidate):
    login(client, candidate)
    other = app.test_client()
    other.post("/password-reset", data={"email": candidate.email})
    link = link_in(mails_to(app, candidate.email)[-1], "/password-reset/")
    assert other.post(link, data={"password": "ein ganz neues Passwort"}).status_code == 302
    assert not logged_in(client)


def test_an_administrators_lock_ends_every_session(app, client, make_user):
    proctor = make_user("proctor")
    login(client, proctor)
    assert logged_in(client, "/proctor/")
    admin = app.test_client()
    login(admin, make_user("admin"))
    assert admin.post(f"/admin/users/{proctor.id}/lock", data={"locked": "yes"}).status_code == 302
    assert not logged_in(client, "/proctor/")
    assert app.test_client().post("/login", data={"email": proctor.email, "password": PASSWORD}).status_code == 401


def test_erasure_ends_every_session(app, client, candidate):
    from privacy.erasure import erase_account

    login(client, candidate)
    thief = copy_of(app, client)
    with app.test_request_context():
        erase_account(candidate, utcnow())
    assert not logged_in(client) and not logged_in(thief)


def test_a_candidate_whose_address_changes_mid_exam_stays_logged_in(app, client, make_exam, candidate):
    exam = make_exam(institution=candidate.institution, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False)
    login(client, candidate, environ_base={"REMOTE_ADDR": "198.51.100.20"})
    resp = client.post(f"/candidate/exams/{exam.id}/start", environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert resp.status_code == 302
    attempt = resp.headers["Location"]
    # the phone moves from Wi-Fi to the mobile network; a client claims yet another address in a header
    assert client.get(attempt, environ_base={"REMOTE_ADDR": "203.0.113.77"}).status_code == 200
    assert client.get(attempt, environ_base={"REMOTE_ADDR": "203.0.113.78"},
                      headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
