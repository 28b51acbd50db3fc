"""Building blocks of the Open Badges form: multikey/base58btc, did:web names, the status list's bits."""

from __future__ import annotations

import base64
import datetime as dt
import gzip

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exams.dataintegrity import (
    CREDENTIALS_V2,
    ProofInvalid,
    add_proof,
    base58btc_decode,
    base58btc_encode,
    did_web,
    did_web_url,
    multikey,
    multikey_public_key,
    verify_proof,
)
from exams.statuslist import LIST_BITS, encode_bits, status_entry


def test_multikey_matches_the_w3c_eddsa_test_vector():
    # W3C Data Integrity EdDSA Cryptosuites v1.0, test vectors: secretKeyMultibase -> publicKeyMultibase.
    secret = base58btc_decode("3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq")
    assert secret[:2] == b"\x80\x26"
    public = Ed25519PrivateKey.from_private_bytes(secret[2:]).public_key()
    assert multikey(public) == "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    assert multikey(multikey_public_key(multikey(public))) == multikey(public)
    with pytest.raises(ValueError):
        multikey_public_key("z" + base58btc_encode(b"\x12\x00" + bytes(32)))


@pytest.mark.parametrize("data", [b"", b"\0", b"\0\0\x01", b"hello", bytes(range(256))])
def test_base58btc_round_trip(data):
    assert base58btc_decode(base58btc_encode(data)) == data
    with pytest.raises(ValueError):
        base58btc_decode("0OIl")


def test_did_web_names_and_where_they_resolve():
    assert did_web("https://pruefung.example.org") == "did:web:pruefung.example.org"
    assert did_web("https://example.org:8443/sub/", "institutions", "demo") == \
        "did:web:example.org%3A8443:sub:institutions:demo"
    assert did_web_url("did:web:pruefung.example.org") == "https://pruefung.example.org/.well-known/did.json"
    assert did_web_url("did:web:example.org%3A8443:institutions:demo") == \
        "https://example.org:8443/institutions/demo/did.json"


def test_status_list_bit_zero_is_the_first_bit_and_entries_split_by_list():
    encoded = encode_bits({0, 9, LIST_BITS - 1})
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == LIST_BITS // 8 and raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    entry = status_entry("https://x.example", "demo", LIST_BITS + 5)
    assert entry["statusListCredential"] == "https://x.example/institutions/demo/status/1"
    assert entry["statusListIndex"] == "5" and entry["id"].endswith("/status/1#5")


def test_a_proof_covers_every_statement_and_the_proof_options():
    key = Ed25519PrivateKey.generate()
    doc = {"@context": [CREDENTIALS_V2], "id": "urn:x:1", "type": ["VerifiableCredential"],
           "issuer": "did:web:x.example", "validFrom": "2026-01-01T00:00:00Z",
           "credentialSubject": {"id": "urn:x:s", "name": "A"}}
    signed = add_proof(doc, key, verification_method="did:web:x.example#k", created=dt.datetime(2026, 1, 2))
    keys = {"did:web:x.example#k": key.public_key()}
    assert verify_proof(signed, keys) == "did:web:x.example#k"
    for path, value in [(("credentialSubject", "name"), "B"), (("proof", "created"), "2026-01-03T00:00:00Z"),
                        (("issuer",), "did:web:y.example")]:
        changed = {k: (dict(v) if isinstance(v, dict) else v) for k, v in signed.items()}
        target = changed
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        with pytest.raises(ProofInvalid) as err:
            verify_proof(changed, keys)
        assert err.value.reason == "bad_signature", path
    wrong_suite = {**signed, "proof": {**signed["proof"], "cryptosuite": "eddsa-jcs-2022"}}
    with pytest.raises(ProofInvalid) as err:
        verify_proof(wrong_suite, keys)
    assert err.value.reason == "malformed"
