"""Login throttling behind a reverse proxy: per account and client address and per client address, never
platform-wide, and never an account from everywhere (nobody can keep a known person from logging in).

docs/deploy.md puts nginx in front. Without AUFSICHT_TRUSTED_PROXIES every client would be 127.0.0.1, so a
handful of wrong passwords for any email would lock every login (and /verify's rate limit would be one bucket):
a request forwarded by such an undeclared proxy is refused instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import LoginEvent
from kernel.clock import clock
from kernel.db import db
from tests.conftest import PASSWORD, login

PROXY = {"REMOTE_ADDR": "127.0.0.1"}


def via_proxy(client_addr: str, spoofed: str | None = None) -> dict[str, Any]:
    """What nginx passes on: the client's own X-Forwarded-For (if any) with the address nginx saw appended."""
    chain = f"{spoofed}, {client_addr}" if spoofed else client_addr
    return {"environ_base": PROXY, "headers": {"X-Forwarded-For": chain}}


def try_login(client: Any, email: str, password: str, **how: Any) -> int:
    return int(client.post("/login", data={"email": email, "password": password}, **how).status_code)


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One trusted proxy (nginx), as docs/deploy.md sets up; ``@pytest.mark.direct``: none (the default)."""
    direct = request.node.get_closest_marker("direct") is not None
    return {"TRUSTED_PROXIES": 0 if direct else 1,
            "VERIFY_RATE_LIMIT_PER_MINUTE": 3, "LOGIN_MAX_FAILURES_PER_ADDRESS": 5 if direct else 30}


def test_failures_of_one_account_from_one_address_never_block_another_from_another(client, make_user):
    victim, other = make_user("candidate"), make_user("candidate")
    for _ in range(8):  # past the limit for the account from this address
        assert try_login(client, victim.email, "wrong", **via_proxy("198.51.100.1")) in (401, 429)
    assert try_login(client, victim.email, PASSWORD, **via_proxy("198.51.100.1")) == 429
    assert try_login(client, other.email, PASSWORD, **via_proxy("203.0.113.9")) == 302
    # the attacked account itself is not held elsewhere: its owner logs in from their own address
    fresh = type(client)(client.application)
    assert try_login(fresh, victim.email, PASSWORD, **via_proxy("203.0.113.10")) == 302
    ips = set(db.session.scalars(select(LoginEvent.ip)).all())
    assert ips == {"198.51.100.1", "203.0.113.9", "203.0.113.10"}


def test_five_wrong_passwords_for_a_proctors_address_do_not_lock_the_proctor_out(client, make_user):
    proctor = make_user("proctor")  # with an authenticator app: password and second factor
    attacker = type(client)(client.application)
    for _ in range(5):
        assert try_login(attacker, proctor.email, "wrong", **via_proxy("198.51.100.66")) == 401
    assert try_login(attacker, proctor.email, "wrong", **via_proxy("198.51.100.66")) == 429
    assert try_login(attacker, proctor.email, PASSWORD, **via_proxy("198.51.100.66")) == 429  # held there
    login(client, proctor, **via_proxy("203.0.113.20"))  # exam day: the proctor gets in from their own address
    assert client.get("/proctor/").status_code == 200


def test_failures_spread_over_many_addresses_slow_the_account_down_but_let_its_owner_in(client, make_user):
    proctor = make_user("proctor")
    attacker = type(client)(client.application)
    for i in range(10):  # 20 failures for the account in all, two from each of ten addresses
        for _ in range(2):
            assert try_login(attacker, proctor.email, "wrong", **via_proxy(f"198.51.100.{i + 1}")) == 401
    # under attack: each address has had its tries for this account (five before: a third was allowed)
    assert try_login(attacker, proctor.email, "wrong", **via_proxy("198.51.100.1")) == 429
    assert try_login(attacker, proctor.email, PASSWORD, **via_proxy("198.51.100.2")) == 429
    # a new address gets its two tries, no more
    for _ in range(2):
        assert try_login(attacker, proctor.email, "wrong", **via_proxy("198.51.100.200")) == 401
    assert try_login(attacker, proctor.email, "wrong", **via_proxy("198.51.100.200")) == 429
    # and the right password with the second factor still gets in, even after one typo
    assert try_login(client, proctor.email, "typo", **via_proxy("203.0.113.30")) == 401
    login(client, proctor, **via_proxy("203.0.113.30"))
    assert client.get("/proctor/").status_code == 200


def test_a_client_set_forwarded_for_is_not_taken_behind_the_proxy(client, make_user):
    user = make_user("candidate")
    client.application.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 5
    for i in range(5):  # the attacker claims a new address each time; nginx appends the real one
        try_login(client, f"x{i}@example.org", "wrong", **via_proxy("198.51.100.1", spoofed=f"10.0.{i}.1"))
    assert set(db.session.scalars(select(LoginEvent.ip)).all()) == {"198.51.100.1"}
    assert try_login(client, user.email, PASSWORD, **via_proxy("198.51.100.1", spoofed="10.9.9.9")) == 429


@pytest.mark.direct
def test_without_trusted_proxies_forwarded_for_changes_nothing(client, make_user):
    user = make_user("candidate")
    for i in range(5):
        client.post("/login", data={"email": f"y{i}@example.org", "password": "wrong"},
                    environ_base={"REMOTE_ADDR": "198.51.100.7"}, headers={"X-Forwarded-For": f"10.1.{i}.1"})
    assert set(db.session.scalars(select(LoginEvent.ip)).all()) == {"198.51.100.7"}
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"}, headers={"X-Forwarded-For": "192.0.2.200"})
    assert resp.status_code == 429


def test_refused_tries_are_not_new_failures(client, make_user):
    user = make_user("candidate")
    for _ in range(5):
        assert try_login(client, user.email, "wrong", **via_proxy("198.51.100.1")) == 401
    clock.advance(dt.timedelta(minutes=10))
    for _ in range(10):  # hammering while held does not prolong the hold
        assert try_login(client, user.email, PASSWORD, **via_proxy("198.51.100.1")) == 429
    clock.advance(dt.timedelta(minutes=6))  # the five failures are older than the 15-minute window now
    assert try_login(client, user.email, PASSWORD, **via_proxy("198.51.100.1")) == 302


def test_wrong_second_factor_codes_are_throttled_like_passwords(client, make_user):
    staff = make_user("staff")
    resp = client.post("/login", data={"email": staff.email, "password": PASSWORD}, **via_proxy("198.51.100.2"))
    assert resp.headers["Location"].endswith("/login/second-factor")
    for _ in range(5):
        assert client.post("/login/second-factor", data={"code": "000000"},
                           **via_proxy("198.51.100.2")).status_code == 401
    assert client.post("/login/second-factor", data={"code": "000000"}, **via_proxy("198.51.100.2")).status_code == 429
    assert try_login(client, staff.email, PASSWORD, **via_proxy("198.51.100.2")) == 429  # held from there
    fresh = type(client)(client.application)
    login(fresh, staff, **via_proxy("203.0.113.3"))  # the account is not held elsewhere
    clock.advance(dt.timedelta(minutes=16))
    login(type(client)(client.application), staff, **via_proxy("198.51.100.2"))


def test_verification_rate_limit_is_per_client_behind_the_proxy(client):
    for _ in range(3):
        assert client.get("/verify/AAAA-BBBB", **via_proxy("198.51.100.1")).status_code in (400, 404)
    assert client.get("/verify/AAAA-BBBB", **via_proxy("198.51.100.1")).status_code == 429
    assert client.get("/verify/AAAA-BBBB", **via_proxy("203.0.113.9")).status_code in (400, 404)


@pytest.mark.direct
@pytest.mark.parametrize(("peer", "header"), [
    ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1"}),
    ("10.0.0.5", {"Forwarded": "for=198.51.100.1"}),
    ("::1", {"X-Real-IP": "198.51.100.1"}),
])
def test_a_proxy_nobody_declared_is_refused_rather_than_making_everyone_one_address(client, make_user, peer,
                                                                                  header, caplog):
    user = make_user("candidate")
    for i in range(8):  # many people behind the undeclared proxy type wrong passwords
        resp = client.post("/login", data={"email": f"z{i}@example.org", "password": "wrong"},
                           environ_base={"REMOTE_ADDR": peer}, headers=header)
        assert resp.status_code == 503 and "AUFSICHT_TRUSTED_PROXIES" in resp.get_data(as_text=True)
    assert db.session.scalar(select(LoginEvent)) is None  # nothing counted against the shared address
    assert "AUFSICHT_TRUSTED_PROXIES is 0" in caplog.text
    # the same peer without forwarding headers (the app served directly, e.g. make run) works as before
    assert try_login(client, user.email, PASSWORD, environ_base={"REMOTE_ADDR": peer}) == 302
