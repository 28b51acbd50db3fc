"""Signed certificates: issue/verify round trip, every kind of tampering, JWK sets, certificate ids."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from exams.credentials import (
    CertificateClaims,
    CredentialInvalid,
    InvalidCertificateId,
    KeySetInvalid,
    SigningKey,
    canonical_json,
    generate_signing_key,
    is_valid_certificate_id,
    issue_credential,
    key_id,
    load_jwks,
    load_signing_key,
    new_certificate_id,
    normalize_certificate_id,
    public_jwks,
    signing_key_pem,
    verify_credential,
)

KEY = generate_signing_key()
OTHER = generate_signing_key()
KEYS: dict[str, Ed25519PublicKey] = {KEY.kid: KEY.public_key}
CERT_ID = new_certificate_id()
CLAIMS = CertificateClaims(
    certificate_id=CERT_ID, holder_name="Zoë Łukasiewicz", exam_title="GDPR basics", exam_id="gdpr-basics",
    completed_on=dt.date(2026, 11, 20), score_percent="85.00", passed=True, proctored=True,
    review_outcome="no_issues",
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: SigningKey = KEY, claims: CertificateClaims = CLAIMS) -> str:
    return issue_credential(claims, key, issuer_id="https://aufsicht.example", issuer_name="aufsicht",
                            issued_at=dt.datetime(2026, 11, 21, 10, 30), verify_url=f"https://aufsicht.example/v/{CERT_ID}")


def reason_of(token: str, keys: dict[str, Ed25519PublicKey] = KEYS) -> str:
    with pytest.raises(CredentialInvalid) as info:
        verify_credential(token, keys)
    return info.value.reason


def test_round_trip() -> None:
    token = issue()
    verified = verify_credential(token, KEYS)
    assert verified.claims == CLAIMS
    assert verified.kid == KEY.kid
    assert verified.header == {"alg": "EdDSA", "kid": KEY.kid, "typ": "vc+jwt", "cty": "vc"}
    vc = verified.credential
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["validFrom"] == "2026-11-21T10:30:00Z"
    assert vc["issuer"]["id"] == "https://aufsicht.example"
    assert vc["credentialSubject"]["achievement"]["name"] == "GDPR basics"
    assert vc["credentialSubject"]["certificateId"] == CERT_ID


def test_payload_is_canonical_json() -> None:
    header, payload, _ = issue().split(".")
    raw = unb64(payload)
    assert raw == canonical_json(json.loads(raw))
    assert b" " not in unb64(header)
    assert "Zoë Łukasiewicz".encode() in raw  # UTF-8, not \\u escapes


def test_tampered_payload_is_rejected() -> None:
    header, payload, signature = issue().split(".")
    vc = json.loads(unb64(payload))
    vc["credentialSubject"]["result"][0]["value"] = "100.00%"
    forged = f"{header}.{b64(canonical_json(vc))}.{signature}"
    assert reason_of(forged) == "bad_signature"


def test_tampered_signature_is_rejected() -> None:
    header, payload, signature = issue().split(".")
    raw = bytearray(unb64(signature))
    raw[10] ^= 1
    assert reason_of(f"{header}.{payload}.{b64(bytes(raw))}") == "bad_signature"


def test_tampered_header_is_rejected() -> None:
    header, payload, signature = issue().split(".")
    fields = json.loads(unb64(header))
    fields["typ"] = "JWT"
    assert reason_of(f"{b64(canonical_json(fields))}.{payload}.{signature}") == "bad_signature"


def test_signature_from_another_key_is_rejected() -> None:
    header, payload, _ = issue().split(".")
    _, _, other_signature = issue(OTHER).split(".")
    assert reason_of(f"{header}.{payload}.{other_signature}") == "bad_signature"


def test_unknown_kid_is_rejected() -> None:
    assert reason_of(issue(OTHER)) == "unknown_key"


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS256", "ES256", "Ed25519", None, ""])
def test_other_algorithms_are_rejected(alg: str | None) -> None:
    _, payload, _ = issue().split(".")
    header = b64(canonical_json({"alg": alg, "kid": KEY.kid}))
    assert reason_of(f"{header}.{payload}.") == "wrong_alg"
    assert reason_of(f"{header}.{payload}.{b64(b'x' * 64)}") == "wrong_alg"


def test_hs256_key_confusion_is_rejected() -> None:
    # An attacker signs with HMAC using our *public* key bytes as the secret.
    _, payload, _ = issue().split(".")
    header = b64(canonical_json({"alg": "HS256", "kid": KEY.kid}))
    public = public_jwks([KEY.public_key])["keys"][0]["x"].encode()
    mac = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert reason_of(f"{header}.{payload}.{b64(mac)}") == "wrong_alg"


@pytest.mark.parametrize("token", [
    "", "abc", "a.b", "a.b.c.d", "....", "!!.!!.!!", f"{b64(b'[1]')}.e30.", f"{b64(b'not json')}.e30.",
    f"{b64(canonical_json({'alg': 'EdDSA'}))}.e30.{b64(b'x' * 64)}",  # no kid
    "x" * 70000,
])
def test_malformed_tokens(token: str) -> None:
    assert reason_of(token) == "malformed"


def test_non_canonical_base64_is_rejected() -> None:
    header, payload, signature = issue().split(".")
    # The last character of a 64-byte signature carries 4 unused bits; flipping one spells the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) ^ 1]
    assert reason_of(f"{header}.{payload}.{signature[:-1]}{last}") == "malformed"
    assert reason_of(f"{header}.{payload}.{signature}==") == "malformed"


def test_wrong_length_signature_is_malformed() -> None:
    header, payload, _ = issue().split(".")
    assert reason_of(f"{header}.{payload}.{b64(b'x' * 63)}") == "malformed"


def test_crit_header_is_rejected() -> None:
    _, payload, _ = issue().split(".")
    header = b64(canonical_json({"alg": "EdDSA", "kid": KEY.kid, "crit": ["exp"], "exp": 1}))
    assert reason_of(f"{header}.{payload}.{b64(b'x' * 64)}") == "malformed"


def test_error_is_a_domain_error_with_a_message() -> None:
    with pytest.raises(CredentialInvalid) as info:
        verify_credential(issue(OTHER), KEYS)
    assert info.value.status == 422 and "not one of ours" in info.value.message


def test_jwks_round_trip_and_thumbprint_kid() -> None:
    jwks = public_jwks([KEY.public_key, OTHER.public_key])
    assert [k["kid"] for k in jwks["keys"]] == [KEY.kid, OTHER.kid]
    assert jwks["keys"][0] | {"x": "..."} == {"kty": "OKP", "crv": "Ed25519", "x": "...", "kid": KEY.kid,
                                              "use": "sig", "alg": "EdDSA"}
    keys = load_jwks(json.dumps(jwks))
    assert verify_credential(issue(OTHER), keys).kid == OTHER.kid
    # RFC 8037 appendix A.3: thumbprint of the example Ed25519 key.
    x = unb64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    assert key_id(Ed25519PublicKey.from_public_bytes(x)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("jwks", ["nope", "[]", {"keys": "x"}, {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "a",
                                                                          "x": "AAAA"}]}])
def test_bad_jwks(jwks: object) -> None:
    with pytest.raises(KeySetInvalid):
        load_jwks(jwks)  # type: ignore[arg-type]


def test_jwks_skips_other_key_types() -> None:
    assert load_jwks({"keys": [{"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"}]}) == {}


def test_signing_key_pem_round_trip() -> None:
    loaded = load_signing_key(signing_key_pem(KEY))
    assert loaded.kid == KEY.kid
    assert verify_credential(issue(loaded), KEYS).claims == CLAIMS


def test_certificate_id_format() -> None:
    ids = {new_certificate_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        groups = cid.split("-")
        assert [len(g) for g in groups] == [4] * 7
        assert set(cid) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ-")
        assert normalize_certificate_id(cid) == cid


def test_certificate_id_forgives_case_spacing_and_lookalikes() -> None:
    cid = "0000-0000-0000-0000-0000-0000-0000"  # all zeros has check char 0
    assert normalize_certificate_id("oooo oooo OOOO-0000 0000 0000 0000".lower()) == cid
    some = new_certificate_id()
    assert normalize_certificate_id(some.lower().replace("-", "")) == some
    assert normalize_certificate_id(some.replace("1", "l").replace("0", "O")) == some


def test_certificate_id_check_char_catches_every_single_typo() -> None:
    cid = new_certificate_id()
    compact = cid.replace("-", "")
    for i, original in enumerate(compact):
        for replacement in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":
            if replacement != original:
                typo = compact[:i] + replacement + compact[i + 1:]
                assert not is_valid_certificate_id(typo), typo


def test_certificate_id_check_char_catches_most_swaps() -> None:
    caught = total = 0
    for _ in range(50):
        compact = new_certificate_id().replace("-", "")
        for i in range(len(compact) - 1):
            if compact[i] != compact[i + 1]:
                total += 1
                swapped = compact[:i] + compact[i + 1] + compact[i] + compact[i + 2:]
                caught += not is_valid_certificate_id(swapped)
    assert caught / total > 0.95


@pytest.mark.parametrize("text", ["", "ABCD", "U" * 28, "!" * 28, "A" * 29])
def test_certificate_id_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidCertificateId):
        normalize_certificate_id(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_verifier_raises_only_credential_invalid_on_text(token: str) -> None:
    with pytest.raises(CredentialInvalid):
        verify_credential(token, KEYS)


TOKEN = issue()


@settings(max_examples=500, deadline=None)
@given(st.integers(0, len(TOKEN) - 1), st.integers(0, 8), st.text(alphabet="ABCabc019-_.=+/ é", max_size=8))
def test_verifier_raises_only_credential_invalid_on_mutations(start: int, length: int, insert: str) -> None:
    mutated = TOKEN[:start] + insert + TOKEN[start + length:]
    if mutated.strip() == TOKEN:  # surrounding whitespace from copy and paste is forgiven
        return
    with pytest.raises(CredentialInvalid):
        verify_credential(mutated, KEYS)


def test_issuing_needs_a_well_formed_certificate_id() -> None:
    with pytest.raises(InvalidCertificateId):
        issue(claims=dataclasses.replace(CLAIMS, certificate_id="1234"))
    with pytest.raises(InvalidCertificateId):
        issue(claims=dataclasses.replace(CLAIMS, certificate_id=CERT_ID.lower()))
