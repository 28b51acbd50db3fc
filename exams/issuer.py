"""The platform as Open Badges issuer: DID documents, status lists, the credential forms, checking uploads.

Ties the Open Badges form (exams.openbadges), the status list (exams.statuslist) and the ES256 JWT
(exams.jwtvc) to the certificates and their signing keys (exams.certificates).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from flask import current_app
from sqlalchemy import select

from accounts.models import Institution
from exams.certificates import Verification, check_credential, lookup_certificate, public_keys, signing_key
from exams.credentials import CredentialInvalid, InvalidCertificateId, normalize_certificate_id, verify_credential
from exams.dataintegrity import DID_V1, MULTIKEY_V1, ProofInvalid, did_web, multikey, verify_proof
from exams.jwtvc import es256_keys, issue_jwt, public_es256_jwks, verify_jwt
from exams.models import Certificate
from exams.openbadges import attach_openbadge, issuer_did, verification_method
from exams.statuslist import EPOCH, list_etag, list_url, revoked_positions, status_list
from kernel.db import db
from kernel.errors import NotFound

__all__ = ["ServedList", "StatusListCache", "UploadVerdict", "check_upload", "did_document", "es256_jwks",
           "institution_by_slug", "jwk_url", "openbadge", "openbadge_jwt", "platform_did", "served_status_list",
           "status_list_cache"]

MAX_UPLOAD_CHARS = 256 * 1024
ID_PREFIX = "urn:aufsicht:certificate:"


def _base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def platform_did() -> str:
    """The platform's own did:web (served at /.well-known/did.json)."""
    return did_web(_base_url())


def institution_by_slug(slug: str) -> Institution:
    """The institution with this short name; NotFound otherwise."""
    inst = db.session.scalar(select(Institution).where(Institution.slug == slug))
    if inst is None:
        raise NotFound()
    return inst


def did_document(did: str) -> dict[str, Any]:
    """The DID document of ``did``: every certificate signing key as a Multikey, for assertionMethod."""
    methods = [{"id": f"{did}#{kid}", "type": "Multikey", "controller": did, "publicKeyMultibase": multikey(key)}
               for kid, key in public_keys().items()]
    ids = [m["id"] for m in methods]
    return {"@context": [DID_V1, MULTIKEY_V1], "id": did, "verificationMethod": methods,
            "assertionMethod": ids, "authentication": ids}


def es256_jwks() -> list[dict[str, str]]:
    """The public ES256 keys (the JWT form's keys) as JWKs; their kid is the URL the JWT header names."""
    return [{**jwk, "kid": jwk_url(jwk["kid"])} for jwk in public_es256_jwks(es256_keys(current_app.instance_path)[1])]


def jwk_url(kid: str) -> str:
    """Where one public key is served as a JWK (the ES256 JWT's header kid)."""
    return f"{_base_url()}/.well-known/jwks/{kid}"


# --- status lists ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServedList:
    """A signed status list as served: its bytes and its validators (ETag, Last-Modified = its validFrom)."""

    body: bytes
    etag: str
    last_modified: dt.datetime


class StatusListCache:
    """The signed lists of this process by (slug, number): a list is signed again only when its ETag changes
    (a revocation, another signing key), not on every request. ``signed`` counts the signings."""

    MAX_LISTS = 1024

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: OrderedDict[tuple[str, int], ServedList] = OrderedDict()
        self.signed = 0


def status_list_cache() -> StatusListCache:
    """This app's cache of signed status lists."""
    cache = current_app.extensions.get("aufsicht.status_lists")
    if cache is None:
        cache = current_app.extensions.setdefault("aufsicht.status_lists", StatusListCache())
    return cache


def served_status_list(slug: str, number: int) -> ServedList:
    """An institution's status list ``number`` as served: from the cache while its ETag holds, else signed now."""
    inst = institution_by_slug(slug)
    positions, latest = revoked_positions(inst.id, number)
    key = signing_key()
    url, method = list_url(_base_url(), slug, number), verification_method(slug, key.kid)
    etag = list_etag(url, method, positions, latest)
    cache = status_list_cache()
    with cache.lock:
        hit = cache.lists.get((slug, number))
    if hit is not None and hit.etag == etag:
        return hit
    signed = status_list(url=url, issuer=issuer_did(slug), positions=positions, valid_from=latest,
                         private_key=key.private_key, verification_method=method)
    served = ServedList(json.dumps(signed.credential, separators=(",", ":")).encode(), signed.etag,
                        (latest or EPOCH).replace(microsecond=0, tzinfo=dt.UTC))
    with cache.lock:
        cache.signed += 1
        cache.lists[(slug, number)] = served
        cache.lists.move_to_end((slug, number))
        while len(cache.lists) > cache.MAX_LISTS:
            cache.lists.popitem(last=False)
    return served


# --- the credential forms --------------------------------------------------------------------------------------


def openbadge(cert: Certificate) -> dict[str, Any]:
    """The certificate's signed OpenBadgeCredential; made now (from its signed claims) for older certificates."""
    if cert.openbadge is None:
        claims = verify_credential(cert.credential, public_keys()).claims
        attach_openbadge(cert, cert.attempt, claims, signing_key())
        db.session.commit()
    document: dict[str, Any] = json.loads(cert.openbadge or "{}")
    return document


def openbadge_jwt(cert: Certificate) -> str:
    """The certificate as an Open Badges 3.0 JWT, signed ES256."""
    key, _ = es256_keys(current_app.instance_path)
    return issue_jwt(openbadge(cert), key, key_ref=jwk_url(key.kid))


# --- checking an uploaded credential ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadVerdict:
    """What an uploaded credential is: valid, revoked, altered, unknown_issuer, unknown or malformed."""

    status: str
    reason: str
    form: str = ""  # "jsonld", "jwt-es256", "jws-eddsa"
    certificate: Verification | None = None


def _verdict_for_id(certificate_id: str, form: str, slug: str | None = None) -> UploadVerdict:
    try:
        found = lookup_certificate(certificate_id)
    except InvalidCertificateId:
        return UploadVerdict("malformed", "the credential id is not one of our certificate ids", form)
    if found.status == "unknown":
        return UploadVerdict("unknown", "the signature is ours, but we have no such certificate", form, found)
    if slug is not None:
        cert = db.session.scalar(select(Certificate).where(Certificate.public_id == found.certificate_id))
        if cert is None or cert.attempt.exam.institution.slug != slug:
            return UploadVerdict("unknown_issuer", "the certificate was not issued by the institution it names", form)
    if found.status == "revoked":
        return UploadVerdict("revoked", found.revocation_reason or "", form, found)
    return UploadVerdict("valid", "", form, found)


def _slug_of(did: str) -> str | None:
    prefix = did_web(_base_url(), "institutions") + ":"
    if not did.startswith(prefix):
        return None
    slug = did.removeprefix(prefix)
    exists = db.session.scalar(select(Institution.id).where(Institution.slug == slug))
    return slug if exists is not None else None


def _nodes(document: Any) -> int:
    """JSON objects that can be graph nodes, plus blank node labels: what canonicalisation's cost grows with."""
    count, stack = 0, [document]
    while stack:  # no recursion: an upload may nest deeper than Python's stack
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            count += 0 if "@value" in value else 1
            stack.extend(v for k, v in value.items() if k != "@context")
        elif isinstance(value, str) and value.startswith("_:"):
            count += 1
    return count


def _check_jsonld(document: dict[str, Any]) -> UploadVerdict:
    """Find the credential by its id and issuer first and compare it with what was issued; canonicalise only
    what differs from it and is no larger (a re-serialised copy), so a crafted document costs no CPU."""
    form = "jsonld"
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    proof = document.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not isinstance(issuer_id, str) or not isinstance(method, str):
        return UploadVerdict("malformed", "the credential has no issuer or no proof with a verification method", form)
    slug = _slug_of(issuer_id)
    if slug is None or method.split("#", 1)[0] != issuer_id:
        return UploadVerdict("unknown_issuer", "the issuer or its key is not one of ours", form)
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not credential_id.startswith(ID_PREFIX):
        return UploadVerdict("malformed", "the credential id is not one of our certificate ids", form)
    try:
        public_id = normalize_certificate_id(credential_id.removeprefix(ID_PREFIX))
    except InvalidCertificateId:
        return UploadVerdict("malformed", "the credential id is not one of our certificate ids", form)
    cert = db.session.scalar(select(Certificate).where(Certificate.public_id == public_id))
    if cert is None:
        return UploadVerdict("unknown", "we have no certificate with this id", form)
    if cert.attempt.exam.institution.slug != slug:
        return UploadVerdict("unknown_issuer", "the certificate was not issued by the institution it names", form)
    keys = {verification_method(slug, kid): key for kid, key in public_keys().items()}
    if method not in keys:
        return UploadVerdict("unknown_issuer", f"signed with {method[:120]!r}, which is not one of our keys", form)
    issued = json.loads(cert.openbadge) if cert.openbadge else None
    if document != issued:
        if issued is None or _nodes(document) > _nodes(issued):
            return UploadVerdict("altered", "the credential is not the one issued under this id", form)
        try:  # the same statements written differently still verify; anything else is altered
            verify_proof(document, keys)
        except ProofInvalid as err:
            status = {"unknown_key": "unknown_issuer", "bad_signature": "altered",
                      "too_costly": "altered"}.get(err.reason, "malformed")
            return UploadVerdict(status, err.detail, form)
    return _verdict_for_id(public_id, form, slug)


def _check_token(token: str) -> UploadVerdict:
    try:
        header = json.loads(_b64json(token.split(".", 1)[0]))
    except ValueError:
        return UploadVerdict("malformed", "this is neither a JSON-LD credential nor a JWT", "")
    if isinstance(header, dict) and header.get("alg") == "ES256":
        form = "jwt-es256"
        try:
            payload, _kid = verify_jwt(token, es256_keys(current_app.instance_path)[1])
        except CredentialInvalid as err:
            status = {"unknown_key": "unknown_issuer", "bad_signature": "altered"}.get(err.reason, "malformed")
            return UploadVerdict(status, err.detail, form)
        credential_id = str(payload["vc"].get("id", ""))
        slug = _slug_of(str(payload.get("iss", "")))
        if slug is None or not credential_id.startswith(ID_PREFIX):
            return UploadVerdict("unknown_issuer", "the issuer is not one of ours", form)
        return _verdict_for_id(credential_id.removeprefix(ID_PREFIX), form, slug)
    form = "jws-eddsa"
    result = check_credential(token)
    if result["valid"] or result["status"] == "revoked":
        return _verdict_for_id(result["claims"]["certificate_id"], form)
    status = {"unknown_key": "unknown_issuer", "bad_signature": "altered", "unknown_certificate": "unknown",
              "not_issued": "altered"}.get(result["reason"], "malformed")
    return UploadVerdict(status, str(result.get("message") or result["reason"]), form)


def _b64json(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text or ""):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")


def check_upload(text: str | bytes) -> UploadVerdict:
    """Check an uploaded credential: JSON-LD with a Data Integrity proof, the ES256 JWT or the EdDSA JWS."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    if not text or len(text) > MAX_UPLOAD_CHARS:
        return UploadVerdict("malformed", "empty or too large", "")
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return UploadVerdict("malformed", "the file is not JSON", "jsonld")
        if isinstance(document, dict) and isinstance(document.get("credential"), str):
            return _check_token(document["credential"])
        if not isinstance(document, dict):
            return UploadVerdict("malformed", "the file is not a JSON object", "jsonld")
        return _check_jsonld(document)
    return _check_token(text)

