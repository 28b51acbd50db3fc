"""Sign-in through an institution's OpenID provider (OpenID Connect: authorization code flow with PKCE).

Safety rule: an account is found by the pair (provider, ``sub``) and by nothing else. A provider never takes over
an existing account by its email address, verified or not, in its institution or another: an existing account is
linked to a provider only by its owner, logged in (password and second factor), from the account page
(``link_identity``). An account a provider makes does not hold the address the provider gave (it blocks nobody's
registration elsewhere) until its owner confirms it through the link we mail; the provider's word that the
address is verified does not count for that. Whether a provider asks for a second factor of its own is declared by
the platform's administrator, never by the institution's staff who configure the provider.

The flow: ``begin_sign_in`` makes the provider's authorization URL with a fresh ``state``, ``nonce`` and PKCE
verifier (kept by the caller, in the session); ``finish_sign_in`` checks the answer (state, ``iss``), exchanges
the code, validates the ID token (signature against the provider's published keys, issuer, audience, expiry,
nonce, ``at_hash``), reads missing claims from the userinfo endpoint, then finds, links or creates the account
and records the sign-in in the login audit with the provider's name.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import NO_PASSWORD, CandidateProfile, Institution, LoginEvent, Role, User
from accounts.services import account_by_email, record_consent
from accounts.validation import Profile
from kernel import egress
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed

METADATA_TTL = 600  # discovery documents and key sets are fetched again after this many seconds
CLOCK_LEEWAY = 60  # seconds of clock difference allowed on exp/iat
# Signature algorithms accepted on ID tokens: public-key ones only (never "none", never a shared secret).
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class OidcProvider(db.Model):  # type: ignore[name-defined]
    """An OpenID provider an institution signs its people in with (the exam office sets it up)."""

    __tablename__ = "oidc_provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    # The client secret, encrypted (AES-GCM) under the storage master key ``secret_key_id``; never shown again.
    secret_key_id: Mapped[str] = mapped_column(String(32))
    secret_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(200), default="openid email profile")
    claim_email: Mapped[str] = mapped_column(String(64), default="email")
    claim_first_name: Mapped[str] = mapped_column(String(64), default="given_name")
    claim_last_name: Mapped[str] = mapped_column(String(64), default="family_name")
    # The platform's administrator declares that the provider asks for a second factor: staff and proctors signing
    # in through it are not asked for ours again. The institution's staff cannot set it (nor keep it when they
    # point the provider elsewhere: a new issuer or client clears it).
    second_factor_at_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    institution: Mapped[Institution] = relationship()


class OidcIdentity(db.Model):  # type: ignore[name-defined]
    """The link of an account to a person at a provider: the provider's ``sub`` for them."""

    __tablename__ = "oidc_identity"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("oidc_provider.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # What the provider said at the last sign-in: is the email address it gave verified?
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sign_ins: Mapped[int] = mapped_column(Integer, default=0)

    provider: Mapped[OidcProvider] = relationship()
    user: Mapped[User] = relationship()


class SignInRefused(DomainError):
    """The provider's answer was not accepted (the message says why, in words)."""

    status = 400
    code = "sign_in_refused"


# ------------------------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class ProviderSettings:
    """What the exam office enters for a provider; ``client_secret`` None keeps the stored one, and
    ``second_factor_at_provider`` None the stored declaration (only an administrator gives it)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str = "openid email profile"
    claim_email: str = "email"
    claim_first_name: str = "given_name"
    claim_last_name: str = "family_name"
    second_factor_at_provider: bool | None = None
    enabled: bool = True


def clean_provider_settings(form: dict[str, str], *, new: bool, by_admin: bool = False) -> ProviderSettings:
    """Validate the settings form; one message per bad field (ValidationFailed).

    Only an administrator's form (``by_admin``) declares that the provider asks for a second factor; from the
    exam office's form that field is ignored.
    """
    f = {k: (v or "").strip() for k, v in form.items()}
    errors: dict[str, str] = {}
    name = f.get("name", "")
    if not 1 <= len(name) <= 100:
        errors["name"] = _("Please enter the name shown on the login button.")
    issuer = f.get("issuer", "").rstrip("/")
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)) or not parts.hostname \
            or parts.query or parts.fragment or len(issuer) > 500:
        errors["issuer"] = _("Please enter the issuer URL, starting with https:// (without a query).")
    client_id = f.get("client_id", "")
    if not 1 <= len(client_id) <= 200:
        errors["client_id"] = _("Please enter the client ID.")
    secret = form.get("client_secret") or None
    if secret is None and new:
        errors["client_secret"] = _("Please enter the client secret.")
    elif secret is not None and len(secret) > 500:
        errors["client_secret"] = _("This client secret is too long.")
    scopes = " ".join(f.get("scopes", "openid email profile").split()) or "openid email profile"
    if "openid" not in scopes.split() or len(scopes) > 200 or not re.fullmatch(r"[\x21\x23-\x5B\x5D-\x7E ]+", scopes):
        errors["scopes"] = _("The scopes must contain openid (separated by spaces).")
    claims = {}
    for field, default in (("claim_email", "email"), ("claim_first_name", "given_name"),
                           ("claim_last_name", "family_name")):
        value = f.get(field, "") or default
        if not _CLAIM_NAME.fullmatch(value):
            errors[field] = _("A claim name: letters, digits, dots, colons, hyphens or underscores.")
        claims[field] = value
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), fields=errors)
    return ProviderSettings(name=name, issuer=issuer, client_id=client_id, client_secret=secret, scopes=scopes,
                            second_factor_at_provider=(f.get("second_factor_at_provider") == "yes") if by_admin
                            else None,
                            enabled=f.get("enabled") == "yes", **claims)


def save_provider(institution: Institution, settings: ProviderSettings,
                  provider: OidcProvider | None = None) -> OidcProvider:
    """Create or update a provider after checking its discovery document; the secret is stored encrypted."""
    try:
        discover(settings.issuer, force=True)
    except SignInRefused as err:
        raise ValidationFailed(err.message, fields={"issuer": err.message}) from None
    if provider is None:
        provider = OidcProvider(institution=institution, second_factor_at_provider=False)
        db.session.add(provider)
    elif provider.institution_id != institution.id:
        raise NotFound()
    elif (provider.issuer, provider.client_id) != (settings.issuer, settings.client_id):
        provider.second_factor_at_provider = False  # the declaration was about the provider it named
    for field in ("name", "issuer", "client_id", "scopes", "claim_email", "claim_first_name", "claim_last_name",
                  "enabled"):
        setattr(provider, field, getattr(settings, field))
    if settings.second_factor_at_provider is not None:
        provider.second_factor_at_provider = settings.second_factor_at_provider
    if settings.client_secret is not None:
        provider.secret_key_id, provider.secret_wrapped = _seal(settings.client_secret)
    db.session.commit()
    return provider


def delete_provider(provider: OidcProvider) -> None:
    """Remove a provider; the accounts linked to it stay (they lose only this way of signing in)."""
    # The links go explicitly: SQLite does not enforce the foreign key's ON DELETE CASCADE.
    db.session.execute(delete(OidcIdentity).where(OidcIdentity.provider_id == provider.id))
    db.session.delete(provider)
    db.session.commit()


def providers_of(institution_id: int | None) -> list[OidcProvider]:
    """The providers an institution has set up."""
    return list(db.session.scalars(
        select(OidcProvider).where(OidcProvider.institution_id == institution_id).order_by(OidcProvider.name)))


def login_providers() -> list[OidcProvider]:
    """The providers offered on the login page (enabled ones, of every institution)."""
    return list(db.session.scalars(
        select(OidcProvider).where(OidcProvider.enabled.is_(True)).order_by(OidcProvider.name, OidcProvider.id)))


def get_provider(provider_id: int, *, institution_id: int | None = None, enabled_only: bool = False) -> OidcProvider:
    """A provider by id (of ``institution_id`` when given), or NotFound."""
    provider = db.session.get(OidcProvider, provider_id)
    if provider is None or (institution_id is not None and provider.institution_id != institution_id) \
            or (enabled_only and not provider.enabled):
        raise NotFound()
    return provider


def _seal(secret: str) -> tuple[str, bytes]:
    from storage.vault import keyring

    return keyring().wrap(secret.encode())


def client_secret(provider: OidcProvider) -> str:
    """The provider's client secret, decrypted (only for the token request)."""
    from storage.vault import keyring

    return keyring().unwrap(provider.secret_key_id, provider.secret_wrapped).decode()


# ------------------------------------------------------------------------------------------- discovery

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def discover(issuer: str, *, force: bool = False) -> dict[str, Any]:
    """The provider's discovery document (cached), whose ``issuer`` must be the configured one exactly."""
    issuer = issuer.rstrip("/")
    with _cache_lock:
        hit = _cache.get(issuer)
    if hit and not force and time.monotonic() - hit[0] < METADATA_TTL:
        return hit[1]
    meta = _get_json(issuer + "/.well-known/openid-configuration")
    if str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise SignInRefused(_("The provider's discovery document names another issuer (%(i)s).",
                              i=str(meta.get("issuer", "?"))[:200]))
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise SignInRefused(_("The provider's discovery document lacks %(k)s.", k=key))
    if "S256" not in meta.get("code_challenge_methods_supported", ["S256"]):
        raise SignInRefused(_("The provider does not support PKCE (S256)."))
    with _cache_lock:
        _cache[issuer] = (time.monotonic(), meta)
    return meta


def _key_set(meta: dict[str, Any], *, force: bool = False) -> KeySet:
    if force or "_jwks" not in meta:
        meta["_jwks"] = _get_json(meta["jwks_uri"])
    return KeySet.import_key_set(meta["_jwks"])


def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    try:  # through the egress policy: https, public addresses (or the operator's allow-list), no redirects
        resp = egress.fetch("GET", url, **kwargs)
        resp.raise_for_status()
        data = resp.json()
    except (egress.EgressError, ValueError) as err:
        detail = err.detail if isinstance(err, egress.EgressError) else _("not JSON")
        raise SignInRefused(_("The OpenID provider cannot be reached or gave no valid answer (%(u)s: %(e)s). "
                              "Please try again later.", u=url[:200], e=detail)) from None
    if not isinstance(data, dict):
        raise SignInRefused(_("The OpenID provider cannot be reached or gave no valid answer (%(u)s). Please try "
                              "again later.", u=url[:200]))
    return data


# ------------------------------------------------------------------------------------------- the flow


@dataclasses.dataclass(frozen=True)
class SignIn:
    """A completed sign-in: the account, how it came about, and what logout at the provider needs."""

    user: User
    provider: OidcProvider
    created: bool  # a new account was made (it still needs its profile)
    linked: bool  # an existing account was linked to the provider now
    id_token: str
    second_factor_at_provider: bool


def begin_sign_in(provider: OidcProvider, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """The provider's authorization URL and the pending state to keep until the callback."""
    meta = discover(provider.issuer)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    client = OAuth2Session(provider.client_id, scope=provider.scopes, redirect_uri=redirect_uri,
                           code_challenge_method="S256")
    url, _state = client.create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                  code_verifier=verifier)
    return url, {"p": provider.id, "state": state, "nonce": nonce, "verifier": verifier,
                 "t": int(time.time())}


PENDING_SECONDS = 900  # a sign-in at the provider must come back within 15 minutes


def finish_sign_in(pending: dict[str, Any] | None, params: dict[str, str], redirect_uri: str, ip: str,
                   link_to: User | None = None) -> SignIn:
    """Check the provider's answer, exchange the code, validate the ID token, then find or make the account
    (or, with ``link_to``, link that logged-in account to the person at the provider).

    ``pending`` is what ``begin_sign_in`` returned (the caller removes it before calling: it is good once).
    """
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("t", 0)) > PENDING_SECONDS \
            or not secrets.compare_digest(str(pending.get("state", "")), params.get("state", "")):
        raise SignInRefused(_("This sign-in has expired or was already used. Please start again from the login "
                              "page."))
    provider = get_provider(int(pending["p"]), enabled_only=True)
    try:
        return _finish(provider, pending, params, redirect_uri, ip, link_to)
    except SignInRefused as err:
        _audit(provider, None, "", ip, False, err.message[:200])
        raise


def _finish(provider: OidcProvider, pending: dict[str, Any], params: dict[str, str], redirect_uri: str,
            ip: str, link_to: User | None) -> SignIn:
    meta = discover(provider.issuer)
    if params.get("error"):
        if params["error"] == "access_denied":
            raise SignInRefused(_("The sign-in at %(p)s was cancelled.", p=provider.name))
        raise SignInRefused(_("%(p)s refused the sign-in: %(e)s", p=provider.name,
                              e=(params.get("error_description") or params["error"])[:200]))
    if "iss" in params and params["iss"].rstrip("/") != str(meta["issuer"]).rstrip("/"):  # RFC 9207: mix-up
        raise SignInRefused(_("The answer came from another provider than the one the sign-in started at."))
    if not params.get("code"):
        raise SignInRefused(_("The provider's answer has no authorization code."))
    token = _fetch_token(provider, str(meta["token_endpoint"]), params["code"], str(pending["verifier"]),
                         redirect_uri)
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise SignInRefused(_("%(p)s sent no ID token (is the scope openid set?).", p=provider.name))
    claims = validate_id_token(provider, raw, str(pending["nonce"]), access_token=token.get("access_token"))
    claims = _with_userinfo(provider, meta, claims, token.get("access_token"))
    user, created, linked = link_identity(provider, claims, link_to) if link_to else link_account(provider, claims)
    _audit(provider, user, user.email, ip, True, None)
    return SignIn(user=user, provider=provider, created=created, linked=linked, id_token=raw,
                  second_factor_at_provider=provider.second_factor_at_provider)


def _fetch_token(provider: OidcProvider, endpoint: str, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
    """The token endpoint's answer to the authorization code (client_secret_basic, PKCE), through the egress policy."""
    basic = base64.b64encode(f"{quote(provider.client_id, safe='')}:{quote(client_secret(provider), safe='')}"
                             .encode()).decode()
    try:
        resp = egress.fetch("POST", endpoint, headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                  "code_verifier": verifier})
        token = resp.json() if resp.content else {}
    except egress.EgressError as err:
        raise SignInRefused(_("%(p)s did not hand out the tokens: %(e)s", p=provider.name, e=err.detail)) from None
    except ValueError:
        token = {}
    if resp.status != 200 or not isinstance(token, dict) or "error" in token:
        error = str(token.get("error", "")) if isinstance(token, dict) else ""  # an OAuth error code, not the body
        detail = error if re.fullmatch(r"[a-z_]{1,64}", error) else f"HTTP {resp.status}"
        raise SignInRefused(_("%(p)s did not hand out the tokens: %(e)s", p=provider.name, e=detail))
    return token


def validate_id_token(provider: OidcProvider, raw: str, nonce: str, *,
                      access_token: str | None = None) -> dict[str, Any]:
    """The ID token's claims once its signature (the provider's published keys), issuer, audience, expiry and
    nonce are right; otherwise SignInRefused saying which check failed."""
    meta = discover(provider.issuer)
    algorithms = [a for a in meta.get("id_token_signing_alg_values_supported", ["RS256"]) if a in _ALGORITHMS]
    try:
        try:
            decoded = jwt.decode(raw, _key_set(meta), algorithms=algorithms)
        except InvalidKeyIdError:  # the provider may have rotated its keys since we fetched them
            decoded = jwt.decode(raw, _key_set(meta, force=True), algorithms=algorithms)
        claims = CodeIDToken(decoded.claims, decoded.header,
                             {"iss": {"essential": True, "value": str(meta["issuer"])},
                              "aud": {"essential": True, "value": provider.client_id},
                              "sub": {"essential": True}},
                             {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token})
        claims.validate(leeway=CLOCK_LEEWAY)
    except ExpiredTokenError:
        raise SignInRefused(_("Sign-in refused: the provider's ID token has expired. Please sign in again.")) from None
    except (BadSignatureError, InvalidKeyIdError):
        raise SignInRefused(_("Sign-in refused: the ID token's signature is not the provider's.")) from None
    except (ClaimError, MissingClaimError) as err:
        claim = getattr(err, "claim", "")
        messages = {
            "aud": _("Sign-in refused: the ID token was not issued for aufsicht (wrong audience)."),
            "azp": _("Sign-in refused: the ID token was not issued for aufsicht (wrong audience)."),
            "iss": _("Sign-in refused: the ID token comes from another issuer."),
            "nonce": _("Sign-in refused: the ID token does not belong to this sign-in (its nonce is wrong or "
                       "replayed). Please sign in again."),
            "iat": _("Sign-in refused: the ID token's issue time is not plausible."),
            "nbf": _("Sign-in refused: the ID token is not valid yet."),
            "at_hash": _("Sign-in refused: the ID token does not belong to the access token."),
        }
        raise SignInRefused(messages.get(claim, _("Sign-in refused: the ID token lacks or has a wrong claim "
                                                  "(%(c)s).", c=claim))) from None
    except (JoseError, ValueError, TypeError):
        raise SignInRefused(_("Sign-in refused: the ID token is malformed or signed in a way we do not "
                              "accept.")) from None
    return dict(claims)


def _with_userinfo(provider: OidcProvider, meta: dict[str, Any], claims: dict[str, Any],
                   access_token: str | None) -> dict[str, Any]:
    """Claims the ID token lacks (many providers put email and name only in userinfo), same ``sub`` only."""
    wanted = (provider.claim_email, provider.claim_first_name, provider.claim_last_name, "email_verified")
    if all(c in claims for c in wanted) or not access_token or not meta.get("userinfo_endpoint"):
        return claims
    info = _get_json(str(meta["userinfo_endpoint"]), headers={"Authorization": f"Bearer {access_token}"})
    if info.get("sub") != claims["sub"]:
        raise SignInRefused(_("The provider's user information belongs to another person than the ID token."))
    return {**info, **claims}


# ------------------------------------------------------------------------------------------- accounts


def _verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def link_account(provider: OidcProvider, claims: dict[str, Any]) -> tuple[User, bool, bool]:
    """The account for (provider, sub): found, or made as a candidate of the provider's institution.

    Returns (user, created, linked); ``linked`` is always False here (only ``link_identity`` links). Never opens
    an account by its email address: where an account of the institution holds the address, the person logs in
    with the password and links the provider from the account page. A new account does not hold the address
    until its owner confirms it through the link mailed now.
    """
    subject = str(claims["sub"])[:255]
    email = str(claims.get(provider.claim_email) or "").strip().lower()[:254]
    verified = _verified(claims) and bool(email)
    identity = db.session.scalar(select(OidcIdentity).where(OidcIdentity.provider_id == provider.id,
                                                            OidcIdentity.subject == subject))
    created = False
    if identity is not None:
        user = identity.user
    else:
        if not email:
            raise SignInRefused(_("%(p)s did not give an email address. Please ask your exam office to add the "
                                  "scope email.", p=provider.name))
        holder = account_by_email(email)  # the account that holds the address (a password, or confirmed)
        if holder is not None and holder.institution_id == provider.institution_id:
            raise SignInRefused(_("An account with the email address %(e)s exists already. Please log in with your "
                                  "password; on the page \"My account\" you can then link %(p)s to it.",
                                  e=email, p=provider.name))
        first = str(claims.get(provider.claim_first_name) or "").strip()[:100]
        last = str(claims.get(provider.claim_last_name) or "").strip()[:100]
        name = f"{first} {last}".strip() or str(claims.get("name") or "").strip()[:200] or email
        user = User(email=email, password_hash=NO_PASSWORD, role=Role.CANDIDATE, display_name=name[:200],
                    institution_id=provider.institution_id)
        db.session.add(user)
        db.session.flush()
        created = True
        identity = OidcIdentity(provider_id=provider.id, subject=subject, user_id=user.id)
        db.session.add(identity)
    if not user.active or user.erased_at is not None:
        db.session.rollback()
        raise SignInRefused(_("This account is locked. Please contact your exam office."))
    _signed_in(identity, user, verified)
    if created:
        from accounts.recovery import send_verification

        send_verification(user, user.language or "")  # the address counts once its owner confirms it
    return user, created, False


def link_identity(provider: OidcProvider, claims: dict[str, Any], user: User) -> tuple[User, bool, bool]:
    """Link ``user`` (logged in, who started this sign-in from the account page) to (provider, sub).

    Refused for a provider of another institution, and for a (provider, sub) linked to another account already.
    Returns (user, False, True).
    """
    subject = str(claims["sub"])[:255]
    if user.institution_id != provider.institution_id or user.role == Role.ADMIN:
        raise SignInRefused(_("%(p)s belongs to another institution than your account.", p=provider.name))
    identity = db.session.scalar(select(OidcIdentity).where(OidcIdentity.provider_id == provider.id,
                                                            OidcIdentity.subject == subject))
    if identity is not None and identity.user_id != user.id:
        raise SignInRefused(_("This login at %(p)s is linked to another account already.", p=provider.name))
    if identity is None:
        identity = OidcIdentity(provider_id=provider.id, subject=subject, user_id=user.id)
        db.session.add(identity)
    email = str(claims.get(provider.claim_email) or "").strip().lower()[:254]
    _signed_in(identity, user, _verified(claims) and bool(email))
    return user, False, True


def _signed_in(identity: OidcIdentity, user: User, verified: bool) -> None:
    identity.email_verified = verified  # recorded, never trusted to open or confirm anything
    identity.last_login_at = utcnow()
    identity.sign_ins = (identity.sign_ins or 0) + 1
    user.last_active_at = utcnow()
    user.inactivity_notice_at = None  # signing in answers the inactivity notice
    db.session.commit()


def _audit(provider: OidcProvider, user: User | None, email: str, ip: str, success: bool, detail: str | None) -> None:
    db.session.rollback()  # a failed step may have left the session dirty; the audit row must get through
    db.session.add(LoginEvent(user_id=user.id if user else None, email=email[:254], ip=ip[:45], success=success,
                              detail=detail, provider=provider.name[:100]))
    db.session.commit()


def identities_of(user: User) -> list[OidcIdentity]:
    """The providers an account is linked to."""
    return list(db.session.scalars(select(OidcIdentity).where(OidcIdentity.user_id == user.id)))


def needs_profile(user: User) -> bool:
    """True for a candidate who signed in through a provider and has not given the exam details yet."""
    return user.role == Role.CANDIDATE and user.profile is None


def complete_profile(user: User, profile: Profile, privacy_version: str) -> CandidateProfile:
    """Store what the provider does not give (address, phone, birth data, ID number) and the privacy consent."""
    if user.profile is not None:
        raise ValidationFailed(_("Your profile is complete already."), fields={})
    user.profile = CandidateProfile(**dataclasses.asdict(profile))
    user.display_name = f"{profile.first_name} {profile.last_name}"
    db.session.flush()
    record_consent(user, "privacy_notice", privacy_version, True)  # commits
    return user.profile


def logout_url(provider_id: int, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout URL, where it offers one (else None)."""
    provider = db.session.get(OidcProvider, provider_id)
    if provider is None:
        return None
    try:
        endpoint = discover(provider.issuer).get("end_session_endpoint")
    except SignInRefused:
        return None
    if not isinstance(endpoint, str):
        return None
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri,
                       "client_id": provider.client_id})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
