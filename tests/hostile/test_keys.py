"""Keys as someone with write access to the database, or to a stolen copy of it, would try them: a wrapped data
key moved to another row does not open; TOTP secrets are not in the clear; a retired master key is gone and
everything it wrapped still opens under the new one; old (version-1) wraps still open until re-wrapped."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from accounts.second_factor import secret_of
from kernel.db import db
from storage import vault
from storage.errors import StorageIntegrityError
from storage.models import Blob
from tests.conftest import TOTP_SECRET, login


@pytest.fixture
def app_config(tmp_path: Path):
    """An instance folder of its own: these tests add and delete master keys in its keyring file."""
    return {"INSTANCE_PATH": str(tmp_path / "instance")}


def _keyring_file(app) -> dict:
    return json.loads((Path(app.instance_path) / vault.KEYRING_FILE).read_text())


def test_a_wrapped_key_moved_to_another_row_does_not_open(app):
    secret = vault.store("id_image", b"the ID photo of one person", user_id=None)
    other = vault.store("id_image", b"a harmless picture", user_id=None)
    recording = vault.store("recording", b"a recording", user_id=None)
    assert vault.read(other) == b"a harmless picture"
    # whoever can write to the database copies the photo's wrapped key into the other row: it must not open
    other.master_key_id, other.wrapped_key = secret.master_key_id, secret.wrapped_key
    db.session.commit()
    with pytest.raises(StorageIntegrityError):
        vault.read(other)
    # a row given another category (a recording read back as if it were an export) does not open either
    recording.category = "export"
    db.session.commit()
    with pytest.raises(StorageIntegrityError):
        vault.read(recording)
    assert vault.read(secret) == b"the ID photo of one person"


def test_version_1_wraps_still_open_and_rewrap_binds_them(app, runner):
    blob = vault.store("chat", b"a transcript", user_id=None)
    # as a release before 2026-12 stored it: nonce || ciphertext, only the master key's id as associated data
    ring = _keyring_file(app)
    master = base64.b64decode(ring["keys"][blob.master_key_id])
    data_key = vault.keyring().unwrap(blob.master_key_id, blob.wrapped_key, b"blob\x00%d\x00chat" % blob.id)
    nonce = os.urandom(12)
    blob.wrapped_key = nonce + AESGCM(master).encrypt(nonce, data_key, blob.master_key_id.encode())
    db.session.commit()
    assert vault.read(blob) == b"a transcript"  # old data still opens
    result = runner.invoke(args=["storage", "rewrap"])
    assert result.exit_code == 0, result.output
    db.session.refresh(blob)
    assert blob.wrapped_key[0] == 2 and vault.read(blob) == b"a transcript"
    moved = vault.store("chat", b"another", user_id=None)
    moved.wrapped_key = blob.wrapped_key
    db.session.commit()
    with pytest.raises(StorageIntegrityError):
        vault.read(moved)  # now bound to its row


def test_totp_secrets_are_sealed_at_rest(app, client, make_user):
    staff = make_user("staff")
    other = make_user("staff")
    row = db.session.execute(text('SELECT totp_secret FROM "user" WHERE id = :i'), {"i": staff.id}).scalar_one()
    assert TOTP_SECRET not in row and row.startswith("sealed:")
    login(client, staff)  # the second factor still works from the sealed secret
    assert client.get("/staff/").status_code == 200
    # a seal copied to another account does not open there
    other.totp_secret = staff.totp_secret
    db.session.commit()
    with pytest.raises(StorageIntegrityError):
        secret_of(other)


def test_a_secret_stored_in_the_clear_is_sealed_at_the_next_login(app, client, make_user):
    staff = make_user("staff")
    staff.totp_secret = TOTP_SECRET  # as stored before 2026-12
    db.session.commit()
    login(client, staff)
    db.session.refresh(staff)
    assert staff.totp_secret.startswith("sealed:") and secret_of(staff) == TOTP_SECRET


def test_retire_key_rewraps_then_deletes_the_old_master_key(app, runner, make_user, make_institution):
    from accounts.oidc import OidcProvider, _seal, client_secret

    blob = vault.store("recording", b"x" * 5000, user_id=None)
    staff = make_user("staff")
    provider = OidcProvider(institution_id=make_institution().id, name="Login", issuer="https://login.example.org",
                            client_id="c")
    provider.secret_key_id, provider.secret_wrapped = _seal("client secret")
    db.session.add(provider)
    db.session.commit()
    old = blob.master_key_id
    refused = runner.invoke(args=["storage", "retire-key", old])
    assert refused.exit_code != 0 and "active key" in refused.output
    assert runner.invoke(args=["storage", "retire-key", "nope"]).exit_code != 0

    assert runner.invoke(args=["storage", "rotate-key"]).exit_code == 0
    result = runner.invoke(args=["storage", "retire-key", old])
    assert result.exit_code == 0, result.output
    assert f"master key {old} deleted" in result.output
    assert old not in _keyring_file(app)["keys"]
    db.session.expire_all()
    assert vault.read(db.session.get(Blob, blob.id)) == b"x" * 5000
    assert secret_of(db.session.get(type(staff), staff.id)) == TOTP_SECRET
    assert client_secret(db.session.get(OidcProvider, provider.id)) == "client secret"
    assert db.session.get(Blob, blob.id).master_key_id != old


def test_retire_key_with_configured_keys_says_to_remove_it_there(app, runner):
    keys = {"active": "k2", "keys": {"k1": base64.b64encode(os.urandom(32)).decode(),
                                     "k2": base64.b64encode(os.urandom(32)).decode()}}
    app.config["STORAGE_MASTER_KEYS"] = {"active": "k1", "keys": keys["keys"]}
    blob = vault.store("chat", b"hello", user_id=None)
    assert blob.master_key_id == "k1"
    app.config["STORAGE_MASTER_KEYS"] = keys
    result = runner.invoke(args=["storage", "retire-key", "k1"])
    assert result.exit_code == 0, result.output
    assert "remove it from AUFSICHT_STORAGE_MASTER_KEYS" in result.output
    db.session.refresh(blob)
    assert blob.master_key_id == "k2" and vault.read(blob) == b"hello"
