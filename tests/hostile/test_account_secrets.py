"""What a session left open, a copied cookie or a shared cache could give away about an account's secrets.

The current password asked before grave steps (password change, email change, new recovery codes) is throttled
like a login; new recovery codes need it at all; the authenticator's secret during enrolment is not readable from
the (signed, not encrypted) session cookie; the pages with secrets are never cached; the outbox keeps no reset or
email-change link past its expiry.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from typing import Any

import pyotp
from sqlalchemy import select

from accounts.models import LoginEvent
from exams.mailer import outbox_dir
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import run_job
from tests.conftest import PASSWORD, login, mails_to

ADDR = {"environ_base": {"REMOTE_ADDR": "198.51.100.40"}}


def readable_session(client: Any) -> str:
    """What anyone holding the session cookie reads from it, without the app's key."""
    cookie = client.get_cookie("session", domain=client.application.config["SERVER_NAME"]).value
    compressed = cookie.startswith(".")
    payload = cookie.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(data) if compressed else data).decode()


def test_wrong_current_passwords_are_throttled_like_logins(client, make_user):
    me = make_user("candidate")
    login(client, me, **ADDR)
    for i in range(5):  # someone at an unlocked screen guesses; email and password forms count together
        form = ("/account/password", {"current": f"guess {i}", "password": "a brand new password"}) if i % 2 else \
            ("/account/email", {"current": f"guess {i}", "email": "mine@example.org"})
        resp = client.post(form[0], data=form[1], **ADDR)
        assert resp.status_code == 400 and "Das aktuelle Passwort ist falsch" in resp.get_data(as_text=True)
    resp = client.post("/account/password", data={"current": PASSWORD, "password": "a brand new password"}, **ADDR)
    assert resp.status_code == 429  # held now, even with the right one
    db.session.refresh(me)
    assert me.session_version == 1  # the password did not change
    details = db.session.scalars(select(LoginEvent.detail).where(LoginEvent.success.is_(False))).all()
    assert details.count("bad current password") == 5 and "throttled" in details
    clock.advance(dt.timedelta(minutes=16))
    assert client.post("/account/password", data={"current": PASSWORD, "password": "a brand new password"},
                       **ADDR).status_code == 302


def test_the_password_asked_before_deleting_the_account_is_throttled_like_a_login(client, make_user):
    me = make_user("candidate")
    login(client, me, **ADDR)
    for i in range(5):  # someone at an unlocked screen guesses to erase the account
        resp = client.post("/account/privacy/erase", data={"confirm": "yes", "password": f"guess {i}"}, **ADDR)
        assert resp.status_code == 400
    resp = client.post("/account/privacy/erase", data={"confirm": "yes", "password": PASSWORD}, **ADDR)
    assert resp.status_code == 429  # held now, even with the right one
    db.session.refresh(me)
    assert me.erased_at is None
    details = db.session.scalars(select(LoginEvent.detail).where(LoginEvent.success.is_(False))).all()
    assert details.count("bad current password") == 5


def test_new_recovery_codes_need_the_current_password(client, make_user):
    staff = make_user("staff")
    login(client, staff)
    before = staff.recovery_codes
    page = client.get("/account/security").get_data(as_text=True)
    assert 'id="current-for-codes"' in page
    assert client.post("/account/recovery-codes").status_code == 400
    assert client.post("/account/recovery-codes", data={"current": "wrong"}).status_code == 400
    db.session.refresh(staff)
    assert staff.recovery_codes == before
    resp = client.post("/account/recovery-codes", data={"current": PASSWORD})
    assert resp.status_code == 200
    assert len(re.findall(r"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", resp.get_data(as_text=True))) == 10
    db.session.refresh(staff)
    assert staff.recovery_codes != before


def test_the_enrolment_secret_is_not_readable_from_the_session_cookie(client, make_user):
    staff = make_user("staff", second_factor=False)
    assert client.post("/login", data={"email": staff.email, "password": PASSWORD}).headers["Location"].endswith(
        "/login/enrol")
    page = client.get("/login/enrol")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.get_data(as_text=True)).group(1)
    cookie = readable_session(client)
    assert "pending_login" in cookie  # we do read the cookie
    assert secret not in cookie and secret not in base64.b32decode(secret).hex()
    # the same secret on the next view (the QR code scanned a moment ago stays good), and enrolment works
    again = client.get("/login/enrol").get_data(as_text=True)
    assert f'id="totp-secret">{secret}<' in again
    assert client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert client.get("/staff/").status_code == 200


def test_pages_with_secrets_and_json_answers_are_not_cached(client, make_user, make_exam):
    staff = make_user("staff", second_factor=False)
    client.post("/login", data={"email": staff.email, "password": PASSWORD})
    assert client.get("/login/enrol").headers.get("Cache-Control") == "no-store"
    proctor = make_user("proctor")
    other = type(client)(client.application)
    other.post("/login", data={"email": proctor.email, "password": PASSWORD})
    assert other.get("/login/second-factor").headers.get("Cache-Control") == "no-store"
    assert other.get("/login").headers.get("Cache-Control") == "no-store"
    candidate = make_user("candidate")
    exam = make_exam(institution=candidate.institution)
    third = type(client)(client.application)
    login(third, candidate)
    resp = third.get(f"/api/identity/{exam.id}")
    assert resp.is_json and resp.headers.get("Cache-Control") == "no-store"
    # a public answer that may be cached still says so
    assert "public" in third.get("/.well-known/jwks.json").headers["Cache-Control"]


def test_the_outbox_keeps_no_reset_or_email_change_link_past_its_expiry(app, client, make_user):
    from exams.mailer import purge_expired_links

    clock.advance(dt.timedelta(days=3))
    purge_expired_links(clock.now())  # what earlier tests of the session left there has expired by now
    before = set(outbox_dir().glob("*.eml"))
    me = make_user("candidate")
    client.post("/password-reset", data={"email": me.email})
    login(client, me)
    assert client.post("/account/email", data={"current": PASSWORD, "email": "secrets-new-home@example.org"}
                       ).status_code == 302
    assert len(mails_to(app, me.email)) == 1 and len(mails_to(app, "secrets-new-home@example.org")) == 1
    assert len(set(outbox_dir().glob("*.eml")) - before) == 2
    assert run_job("accounts.purge_expired_link_mails", {}) == 0
    clock.advance(dt.timedelta(minutes=61))  # the reset link (an hour) has expired, the email change's not
    assert run_job("accounts.purge_expired_link_mails", {}) == 1
    assert mails_to(app, me.email) == [] and len(mails_to(app, "secrets-new-home@example.org")) == 1
    clock.advance(dt.timedelta(hours=23))
    assert run_job("accounts.purge_expired_link_mails", {}) == 1
    assert mails_to(app, "secrets-new-home@example.org") == [] and set(outbox_dir().glob("*.eml")) <= before
