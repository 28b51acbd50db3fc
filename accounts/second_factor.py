"""Second factor for accounts that see personal files: TOTP (RFC 6238) with single-use recovery codes.

Admins and staff always need it; proctors too unless their institution made it optional. Enrolment happens at
the first login. A code is good once (its time step is remembered), and wrong codes count as failed logins for
the throttle, like wrong passwords.

The TOTP secret is stored sealed (AES-GCM under the storage master keys, bound to the account's id): a copy of
the database alone gives nobody the codes. A secret stored in the clear before that is sealed at the account's
next login or by ``flask storage rotate-key`` / ``retire-key``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets

import pyotp
from flask_babel import gettext as _

from accounts.models import Role, User
from accounts.services import LoginFailed, LoginLimits, audit_login, check_throttle, confirm_password
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import ValidationFailed

ISSUER = "aufsicht"
RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30


def second_factor_required(user: User) -> bool:
    """True if ``user`` must give a second factor at login (enrolled proctors always give theirs)."""
    if user.role == Role.CANDIDATE:
        return False
    if user.role == Role.PROCTOR and user.institution is not None and user.institution.proctor_second_factor_optional:
        return user.totp_secret is not None
    return True


SEALED = "sealed:"


def _context(user_id: int) -> bytes:
    return f"totp\x00{user_id}".encode()


def seal_secret(user: User, secret: str) -> str:
    """The stored form of ``user``'s TOTP secret: ``sealed:<master key id>:<base64 of the wrap>``."""
    from storage.vault import keyring

    if user.id is None:
        db.session.flush()  # the id the seal is bound to
    key_id, wrapped = keyring().wrap(secret.encode(), _context(user.id))
    return f"{SEALED}{key_id}:{base64.b64encode(wrapped).decode()}"


def secret_of(user: User) -> str | None:
    """``user``'s TOTP secret in the clear (None when not enrolled)."""
    from storage.vault import keyring

    value = user.totp_secret
    if value is None or not value.startswith(SEALED):
        return value  # none, or stored in the clear before secrets were sealed
    key_id, _, text = value.removeprefix(SEALED).partition(":")
    return keyring().unwrap(key_id, base64.b64decode(text), _context(user.id)).decode()


def new_secret() -> str:
    """A fresh TOTP secret (base32) for enrolment."""
    return pyotp.random_base32()


def _enrolment_context(user: User) -> bytes:
    return f"totp-enrolment\x00{user.id}\x00{user.session_version}".encode()


def seal_enrolment_secret(user: User, secret: str) -> str:
    """``secret`` sealed for the session cookie while ``user`` enrols (a signed cookie is readable, not secret):
    AES-GCM under the storage master key, bound to the account and its session version."""
    from storage.vault import keyring

    key_id, wrapped = keyring().wrap(secret.encode(), _enrolment_context(user))
    return f"{key_id}:{base64.urlsafe_b64encode(wrapped).decode()}"


def open_enrolment_secret(user: User, sealed: object) -> str | None:
    """The secret ``seal_enrolment_secret`` made for ``user``; None if ``sealed`` is not one (start afresh)."""
    from storage.crypto import StorageIntegrityError
    from storage.vault import keyring

    if not isinstance(sealed, str) or ":" not in sealed:
        return None
    key_id, _, text = sealed.partition(":")
    try:
        return keyring().unwrap(key_id, base64.urlsafe_b64decode(text), _enrolment_context(user)).decode()
    except (StorageIntegrityError, ValueError, UnicodeDecodeError):
        return None


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (shown as a QR code and as text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _step_of(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for clock drift), unless already used."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = _now_step()
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code) and (last_step is None or step > last_step):
            return step
    return None


def _now_step() -> int:
    return int(utcnow().replace(tzinfo=dt.UTC).timestamp() // STEP_SECONDS)


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
    user.recovery_codes = json.dumps([_hash(c) for c in codes])
    return codes


def enrol(user: User, secret: str, code: str) -> list[str]:
    """Store ``secret`` as the user's second factor once ``code`` proves the app has it; returns recovery codes."""
    step = _step_of(secret, code, None)
    if step is None:
        raise ValidationFailed(_("This code is not right. Please enter the current code of your app."),
                               fields={"code": _("This code is not right.")})
    user.totp_secret = seal_secret(user, secret)
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    db.session.commit()
    return codes


def verify_second_factor(user: User, code: str, ip: str, limits: LoginLimits) -> None:
    """Accept a current TOTP code or an unused recovery code (then used up); throttled and audited."""
    check_throttle(user.email, ip, limits)
    secret = secret_of(user)
    if secret is not None:
        step = _step_of(secret, code, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            if user.totp_secret is not None and not user.totp_secret.startswith(SEALED):
                user.totp_secret = seal_secret(user, secret)  # stored in the clear before 2026-12
            audit_login(user, user.email, ip, True, "second factor")
            return
    hashes: list[str] = json.loads(user.recovery_codes or "[]")
    given = _hash(code)
    if any(hmac.compare_digest(given, h) for h in hashes):
        user.recovery_codes = json.dumps([h for h in hashes if not hmac.compare_digest(given, h)])
        audit_login(user, user.email, ip, True, "recovery code")
        return
    audit_login(user, user.email, ip, False, "bad second factor")
    raise LoginFailed(_("This code is not right."))


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user has."""
    return len(json.loads(user.recovery_codes or "[]"))


def renew_recovery_codes(user: User, password: str, ip: str, limits: LoginLimits) -> list[str]:
    """Replace the user's recovery codes with new ones (the old ones stop working) once the current password is
    confirmed (throttled like a login from ``ip``): a session left open must not yield a way past the second
    factor."""
    if not confirm_password(user, password, ip, limits):
        msg = _("The current password is wrong.")
        raise ValidationFailed(msg, fields={"current": msg})
    codes = _new_recovery_codes(user)
    db.session.commit()
    return codes
