"""Certificates of passed attempts: issuing (idempotent), signing keys, PDF, revocation, verification.

The issuer's Ed25519 signing keys live in ``instance/certificate_signing_keys.json`` (mode 0600):
``{"active": kid, "keys": {kid: PEM}}``. Rotation adds a key and makes it active; old keys stay
so that certificates signed with them still verify (they are all published in the JWKS).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts.models import Role, User
from exams import trust
from exams.attempts import record_event
from exams.certificate_pdf import CertificateText, render_certificate_pdf
from exams.credentials import (
    CertificateClaims,
    CredentialInvalid,
    KeySetInvalid,
    SigningKey,
    generate_signing_key,
    issue_credential,
    key_id,
    load_signing_key,
    new_certificate_id,
    normalize_certificate_id,
    public_jwks,
    signing_key_pem,
    verify_credential,
)
from exams.models import Attempt, Certificate
from exams.openbadges import attach_openbadge
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

KEYS_FILE = "certificate_signing_keys.json"
REVIEW_CLAIM = {"clean": "no_issues", "findings": "issues_found", None: "not_reviewed"}


# --- signing keys ----------------------------------------------------------------------------------------------


def _write_keyring(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _configured_keyring() -> dict[str, Any] | None:
    """AUFSICHT_CERTIFICATE_SIGNING_KEYS, the shape of the storage master keys: ``{"active": name, "keys": {name:
    base64 of the 32-byte Ed25519 private key, or its PKCS#8 PEM}}``; every web host then signs with the same
    keys and serves the same JWKS. Returned like the file (kids are the keys' thumbprints)."""
    from flask import has_app_context

    configured = current_app.config.get("CERTIFICATE_SIGNING_KEYS") if has_app_context() else None
    if not configured:
        return None
    doc = json.loads(configured) if isinstance(configured, str) else configured
    try:
        keys = {name: _configured_key(str(value)) for name, value in dict(doc["keys"]).items()}
        active = keys[str(doc["active"])]
    except (KeyError, TypeError, ValueError) as err:
        raise KeySetInvalid(f"AUFSICHT_CERTIFICATE_SIGNING_KEYS is not valid ({type(err).__name__}).") from None
    return {"active": active.kid, "keys": {k.kid: signing_key_pem(k).decode() for k in keys.values()}}


def _configured_key(value: str) -> SigningKey:
    if value.lstrip().startswith("-----BEGIN"):
        return load_signing_key(value.encode())
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(value, validate=True))
    return SigningKey(key_id(private.public_key()), private)


def _keyring(instance_path: str | os.PathLike[str]) -> dict[str, Any]:
    configured = _configured_keyring()
    if configured is not None:
        return configured
    path = Path(instance_path) / KEYS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = generate_signing_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump({"active": key.kid, "keys": {key.kid: signing_key_pem(key).decode()}}, fh)
                fh.flush()
                os.fsync(fh.fileno())
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def signing_key(instance_path: str | os.PathLike[str] | None = None) -> SigningKey:
    """The active signing key, generated into the instance folder on first use."""
    doc = _keyring(instance_path or current_app.instance_path)
    return load_signing_key(doc["keys"][doc["active"]].encode())


def public_keys(instance_path: str | os.PathLike[str] | None = None) -> dict[str, Ed25519PublicKey]:
    """Every public key we have signed with (active and rotated out), by kid."""
    doc = _keyring(instance_path or current_app.instance_path)
    return {kid: load_signing_key(pem.encode()).public_key for kid, pem in doc["keys"].items()}


def jwks(instance_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The public JWK set served at /.well-known/jwks.json."""
    return public_jwks(public_keys(instance_path))


def rotate_signing_key(instance_path: str | os.PathLike[str] | None = None) -> str:
    """Add a new signing key and make it active (old keys keep verifying); returns its kid."""
    base = Path(instance_path or current_app.instance_path)
    if _configured_keyring() is not None:
        raise Conflict("Signing keys come from AUFSICHT_CERTIFICATE_SIGNING_KEYS: rotate them there.")
    doc = _keyring(base)
    key = generate_signing_key()
    doc["keys"][key.kid] = signing_key_pem(key).decode()
    doc["active"] = key.kid
    _write_keyring(base / KEYS_FILE, doc)
    return key.kid


# --- issuing ---------------------------------------------------------------------------------------------------


def verify_url(public_id: str) -> str:
    """Absolute URL of the public verification page of a certificate."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/{public_id}"


def score_text(attempt: Attempt) -> str:
    """The attempt's score in percent with two decimals, e.g. "85.00"."""
    if not attempt.max_points:
        return "0.00"
    value = Decimal(attempt.points or 0) * 100 / Decimal(attempt.max_points)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def issue_certificate(attempt: Attempt, now: dt.datetime) -> Certificate:
    """The attempt's unrevoked certificate, issuing (and queueing its email) when there is none.

    Only the chain of trust decides whether it may be issued (``trust.require(..., ISSUE)``): a released pass,
    submitted (never terminated), identity verified where the exam checks it, the required review done. The
    certificate keeps a snapshot of what was verified; verification shows it, never the live profile.
    """
    existing = trust.live_certificate(attempt)
    if existing is not None:
        return existing
    trust.require(attempt, trust.Action.ISSUE)
    public_id = new_certificate_id()
    ended = attempt.ended_at or now
    identity = trust.identity_of(attempt)
    supervision = "none"
    if attempt.exam.proctoring_required:
        supervision = "recorded" if trust.recorded(attempt) else "live"
    verified_on = identity.verified_at.date() if identity.verified_at else None
    method = identity.method if identity.state == trust.IdentityState.VERIFIED else None
    review = trust.review_statement(attempt)
    seb = trust.taken_in_seb(attempt)
    name = holder_name(attempt.user)
    score = score_text(attempt)
    claims = CertificateClaims(
        certificate_id=public_id, holder_name=name, exam_title=attempt.exam.title,
        exam_id=str(attempt.exam_id), completed_on=ended.date(), score_percent=score, passed=True,
        proctored=attempt.exam.proctoring_required, review_outcome=REVIEW_CLAIM.get(attempt.review_outcome,
                                                                                     "not_reviewed"),
        identity_verification=method or "not_checked", identity_verified_on=verified_on,
        supervision=supervision, review=review, seb=seb,
    )
    jws = issue_credential(claims, signing_key(), issuer_id=current_app.config["PUBLIC_BASE_URL"],
                           issuer_name=attempt.exam.institution.name, issued_at=now, verify_url=verify_url(public_id))
    profile = attempt.user.profile
    cert = Certificate(attempt_id=attempt.id, public_id=public_id, issued_at=now, credential=jws,
                       holder_name=name, holder_birth_date=profile.date_of_birth if profile else None,
                       completed_on=ended.date(), score_percent=score, identity_method=method,
                       identity_verified_at=identity.verified_at if method else None,
                       supervised=supervision == "recorded", review=review, seb_lockdown=seb or None)
    attach_openbadge(cert, attempt, claims, signing_key())
    db.session.add(cert)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent release issued it first
        db.session.rollback()
        return db.session.scalars(select(Certificate).where(Certificate.attempt_id == attempt.id,
                                                            Certificate.revoked_at.is_(None))).one()
    record_event(attempt, "certificate_issued", now, certificate_id=public_id)
    db.session.commit()
    # Not mailed now: sending ends the appeal window, so the job sends it when the window closes
    # (exams.send_unsent_certificates), or sooner when the candidate asks (request_certificate).
    return cert


def request_certificate(attempt: Attempt, holder: User, now: dt.datetime) -> Certificate:
    """The holder asks for their certificate before the appeal window closes: this ends the window (no appeal
    from now on; the evidence may go) and the certificate is mailed at once.

    Refused while an appeal is open, or when the chain of trust holds the certificate for another reason.
    """
    if attempt.user_id != holder.id:
        raise NotFound()
    cert = trust.live_certificate(attempt)
    if cert is None:
        raise Conflict(_("There is no certificate for this result."))
    found = [h for h in trust.holds(attempt, trust.Action.SEND) if h.code != trust.WINDOW_OPEN]
    if found:
        raise trust.ResultHeld(found)
    window = trust.appeal_window(attempt)
    if window is not None and window.is_open(now):
        record_event(attempt, trust.CERTIFICATE_REQUESTED, now, actor=holder, certificate_id=cert.public_id)
        db.session.commit()
    if cert.sent_at is None:
        from kernel.jobs import enqueue_pending

        # Committed first: if the queue is down now, send_unsent_certificates queues it later.
        enqueue_pending("exams.send_certificate", certificate_id=cert.id)
    return cert


def certificate_delivered(attempt: Attempt, now: dt.datetime) -> bool:
    """True when the candidate may have their certificate: the result's appeal window has ended."""
    window = trust.appeal_window(attempt)
    return window is not None and window.closes_at <= now


def reissue_certificate(cert: Certificate, reason: str, now: dt.datetime) -> Certificate | None:
    """Revoke ``cert`` with ``reason`` and issue a new one from the attempt as it stands (None: no pass now)."""
    attempt = cert.attempt
    will_issue = bool(attempt.passed and attempt.result_released_at is not None)
    if will_issue:  # never revoke first and then find the new one held
        trust.require(attempt, trust.Action.ISSUE)
    if cert.revoked_at is None:
        cert.revoked_at = now
        cert.revocation_reason = reason
        record_event(attempt, "certificate_revoked", now, reason=reason, certificate_id=cert.public_id)
        db.session.commit()
    return issue_certificate(attempt, now) if will_issue else None


def _outdated_holder(cert: Certificate) -> bool:
    """True when the holder's approved name or birth date now differs from what the certificate states."""
    user = cert.attempt.user
    if cert.holder_name is None or user.profile is None:
        return False
    return cert.holder_name != holder_name(user) or cert.holder_birth_date != user.profile.date_of_birth


def reissuable_certificates(candidate: User) -> list[Certificate]:
    """The candidate's unrevoked certificates that state a name or birth date since corrected (and approved)."""
    from exams.models import Attempt as _Attempt

    certs = db.session.scalars(select(Certificate).join(_Attempt).where(
        _Attempt.user_id == candidate.id, Certificate.revoked_at.is_(None)))
    return [c for c in certs if _outdated_holder(c)]


def reissue_on_request(cert: Certificate, holder: User, now: dt.datetime) -> Certificate:
    """The holder asks for their certificate with the corrected details: the old one is revoked, a new one issued."""
    if cert.attempt.user_id != holder.id or cert.revoked_at is not None:
        raise NotFound()
    if not _outdated_holder(cert):
        raise Conflict(_("Your certificate already states your current details."))
    new = reissue_certificate(cert, trust.REISSUED_AFTER_CORRECTION, now)
    if new is None:
        raise Conflict(_("This certificate cannot be reissued."))
    return new


def holder_name(user: User) -> str:
    """The name printed on the certificate: first and last name from the profile, else the display name."""
    if user.profile is not None:
        return f"{user.profile.first_name} {user.profile.last_name}"
    return user.display_name


def certificate_for_attempt(attempt: Attempt) -> Certificate | None:
    """The attempt's current certificate: the unrevoked one, else the latest revoked one; None if never issued."""
    return db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id)
                             .order_by(Certificate.revoked_at.is_(None).desc(), Certificate.id.desc()).limit(1))


def certificates_of(attempt: Attempt) -> list[Certificate]:
    """Every certificate the attempt ever had, newest first (revoked ones after a reissue included)."""
    return list(db.session.scalars(select(Certificate).where(Certificate.attempt_id == attempt.id)
                                   .order_by(Certificate.id.desc())))


def stated_holder(cert: Certificate) -> str:
    """The holder's name as issued (the live profile only for certificates from before snapshots)."""
    return cert.holder_name or holder_name(cert.attempt.user)


def stated_score(cert: Certificate) -> str:
    """The result as issued, e.g. "85.00"."""
    return cert.score_percent or score_text(cert.attempt)


def stated_completed_on(cert: Certificate) -> dt.date:
    """The exam date as issued."""
    return cert.completed_on or (cert.attempt.ended_at or cert.issued_at).date()


def get_certificate_for(user: User, public_id: str) -> Certificate:
    """A certificate its holder, or staff of the exam's institution, may download; otherwise NotFound."""
    cert = db.session.scalar(select(Certificate).where(Certificate.public_id == public_id))
    if cert is None:
        raise NotFound()
    attempt = cert.attempt
    if user.role == Role.CANDIDATE and attempt.user_id == user.id:
        window = trust.appeal_window(attempt)
        if window is not None and window.is_open(utcnow()):
            from kernel.clock import format_local

            raise Conflict(_("Your certificate is mailed to you when the appeal window closes (%(when)s). If you want "
                             "it sooner, ask for it on your result page; that ends the possibility to appeal.",
                             when=format_local(window.closes_at, attempt.exam.institution.timezone)))
        return cert
    if user.role == Role.ADMIN or (user.role == Role.STAFF and attempt.exam.institution_id == user.institution_id):
        return cert
    raise NotFound()


def certificate_pdf(cert: Certificate, font_path: str | None = None) -> bytes:
    """The certificate as a PDF with a QR code to its verification page (``font_path`` "" prints in Helvetica)."""
    attempt = cert.attempt
    return render_certificate_pdf(CertificateText(
        holder_name=stated_holder(cert), exam_title=attempt.exam.title,
        completed_on=stated_completed_on(cert), result=f"{stated_score(cert)} %",
        certificate_id=cert.public_id, verify_url=verify_url(cert.public_id),
        issuer_name=attempt.exam.institution.name, proctored=attempt.exam.proctoring_required,
        seb=bool(cert.seb_lockdown),
    ), font_path)


def revoke_certificate(cert: Certificate, staff: User, reason: str, now: dt.datetime) -> Certificate:
    """Revoke a certificate with a reason (shown on verification at once); revoking twice changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("A revocation needs a reason."), fields={"reason": "missing"})
    if len(reason) > 2000:
        raise ValidationFailed(_("The reason is too long."), fields={"reason": "too long"})
    if cert.revoked_at is None:
        cert.revoked_at = now
        cert.revocation_reason = reason
        record_event(cert.attempt, "certificate_revoked", now, actor=staff, reason=reason,
                     certificate_id=cert.public_id)
        db.session.commit()
    return cert


# --- verification ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verification:
    """What the public verification page shows: only the minimum."""

    status: str  # "valid", "revoked" or "unknown"
    certificate_id: str
    holder_name: str = ""
    exam_title: str = ""
    completed_on: dt.date | None = None
    result: str = ""  # as issued, e.g. "85.00 %" (the API's form)
    score_percent: Decimal | None = None  # the same number, for the page to write in the reader's format
    issuer_name: str = ""  # the institution that issued it (named in the signed credential too)
    proctored: bool = False
    review_outcome: str | None = None
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    identity_method: str | None = None  # "automatic", "person"; None: not checked
    identity_verified_at: dt.datetime | None = None
    supervision: str = "none"  # "recorded", "live", "none"
    review: str = "not_reviewed"  # "clean", "findings", "not_reviewed"
    timezone: str | None = None  # the issuing institution's: the dates above are its calendar days
    seb: bool = False  # taken in Safe Exam Browser with the exam's configuration (every request had a valid key)


def lookup_certificate(text: str) -> Verification:
    """Status of a typed certificate id; a malformed id (bad check char) raises before any DB lookup."""
    public_id = normalize_certificate_id(text)
    cert = db.session.scalar(select(Certificate).where(Certificate.public_id == public_id))
    if cert is None:
        return Verification("unknown", public_id)
    attempt = cert.attempt
    proctored = attempt.exam.proctoring_required
    supervision = "none"
    if proctored:
        supervision = "recorded" if cert.supervised else ("live" if cert.supervised is not None else "recorded")
    return Verification(
        "revoked" if cert.revoked_at else "valid", public_id, holder_name=stated_holder(cert),
        exam_title=attempt.exam.title, completed_on=stated_completed_on(cert),
        result=f"{stated_score(cert)} %", score_percent=Decimal(stated_score(cert)),
        issuer_name=attempt.exam.institution.name, proctored=proctored,
        review_outcome=cert.review if cert.review is not None else attempt.review_outcome,
        revoked_at=cert.revoked_at, revocation_reason=cert.revocation_reason,
        identity_method=cert.identity_method, identity_verified_at=cert.identity_verified_at,
        supervision=supervision, review=cert.review or trust.review_statement(attempt),
        timezone=attempt.exam.institution.timezone, seb=bool(cert.seb_lockdown),
    )


def check_credential(jws: str, keys: dict[str, Ed25519PublicKey] | None = None,
                     *, with_status: bool = True) -> dict[str, Any]:
    """Verify a signed credential against our keys and (online) its revocation state; a JSON-ready result."""
    try:
        verified = verify_credential(jws, keys if keys is not None else public_keys())
    except CredentialInvalid as err:
        return {"valid": False, "reason": err.reason, "message": err.message, "claims": {}, "status": "unknown"}
    claims = dataclasses.asdict(verified.claims)
    claims["completed_on"] = verified.claims.completed_on.isoformat()
    if verified.claims.identity_verified_on is not None:
        claims["identity_verified_on"] = verified.claims.identity_verified_on.isoformat()
    result: dict[str, Any] = {"valid": True, "reason": None, "claims": claims, "status": "valid"}
    if with_status:
        cert = db.session.scalar(select(Certificate).where(Certificate.public_id == verified.claims.certificate_id))
        if cert is None:
            result.update(valid=False, reason="unknown_certificate", status="unknown")
        elif cert.credential.strip() != jws.strip():
            result.update(valid=False, reason="not_issued", status="unknown")
        elif cert.revoked_at is not None:
            result.update(valid=False, reason="revoked", status="revoked",
                          revoked_at=cert.revoked_at.isoformat() + "Z", revocation_reason=cert.revocation_reason)
    return result
