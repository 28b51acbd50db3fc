"""Email verification, password reset, password change and email change, through the real forms and the mails
the outbox receives (no SMTP configured)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from accounts.models import User
from kernel.clock import clock
from kernel.db import db
from tests.conftest import PASSWORD, link_in, login, mails_to
from tests.hostile.conftest import QUESTIONS

NEW = "ein ganz neues Passwort"


def test_an_unverified_candidate_cannot_start_an_exam_until_the_link_is_followed(client, make_user, make_exam):
    cand = make_user("candidate", verified=False)
    exam = make_exam(institution=cand.institution, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False)
    login(client, cand)
    assert 'id="unverified"' in client.get("/candidate/").get_data(as_text=True)
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 403
    assert client.post("/verify-email/resend").status_code == 302
    client.get(link_in(mails_to(client.application, cand.email)[-1], "/verify-email/"))
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302


def test_a_verification_link_is_bound_to_the_address_and_expires(client, make_user):
    cand = make_user("candidate", verified=False)
    login(client, cand)
    client.post("/verify-email/resend")
    link = link_in(mails_to(client.application, cand.email)[-1], "/verify-email/")
    clock.advance(dt.timedelta(hours=49))
    assert client.get(link).status_code == 410
    assert client.get(link[:-3] + "abc").status_code == 410  # forged
    db.session.refresh(cand)
    assert cand.email_verified_at is None


def test_password_reset_does_not_say_which_addresses_have_an_account(client, make_user):
    cand = make_user("candidate")
    known = client.post("/password-reset", data={"email": cand.email.upper()})
    unknown = client.post("/password-reset", data={"email": "nobody@example.org"})
    body = lambda r: r.get_data(as_text=True).split("<main")[1].split("</main>")[0]  # noqa: E731
    assert known.status_code == unknown.status_code == 200 and body(known) == body(unknown)
    assert len(mails_to(client.application, cand.email)) >= 1
    assert mails_to(client.application, "nobody@example.org") == []


def test_a_reset_link_works_once_and_ends_the_old_password(client, make_user):
    cand = make_user("candidate")
    client.post("/password-reset", data={"email": cand.email})
    link = link_in(mails_to(client.application, cand.email)[-1], "/password-reset/")
    assert client.get(link).status_code == 200
    assert client.post(link, data={"password": "short"}).status_code == 400
    assert client.post(link, data={"password": NEW}).status_code == 302
    assert client.get(link).status_code == 410
    assert client.post(link, data={"password": "noch ein anderes Passwort"}).status_code == 410
    assert client.post("/login", data={"email": cand.email, "password": PASSWORD}).status_code == 401
    login(client, cand, NEW)


def test_a_reset_link_expires_after_an_hour(client, make_user):
    cand = make_user("candidate")
    client.post("/password-reset", data={"email": cand.email})
    link = link_in(mails_to(client.application, cand.email)[-1], "/password-reset/")
    clock.advance(dt.timedelta(minutes=61))
    assert client.post(link, data={"password": NEW}).status_code == 410


def test_account_mails_are_in_the_readers_language(client, make_user):
    de, en = make_user("candidate"), make_user("candidate")
    client.post("/password-reset", data={"email": de.email})
    client.post("/password-reset", data={"email": en.email}, headers={"Accept-Language": "en"})
    assert mails_to(client.application, de.email)[-1]["Subject"] == "Passwort zurücksetzen"
    assert mails_to(client.application, en.email)[-1]["Subject"] == "Reset your password"
    assert "Hallo" in mails_to(client.application, de.email)[-1].get_content()


def test_password_change_needs_the_current_password(client, make_user):
    cand = make_user("candidate")
    login(client, cand)
    assert client.post("/account/password", data={"current": "wrong", "password": NEW}).status_code == 400
    assert client.post("/account/password", data={"current": PASSWORD, "password": NEW}).status_code == 302
    assert client.post("/login", data={"email": cand.email, "password": PASSWORD}).status_code == 401


def test_email_change_is_confirmed_by_the_new_address_and_told_to_the_old(app, client, make_user):
    cand = make_user("candidate")
    old = cand.email
    login(client, cand)
    assert client.post("/account/email", data={"current": "wrong", "email": "neu@example.org"}).status_code == 400
    assert client.post("/account/email", data={"current": PASSWORD, "email": "Neu@Example.org"}).status_code == 302
    db.session.refresh(cand)
    assert cand.email == old  # nothing changes before the new address confirms
    link = link_in(mails_to(app, "neu@example.org")[-1], "/account/email/")
    assert client.get(link).status_code == 302
    user = db.session.scalar(select(User).where(User.id == cand.id))
    db.session.refresh(user)
    assert user.email == "neu@example.org" and user.email_verified_at is not None
    assert "neu@example.org" in mails_to(app, old)[-1].get_content()
    assert client.get("/candidate/").status_code == 302  # every session ended
    assert client.get(link).status_code == 410  # once
    assert client.post("/login", data={"email": old, "password": PASSWORD}).status_code == 401
    login(client, user)


def test_email_change_to_a_taken_address_says_nothing_and_changes_nothing(app, client, make_user):
    cand, other = make_user("candidate"), make_user("candidate")
    login(client, cand)
    before = len(mails_to(app, other.email))
    assert client.post("/account/email", data={"current": PASSWORD, "email": other.email}).status_code == 302
    assert len(mails_to(app, other.email)) == before
