"""The Open Badges 3.0 JWT form of a certificate, signed ES256 (1EdTech's validator takes RS256 or ES256 only).

Open Badges 3.0 "JSON Web Token Proof Format": JOSE header ``alg`` ES256, ``typ`` JWT, ``kid`` (the
key's id in the issuer's DID document) and ``jwk`` (the public key); the payload has the credential
(without its Data Integrity proof) as ``vc`` plus ``iss`` (issuer id), ``jti`` (credential id) and
``nbf`` (validFrom). The P-256 keys live in ``instance/certificate_es256_keys.json`` (mode 0600),
``{"active": kid, "keys": {kid: PEM}}``; they are published in the JWKS and the DID documents.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from exams.credentials import CredentialInvalid, canonical_json

__all__ = ["EcKey", "es256_keys", "issue_jwt", "jwk_of", "public_es256_jwks", "verify_jwt"]

KEYS_FILE = "certificate_es256_keys.json"
ALG = "ES256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise CredentialInvalid("malformed", "not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_of(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (EC P-256) of a key, with its RFC 7638 thumbprint as ``kid``."""
    numbers = public_key.public_numbers()
    members = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x.to_bytes(32, "big")),
               "y": _b64(numbers.y.to_bytes(32, "big"))}
    return {**members, "kid": _b64(hashlib.sha256(canonical_json(members)).digest())}


@dataclass(frozen=True)
class EcKey:
    """A P-256 private key with its kid."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey


def es256_keys(instance_path: str | os.PathLike[str]) -> tuple[EcKey, dict[str, ec.EllipticCurvePublicKey]]:
    """The active ES256 key and every public key by kid: from ``CERTIFICATE_ES256_KEYS`` when configured (the
    same on every web host, ``{"active": kid, "keys": {kid: PEM}}``), else from the instance folder
    (generated on first use)."""
    from flask import current_app, has_app_context

    configured = current_app.config.get("CERTIFICATE_ES256_KEYS") if has_app_context() else None
    if configured:
        return _from_doc(json.loads(configured) if isinstance(configured, str) else configured)
    path = Path(instance_path) / KEYS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        kid = jwk_of(private.public_key())["kid"]
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump({"active": kid, "keys": {kid: pem}}, fh)
    return _from_doc(json.loads(path.read_text()))


def _from_doc(doc: dict[str, Any]) -> tuple[EcKey, dict[str, ec.EllipticCurvePublicKey]]:
    publics: dict[str, ec.EllipticCurvePublicKey] = {}
    active: EcKey | None = None
    for kid, pem in doc["keys"].items():
        loaded = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("the ES256 key ring holds a key that is not EC")
        publics[kid] = loaded.public_key()
        if kid == doc["active"]:
            active = EcKey(kid, loaded)
    if active is None:
        raise ValueError("the ES256 key ring has no active key")
    return active, publics


def public_es256_jwks(publics: Mapping[str, ec.EllipticCurvePublicKey]) -> list[dict[str, str]]:
    """JWKs (use sig, alg ES256) of the public keys, for the JWKS."""
    return [{**jwk_of(key), "kid": kid, "use": "sig", "alg": ALG} for kid, key in publics.items()]


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def issue_jwt(credential: Mapping[str, Any], key: EcKey, *, key_ref: str) -> str:
    """The credential (its proof left out) as an ES256 JWT; ``key_ref`` is the header's kid (a DID URL)."""
    vc = {k: v for k, v in credential.items() if k != "proof"}
    issuer = vc["issuer"]["id"] if isinstance(vc.get("issuer"), dict) else vc.get("issuer")
    payload: dict[str, Any] = {"vc": vc, "iss": issuer, "jti": vc["id"], "nbf": _epoch(vc["validFrom"])}
    subject = vc.get("credentialSubject", {}).get("id")
    if subject:
        payload["sub"] = subject
    public = {k: v for k, v in jwk_of(key.private_key.public_key()).items() if k != "kid"}
    header = {"alg": ALG, "typ": "JWT", "kid": key_ref, "jwk": public}
    signing_input = f"{_b64(canonical_json(header))}.{_b64(canonical_json(payload))}"
    r, s = decode_dss_signature(key.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify_jwt(token: str, publics: Mapping[str, ec.EllipticCurvePublicKey]) -> tuple[dict[str, Any], str]:
    """Check an ES256 JWT against our keys (by the kid's fragment, never the embedded jwk); (payload, kid)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CredentialInvalid("malformed", "a JWT has three parts separated by dots")
    try:
        header = json.loads(_unb64(parts[0]))
        payload = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise CredentialInvalid("malformed", "the JWT header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CredentialInvalid("malformed", "the JWT header and payload are JSON objects")
    if header.get("alg") != ALG:
        raise CredentialInvalid("wrong_alg", f"algorithm {header.get('alg')!r} is not accepted here")
    kid = re.split(r"[#/]", str(header.get("kid", "")))[-1]
    key = publics.get(kid)
    if key is None:
        raise CredentialInvalid("unknown_key", "signed with a key that is not one of ours")
    signature = _unb64(parts[2])
    if len(signature) != 64:
        raise CredentialInvalid("malformed", "an ES256 signature is 64 bytes")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CredentialInvalid("bad_signature", "the credential was altered or not signed by us") from None
    if not isinstance(payload.get("vc"), dict):
        raise CredentialInvalid("malformed", "the JWT carries no credential (vc claim)")
    return payload, kid
