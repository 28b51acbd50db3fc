"""The administrator manages accounts and institutions: lock, unlock, second factor reset, role change (each ends
the account's sessions and is recorded), institutions created and edited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import AccountAction, Institution, Role, User
from kernel.db import db
from tests.conftest import PASSWORD, login


@pytest.fixture
def admin(app, make_user) -> Any:
    client = app.test_client()
    user = make_user("admin")
    login(client, user)
    return type("Admin", (), {"client": client, "user": user})


def _actions(user: User) -> list[tuple[str, str, int | None]]:
    db.session.expire_all()
    rows = db.session.scalars(select(AccountAction).where(AccountAction.user_id == user.id)
                              .order_by(AccountAction.id)).all()
    return [(a.action, a.detail, a.actor_id) for a in rows]


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_lock_ends_the_sessions_and_unlock_lets_the_account_in_again(app, client, admin, make_user):
    staff = make_user("staff")
    login(client, staff)
    assert client.get("/staff/").status_code == 200
    assert admin.client.post(f"/admin/users/{staff.id}/lock", data={"locked": "yes"}).status_code == 302
    resp = client.get("/staff/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]  # the old cookie no longer works
    assert client.post("/login", data={"email": staff.email, "password": PASSWORD}).status_code != 302
    assert admin.client.post(f"/admin/users/{staff.id}/lock", data={"locked": "no"}).status_code == 302
    login(client, staff)
    assert client.get("/staff/").status_code == 200
    assert _actions(staff) == [("locked", "", admin.user.id), ("unlocked", "", admin.user.id)]
    page = admin.client.get("/admin/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "gesperrt" in page and "entsperrt" in page and staff.email in page


def test_second_factor_reset_asks_once_then_ends_sessions_and_asks_for_a_new_app(app, client, admin, make_user):
    proctor = make_user("proctor")
    login(client, proctor)
    resp = admin.client.post(f"/admin/users/{proctor.id}/second-factor", headers={"Accept-Language": "en"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="confirm-button"' in page
    assert "At the next login the person sets up a new authenticator app." in page
    assert _fresh(proctor).totp_secret is not None and client.get("/proctor/").status_code == 200  # nothing yet
    resp = admin.client.post(f"/admin/users/{proctor.id}/second-factor", data={"confirm": "yes"})
    assert resp.status_code == 302
    assert _fresh(proctor).totp_secret is None and _fresh(proctor).recovery_codes is None
    assert client.get("/proctor/").status_code == 302
    resp = client.post("/login", data={"email": proctor.email, "password": PASSWORD})
    assert resp.headers["Location"].endswith("/login/enrol")
    assert _actions(proctor) == [("second_factor_reset", "", admin.user.id)]
    # Once more: nothing to reset, said so.
    assert admin.client.post(f"/admin/users/{proctor.id}/second-factor", data={"confirm": "yes"}).status_code == 409


def test_role_change_between_exam_office_and_proctor(app, client, admin, make_user):
    staff = make_user("staff")
    login(client, staff)
    assert admin.client.post(f"/admin/users/{staff.id}/role", data={"role": "proctor"}).status_code == 302
    assert _fresh(staff).role == Role.PROCTOR
    assert client.get("/staff/").status_code == 302  # the session ended with the role change
    login(client, staff)
    assert client.get("/staff/").status_code == 403 and client.get("/proctor/").status_code == 200
    assert _actions(staff) == [("role_changed", "staff -> proctor", admin.user.id)]
    page = admin.client.get("/admin/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Rolle geändert: Prüfungsamt → Aufsicht" in page


@pytest.mark.parametrize("role", ["admin", "candidate", "nonsense"])
def test_no_role_but_exam_office_and_proctor_is_given(admin, make_user, role):
    proctor = make_user("proctor")
    assert admin.client.post(f"/admin/users/{proctor.id}/role", data={"role": role}).status_code == 400
    assert _fresh(proctor).role == Role.PROCTOR and _actions(proctor) == []


def test_candidates_keep_their_role_and_admins_are_not_managed_here(admin, make_user):
    cand = make_user("candidate")
    assert admin.client.post(f"/admin/users/{cand.id}/role", data={"role": "staff"}).status_code == 400
    other = make_user("admin")
    for path, data in (("lock", {"locked": "yes"}), ("role", {"role": "staff"}), ("second-factor", {"confirm": "yes"})):
        assert admin.client.post(f"/admin/users/{other.id}/{path}", data=data).status_code == 404
    assert _fresh(other).active and _fresh(other).totp_secret is not None
    assert admin.client.post(f"/admin/users/{admin.user.id}/lock", data={"locked": "yes"}).status_code == 404
    # A candidate is found by a search, and can be locked.
    page = admin.client.get(f"/admin/?q={cand.email[:12]}").get_data(as_text=True)
    assert cand.email in page
    assert admin.client.post(f"/admin/users/{cand.id}/lock", data={"locked": "yes"}).status_code == 302
    assert not _fresh(cand).active


def test_only_the_admin_may(client, make_user):
    staff = make_user("staff")
    login(client, staff)
    target = make_user("proctor", staff.institution)
    assert client.post(f"/admin/users/{target.id}/lock", data={"locked": "yes"}).status_code == 403
    assert client.post(f"/admin/users/{target.id}/second-factor", data={"confirm": "yes"}).status_code == 403
    assert _fresh(target).active and _fresh(target).totp_secret is not None


def test_institutions_are_created_and_edited(admin, make_institution):
    c = admin.client
    assert c.post("/admin/institutions", data={"name": "Volkshochschule", "slug": "vhs"}).status_code == 302
    inst = db.session.scalar(select(Institution).where(Institution.slug == "vhs"))
    assert inst.name == "Volkshochschule"
    resp = c.post(f"/admin/institutions/{inst.id}", data={"name": "VHS Köln", "slug": "vhs-koeln"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (inst.name, inst.slug) == ("VHS Köln", "vhs-koeln")
    make_institution("Andere", "andere")
    assert c.post(f"/admin/institutions/{inst.id}", data={"name": "X", "slug": "andere"}).status_code == 409
    resp = c.post(f"/admin/institutions/{inst.id}", data={"name": "", "slug": "Nicht gültig"},
                  headers={"Accept-Language": "en"})
    assert resp.status_code == 400 and "Please enter the name" in resp.get_data(as_text=True)
    assert c.post("/admin/institutions", data={"name": "Ohne", "slug": ""}).status_code == 400
    db.session.expire_all()
    assert (inst.name, inst.slug) == ("VHS Köln", "vhs-koeln")


def test_latest_actions_are_shown_in_the_platforms_local_time(admin, make_user):
    """Issue 30: the administrator's audit showed raw UTC; now the platform's zone (Europe/Berlin), to the minute."""
    import datetime as dt
    import re

    staff = make_user("staff")
    db.session.add(AccountAction(user_id=staff.id, actor_id=admin.user.id, action="locked",
                                 at=dt.datetime(2026, 6, 1, 10, 0)))  # 10:00 UTC is 12:00 in Berlin (summer time)
    db.session.commit()
    page = admin.client.get("/admin/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    table = page.split('id="account-actions"', 1)[1]
    (when,) = re.findall(rf'<tr><td[^>]*>([^<]*)</td><td>{re.escape(staff.email)}</td>', table)
    assert when == "01.06.2026 12:00"  # German date format
