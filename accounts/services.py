"""Account services: registration, authentication with throttling, consent, login audit retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import CandidateProfile, ConsentRecord, Institution, LoginEvent, Role, User, holds_email
from accounts.validation import Registration
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests, ValidationFailed

log = logging.getLogger(__name__)
#: Argon2id's cost as (passes, memory in KiB, lanes): RFC 9106's second recommended option, argon2-cffi's default.
DEFAULT_HASH_COST = (3, 65536, 4)
_hasher = PasswordHasher(*DEFAULT_HASH_COST)
# Verified against when the email is unknown, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def set_hash_cost(cost: tuple[int, int, int]) -> None:
    """Hash new passwords with Argon2id at ``cost`` (passes, KiB, lanes); the app sets ``PASSWORD_HASH_COST``.

    A stored hash of another cost still verifies and is rehashed at the next login. The test suite lowers the
    cost (a login there is one of some 3,000); production keeps the default.
    """
    global _hasher, _DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == tuple(cost):
        return
    _hasher = PasswordHasher(*cost)
    _DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class LoginFailed(DomainError):
    """Wrong email or password (deliberately not saying which)."""

    status = 401
    code = "login_failed"


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def create_institution(name: str, slug: str) -> Institution:
    """Create a tenant."""
    if db.session.scalar(select(Institution).where(Institution.slug == slug)):
        raise Conflict(_("An institution with this short name exists already."))
    inst = Institution(name=name, slug=slug)
    db.session.add(inst)
    db.session.commit()
    return inst


def create_user(email: str, password: str, role: Role, display_name: str, institution: Institution | None) -> User:
    """Create a staff, proctor or admin account (candidates use ``register_candidate``)."""
    email = email.strip().lower()
    if role != Role.ADMIN and institution is None:
        raise DomainError(_("Proctors and staff belong to an institution."))
    if account_by_email(email) is not None:
        raise Conflict(_("An account with this email exists already."))
    user = User(email=email, password_hash=hash_password(password), role=role, display_name=display_name,
                institution=institution)
    db.session.add(user)
    db.session.commit()
    return user


def register_candidate(institution: Institution, reg: Registration, privacy_version: str) -> User:
    """Create a candidate account with profile and the privacy-notice consent, in one transaction."""
    password_hash = hash_password(reg.password)  # first, so a taken address answers no faster than a new one
    if account_by_email(reg.email) is not None:
        raise Conflict(_("An account with this email exists already. Please log in."))
    user = User(email=reg.email, password_hash=password_hash, role=Role.CANDIDATE,
                display_name=f"{reg.first_name} {reg.last_name}", institution=institution)
    user.profile = CandidateProfile(
        salutation=reg.salutation, first_name=reg.first_name, last_name=reg.last_name, street=reg.street,
        postal_code=reg.postal_code, city=reg.city, country=reg.country, phone=reg.phone,
        date_of_birth=reg.date_of_birth, place_of_birth=reg.place_of_birth, gender=reg.gender,
        id_document_number=reg.id_document_number,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(ConsentRecord(user_id=user.id, kind="privacy_notice", version=privacy_version, granted=True))
    db.session.commit()
    return user


@dataclasses.dataclass(frozen=True)
class LoginLimits:
    """Failed tries allowed within ``window``: for one account from one client address (``per_account``), and
    from one client address for any accounts (``per_address``).

    No number of failures locks an account from every address: whoever knows a proctor's address could keep the
    proctor out on exam day. Once the account failed ``per_account_everywhere`` times from all addresses together
    (spread over many addresses), each address gets only ``under_attack`` tries for it. An address gets more than
    an account: a test centre puts many candidates behind one address.
    """

    per_account: int
    per_address: int
    window: dt.timedelta
    per_account_everywhere: int = 20
    under_attack: int = 2


# Failures that count towards throttling; a refused ("throttled") try is not a new failure.
COUNTED_FAILURES = ("bad credentials", "inactive", "bad second factor", "bad current password")


def check_throttle(email: str, ip: str, limits: LoginLimits) -> None:
    """Refuse (and audit) a try of ``email`` from ``ip`` when that pair, or that address, failed too often within
    the window (fewer tries per address once the account failed often from everywhere)."""
    since = utcnow() - limits.window
    failed = select(func.count()).select_from(LoginEvent).where(
        LoginEvent.success.is_(False), LoginEvent.at >= since, LoginEvent.detail.in_(COUNTED_FAILURES))
    ip = ip[:45]
    by_pair = db.session.scalar(failed.where(LoginEvent.email == email, LoginEvent.ip == ip)) or 0
    by_address = db.session.scalar(failed.where(LoginEvent.ip == ip)) or 0
    pair_limit = limits.per_account
    if by_pair < pair_limit and by_pair >= limits.under_attack:
        by_account = db.session.scalar(failed.where(LoginEvent.email == email)) or 0
        if by_account >= limits.per_account_everywhere:
            pair_limit = limits.under_attack
    if by_pair >= pair_limit or by_address >= limits.per_address:
        _audit(None, email, ip, False, "throttled")
        raise TooManyRequests(_("Too many failed logins. Please wait %(m)d minutes and try again.",
                                m=int(limits.window.total_seconds() // 60)))


def normalise_email(email: str) -> str:
    """An email address as accounts store it (trimmed, lower case)."""
    return (email or "").strip().lower()[:254]


def account_by_email(email: str, institution_id: int | None = None) -> User | None:
    """The account that holds ``email`` (a password, or a confirmed address; at most one), or None.

    With ``institution_id``: the account of that institution with the address, the one holding it first (an
    account a sign-in provider made does not hold the address its provider gave until its owner confirms it).
    """
    email = normalise_email(email)
    if not email:
        return None
    if institution_id is None:
        return db.session.scalar(select(User).where(User.email == email, holds_email()))
    return db.session.scalar(select(User).where(User.email == email, User.institution_id == institution_id)
                             .order_by(holds_email().desc(), User.id).limit(1))


def authenticate(email: str, password: str, ip: str, limits: LoginLimits) -> User:
    """Check credentials, throttle repeated failures per account and per address, and audit every try."""
    email = normalise_email(email)
    check_throttle(email, ip, limits)
    user = account_by_email(email)
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        _audit(user.id if user else None, email, ip, False, "bad credentials" if user is None or not ok else "inactive")
        raise LoginFailed(_("Email or password is wrong."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_active_at = utcnow()
    user.inactivity_notice_at = None  # logging in answers the inactivity notice
    _audit(user.id, email, ip, True, None)
    return user


def audit_login(user: User | None, email: str, ip: str, success: bool, detail: str | None) -> None:
    """Record one login step in the audit log (the second factor uses it too)."""
    _audit(user.id if user else None, email, ip, success, detail)


def confirm_password(user: User, password: str, ip: str, limits: LoginLimits) -> bool:
    """True if ``password`` is the user's, asked again before a grave step (password or email change, new
    recovery codes). Throttled and audited like a login: a session left open or stolen cannot guess it."""
    check_throttle(user.email, ip, limits)
    if _verify(user.password_hash, password):
        return True
    _audit(user.id, user.email, ip, False, "bad current password")
    return False


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _audit(user_id: int | None, email: str, ip: str, success: bool, detail: str | None) -> None:
    db.session.add(LoginEvent(user_id=user_id, email=email, ip=ip[:45], success=success, detail=detail))
    db.session.commit()


def logout_everywhere(user: User) -> None:
    """End every session of ``user`` on every device (a copied session cookie stops working too)."""
    user.session_version += 1
    db.session.commit()


def require_verified_email(user: User) -> None:
    """Refuse a step (starting an exam) to an account whose email address is not confirmed."""
    if user.email_verified_at is None:
        raise Forbidden(_("Please confirm your email address first: open the link we mailed to you."))


def lock_user(user: User) -> None:
    """An administrator locks an account: it cannot log in, and every session of it ends now."""
    user.active = False
    user.session_version += 1
    db.session.commit()


def set_proctor_second_factor_optional(institution: Institution, optional: bool) -> None:
    """Let the institution's proctors log in without a second factor, or require it (the default)."""
    institution.proctor_second_factor_optional = optional
    db.session.commit()


def unlock_user(user: User) -> None:
    """An administrator unlocks an account (not an erased one)."""
    if user.erased_at is not None:
        raise Conflict(_("This account has been erased."))
    user.active = True
    db.session.commit()


def load_session_user(session_id: str) -> User | None:
    """Resolve a session identifier ``"<id>:<version>"``; stale versions are logged out."""
    try:
        user_id, version = (int(p) for p in session_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.active:
        return None
    return user


def language_of(user: User, chosen: str | None = None) -> str:
    """The language to write to ``user`` in: ``chosen`` (the request's), else theirs, else the default."""
    cfg = current_app.config
    for lang in (chosen, user.language):
        if lang in cfg["LANGUAGES"]:
            return str(lang)
    return str(cfg["BABEL_DEFAULT_LOCALE"])


def set_timezone(institution: Institution, name: str) -> None:
    """Set the institution's time zone (an IANA name such as Europe/Berlin); pages and mails show times in it."""
    from kernel.clock import is_timezone

    if not is_timezone(name):
        raise ValidationFailed(_("Unknown time zone: give a name such as Europe/Berlin."),
                               fields={"timezone": "unknown"})
    institution.timezone = name
    db.session.commit()


def set_language(user: User, lang: str) -> None:
    """Remember the language ``user`` reads (their mails are written in it)."""
    if user.language != lang:
        user.language = lang
        db.session.commit()


def record_consent(user: User, kind: str, version: str, granted: bool) -> ConsentRecord:
    """Record that ``user`` gave or withdrew a consent."""
    rec = ConsentRecord(user_id=user.id, kind=kind, version=version, granted=granted)
    db.session.add(rec)
    db.session.commit()
    return rec


def current_consent(user: User, kind: str) -> ConsentRecord | None:
    """The latest consent record of a kind, or None if never asked."""
    return db.session.scalar(
        select(ConsentRecord).where(ConsentRecord.user_id == user.id, ConsentRecord.kind == kind)
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc()).limit(1)
    )


def consent_state(user: User, kind: str) -> str:
    """Where ``user`` stands on a consent: "undecided" (never asked), "granted", "declined" (said no and never
    yes) or "withdrawn" (said yes before, no now)."""
    latest = current_consent(user, kind)
    if latest is None:
        return "undecided"
    if latest.granted:
        return "granted"
    earlier_yes = db.session.scalar(select(ConsentRecord.id).where(
        ConsentRecord.user_id == user.id, ConsentRecord.kind == kind, ConsentRecord.granted.is_(True)).limit(1))
    return "withdrawn" if earlier_yes is not None else "declined"


def get_institution_by_slug(slug: str) -> Institution:
    """The institution with this short name, or NotFound."""
    inst = db.session.scalar(select(Institution).where(Institution.slug == slug))
    if inst is None:
        raise NotFound(_("This institution does not exist."))
    return inst

