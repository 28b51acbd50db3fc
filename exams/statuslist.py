"""W3C Bitstring Status List v1.0 for certificate revocation: index allocation and the list credential.

Every certificate that has an Open Badges form gets one ``status_index`` (unique over the platform).
List ``n`` covers the indices ``n * LIST_BITS`` to ``(n + 1) * LIST_BITS - 1``; each institution
publishes its own list ``n`` with the bits of its own certificates, at
``/institutions/<slug>/status/<n>``, signed by the institution's did:web (the credential's issuer,
as verifiers require). A bit is 1 when the certificate is revoked: the list is derived from
``Certificate.revoked_at``, so revoking updates it at once and nothing else needs to be written.

Indices are drawn at random within the list being filled (half full at most), so a position says
nothing about when a certificate was issued ("herd privacy" in the spec).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from exams.dataintegrity import CREDENTIALS_V2, add_proof
from exams.models import Attempt, Certificate, Exam
from kernel.db import db

__all__ = ["LIST_BITS", "StatusList", "allocate_index", "encode_bits", "list_etag", "list_url", "revoked_positions",
           "status_entry", "status_list"]

LIST_BITS = 131072  # 16 KiB uncompressed, the spec's minimum for herd privacy
TTL_SECONDS = 300  # how long verifiers (and HTTP caches) may keep a list
EPOCH = dt.datetime(2026, 1, 1)  # validFrom of a list in which nothing was ever revoked


def list_url(base_url: str, slug: str, number: int) -> str:
    """URL of an institution's status list credential number ``number``."""
    return f"{base_url.rstrip('/')}/institutions/{slug}/status/{number}"


def allocate_index() -> int:
    """A free status list index, random within the list being filled."""
    used = db.session.scalar(select(func.count()).select_from(Certificate).where(Certificate.status_index.is_not(None)))
    number = int(used or 0) // (LIST_BITS // 2)
    for _ in range(64):
        index = number * LIST_BITS + secrets.randbelow(LIST_BITS)
        taken = db.session.scalar(select(Certificate.id).where(Certificate.status_index == index))
        if taken is None:
            return index
    raise RuntimeError("no free status list index found")  # pragma: no cover - half-full list, 2^-64


def status_entry(base_url: str, slug: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of a credential with status list index ``index``."""
    number, position = divmod(index, LIST_BITS)
    url = list_url(base_url, slug, number)
    return {"id": f"{url}#{position}", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
            "statusListIndex": str(position), "statusListCredential": url}


def encode_bits(positions: set[int], size: int = LIST_BITS) -> str:
    """``encodedList``: multibase base64url (no padding) of the GZIP-compressed bitstring; bit 0 is the first."""
    bits = bytearray(size // 8)
    for position in positions:
        bits[position // 8] |= 0x80 >> (position % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def revoked_positions(institution_id: int, number: int) -> tuple[set[int], dt.datetime | None]:
    """Positions in list ``number`` of the institution's revoked certificates, and the latest revocation time."""
    low, high = number * LIST_BITS, (number + 1) * LIST_BITS
    rows = db.session.execute(
        select(Certificate.status_index, Certificate.revoked_at)
        .join(Attempt, Attempt.id == Certificate.attempt_id).join(Exam, Exam.id == Attempt.exam_id)
        .where(Exam.institution_id == institution_id, Certificate.revoked_at.is_not(None),
               Certificate.status_index >= low, Certificate.status_index < high)
    ).all()
    latest = max((r.revoked_at for r in rows), default=None)
    return {int(r.status_index) - low for r in rows}, latest


@dataclass(frozen=True)
class StatusList:
    """A signed BitstringStatusListCredential and a strong validator (ETag) for HTTP caching."""

    credential: dict[str, Any]
    etag: str


def status_list(*, url: str, issuer: str, positions: set[int], valid_from: dt.datetime | None,
                private_key: Ed25519PrivateKey, verification_method: str) -> StatusList:
    """The list credential for ``positions`` (revoked), signed with eddsa-rdfc-2022.

    It is deterministic (validFrom is the latest revocation, Ed25519 signatures are deterministic),
    so every web worker serves the same bytes and the same ETag.
    """
    moment = valid_from or EPOCH
    stamp = moment.replace(microsecond=0).isoformat() + "Z"
    unsigned = {
        "@context": [CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": stamp,
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": "revocation",
                              "encodedList": encode_bits(positions), "ttl": TTL_SECONDS * 1000},
    }
    signed = add_proof(unsigned, private_key, verification_method=verification_method, created=moment)
    return StatusList(signed, list_etag(url, verification_method, positions, valid_from))


def list_etag(url: str, verification_method: str, positions: set[int], valid_from: dt.datetime | None) -> str:
    """The ETag of a list: changes exactly when its content or signing key does (computed without signing)."""
    stamp = (valid_from or EPOCH).replace(microsecond=0).isoformat()
    return hashlib.sha256(f"{url}|{verification_method}|{stamp}|{sorted(positions)}".encode()).hexdigest()[:32]
