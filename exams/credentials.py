"""Verifiable certificates: W3C VC 2.0 / Open Badges 3.0 style JSON signed as a compact JWS (EdDSA, Ed25519).

The JWS payload is the credential itself as canonical JSON (sorted keys, no
whitespace, UTF-8), so anyone holding our public JWK set can verify a
certificate offline. Verification is strict: only ``alg: EdDSA`` with a known
``kid`` is accepted (never ``none``, never an HMAC "confusion" algorithm), base64url
must be canonical, and every failure is one :class:`CredentialInvalid` with a reason.

A changed payload and a forged signature are indistinguishable to cryptography;
both are reported as ``reason="bad_signature"`` ("altered or not signed by us").

Certificate ids are 27 random Crockford base32 characters (135 bits) plus one
Luhn mod 32 check character, shown in groups of four: ``7K3Q-...-XXXX``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kernel.errors import DomainError, ValidationFailed

__all__ = [
    "CertificateClaims",
    "CredentialInvalid",
    "InvalidCertificateId",
    "KeySetInvalid",
    "SigningKey",
    "VerifiedCredential",
    "build_credential",
    "canonical_json",
    "generate_signing_key",
    "is_valid_certificate_id",
    "issue_credential",
    "key_id",
    "load_jwks",
    "load_signing_key",
    "new_certificate_id",
    "normalize_certificate_id",
    "public_jwks",
    "signing_key_pem",
    "verify_credential",
]

ALG = "EdDSA"
TYP = "vc+jwt"
MAX_JWS_CHARS = 64 * 1024
VC_CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


class CredentialInvalid(DomainError):
    """A certificate failed verification; ``reason`` says why (see REASONS)."""

    status = 422
    code = "credential_invalid"
    REASONS = ("malformed", "wrong_alg", "unknown_key", "bad_signature")

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"Certificate not valid ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


class KeySetInvalid(DomainError):
    """A JWK set could not be loaded."""

    status = 422
    code = "key_set_invalid"


class InvalidCertificateId(ValidationFailed):
    """A certificate id is mistyped (bad length, characters or check character)."""

    code = "certificate_id_invalid"

    def __init__(self, detail: str, problem: str = "", **params: str | int) -> None:
        """``detail`` is the English for logs and the API; ``problem`` ("length", "characters", "check") and
        ``params`` let a page say it in the reader's language."""
        super().__init__(f"This is not a valid certificate id: {detail}", fields={"certificate_id": detail})
        self.problem = problem
        self.params = params


# --- base64url and canonical JSON ------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if not text or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text) or len(text) % 4 == 1:
        raise CredentialInvalid("malformed", f"{what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CredentialInvalid("malformed", f"{what} is not base64url") from None
    if _b64encode(data) != text:  # unused trailing bits: a second spelling of the same bytes
        raise CredentialInvalid("malformed", f"{what} is not canonical base64url")
    return data


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no whitespace, UTF-8 encoded: the exact bytes that get signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CredentialInvalid("malformed", f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise CredentialInvalid("malformed", f"{what} is not a JSON object")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# --- keys ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """A private key with its key id (the RFC 7638 thumbprint of its public key)."""

    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return self.private_key.public_key()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64encode(_raw_public(public_key))}
    return _b64encode(hashlib.sha256(canonical_json(members)).digest())


def generate_signing_key() -> SigningKey:
    """A fresh Ed25519 signing key."""
    private = Ed25519PrivateKey.generate()
    return SigningKey(key_id(private.public_key()), private)


def signing_key_pem(key: SigningKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (store it with mode 0600)."""
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signing_key(pem: bytes) -> SigningKey:
    """Load a PKCS#8 PEM Ed25519 private key."""
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeySetInvalid("The certificate signing key must be an Ed25519 key.")
    return SigningKey(key_id(private.public_key()), private)


def public_jwks(keys: Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """A JWK set (OKP/Ed25519) of public keys, for /.well-known/jwks.json."""
    items = keys.items() if isinstance(keys, Mapping) else ((key_id(k), k) for k in keys)
    return {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": _b64encode(_raw_public(k)), "kid": kid, "use": "sig", "alg": ALG}
            for kid, k in items
        ]
    }


def load_jwks(jwks: Mapping[str, Any] | str | bytes) -> dict[str, Ed25519PublicKey]:
    """Public keys by kid from a JWK set (dict or JSON text); keys other than OKP/Ed25519 are skipped."""
    if isinstance(jwks, str | bytes):
        try:
            jwks = json.loads(jwks)
        except ValueError:
            raise KeySetInvalid("The key set is not JSON.") from None
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise KeySetInvalid("A key set is an object with a 'keys' list.")
    result: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if not isinstance(kid, str) or not isinstance(x, str):
            raise KeySetInvalid("Each Ed25519 key needs a 'kid' and an 'x'.")
        try:
            raw = _b64decode(x, "x")
            result[kid] = Ed25519PublicKey.from_public_bytes(raw)
        except (CredentialInvalid, ValueError):
            raise KeySetInvalid(f"Key {kid!r} is not a valid Ed25519 public key.") from None
    return result


# --- certificate ids -------------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)} | {"O": 0, "I": 1, "L": 1}
_ID_DATA_CHARS = 27  # 135 random bits
_ID_GROUP = 4


def _luhn_mod32(codes: list[int]) -> int:
    """Luhn mod N sum over codes, rightmost doubled first (catches every single-character typo)."""
    total, factor = 0, 2
    for code in reversed(codes):
        addend = factor * code
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return total


def new_certificate_id() -> str:
    """A new unguessable certificate id: 27 random Crockford base32 chars + check char, grouped by 4."""
    codes = [secrets.randbelow(32) for _ in range(_ID_DATA_CHARS)]
    check = (32 - _luhn_mod32(codes) % 32) % 32
    text = "".join(_CROCKFORD[c] for c in [*codes, check])
    return "-".join(text[i : i + _ID_GROUP] for i in range(0, len(text), _ID_GROUP))


def normalize_certificate_id(text: str) -> str:
    """Canonical form of a typed certificate id (case, spaces, dashes, O/0, I/L/1 forgiven); checks the check char."""
    compact = "".join(c for c in text.upper() if c not in " -\t")
    if len(compact) != _ID_DATA_CHARS + 1:
        raise InvalidCertificateId(f"it must have {_ID_DATA_CHARS + 1} characters, not {len(compact)}", "length",
                                   expected=_ID_DATA_CHARS + 1, got=len(compact))
    bad = sorted({c for c in compact if c not in _DECODE})
    if bad:
        raise InvalidCertificateId(f"it contains characters that are never used: {''.join(bad)}", "characters",
                                   chars="".join(bad))
    codes = [_DECODE[c] for c in compact]
    # Validate: the Luhn sum including the check char (weight 1) must be 0 mod 32.
    total, factor = 0, 1
    for code in reversed(codes):
        addend = factor * code
        total += addend // 32 + addend % 32
        factor = 3 - factor
    if total % 32:
        raise InvalidCertificateId("a character is mistyped (the check character does not match)", "check")
    text_id = "".join(_CROCKFORD[c] for c in codes)
    return "-".join(text_id[i : i + _ID_GROUP] for i in range(0, len(text_id), _ID_GROUP))


def is_valid_certificate_id(text: str) -> bool:
    """True when ``text`` is a well-formed certificate id with a matching check character."""
    try:
        normalize_certificate_id(text)
    except InvalidCertificateId:
        return False
    return True


# --- issuing and verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateClaims:
    """What a certificate states about one passed attempt."""

    certificate_id: str
    holder_name: str
    exam_title: str
    exam_id: str
    completed_on: dt.date
    score_percent: str  # e.g. "85.00"; text so the signed value is exactly what is shown
    passed: bool
    proctored: bool
    review_outcome: str  # e.g. "no_issues", "issues_cleared", "not_reviewed"
    # How the identity was verified: "automatic", "person" or "not_checked"; and on which day.
    identity_verification: str = "not_checked"
    identity_verified_on: dt.date | None = None
    # "recorded" (supervised with recording), "live" (supervised, nothing recorded) or "none".
    supervision: str = "none"
    # The review of the recording: "clean", "findings" (decided by the exam office) or "not_reviewed".
    review: str = "not_reviewed"
    # Every request of the attempt carried a valid Safe Exam Browser key (exams.lockdown); False says nothing.
    seb: bool = False


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential whose signature checked out."""

    kid: str
    header: dict[str, Any]
    credential: dict[str, Any]
    claims: CertificateClaims


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_credential(claims: CertificateClaims, *, issuer_id: str, issuer_name: str, issued_at: dt.datetime,
                     verify_url: str | None = None) -> dict[str, Any]:
    """The unsigned credential document (W3C VC 2.0 / Open Badges 3.0 OpenBadgeCredential)."""
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "name": claims.holder_name,
        "achievement": {
            "id": f"{issuer_id.rstrip('/')}/exams/{claims.exam_id}",
            "type": ["Achievement"],
            "name": claims.exam_title,
            "criteria": {"narrative": "Passed the proctored online exam."},
        },
        "result": [{"type": ["Result"], "value": f"{claims.score_percent}%", "status": "Passed" if claims.passed
                    else "Failed"}],
        "activityEndDate": claims.completed_on.isoformat(),
        "certificateId": claims.certificate_id,
        "proctored": claims.proctored,
        "reviewOutcome": claims.review_outcome,
    }
    credential: dict[str, Any] = {
        "@context": VC_CONTEXT,
        "id": f"urn:aufsicht:certificate:{claims.certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": issuer_name},
        "validFrom": _utc_text(issued_at),
        "name": claims.exam_title,
        "credentialSubject": subject,
    }
    evidence: list[dict[str, Any]] = []
    if verify_url:
        evidence.append({"type": ["Evidence"], "id": verify_url, "name": "Verification page"})
    evidence.append(_identity_evidence(claims))
    evidence.append(_supervision_evidence(claims))
    credential["evidence"] = evidence
    return credential


IDENTITY_WORDS = {"automatic": "automatically", "person": "by a person"}
# What a certificate says when every request of the attempt carried a valid Safe Exam Browser key.
SEB_STATEMENT = "taken in Safe Exam Browser with the exam's configuration"
REVIEW_WORDS = {"clean": "no irregularities", "findings": "irregularities decided by the exam office",
                "not_reviewed": "not reviewed (institution policy)"}


def _identity_evidence(claims: CertificateClaims) -> dict[str, Any]:
    """The evidence entry saying how the holder's identity was verified (an offline check reads it)."""
    if claims.identity_verification in IDENTITY_WORDS and claims.identity_verified_on is not None:
        text = (f"identity verified on {claims.identity_verified_on.isoformat()} "
                f"({IDENTITY_WORDS[claims.identity_verification]})")
    else:
        text = "identity not checked"
    entry: dict[str, Any] = {"type": ["Evidence"], "genre": "IdentityVerification", "name": "Identity",
                             "description": text, "identityVerification": claims.identity_verification}
    if claims.identity_verified_on is not None:
        entry["verifiedOn"] = claims.identity_verified_on.isoformat()
    return entry


def _supervision_evidence(claims: CertificateClaims) -> dict[str, Any]:
    """The evidence entry saying how the exam was supervised and what the review found."""
    if claims.supervision == "recorded":
        text = f"supervised with recording; review: {REVIEW_WORDS.get(claims.review, claims.review)}"
    elif claims.supervision == "live":
        text = "supervised live, without recording"
    else:
        text = "not supervised"
    entry: dict[str, Any] = {"type": ["Evidence"], "genre": "Supervision", "name": "Supervision",
                             "description": text, "supervision": claims.supervision, "review": claims.review}
    if claims.seb:
        entry["description"] = f"{text}; {SEB_STATEMENT}"
        entry["lockdown"] = "SafeExamBrowser"
    return entry


def _evidence_facts(credential: dict[str, Any]) -> dict[str, Any]:
    """Identity and supervision facts from the evidence entries (defaults for credentials without them)."""
    facts: dict[str, Any] = {}
    for entry in credential.get("evidence") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("genre") == "IdentityVerification":
            facts["identity_verification"] = str(entry.get("identityVerification", "not_checked"))
            if entry.get("verifiedOn"):
                facts["identity_verified_on"] = dt.date.fromisoformat(str(entry["verifiedOn"]))
        elif entry.get("genre") == "Supervision":
            facts["supervision"] = str(entry.get("supervision", "none"))
            facts["review"] = str(entry.get("review", "not_reviewed"))
            facts["seb"] = entry.get("lockdown") == "SafeExamBrowser"
    return facts


def issue_credential(claims: CertificateClaims, key: SigningKey, *, issuer_id: str, issuer_name: str,
                     issued_at: dt.datetime, verify_url: str | None = None) -> str:
    """Build the credential for ``claims`` and sign it as a compact JWS (EdDSA, kid = key.kid)."""
    if normalize_certificate_id(claims.certificate_id) != claims.certificate_id:
        raise InvalidCertificateId("issue certificates with ids from new_certificate_id()")
    header = {"alg": ALG, "kid": key.kid, "typ": TYP, "cty": "vc"}
    credential = build_credential(claims, issuer_id=issuer_id, issuer_name=issuer_name, issued_at=issued_at,
                                  verify_url=verify_url)
    signing_input = f"{_b64encode(canonical_json(header))}.{_b64encode(canonical_json(credential))}"
    signature = key.private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64encode(signature)}"


def _claims_from(credential: dict[str, Any]) -> CertificateClaims:
    try:
        subject = credential["credentialSubject"]
        result = subject["result"][0]
        claims = CertificateClaims(
            certificate_id=subject["certificateId"],
            holder_name=subject["name"],
            exam_title=subject["achievement"]["name"],
            exam_id=str(subject["achievement"]["id"]).rsplit("/", 1)[-1],
            completed_on=dt.date.fromisoformat(subject["activityEndDate"]),
            score_percent=str(result["value"]).removesuffix("%"),
            passed=result["status"] == "Passed",
            proctored=subject["proctored"],
            review_outcome=subject["reviewOutcome"],
            **_evidence_facts(credential),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise CredentialInvalid("malformed", "the credential lacks required certificate fields") from None
    if not all(isinstance(v, str) for v in (claims.certificate_id, claims.holder_name, claims.exam_title,
                                             claims.review_outcome)) or not isinstance(claims.proctored, bool):
        raise CredentialInvalid("malformed", "the credential has fields of the wrong type")
    return claims


def verify_credential(jws: str, public_keys: Mapping[str, Ed25519PublicKey]) -> VerifiedCredential:
    """Verify a compact JWS certificate against our public keys; raises CredentialInvalid with a reason."""
    if not isinstance(jws, str) or len(jws) > MAX_JWS_CHARS:
        raise CredentialInvalid("malformed", "not a certificate token")
    parts = jws.strip().split(".")
    if len(parts) != 3:
        raise CredentialInvalid("malformed", "a certificate token has three parts separated by dots")
    header_b64, payload_b64, signature_b64 = parts
    payload = _b64decode(payload_b64, "payload")  # also ensures the signing input is pure ASCII
    header = _json_object(_b64decode(header_b64, "header"), "header")
    alg = header.get("alg")
    if alg != ALG:
        raise CredentialInvalid("wrong_alg", f"algorithm {alg!r} is not accepted; only {ALG} is")
    if "crit" in header or header.get("b64", True) is not True:
        raise CredentialInvalid("malformed", "unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise CredentialInvalid("malformed", "the header has no key id")
    public_key = public_keys.get(kid)
    if public_key is None:
        raise CredentialInvalid("unknown_key", f"signed with key {kid[:64]!r}, which is not one of ours")
    signature = _b64decode(signature_b64, "signature")
    if len(signature) != 64:
        raise CredentialInvalid("malformed", "an Ed25519 signature is 64 bytes")
    try:
        public_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise CredentialInvalid("bad_signature", "the certificate was altered or not signed by us") from None
    credential = _json_object(payload, "payload")
    return VerifiedCredential(kid, header, credential, _claims_from(credential))
