"""Email verification, password reset, password change and email change.

Links carry signed, short-lived tokens bound to the account's current state, so each is good once: a reset
token names a fingerprint of the password hash it replaces, an email-change token the address it replaces.
The forms that take an email address answer the same whether an account exists or not (no enumeration).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from accounts import notices
from accounts.models import Notice, User
from accounts.services import LoginLimits, account_by_email, confirm_password, hash_password
from accounts.validation import MIN_PASSWORD_LENGTH, clean_email
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, Gone, ValidationFailed

VERIFY_MAX_AGE = 48 * 3600
RESET_MAX_AGE = 3600
EMAIL_CHANGE_MAX_AGE = 24 * 3600
log = logging.getLogger(__name__)
Mail = notices.Mail


class _ClockSigner(TimestampSigner):
    """Token ages from the platform's clock (kernel.clock), like every other time of ours."""

    def get_timestamp(self) -> int:
        """Now, in seconds since the epoch."""
        return int(utcnow().replace(tzinfo=dt.UTC).timestamp())


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"aufsicht.accounts.{purpose}",
                                  signer=_ClockSigner)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _load(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except BadSignature:
        raise Gone(_("This link is not valid (any more). Please ask for a new one.")) from None
    if not isinstance(data, dict):
        raise Gone(_("This link is not valid (any more). Please ask for a new one."))
    return data


def _notify(user: User, kind: str, lang: str, **params: Any) -> None:
    """Queue an account mail to ``user`` in ``lang`` (sent by the job runner once this commits)."""
    notices.queue(user, kind, f"{kind}:{user.id}:{uuid.uuid4().hex}", lang=lang, **params)
    db.session.commit()


def _link(path: str, token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}/{token}"


# ---------------------------------------------------------------- verification


def send_verification(user: User, lang: str) -> None:
    """Mail ``user`` the link that confirms their email address."""
    _notify(user, "verify_email", lang, email=user.email)


@notices.composer("verify_email")
def _verification_mail(notice: Notice) -> Mail | None:
    user = notice.user
    if user.email != notice.params.get("email") or user.email_verified_at is not None:
        return None  # the address changed or was confirmed meanwhile
    token = _serializer("verify").dumps({"u": user.id, "e": user.email})
    return Mail(_("Please confirm your email address"),
                _("Hello %(name)s,\n\nplease confirm your email address for aufsicht by opening this link "
                  "(valid for 48 hours):\n%(url)s\n\nIf you did not register, you can ignore this email.\n",
                  name=user.display_name, url=_link("/verify-email", token)),
                expires_at=utcnow() + dt.timedelta(seconds=VERIFY_MAX_AGE))


def send_registration_notice(email: str, lang: str) -> None:
    """Someone tried to register an address that has an account: tell its owner (the form says nothing)."""
    owner = account_by_email(email)
    if owner is not None:
        _notify(owner, "registration_notice", lang)


@notices.composer("registration_notice")
def _registration_notice_mail(notice: Notice) -> Mail:
    url = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/password-reset"
    return Mail(_("Registration with your email address"),
                _("Hello,\n\nsomeone tried to register at aufsicht with this email address, which already has "
                  "an account. If it was you, log in, or reset your password here:\n%(url)s\n\nOtherwise you can "
                  "ignore this email.\n", url=url))


def confirm_email(token: str) -> User:
    """Mark the address in ``token`` as verified (again is harmless); refused once the address changed."""
    data = _load("verify", token, VERIFY_MAX_AGE)
    user = db.session.get(User, data.get("u"))
    if user is None or user.email != data.get("e") or not user.active:
        raise Gone(_("This link is not valid (any more). Please ask for a new one."))
    if user.email_verified_at is None:
        if account_by_email(user.email) not in (None, user):
            # Made by a sign-in provider: the address counts only now, and another account holds it already.
            raise Conflict(_("Another account uses this email address already. Please log in to that account, "
                             "or ask your exam office for help."))
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


# ---------------------------------------------------------------- password reset


def request_password_reset(email: str, lang: str) -> None:
    """Mail a reset link if an active account has this address; the caller answers the same either way."""
    user = account_by_email(email)
    if user is None or not user.active:
        return
    _notify(user, "password_reset", lang)


@notices.composer("password_reset")
def _reset_mail(notice: Notice) -> Mail | None:
    user = notice.user
    if not user.active or notice.created_at < utcnow() - dt.timedelta(seconds=RESET_MAX_AGE):
        return None
    token = _serializer("reset").dumps({"u": user.id, "p": _fingerprint(user.password_hash)})
    return Mail(_("Reset your password"),
                _("Hello %(name)s,\n\nto choose a new password for aufsicht, open this link (valid for one hour, "
                  "once):\n%(url)s\n\nIf you did not ask for this, you can ignore this email; your password "
                  "stays as it is.\n", name=user.display_name, url=_link("/password-reset", token)),
                expires_at=utcnow() + dt.timedelta(seconds=RESET_MAX_AGE))


def _reset_user(token: str) -> User:
    data = _load("reset", token, RESET_MAX_AGE)
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or _fingerprint(user.password_hash) != data.get("p"):
        raise Gone(_("This link is not valid (any more). Please ask for a new one."))
    return user


def check_reset_token(token: str) -> None:
    """Raise Gone unless ``token`` can still reset a password."""
    _reset_user(token)


def reset_password(token: str, new_password: str) -> User:
    """Set a new password through a reset link; the link is used up and every session of the account ends."""
    user = _reset_user(token)
    _set_password(user, new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link reached this address
    db.session.commit()
    return user


def _set_password(user: User, new_password: str) -> None:
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(_("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
                               fields={"password": _("The password needs at least %(n)d characters.",
                                                     n=MIN_PASSWORD_LENGTH)})
    user.password_hash = hash_password(new_password)
    user.session_version += 1


# ---------------------------------------------------------------- changes while logged in


def _wrong_password() -> ValidationFailed:
    msg = _("The current password is wrong.")
    return ValidationFailed(msg, fields={"current": msg})


def change_password(user: User, current: str, new_password: str, ip: str, limits: LoginLimits) -> None:
    """Change the password after confirming the current one (throttled like a login from ``ip``); every session
    of the account ends."""
    if not confirm_password(user, current, ip, limits):
        raise _wrong_password()
    _set_password(user, new_password)
    db.session.commit()


def request_email_change(user: User, password: str, new_email: str, lang: str, ip: str, limits: LoginLimits) -> None:
    """Mail a confirmation link to the new address once the current password is confirmed (throttled like a
    login from ``ip``); the address changes only when the link is followed."""
    if not confirm_password(user, password, ip, limits):
        raise _wrong_password()
    email = clean_email(new_email)
    if account_by_email(email) is not None:
        return  # taken: say nothing (no enumeration); the confirmation simply never comes
    _notify(user, "email_change", lang, old=user.email, new=email)


@notices.composer("email_change")
def _email_change_mail(notice: Notice) -> Mail | None:
    user, old, new = notice.user, notice.params.get("old"), str(notice.params.get("new"))
    if user.email != old or not user.active:
        return None
    token = _serializer("email").dumps({"u": user.id, "old": old, "new": new})
    return Mail(_("Confirm your new email address"),
                _("Hello %(name)s,\n\nto use this address for your aufsicht account, open this link (valid for "
                  "24 hours):\n%(url)s\n\nIf you did not ask for this, you can ignore this email.\n",
                  name=user.display_name, url=_link("/account/email", token)), to=new,
                expires_at=utcnow() + dt.timedelta(seconds=EMAIL_CHANGE_MAX_AGE))


def confirm_email_change(token: str, lang: str) -> User:
    """Switch to the new address (now verified), end every session and tell the old address."""
    data = _load("email", token, EMAIL_CHANGE_MAX_AGE)
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or user.email != data.get("old"):
        raise Gone(_("This link is not valid (any more). Please ask for a new one."))
    new = str(data.get("new"))
    if account_by_email(new) not in (None, user):
        raise Gone(_("This link is not valid (any more). Please ask for a new one."))
    old = user.email
    user.email = new
    user.email_verified_at = utcnow()
    user.session_version += 1
    db.session.commit()
    _notify(user, "email_changed", lang, old=old, new=new)
    return user


@notices.composer("email_changed")
def _email_changed_mail(notice: Notice) -> Mail:
    new = str(notice.params.get("new"))
    return Mail(_("Your email address was changed"),
                _("Hello %(name)s,\n\nthe email address of your aufsicht account is now %(new)s. If you did not "
                  "do this, please contact your exam provider at once.\n", name=notice.user.display_name, new=new),
                to=str(notice.params.get("old")))
