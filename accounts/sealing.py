"""Secrets of the accounts domain sealed under the storage master keys: an institution's OpenID client secret
and each account's TOTP secret. ``register`` tells the storage domain about them, so that re-wrapping
(``flask storage rotate-key``) and retiring a master key (``flask storage retire-key``) include them."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import User
from accounts.oidc import OidcProvider
from accounts.second_factor import SEALED, seal_secret, secret_of
from kernel.db import db
from storage.crypto import MasterKeyring


def reseal_all(ring: MasterKeyring, batch: int = 500) -> int:
    """Seal every OpenID client secret and TOTP secret under the active master key; returns how many changed."""
    done = 0
    for provider in db.session.scalars(select(OidcProvider).where(OidcProvider.secret_key_id != ring.active_id)):
        plain = ring.unwrap(provider.secret_key_id, provider.secret_wrapped)
        provider.secret_key_id, provider.secret_wrapped = ring.wrap(plain)
        done += 1
    db.session.commit()
    last_id = 0
    current = f"{SEALED}{ring.active_id}:"
    while True:
        users = db.session.scalars(select(User).where(User.id > last_id, User.totp_secret.is_not(None))
                                   .order_by(User.id).limit(batch)).all()
        if not users:
            break
        for user in users:
            last_id = user.id
            if user.totp_secret is not None and not user.totp_secret.startswith(current):
                user.totp_secret = seal_secret(user, str(secret_of(user)))
                done += 1
        db.session.commit()
    return done


def sealed_with(key_id: str) -> int:
    """How many OpenID client secrets and TOTP secrets master key ``key_id`` still seals."""
    providers = db.session.scalar(select(func.count()).select_from(OidcProvider)
                                  .where(OidcProvider.secret_key_id == key_id)) or 0
    users = db.session.scalar(select(func.count()).select_from(User)
                              .where(User.totp_secret.startswith(f"{SEALED}{key_id}:", autoescape=True))) or 0
    return int(providers) + int(users)


def register() -> None:
    """Let the storage domain re-seal and count these secrets (idempotent)."""
    from storage import vault

    if reseal_all not in vault.RESEALERS:
        vault.RESEALERS.append(reseal_all)
    if sealed_with not in vault.KEY_USERS:
        vault.KEY_USERS.append(sealed_with)
