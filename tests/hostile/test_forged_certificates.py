"""Forged and replayed certificates against the public verification endpoint and page: every forgery is
reported invalid with a reason, nothing crashes, and the page never shows a forged claim as ours."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exams.certificates import signing_key
from exams.credentials import canonical_json, generate_signing_key, key_id, new_certificate_id
from tests.conftest import login
from tests.hostile.conftest import Tenant


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Many verifications per test: the per-IP rate limit is tested elsewhere."""
    return {"VERIFY_RATE_LIMIT_PER_MINUTE": 10_000}


@pytest.fixture
def issued(make_tenant) -> Tenant:
    """A tenant with a released pass and its signed certificate."""
    return make_tenant("Echt")


def b64(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(jws: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS."""
    head, payload, _sig = jws.split(".")
    return (json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))),
            json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def sign(header: dict[str, Any], payload: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """A compact EdDSA JWS as an attacker with ``key`` would make it."""
    signing_input = f"{b64(canonical_json(header))}.{b64(canonical_json(payload))}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def check(client: Any, jws: str, *, as_text: bool = False) -> dict[str, Any]:
    """POST to the public API (as JSON or as the raw token), never a server error."""
    resp = (client.post("/api/verify/credential", data=jws, content_type="text/plain") if as_text
            else client.post("/api/verify/credential", json={"credential": jws}))
    assert resp.status_code == 200, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/json"
    return resp.json


def forgeries(cert: Any) -> dict[str, tuple[str, str]]:
    """Forged variants of a real credential, with the reason each must be refused for."""
    jws = cert.credential
    header, payload = parts(jws)
    head_b64, payload_b64, sig_b64 = jws.split(".")
    attacker = generate_signing_key()
    renamed = json.loads(json.dumps(payload))
    renamed["credentialSubject"]["name"] = "Mallory Fälscher"
    score = json.loads(json.dumps(payload))
    score["credentialSubject"]["result"][0]["value"] = "55.55%"
    assert score != payload and renamed != payload
    attacker_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(attacker.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))}
    other_id = json.loads(json.dumps(payload))
    other_id["credentialSubject"]["certificateId"] = new_certificate_id()
    return {
        # one field changed, our signature kept
        "name_changed": (f"{head_b64}.{b64(canonical_json(renamed))}.{sig_b64}", "bad_signature"),
        "score_changed": (f"{head_b64}.{b64(canonical_json(score))}.{sig_b64}", "bad_signature"),
        # signed by a different Ed25519 key that claims to be ours
        "other_key_our_kid": (sign(header, renamed, attacker.private_key), "bad_signature"),
        # signed by a different key under its own kid, unchanged content
        "other_key_own_kid": (sign({**header, "kid": attacker.kid}, payload, attacker.private_key), "unknown_key"),
        # the attacker's public key embedded in the header (must never be trusted)
        "embedded_jwk": (sign({**header, "kid": attacker.kid, "jwk": {**attacker_jwk, "kid": attacker.kid}},
                              renamed, attacker.private_key), "unknown_key"),
        "embedded_jwk_our_kid": (sign({**header, "jwk": attacker_jwk}, renamed, attacker.private_key),
                                 "bad_signature"),
        # "alg": "none" with the signature stripped, and an HMAC keyed with our public key
        "alg_none": (f"{b64(canonical_json({**header, 'alg': 'none'}))}.{payload_b64}.", "wrong_alg"),
        "hs256": (f"{b64(canonical_json({**header, 'alg': 'HS256'}))}.{payload_b64}.{sig_b64}", "wrong_alg"),
        # a fresh certificate id, attacker-signed
        "invented_certificate": (sign(header, other_id, attacker.private_key), "bad_signature"),
        "truncated": (jws[: len(jws) // 2], "malformed"),
        "huge": ("a" * 70_000 + "." + "b" * 70_000 + ".c", "malformed"),
    }


def test_every_forgery_is_reported_invalid(app, issued):
    client = app.test_client()
    assert check(client, issued.cert.credential)["valid"] is True  # the genuine one passes
    for name, (jws, reason) in forgeries(issued.cert).items():
        for as_text in (False, True):
            body = check(client, jws, as_text=as_text)
            assert body["valid"] is False and body["status"] != "valid", name
            assert body["reason"] == reason, (name, body)


def test_signed_with_our_key_but_not_what_we_issued_is_not_valid(app, issued):
    """Even a credential with a good signature (e.g. a leaked or rotated-out key) is valid only if it is the
    exact token we issued for that certificate id."""
    header, payload = parts(issued.cert.credential)
    payload["credentialSubject"]["name"] = "Mallory Fälscher"
    ours = signing_key(app.instance_path)
    assert header["kid"] == ours.kid == key_id(ours.public_key)
    body = check(app.test_client(), sign(header, payload, ours.private_key))
    assert body["valid"] is False and body["reason"] == "not_issued"
    payload["credentialSubject"]["certificateId"] = new_certificate_id()
    body = check(app.test_client(), sign(header, payload, ours.private_key))
    assert body["valid"] is False and body["reason"] == "unknown_certificate"


def test_replayed_credential_of_a_revoked_certificate(app, issued):
    staff = app.test_client()
    login(staff, issued.staff)
    assert staff.post(f"/staff/certificates/{issued.cert.public_id}/revoke",
                      data={"reason": "Täuschung", "confirm": "yes"}).status_code == 302
    anon = app.test_client()
    for _ in range(2):  # a replay is refused every time, not only the first
        body = check(anon, issued.cert.credential)
        assert body["valid"] is False and body["status"] == "revoked" and body["reason"] == "revoked"
    page = anon.get(f"/verify/{issued.cert.public_id}").get_data(as_text=True)
    assert 'data-status="revoked"' in page and 'data-status="valid"' not in page


def test_verify_page_never_vouches_for_a_forged_claim(app, issued):
    """The page looks certificates up by id only: a forged token's id is unknown, its claims are never shown."""
    anon = app.test_client()
    jws, _reason = forgeries(issued.cert)["invented_certificate"]
    _header, payload = parts(jws)
    forged_id = payload["credentialSubject"]["certificateId"]
    resp = anon.get(f"/verify/{forged_id}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'data-status="unknown"' in page and "Echt" not in page
    for text in (jws, "x" * 5000, "%00", "../../etc/passwd", forged_id[:-1] + "!"):
        resp = anon.get("/verify", query_string={"id": text})
        assert resp.status_code in (200, 400), (text[:20], resp.status_code)
        assert 'data-status="valid"' not in resp.get_data(as_text=True)


@pytest.mark.parametrize("body,content_type", [
    (b"\xff\xfe\x00garbage", "application/octet-stream"),
    (b'{"credential": 12}', "application/json"),
    (b'{"credential": ["a.b.c"]}', "application/json"),
    (b"{not json", "application/json"),
    (b"", "text/plain"),
])
def test_malformed_requests_get_4xx_not_500(app, body, content_type):
    resp = app.test_client().post("/api/verify/credential", data=body, content_type=content_type)
    assert resp.status_code in (200, 400), resp.status_code
    assert resp.mimetype == "application/json"
    if resp.status_code == 200:
        assert resp.json["valid"] is False
