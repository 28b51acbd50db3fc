"""The LTI tool's signing keys: one key ring for every web host (AUFSICHT_LTI_TOOL_KEYS), with key ids, the active
key signing and the previous one still published; without the setting a ring in the instance folder that
``flask lti rotate-key`` rotates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from app import create_app
from kernel.db import db
from lti import tool


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


KEYS = {"active": "tool-2", "keys": {"tool-1": _pem(), "tool-2": _pem()}}


@pytest.fixture
def hosts(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Web hosts with instance folders of their own (``make(name, **config)``)."""
    made: list[Flask] = []

    def make(name: str, **config: Any) -> Flask:
        application = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(tmp_path / name),
                                  "TESTING": True, **config})
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.engine.dispose()


def _jwks(application: Flask) -> dict[str, Any]:
    resp = application.test_client().get("/lti/jwks.json")
    assert resp.status_code == 200
    return resp.get_json()


def _signed_kid(application: Flask, jwks: dict[str, Any]) -> str:
    """Sign as the tool on ``application``; the token must verify with ``jwks``; returns its key id."""
    with application.app_context():
        token = tool.sign({"iss": "aufsicht", "sub": "tool"})
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    return str(decoded.header["kid"])


def test_every_web_host_signs_with_the_configured_key_and_publishes_the_same_set(hosts, tmp_path):
    web1, web2 = hosts("web1", LTI_TOOL_KEYS=json.dumps(KEYS)), hosts("web2", LTI_TOOL_KEYS=KEYS)
    one, two = _jwks(web1), _jwks(web2)
    assert one == two
    assert {k["kid"] for k in one["keys"]} == {"tool-1", "tool-2"}  # the active one and the previous one
    assert all(not {"d", "p", "q"} & set(k) for k in one["keys"])
    # what one host signs (a deep linking answer, a token request) the platform checks with the other's key set
    assert _signed_kid(web1, two) == "tool-2"
    assert _signed_kid(web2, one) == "tool-2"
    assert not (tmp_path / "web1" / tool.KEYS_FILE).exists()  # nothing generated per host
    with web1.app_context(), pytest.raises(tool.Conflict):
        tool.rotate_tool_key()  # configured keys are rotated in the configuration


def test_rotation_keeps_the_previous_key_published(hosts):
    web = hosts("web")
    first = _jwks(web)
    assert len(first["keys"]) == 1
    old = first["keys"][0]["kid"]
    result = web.test_cli_runner().invoke(args=["lti", "rotate-key"])
    assert result.exit_code == 0, result.output
    rotated = _jwks(web)
    assert old in {k["kid"] for k in rotated["keys"]} and len(rotated["keys"]) == 2
    new = _signed_kid(web, rotated)
    assert new != old and new in result.output
    web.test_cli_runner().invoke(args=["lti", "rotate-key"])
    again = _jwks(web)
    assert old not in {k["kid"] for k in again["keys"]} and new in {k["kid"] for k in again["keys"]}
    assert len(again["keys"]) == 2  # the current key and the one before it
