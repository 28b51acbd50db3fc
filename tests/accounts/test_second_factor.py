"""Second factor (TOTP, RFC 6238) for admins, staff and proctors: enrolled at the first login, then asked at
every login; a code is good once; recovery codes work once each; proctors may be let off per institution."""

from __future__ import annotations

import re

import pyotp
import pytest

from accounts.second_factor import secret_of
from kernel.db import db
from tests.conftest import PASSWORD, login, totp_code


def password_step(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


@pytest.mark.parametrize("role", ["admin", "staff", "proctor"])
def test_first_login_enrols_the_app_then_every_login_asks_for_a_code(app, client, make_user, role):
    user = make_user(role, second_factor=False)
    resp = password_step(client, user)
    assert resp.headers["Location"].endswith("/login/enrol")
    assert client.get(f"/{role}/").status_code == 302  # the password alone does not log in
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "data:image/svg+xml;base64," in page
    assert client.post("/login/enrol", data={"code": "123456"}).status_code == 400
    resp = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", resp.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get(f"/{role}/").status_code == 200
    db.session.refresh(user)
    assert secret_of(user) == secret and secret not in (user.recovery_codes or "")
    assert secret not in user.totp_secret  # sealed at rest (tests/hostile/test_keys.py)

    again = app.test_client()
    assert password_step(again, user).headers["Location"].endswith("/login/second-factor")
    assert again.get(f"/{role}/").status_code == 302
    assert again.post("/login/second-factor", data={"code": totp_code(user)}).status_code == 302
    assert again.get(f"/{role}/").status_code == 200


def test_a_code_is_good_only_once(app, make_user):
    staff = make_user("staff")
    first, second = app.test_client(), app.test_client()
    code = totp_code(staff)
    password_step(first, staff)
    password_step(second, staff)
    assert first.post("/login/second-factor", data={"code": code}).status_code == 302
    assert second.post("/login/second-factor", data={"code": code}).status_code == 401


def test_a_recovery_code_logs_in_once(app, client, make_user):
    staff = make_user("staff")
    login(client, staff)
    page = client.post("/account/recovery-codes", data={"current": PASSWORD}).get_data(as_text=True)
    code = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", page)[0]
    one, two = app.test_client(), app.test_client()
    password_step(one, staff)
    assert one.post("/login/second-factor", data={"code": code.upper()}).status_code == 302
    password_step(two, staff)
    assert two.post("/login/second-factor", data={"code": code}).status_code == 401


def test_the_second_step_needs_the_password_step_first(client, make_user):
    make_user("staff")
    assert client.get("/login/second-factor").status_code == 302
    assert client.post("/login/second-factor", data={"code": "123456"}).headers["Location"].endswith("/login")
    assert client.post("/login/enrol", data={"code": "123456"}).headers["Location"].endswith("/login")


def test_an_institution_may_let_its_proctors_off_but_never_its_staff(app, client, make_user, make_institution):
    inst = make_institution()
    proctor = make_user("proctor", inst, second_factor=False)
    staff = make_user("staff", inst, second_factor=False)
    admin = app.test_client()
    login(admin, make_user("admin"))
    assert admin.post(f"/admin/institutions/{inst.id}/second-factor", data={"optional": "yes"}).status_code == 302
    assert password_step(client, proctor).headers["Location"] == "/"
    assert password_step(app.test_client(), staff).headers["Location"].endswith("/login/enrol")


def test_candidates_log_in_with_the_password_alone(client, make_user):
    assert password_step(client, make_user("candidate")).headers["Location"] == "/"
