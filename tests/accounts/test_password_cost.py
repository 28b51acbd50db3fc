"""The Argon2id cost of password hashes: production's default, a lowered one, a setting that makes no sense."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import DEFAULTS


def test_production_hashes_passwords_at_rfc_9106s_recommended_cost(instance_path, database_url):
    from accounts.services import DEFAULT_HASH_COST, hash_password

    assert DEFAULTS["PASSWORD_HASH_COST"] == [3, 65536, 4] == list(DEFAULT_HASH_COST)
    try:
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path),
                    "PASSWORD_HASH_COST": DEFAULTS["PASSWORD_HASH_COST"]})
        assert hash_password("x").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    finally:
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path)})
    assert hash_password("x").startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the suite's, from the environment


def test_a_stored_hash_of_another_cost_verifies_and_is_rehashed_at_login(app, make_user, client):
    from accounts.models import User
    from kernel.db import db
    from tests.conftest import PASSWORD, login

    user = make_user("candidate")
    from argon2 import PasswordHasher

    user.password_hash = PasswordHasher(2, 16, 1).hash(PASSWORD)
    db.session.commit()
    assert login(client, user).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")


@pytest.mark.parametrize("cost", ["fast", [1, 8], [0, 65536, 4], "3,4,4"])
def test_a_cost_that_makes_no_sense_stops_the_start_with_its_name(cost, instance_path, database_url):
    with pytest.raises(ValueError, match="PASSWORD_HASH_COST"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path),
                    "PASSWORD_HASH_COST": cost})
