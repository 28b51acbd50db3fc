"""What the platform administrator does to accounts and institutions, each action recorded with who and when.

Every action that changes what an account may do ends its sessions (the session version is bumped, so a
copied cookie stops working too). Administrator accounts are not managed here (no one locks the last
admin out by mistake); candidates keep their role (their profile and consents belong to it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import or_, select

from accounts.models import AccountAction, Institution, Role, User
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

#: Roles an administrator may give a staff or proctor account.
ASSIGNABLE = (Role.STAFF, Role.PROCTOR)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def managed_user(user_id: int) -> User:
    """An account the administrator may act on (not an administrator's); otherwise NotFound."""
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.ADMIN:
        raise NotFound()
    return user


def _record(actor: User, user: User, action: str, now: dt.datetime, detail: str = "") -> None:
    db.session.add(AccountAction(user_id=user.id, actor_id=actor.id, action=action, detail=detail[:200], at=now))


def lock(actor: User, user: User, now: dt.datetime) -> None:
    """Lock the account: it cannot log in, every session of it ends now."""
    user.active = False
    user.session_version += 1
    _record(actor, user, "locked", now)
    db.session.commit()


def unlock(actor: User, user: User, now: dt.datetime) -> None:
    """Unlock the account (not an erased one); it logs in again with its password and second factor."""
    if user.erased_at is not None:
        raise Conflict(_("This account has been erased."))
    user.active = True
    _record(actor, user, "unlocked", now)
    db.session.commit()


def reset_second_factor(actor: User, user: User, now: dt.datetime) -> None:
    """Forget the authenticator app and the recovery codes (a lost phone): the next login sets up a new one.

    Every session ends, so whoever holds the old device is logged out as well.
    """
    if user.totp_secret is None and user.recovery_codes is None:
        raise Conflict(_("This account has no second factor set up."))
    user.totp_secret = user.totp_last_step = user.recovery_codes = None
    user.session_version += 1
    _record(actor, user, "second_factor_reset", now)
    db.session.commit()


def change_role(actor: User, user: User, role: Role, now: dt.datetime) -> None:
    """Make a staff account a proctor's or the other way round; the account's sessions end."""
    if role not in ASSIGNABLE or user.role not in ASSIGNABLE:
        raise ValidationFailed(_("Only exam office and proctor accounts can change between these two roles."),
                               fields={"role": "staff or proctor"})
    if user.role == role:
        return
    old = user.role
    user.role = role
    user.session_version += 1
    _record(actor, user, "role_changed", now, f"{old.value} -> {role.value}")
    db.session.commit()


def history(user: User) -> Sequence[AccountAction]:
    """What administrators did to this account, newest first."""
    return db.session.scalars(select(AccountAction).where(AccountAction.user_id == user.id)
                              .order_by(AccountAction.at.desc(), AccountAction.id.desc())).all()


def recent_actions(limit: int = 50) -> Sequence[AccountAction]:
    """The latest administrator actions on any account."""
    return db.session.scalars(select(AccountAction).order_by(AccountAction.at.desc(), AccountAction.id.desc())
                              .limit(limit)).all()


def find_users(text: str, institution_id: int | None = None, limit: int = 200) -> Sequence[User]:
    """Accounts (not administrators) whose email or name contains ``text``, optionally of one institution."""
    q = select(User).where(User.role != Role.ADMIN, User.erased_at.is_(None)).order_by(User.email).limit(limit)
    text = text.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(User.email.ilike(pattern, escape="\\"), User.display_name.ilike(pattern, escape="\\")))
    else:
        q = q.where(User.role.in_(ASSIGNABLE))  # without a search: the exam offices and proctors
    if institution_id is not None:
        q = q.where(User.institution_id == institution_id)
    return db.session.scalars(q).all()


def new_institution(name: str, slug: str) -> Institution:
    """Create an institution after checking its name and short name."""
    from accounts.services import create_institution

    name, slug = _checked(name, slug)
    return create_institution(name, slug)


def update_institution(institution: Institution, name: str, slug: str) -> Institution:
    """Rename an institution or change its short name (unique, lower-case letters, digits and '-')."""
    name, slug = _checked(name, slug)
    taken = db.session.scalar(select(Institution.id).where(Institution.slug == slug, Institution.id != institution.id))
    if taken is not None:
        raise Conflict(_("An institution with this short name exists already."))
    institution.name, institution.slug = name, slug
    db.session.commit()
    return institution


def _checked(name: str, slug: str) -> tuple[str, str]:
    name, slug = name.strip(), slug.strip().lower()
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = _("Please enter the name (at most 200 characters).")
    if not _SLUG.fullmatch(slug):
        errors["slug"] = _("The short name may contain lower-case letters, digits and '-' (at most 64).")
    if errors:
        raise ValidationFailed(" ".join(errors.values()), fields=errors)
    return name, slug
