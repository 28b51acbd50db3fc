"""Certificates as Open Badges 3.0 ``OpenBadgeCredential`` (W3C VC Data Model 2.0) with a Data Integrity proof.

Each institution is an issuer with its own did:web (``did:web:<host>:institutions:<slug>``, served at
``/institutions/<slug>/did.json``); its verification methods are the platform's Ed25519 signing keys
as Multikeys (``<did>#<kid>``, kid as in the JWKS). The credential says what was checked as Open
Badges ``evidence`` (identity check, supervision and recording, review of the recording), the result
as an Open Badges ``Result`` against the achievement's ``ResultDescription``, and its revocation
state through a Bitstring Status List entry (exams.statuslist).

The evidence facts come from :func:`evidence_for`; that is the one place that reads how identity
was checked and how the attempt was supervised and reviewed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from exams.credentials import CertificateClaims, SigningKey
from exams.dataintegrity import CREDENTIALS_V2, OB_V3, add_proof, did_web
from exams.models import Attempt, Certificate
from exams.statuslist import allocate_index, status_entry
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from storage.models import Blob

__all__ = ["EvidenceFacts", "attach_openbadge", "build_openbadge", "evidence_for", "evidence_items",
           "issuer_did", "verification_method"]


@dataclass(frozen=True)
class EvidenceFacts:
    """What was checked before the certificate was issued (stated in the credential's evidence)."""

    identity_method: str | None  # "face_match", "face_match_confirmed", "proctor_compared" or None (not checked)
    identity_checked_at: dt.datetime | None
    supervised: bool  # the exam was taken under online proctoring
    recorded: bool  # camera/screen recordings of the attempt were made
    review_outcome: str | None  # "clean", "findings" or None (not reviewed)
    seb: bool = False  # taken in Safe Exam Browser with the exam's configuration (every request had a valid key)


def evidence_for(cert: Certificate) -> EvidenceFacts:
    """The evidence facts of a certificate: the snapshot taken at issue (``exams.trust``), never the live state.

    Certificates issued before snapshots existed fall back to what the attempt says now.
    """
    attempt = cert.attempt
    method: str | None = None
    checked_at = cert.identity_verified_at
    if cert.identity_method == "automatic":
        method = "face_match"
    elif cert.identity_method == "person":
        check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == attempt.user_id,
                                                        IdCheck.exam_id == attempt.exam_id))
        # a person decided: the proctor's live comparison (no biometrics) or a reviewer's confirmation
        method = "proctor_compared" if check is not None and not check.biometric else "face_match_confirmed"
    elif cert.holder_name is None:  # issued before snapshots: only a verified check counts
        check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == attempt.user_id,
                                                        IdCheck.exam_id == attempt.exam_id))
        if check is not None and check.status == IdCheckStatus.VERIFIED:
            method = "face_match_confirmed" if check.decided_by_id is not None else "face_match"
            checked_at = check.decided_at or check.updated_at
    if cert.supervised is not None:
        recorded = bool(cert.supervised)
    else:
        recorded = db.session.scalar(select(Blob.id).where(Blob.attempt_id == attempt.id,
                                                           Blob.category == "recording").limit(1)) is not None
    review = cert.review if cert.review in ("clean", "findings") else (
        attempt.review_outcome if cert.review is None else None)
    return EvidenceFacts(identity_method=method, identity_checked_at=checked_at,
                         supervised=attempt.exam.proctoring_required, recorded=recorded, review_outcome=review,
                         seb=bool(cert.seb_lockdown))


_IDENTITY = {
    "face_match": "Identity verified before the exam: the candidate's face matched the photo of their ID document "
                  "(automatic comparison with a liveness check).",
    "face_match_confirmed": "Identity verified before the exam: the candidate's face was compared with the photo of "
                            "their ID document and a member of the exam office confirmed the match.",
    "proctor_compared": "Identity verified in the live session: a proctor compared the candidate's face with their "
                        "ID document.",
}
_REVIEW = {
    "clean": "The recording of the exam was reviewed: no issues found.",
    "findings": "The recording of the exam was reviewed: findings were noted and decided by the exam office.",
}
#: A review without a kept recording (snapshots, the timeline, the flags): it never claims a recording was watched.
_REVIEW_UNRECORDED = {
    "clean": "The supervised session was reviewed from its timeline and flags: no issues found.",
    "findings": "The supervised session was reviewed from its timeline and flags: findings were noted and decided "
                "by the exam office.",
}


def _day(moment: dt.datetime) -> str:
    return moment.date().isoformat()


def evidence_items(facts: EvidenceFacts, verify_url: str) -> list[dict[str, Any]]:
    """Open Badges ``Evidence`` entries for the facts, in English (a credential is read worldwide)."""
    identity = _IDENTITY.get(facts.identity_method or "", "No identity check was part of this exam.")
    if facts.identity_checked_at is not None and facts.identity_method:
        identity += f" Checked on {_day(facts.identity_checked_at)}."
    if facts.supervised:
        supervision = ("Taken under online proctoring with the camera recorded." if facts.recorded
                       else "Taken under online proctoring; no recording was kept.")
    else:
        supervision = "Taken without online proctoring."
    if facts.seb:
        supervision += " Taken in Safe Exam Browser with the exam's configuration."
    reviews = _REVIEW if facts.recorded else _REVIEW_UNRECORDED
    review = reviews.get(facts.review_outcome or "", "The recording was not reviewed." if facts.recorded
                         else "There was no recording to review.")
    return [
        {"id": verify_url, "type": ["Evidence"], "name": "Verification page", "genre": "Verification",
         "description": "Shows whether this certificate is valid or revoked."},
        {"type": ["Evidence"], "name": "Identity check", "genre": "Identity verification", "narrative": identity},
        {"type": ["Evidence"], "name": "Supervision", "genre": "Proctoring", "narrative": supervision},
        {"type": ["Evidence"], "name": "Review", "genre": "Review", "narrative": review},
    ]


def _base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def issuer_did(slug: str) -> str:
    """The did:web of an institution as certificate issuer."""
    return did_web(_base_url(), "institutions", slug)


def verification_method(slug: str, kid: str) -> str:
    """The verification method id of signing key ``kid`` in the institution's DID document."""
    return f"{issuer_did(slug)}#{kid}"


def _utc(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def build_openbadge(cert: Certificate, claims: CertificateClaims, facts: EvidenceFacts,
                    key: SigningKey) -> dict[str, Any]:
    """The signed OpenBadgeCredential of a certificate (needs ``cert.status_index``)."""
    attempt: Attempt = cert.attempt
    exam, institution = attempt.exam, attempt.exam.institution
    base = _base_url()
    achievement_id = f"{base}/exams/{claims.exam_id}"
    verify_url = f"{base}/verify/{claims.certificate_id}"
    criteria = f"Pass the exam with at least {exam.pass_mark_percent} % of the points"
    criteria += " under online proctoring." if claims.proctored else "."
    if cert.status_index is None:
        raise ValueError("allocate a status list index first")
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2, OB_V3],
        "id": f"urn:aufsicht:certificate:{claims.certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_did(institution.slug), "type": ["Profile"], "name": institution.name, "url": base},
        "validFrom": _utc(cert.issued_at),
        "name": claims.exam_title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                            "identityHash": claims.holder_name}],
            "activityEndDate": f"{claims.completed_on.isoformat()}T00:00:00Z",
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": claims.exam_title,
                "description": exam.description or claims.exam_title,
                "criteria": {"narrative": criteria},
                "resultDescription": [{"id": f"{achievement_id}#score", "type": ["ResultDescription"],
                                       "name": "Score", "resultType": "Percent", "valueMin": "0", "valueMax": "100",
                                       "requiredValue": str(exam.pass_mark_percent)}],
            },
            "result": [{"type": ["Result"], "resultDescription": f"{achievement_id}#score",
                        "value": claims.score_percent, "status": "Completed"}],
        },
        "evidence": evidence_items(facts, verify_url),
        "credentialStatus": status_entry(base, institution.slug, cert.status_index),
    }
    return add_proof(credential, key.private_key, verification_method=verification_method(institution.slug, key.kid),
                     created=cert.issued_at)


def attach_openbadge(cert: Certificate, attempt: Attempt, claims: CertificateClaims, key: SigningKey) -> None:
    """Give a new (or older) certificate its status list index and its signed Open Badges credential."""
    if cert.attempt is None:
        cert.attempt = attempt
    if cert.status_index is None:
        cert.status_index = allocate_index()
    cert.openbadge = json.dumps(build_openbadge(cert, claims, evidence_for(cert), key), ensure_ascii=False,
                                sort_keys=True)
