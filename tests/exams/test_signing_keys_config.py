"""Certificate signing keys from configuration (AUFSICHT_CERTIFICATE_SIGNING_KEYS): every web host signs with
the same keys and serves the same JWKS, whatever its instance folder holds."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from exams.certificates import KEYS_FILE, jwks, rotate_signing_key, signing_key
from exams.credentials import key_id
from kernel.errors import Conflict
from tests.conftest import REPO


def _raw(private: Ed25519PrivateKey) -> str:
    return base64.b64encode(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode()


OLD, NEW = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
KEYS = {"active": "k2", "keys": {"k1": _raw(OLD), "k2": _raw(NEW)}}


def _es256_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# The ES256 keys of the Open Badges JWT form come from configuration the same way.
ES256_KEYS = {"active": "e1", "keys": {"e1": _es256_pem()}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jwks_of(base: str, deadline: float) -> dict:
    while True:
        try:
            return json.loads(urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=2).read())  # noqa: S310
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "web process did not come up"
            time.sleep(0.3)


def test_two_web_processes_serve_the_same_configured_keys(tmp_path: Path):
    procs, bases = [], []
    try:
        for host in ("web1", "web2"):
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            env["AUFSICHT_INSTANCE_PATH"] = str(tmp_path / host)  # each host its own instance folder
            env["AUFSICHT_CERTIFICATE_SIGNING_KEYS"] = json.dumps(KEYS)
            env["AUFSICHT_CERTIFICATE_ES256_KEYS"] = json.dumps(ES256_KEYS)
            port = _free_port()
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
                                          cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        one, two = (_jwks_of(b, deadline) for b in bases)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
    assert one == two
    assert {k["kid"] for k in one["keys"] if k["kty"] == "OKP"} == {key_id(OLD.public_key()), key_id(NEW.public_key())}
    assert [k["kid"].rsplit("/", 1)[-1] for k in one["keys"] if k["kty"] == "EC"] == ["e1"]  # the configured one
    assert not (tmp_path / "web1" / KEYS_FILE).exists()


@pytest.fixture
def app_config() -> dict:
    return {"CERTIFICATE_SIGNING_KEYS": json.dumps(KEYS)}


def test_the_configured_active_key_signs_and_is_not_rotated_here(app):
    assert signing_key().kid == key_id(NEW.public_key())
    assert len(jwks()["keys"]) == 2
    with pytest.raises(Conflict):
        rotate_signing_key()
