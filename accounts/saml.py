"""Sign-in through an institution's SAML 2.0 identity provider (DFN-AAI's Shibboleth IdPs, Keycloak, ADFS).

aufsicht is the service provider (pysaml2, which signs and checks signatures with Debian's ``xmlsec1``). Each IdP
connection of an institution is one service provider of ours with its own entity id, key pair and metadata, at a
stable URL (``/saml/<id>/metadata``).

Safety rule: an account is found by the pair (IdP connection, subject id) and by nothing else; the IdP's mail
attribute never opens or takes over an existing account (an address that belongs to an account already is refused
with a message; linking an existing account is its owner's step, logged in). A response is accepted only when its
assertion is signed by the key in the IdP's metadata, was issued for our entity id (audience), to our ACS
(recipient, destination), in response to a request we sent from this browser (``InResponseTo``, good once), is
within its validity window, and its ID has not been seen before (replay). XML is parsed with defusedxml before
pysaml2 sees it: a DOCTYPE, entity or external reference is refused.

The flow: ``begin_sign_in`` makes the signed AuthnRequest (HTTP-Redirect binding) and keeps its ID server-side,
bound to a random token the caller puts in a cookie (the IdP posts the response cross-site, where the session
cookie, SameSite=Lax, is not sent); ``finish_sign_in`` checks the HTTP-POST response, links or makes the account and
writes the login audit with the IdP's entity id.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import re
import secrets
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from defusedxml import DefusedXmlException
from flask_babel import gettext as _
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Institution, LoginEvent, Role, User
from kernel import egress
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed
from kernel.jobs import job

log = logging.getLogger(__name__)

XMLSEC = "/usr/bin/xmlsec1"
CLOCK_LEEWAY = 60  # seconds of clock difference allowed on the validity window
PENDING_SECONDS = 900  # a sign-in at the IdP must come back within 15 minutes
MAX_RESPONSE_BYTES = 256 * 1024  # a SAML response (base64-decoded) larger than this is refused unread
MAX_METADATA_BYTES = 4 * 1024 * 1024
SESSION_DAYS = 31  # how long a sign-in's NameID and SessionIndex are kept for the IdP's single logout
LOGOUT_MAX_AGE = 300  # an IdP's LogoutRequest older than this (plus the leeway) is refused
# Signature algorithms accepted on an IdP's HTTP-Redirect LogoutRequest (never SHA-1).
REDIRECT_SIG_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}
NO_PASSWORD = "!saml"  # noqa: S105 - password hash of accounts made here: it matches no password (argon2 refuses it)
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SIGN_ALG = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"  # our requests' signatures (never SHA-1)
DIGEST_ALG = "http://www.w3.org/2001/04/xmlenc#sha256"
# Attributes tried for the subject id, in this order (DFN-AAI: the pairwise or subject id, else the ePPN).
DEFAULT_SUBJECT = "pairwise-id subject-id eduPersonPrincipalName"
_ATTR_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


class SamlProvider(db.Model):  # type: ignore[name-defined]
    """An institution's SAML identity provider, and our service provider for it (key pair, entity id)."""

    __tablename__ = "saml_provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    idp_entity_id: Mapped[str] = mapped_column(String(500))
    metadata_url: Mapped[str | None] = mapped_column(String(500))  # None: the metadata was uploaded as a file
    metadata_xml: Mapped[str] = mapped_column(Text)  # the IdP's EntityDescriptor, as last fetched or uploaded
    metadata_fetched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # when the stored copy last changed
    # Set: ``metadata_url`` is a federation's signed metadata aggregate (DFN-AAI's), verified with this certificate,
    # from which the EntityDescriptor of ``idp_entity_id`` is taken at each refresh.
    federation_cert: Mapped[str | None] = mapped_column(Text)
    attr_subject: Mapped[str] = mapped_column(String(300), default=DEFAULT_SUBJECT)
    attr_email: Mapped[str] = mapped_column(String(100), default="mail")
    attr_first_name: Mapped[str] = mapped_column(String(100), default="givenName")
    attr_last_name: Mapped[str] = mapped_column(String(100), default="sn")
    want_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)  # refuse assertions that are not encrypted
    # Declared by the platform's administrator only: the IdP asks for a second factor, so staff and proctors
    # signing in through it are not asked for ours again.
    second_factor_at_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set: the connection is a whole federation (``metadata_xml`` its verified aggregate): the login page offers one
    # "Sign in with your home organisation" and the person picks any of its IdPs (``idp_entity_id`` is the URL then).
    discovery: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Our service provider's key (AES-GCM under the storage master key ``key_id``) and its self-signed certificate.
    key_id: Mapped[str] = mapped_column(String(32))
    key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    cert_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    institution: Mapped[Institution] = relationship()


class SamlIdentity(db.Model):  # type: ignore[name-defined]
    """The link of an account to a person at an IdP: (IdP connection, subject id)."""

    __tablename__ = "saml_identity"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("saml_provider.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sign_ins: Mapped[int] = mapped_column(Integer, default=0)

    provider: Mapped[SamlProvider] = relationship()
    user: Mapped[User] = relationship()


class SamlRequest(db.Model):  # type: ignore[name-defined]
    """An AuthnRequest we sent and whose response has not come back yet (its ID is the response's InResponseTo)."""

    __tablename__ = "saml_request"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("saml_provider.id", ondelete="CASCADE"), index=True)
    browser: Mapped[str] = mapped_column(String(64))  # sha256 of the token in the browser's cookie
    idp_entity_id: Mapped[str | None] = mapped_column(String(500))  # the IdP picked (a discovery connection's)
    next_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SamlAssertionSeen(db.Model):  # type: ignore[name-defined]
    """Assertion IDs accepted once (replay): kept until the assertion's validity has ended."""

    __tablename__ = "saml_assertion_seen"
    __table_args__ = (UniqueConstraint("issuer", "assertion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    assertion_id: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class SamlSession(db.Model):  # type: ignore[name-defined]
    """A sign-in through an IdP, by the NameID and SessionIndex the IdP gave it: what its LogoutRequest names."""

    __tablename__ = "saml_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("saml_provider.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))  # the IdP's entity id
    name_id: Mapped[str] = mapped_column(String(500), index=True)
    session_index: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # by the IdP's single logout

    user: Mapped[User] = relationship()


class SignInRefused(DomainError):
    """The IdP's answer was not accepted (the message says why, in words)."""

    status = 400
    code = "sign_in_refused"


# ------------------------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class ProviderSettings:
    """What the exam office enters: a metadata URL or the metadata file's text (one of the two)."""

    name: str
    metadata_url: str | None
    metadata_xml: str | None
    attr_subject: str = DEFAULT_SUBJECT
    attr_email: str = "mail"
    attr_first_name: str = "givenName"
    attr_last_name: str = "sn"
    want_encrypted: bool = False
    enabled: bool = True
    # None keeps the stored declaration; only an administrator's form gives it.
    second_factor_at_provider: bool | None = None
    # A federation's aggregate: ``metadata_url`` is its URL, this its signing certificate (PEM), and
    # ``idp_entity_id`` the institution's IdP in it.
    federation_cert: str | None = None
    idp_entity_id: str | None = None
    discovery: bool = False  # with ``federation_cert``: every IdP of the federation, picked at sign-in


def clean_provider_settings(form: dict[str, str], *, new: bool, by_admin: bool = False) -> ProviderSettings:
    """Validate the settings form; one message per bad field (ValidationFailed)."""
    f = {k: (v or "").strip() for k, v in form.items()}
    errors: dict[str, str] = {}
    name = f.get("name", "")
    if not 1 <= len(name) <= 100:
        errors["name"] = _("Please enter the name shown on the login button.")
    url = f.get("metadata_url") or None
    xml = f.get("metadata_xml") or None
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 500:
            errors["metadata_url"] = _("Please enter the metadata URL, starting with https://.")
    federation_cert = f.get("federation_cert") or None
    if federation_cert and (not url or "BEGIN CERTIFICATE" not in federation_cert or len(federation_cert) > 20000):
        errors["federation_cert"] = _("Please enter the federation's metadata URL and its signing certificate (PEM).")
    if url and xml:
        errors["metadata_xml"] = _("Please give either the metadata URL or the metadata file, not both.")
    elif not url and not xml and new:
        errors["metadata_url"] = _("Please enter the IdP's metadata URL or paste its metadata file.")
    attrs: dict[str, str] = {}
    for field, default in (("attr_subject", DEFAULT_SUBJECT), ("attr_email", "mail"),
                           ("attr_first_name", "givenName"), ("attr_last_name", "sn")):
        value = " ".join(f.get(field, "").split()) or default
        if len(value) > 300 or not all(_ATTR_NAME.fullmatch(v) for v in value.split()):
            errors[field] = _("An attribute name: letters, digits, dots, colons, hyphens or underscores.")
        attrs[field] = value
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), fields=errors)
    return ProviderSettings(name=name, metadata_url=url, metadata_xml=xml,
                            want_encrypted=f.get("want_encrypted") == "yes",
                            enabled=f.get("enabled") == "yes",
                            second_factor_at_provider=(f.get("second_factor_at_provider") == "yes") if by_admin
                            else None, federation_cert=federation_cert,
                            idp_entity_id=f.get("idp_entity_id") or None,
                            discovery=bool(federation_cert) and f.get("discovery") == "yes", **attrs)


def save_provider(institution: Institution, settings: ProviderSettings,
                  provider: SamlProvider | None = None) -> SamlProvider:
    """Create or update an IdP connection after reading and checking its metadata (fetched through egress)."""
    field = "metadata_url" if settings.metadata_url else "metadata_xml"
    try:
        if settings.metadata_url and settings.federation_cert and settings.discovery:
            xml = ET.tostring(verify_aggregate(fetch_metadata(settings.metadata_url, max_bytes=MAX_AGGREGATE_BYTES),
                                               settings.federation_cert), encoding="unicode")
        elif settings.metadata_url and settings.federation_cert:
            field = "idp_entity_id"
            if not settings.idp_entity_id:
                raise SignInRefused(_("Please choose the institution's IdP from the federation's list."))
            xml = entity_from_aggregate(settings.metadata_url, settings.federation_cert, settings.idp_entity_id)
        elif settings.metadata_url:
            xml = fetch_metadata(settings.metadata_url)
        elif settings.metadata_xml:
            xml = settings.metadata_xml
        elif provider is not None:
            xml = provider.metadata_xml
        else:
            raise SignInRefused(_("Please enter the IdP's metadata URL or paste its metadata file."))
        entity_id = settings.metadata_url[:500] if settings.discovery and settings.metadata_url \
            else idp_entity_id(xml)
    except SignInRefused as err:
        raise ValidationFailed(err.message, fields={field: err.message}) from None
    if provider is None:
        key_id, wrapped, cert = _new_key_pair(institution.name)
        provider = SamlProvider(institution=institution, key_id=key_id, key_wrapped=wrapped, cert_pem=cert,
                                second_factor_at_provider=False)
        db.session.add(provider)
    elif provider.institution_id != institution.id:
        raise NotFound()
    elif provider.idp_entity_id != entity_id:
        # Another IdP now: the links were (old IdP, subject id) and must not open accounts for the new one's
        # subjects; the accounts stay. The second-factor declaration was about the IdP it named.
        db.session.execute(delete(SamlIdentity).where(SamlIdentity.provider_id == provider.id))
        provider.second_factor_at_provider = False
    provider.idp_entity_id = entity_id
    provider.discovery = settings.discovery
    provider.metadata_xml = xml
    if settings.metadata_url or settings.metadata_xml:
        provider.metadata_url = settings.metadata_url
        provider.federation_cert = settings.federation_cert
        provider.metadata_fetched_at = utcnow()
    for name in ("name", "attr_subject", "attr_email", "attr_first_name", "attr_last_name", "want_encrypted",
                 "enabled"):
        setattr(provider, name, getattr(settings, name))
    if settings.second_factor_at_provider is not None:
        provider.second_factor_at_provider = settings.second_factor_at_provider
    db.session.commit()
    return provider


@job("accounts.saml_refresh_metadata", every=dt.timedelta(hours=6))
def refresh_all_metadata() -> int:
    """Fetch every IdP's metadata again from its URL (federations verified); failures keep the last good copy."""
    from flask_babel import force_locale

    refreshed = 0
    with force_locale("en"):  # the log's messages, outside any request
        refreshed = _refresh_all()
    return refreshed


def _refresh_all() -> int:
    refreshed = 0
    for provider_id in list(db.session.scalars(select(SamlProvider.id).where(SamlProvider.metadata_url.is_not(None)))):
        provider = db.session.get(SamlProvider, provider_id)
        try:
            refresh_metadata(provider)  # type: ignore[arg-type]
            refreshed += 1
        except SignInRefused as err:
            db.session.rollback()
            log.warning("SAML metadata of IdP connection %s not refreshed: %s", provider_id, err.message)
    return refreshed


def delete_provider(provider: SamlProvider) -> None:
    """Remove an IdP connection; the accounts linked to it stay (they lose only this way of signing in)."""
    for model in (SamlIdentity, SamlRequest, SamlSession):  # SQLite does not enforce ON DELETE CASCADE
        db.session.execute(delete(model).where(model.provider_id == provider.id))
    db.session.delete(provider)
    db.session.commit()


def providers_of(institution_id: int | None) -> list[SamlProvider]:
    """The IdP connections an institution has set up."""
    return list(db.session.scalars(
        select(SamlProvider).where(SamlProvider.institution_id == institution_id).order_by(SamlProvider.name)))


def login_providers() -> list[SamlProvider]:
    """The IdPs offered on the login page (enabled ones, of every institution)."""
    return list(db.session.scalars(
        select(SamlProvider).where(SamlProvider.enabled.is_(True)).order_by(SamlProvider.name, SamlProvider.id)))


def get_provider(provider_id: int, *, institution_id: int | None = None, enabled_only: bool = False) -> SamlProvider:
    """An IdP connection by id (of ``institution_id`` when given), or NotFound."""
    provider = db.session.get(SamlProvider, provider_id)
    if provider is None or (institution_id is not None and provider.institution_id != institution_id) \
            or (enabled_only and not provider.enabled):
        raise NotFound()
    return provider


def refresh_metadata(provider: SamlProvider) -> None:
    """Fetch the IdP's metadata again from its URL (key rollover); the entity id must stay the same."""
    if not provider.metadata_url:
        return
    if provider.federation_cert and provider.discovery:
        xml = ET.tostring(verify_aggregate(fetch_metadata(provider.metadata_url, max_bytes=MAX_AGGREGATE_BYTES),
                                           provider.federation_cert), encoding="unicode")
    elif provider.federation_cert:
        xml = entity_from_aggregate(provider.metadata_url, provider.federation_cert, provider.idp_entity_id)
    else:
        xml = fetch_metadata(provider.metadata_url)
    if not provider.discovery and idp_entity_id(xml) != provider.idp_entity_id:
        raise SignInRefused(_("The IdP's metadata now names another entity id; the exam office must confirm it."))
    if xml != provider.metadata_xml:  # a run that finds the same copy changes nothing
        provider.metadata_xml = xml
        provider.metadata_fetched_at = utcnow()
        db.session.commit()


# ------------------------------------------------------------------------------------------- metadata


def fetch_metadata(url: str, *, max_bytes: int | None = None) -> str:
    """The metadata document at ``url``, through the egress policy (https, public addresses, no redirects)."""
    policy = egress.current_policy()
    if max_bytes:
        policy = dataclasses.replace(policy, max_bytes=max(max_bytes, policy.max_bytes))
    try:
        resp = egress.fetch("GET", url, headers={"Accept": "application/samlmetadata+xml, application/xml"},
                            policy=policy)
        resp.raise_for_status()
        body = resp.content
    except egress.EgressError as err:
        raise SignInRefused(_("The IdP's metadata cannot be fetched (%(u)s: %(e)s).", u=url[:200],
                              e=err.detail)) from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignInRefused(_("The IdP's metadata is not UTF-8 XML.")) from None


def parse_xml(text: str | bytes, response: bool) -> Any:
    """Parse XML with defusedxml: a DOCTYPE, entity declaration or external reference is refused."""
    try:
        return SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SafeET.ParseError) as err:
        what = _("The SAML response") if response else _("The IdP's metadata")
        if isinstance(err, SafeET.ParseError):
            raise SignInRefused(_("%(w)s is not well-formed XML.", w=what)) from None
        raise SignInRefused(_("%(w)s was refused: it contains a DOCTYPE or entity declarations (as XML bombs and "
                              "external entity attacks do).", w=what)) from None


def idp_entity_id(xml: str) -> str:
    """The entity id of the one IdP an EntityDescriptor describes (with a signing key and an SSO endpoint)."""
    if len(xml.encode()) > MAX_METADATA_BYTES:
        raise SignInRefused(_("The IdP's metadata is too large."))
    root = parse_xml(xml, False)
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise SignInRefused(_("The metadata must describe one IdP (an EntityDescriptor)."))
    idp = root.find(f"{{{MD}}}IDPSSODescriptor")
    entity_id = root.get("entityID") or ""
    if idp is None or not entity_id or len(entity_id) > 500:
        raise SignInRefused(_("The metadata describes no SAML identity provider."))
    if idp.find(f".//{{{DS}}}X509Certificate") is None:
        raise SignInRefused(_("The IdP's metadata has no signing certificate."))
    if idp.find(f"{{{MD}}}SingleSignOnService") is None:
        raise SignInRefused(_("The IdP's metadata has no single sign-on endpoint."))
    return entity_id


MAX_AGGREGATE_BYTES = 128 * 1024 * 1024  # a federation's aggregate (DFN-AAI with eduGAIN runs to tens of MB)


def verify_aggregate(xml: str, cert_pem: str) -> Any:
    """The federation's aggregate (an EntitiesDescriptor) once its signature over the whole document is the
    federation's (xmlsec1, with only the given certificate trusted) and it has not expired; else SignInRefused.

    The signature must be the root's first child and reference the root itself (``URI=""`` or ``#<root ID>``):
    xmlsec1 checks the first signature in document order, so nothing else can be what it verified.
    """
    root = parse_xml(xml.encode() if isinstance(xml, str) else xml, False)
    if root.tag != f"{{{MD}}}EntitiesDescriptor":
        raise SignInRefused(_("The federation's metadata is not an aggregate (EntitiesDescriptor)."))
    children = list(root)
    signature = children[0] if children and children[0].tag == f"{{{DS}}}Signature" else None
    reference = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference") if signature is not None else None
    if reference is None:
        raise SignInRefused(_("The federation's metadata is not signed."))
    uri, root_id = reference.get("URI", ""), root.get("ID", "")
    if not (uri == "" or (root_id and uri == "#" + root_id)):
        raise SignInRefused(_("The federation's signature does not cover the whole aggregate."))
    valid_until = root.get("validUntil")
    if valid_until:
        try:
            until = dt.datetime.fromisoformat(valid_until.replace("Z", "+00:00")).astimezone(dt.UTC)
        except ValueError:
            raise SignInRefused(_("The federation's metadata has an unreadable validUntil.")) from None
        if until.replace(tzinfo=None) < utcnow():
            raise SignInRefused(_("The federation's metadata has expired (validUntil). Please try again later."))
    with tempfile.TemporaryDirectory(prefix="saml-fed-") as folder:
        doc, cert = Path(folder) / "aggregate.xml", Path(folder) / "federation.crt"
        doc.write_text(xml)
        cert.write_text(cert_pem)
        checked = subprocess.run(  # noqa: S603 - fixed binary, our own file names
            [XMLSEC, "--verify", "--pubkey-cert-pem", str(cert), "--id-attr:ID",
             "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor", "--enabled-reference-uris", "empty,same-doc",
             str(doc)], capture_output=True, timeout=120, check=False)
    if checked.returncode != 0:
        raise SignInRefused(_("The federation's metadata is not signed by the certificate given for it."))
    return root


def federation_idps(url: str, cert_pem: str) -> list[tuple[str, str]]:
    """The IdPs in a federation's verified aggregate: (entity id, display name), by name (the discovery list)."""
    return _idps_of(verify_aggregate(fetch_metadata(url, max_bytes=MAX_AGGREGATE_BYTES), cert_pem))


def entity_from_aggregate(url: str, cert_pem: str, entity_id: str) -> str:
    """The EntityDescriptor of ``entity_id`` from the federation's verified aggregate, as its own document."""
    root = verify_aggregate(fetch_metadata(url, max_bytes=MAX_AGGREGATE_BYTES), cert_pem)
    for entity in root.iter(f"{{{MD}}}EntityDescriptor"):
        if entity.get("entityID") == entity_id:
            return ET.tostring(entity, encoding="unicode")
    raise SignInRefused(_("The federation's metadata has no IdP with the entity id %(e)s.", e=entity_id[:200]))


def _idps_of(root: Any) -> list[tuple[str, str]]:
    """(entity id, display name) of the IdPs in an aggregate, by name (German names first)."""
    found = []
    for entity in root.iter(f"{{{MD}}}EntityDescriptor"):
        idp = entity.find(f"{{{MD}}}IDPSSODescriptor")
        if idp is None or not entity.get("entityID"):
            continue
        names = [n for n in entity.iter() if n.tag.endswith(("}DisplayName", "}OrganizationDisplayName"))]
        label = next((n.text for n in names if n.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"), None) \
            or next((n.text for n in names if n.text), None) or entity.get("entityID")
        found.append((str(entity.get("entityID")), str(label).strip()[:200]))
    return sorted(found, key=lambda item: item[1].lower())


def discovery_list(provider: SamlProvider, query: str = "") -> list[tuple[str, str]]:
    """The IdPs a discovery connection offers (its stored, verified aggregate), filtered by display name or entity
    id containing ``query`` (case-insensitive)."""
    if not provider.discovery:
        raise NotFound()
    wanted = query.strip().casefold()
    return [(e, label) for e, label in _idps_of(parse_xml(provider.metadata_xml, False))
            if not wanted or wanted in label.casefold() or wanted in e.casefold()]


def idp_metadata(provider: SamlProvider, idp: str | None) -> tuple[str, str]:
    """The IdP a sign-in goes to and its metadata: the connection's own, or for a discovery connection the picked
    IdP's EntityDescriptor from the stored aggregate (verified when it was stored); SignInRefused if not in it."""
    if not provider.discovery:
        return provider.idp_entity_id, provider.metadata_xml
    for entity in parse_xml(provider.metadata_xml, False).iter(f"{{{MD}}}EntityDescriptor"):
        if idp and entity.get("entityID") == idp and entity.find(f"{{{MD}}}IDPSSODescriptor") is not None:
            return idp, ET.tostring(entity, encoding="unicode")
    raise SignInRefused(_("%(p)s has no IdP with the entity id %(e)s. Please pick your home organisation from the "
                          "list.", p=provider.name, e=(idp or "")[:200]))


def _new_key_pair(common_name: str) -> tuple[str, bytes, str]:
    """A fresh RSA key (sealed) and a self-signed certificate for our SP (10 years: metadata pins it)."""
    from storage.vault import keyring

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"aufsicht SAML SP {common_name}"[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    key_id, wrapped = keyring().wrap(pem)
    return key_id, wrapped, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclasses.dataclass(frozen=True)
class SpUrls:
    """Our endpoints for one IdP connection (the view layer builds them from its routes)."""

    entity_id: str
    acs: str
    slo: str


@contextlib.contextmanager
def _client(provider: SamlProvider, urls: SpUrls, metadata_xml: str | None = None) -> Iterator[Any]:
    """A pysaml2 client configured for this connection; the key lives in a private temporary folder meanwhile."""
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.config import Config

    from storage.vault import keyring

    with tempfile.TemporaryDirectory(prefix="saml-") as folder:
        key_file, cert_file = Path(folder) / "sp.key", Path(folder) / "sp.crt"
        key_file.touch(mode=0o600)
        key_file.write_bytes(keyring().unwrap(provider.key_id, provider.key_wrapped))
        cert_file.write_text(provider.cert_pem)
        conf = Config()
        conf.load({
            "entityid": urls.entity_id,
            "xmlsec_binary": XMLSEC,
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "encryption_keypairs": [{"key_file": str(key_file), "cert_file": str(cert_file)}],
            "metadata": {"inline": [metadata_xml or provider.metadata_xml]},
            "accepted_time_diff": CLOCK_LEEWAY,
            "allow_unknown_attributes": True,
            "service": {"sp": {
                "name": "aufsicht",
                "endpoints": {
                    "assertion_consumer_service": [(urls.acs, BINDING_HTTP_POST)],
                    "single_logout_service": [(urls.slo, BINDING_HTTP_REDIRECT)],
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "signing_algorithm": SIGN_ALG,
                "digest_algorithm": DIGEST_ALG,
                "name_id_format_allow_create": True,
            }},
        })
        yield Saml2Client(config=conf)


def sp_metadata(provider: SamlProvider, urls: SpUrls) -> str:
    """Our SP metadata for this connection: entity id, ACS, SLO, signing and encryption certificate."""
    from saml2.metadata import create_metadata_string

    with _client(provider, urls) as client:
        return create_metadata_string(None, config=client.config, valid=None).decode()


# ------------------------------------------------------------------------------------------- the flow


@dataclasses.dataclass(frozen=True)
class SignIn:
    """A completed sign-in through an IdP."""

    user: User
    provider: SamlProvider
    created: bool
    name_id: str  # for the logout request
    name_id_format: str
    session_index: str | None
    second_factor_at_provider: bool
    next_url: str | None
    issuer: str = ""  # the IdP's entity id (a discovery connection's picked IdP)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def begin_sign_in(provider: SamlProvider, urls: SpUrls, next_url: str | None,
                  idp: str | None = None) -> tuple[str, str]:
    """The IdP's URL with our signed AuthnRequest (HTTP-Redirect binding), and the browser token for the cookie;
    ``idp``: the IdP picked from a discovery connection's list."""
    from saml2 import BINDING_HTTP_REDIRECT

    token = secrets.token_urlsafe(32)
    issuer, metadata_xml = idp_metadata(provider, idp)
    with _client(provider, urls, metadata_xml) as client:
        request_id, info = client.prepare_for_authenticate(entityid=issuer,
                                                           binding=BINDING_HTTP_REDIRECT, relay_state="",
                                                           sign=True, sigalg=SIGN_ALG, digest_alg=DIGEST_ALG)
    url = dict(info["headers"])["Location"]
    cutoff = utcnow() - dt.timedelta(seconds=PENDING_SECONDS)
    db.session.execute(delete(SamlRequest).where(SamlRequest.created_at < cutoff))
    db.session.add(SamlRequest(id=request_id, provider_id=provider.id, browser=_hash(token), next_url=next_url,
                               idp_entity_id=issuer if provider.discovery else None))
    db.session.commit()
    return url, token


def _in_response_to(root: Any) -> str:
    value = root.get("InResponseTo") or ""
    if not value:
        raise SignInRefused(_("Sign-in refused: the response does not answer a sign-in started here (unsolicited "
                              "responses are not accepted). Please start again from the login page."))
    return str(value)


def finish_sign_in(provider_id: int, saml_response: str, browser_token: str | None, urls: SpUrls,
                   ip: str) -> SignIn:
    """Check the IdP's HTTP-POST response, then find or make the account; every refusal is audited."""
    provider = get_provider(provider_id, enabled_only=True)
    picked: list[str] = []  # the IdP of the request it answers (a discovery connection's), once known
    try:
        return _finish(provider, saml_response, browser_token, urls, ip, picked)
    except SignInRefused as err:
        _audit(provider, None, "", ip, False, err.message[:200], picked[0] if picked else None)
        raise


def _finish(provider: SamlProvider, saml_response: str, browser_token: str | None, urls: SpUrls, ip: str,
            picked: list[str]) -> SignIn:
    from saml2 import BINDING_HTTP_POST

    try:
        raw = base64.b64decode(saml_response, validate=False)
    except ValueError:
        raise SignInRefused(_("Sign-in refused: the SAML response is not base64.")) from None
    if not raw or len(raw) > MAX_RESPONSE_BYTES:
        raise SignInRefused(_("Sign-in refused: the SAML response is empty or too large."))
    root = parse_xml(raw, True)
    request_id = _in_response_to(root)
    pending = db.session.get(SamlRequest, request_id)
    if pending is None or pending.provider_id != provider.id \
            or pending.created_at < utcnow() - dt.timedelta(seconds=PENDING_SECONDS):
        raise SignInRefused(_("This sign-in has expired or was already used. Please start again from the login "
                              "page."))
    if not browser_token or not secrets.compare_digest(pending.browser, _hash(browser_token)):
        raise SignInRefused(_("This sign-in was started in another browser. Please start again from the login "
                              "page."))
    next_url = pending.next_url
    issuer, metadata_xml = idp_metadata(provider, pending.idp_entity_id)
    picked.append(issuer)
    db.session.delete(pending)  # good once, whatever the outcome
    db.session.commit()
    with _client(provider, urls, metadata_xml) as client:
        response = _parse(client, saml_response, request_id, BINDING_HTTP_POST)
    assertion = response.assertion
    if provider.want_encrypted and not getattr(response, "encrypted_assertion_ids", None) \
            and not root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedAssertion"):
        raise SignInRefused(_("Sign-in refused: the assertion was not encrypted, and this IdP connection requires "
                              "encrypted assertions."))
    if response.response.destination and response.response.destination != urls.acs:
        raise SignInRefused(_("Sign-in refused: the response was sent to another address (Destination)."))
    _once(issuer, str(assertion.id), response.not_on_or_after)
    attributes = {str(k): [str(v) for v in vs] for k, vs in (response.ava or {}).items()}
    subject = _subject(provider, attributes)
    if provider.discovery:  # one connection, many IdPs: the link is (IdP entity id, subject id)
        subject = f"{hashlib.sha256(issuer.encode()).hexdigest()[:32]}:{subject}"[:255]
    user, created = link_account(provider, subject, attributes)
    _audit(provider, user, user.email, ip, True, None, issuer)
    name_id = response.name_id
    statements = getattr(assertion, "authn_statement", None) or []
    result = SignIn(user=user, provider=provider, created=created,
                    name_id=str(getattr(name_id, "text", "") or "")[:500],
                    name_id_format=str(getattr(name_id, "format", "") or "")[:200],
                    session_index=statements[0].session_index if statements else None, next_url=next_url,
                    second_factor_at_provider=provider.second_factor_at_provider and not provider.discovery,
                    issuer=issuer)
    _remember_session(provider, result)
    return result


def _remember_session(provider: SamlProvider, result: SignIn) -> None:
    """Keep the sign-in's NameID and SessionIndex, so the IdP's single logout can name it (kept SESSION_DAYS)."""
    db.session.execute(delete(SamlSession).where(
        SamlSession.created_at < utcnow() - dt.timedelta(days=SESSION_DAYS)))
    db.session.add(SamlSession(provider_id=provider.id, user_id=result.user.id, issuer=result.issuer[:500],
                               name_id=result.name_id, session_index=(result.session_index or None) and
                               str(result.session_index)[:255]))
    db.session.commit()


def _parse(client: Any, saml_response: str, request_id: str, binding: str) -> Any:
    """pysaml2's checks (signature, audience, recipient, InResponseTo, validity), each failure said in words."""
    from saml2.response import (
        IncorrectlySigned,
        InvalidAssertion,
        StatusError,
        UnsolicitedResponse,
        VerificationError,
    )
    from saml2.sigver import SignatureError, SigverError
    from saml2.validate import NotValid, ResponseLifetimeExceed, ToEarly

    try:
        response = client.parse_authn_request_response(saml_response, binding, outstanding={request_id: "/"})
    except (IncorrectlySigned, SignatureError, SigverError):
        raise SignInRefused(_("Sign-in refused: the response is not signed by the IdP's key from its metadata."))\
            from None
    except ResponseLifetimeExceed:
        raise SignInRefused(_("Sign-in refused: the IdP's assertion has expired. Please sign in again.")) from None
    except ToEarly:
        raise SignInRefused(_("Sign-in refused: the IdP's assertion is not valid yet (check the clocks).")) from None
    except UnsolicitedResponse:
        raise SignInRefused(_("Sign-in refused: the response does not answer a sign-in started here.")) from None
    except StatusError as err:
        raise SignInRefused(_("The IdP refused the sign-in (%(e)s).", e=str(err)[:200])) from None
    except (VerificationError, InvalidAssertion, NotValid, ValueError, TypeError, KeyError, AttributeError) as err:
        raise SignInRefused(_explain(str(err))) from None
    except Exception as err:
        raise SignInRefused(_explain(str(err))) from None
    if response is None:
        raise SignInRefused(_("Sign-in refused: the response could not be read."))
    if response.assertion is None or (not getattr(response.assertion, "signature", None) \
            and not response.response.signature):
        raise SignInRefused(_("Sign-in refused: the response is not signed by the IdP's key from its metadata."))
    return response


def _explain(message: str) -> str:
    low = message.lower()
    if "number of assertions" in low:
        return _("Sign-in refused: the response carries more than one assertion (as signature wrapping attacks do).")
    if "audience" in low or "not for me" in low:
        return _("Sign-in refused: the assertion was not issued for aufsicht (wrong audience).")
    if "recipient" in low or "destination" in low:
        return _("Sign-in refused: the response was sent to another address (recipient).")
    if "signature" in low or "signed" in low:
        return _("Sign-in refused: the response is not signed by the IdP's key from its metadata.")
    if "expired" in low or "lifetime" in low or "too old" in low:
        return _("Sign-in refused: the IdP's assertion has expired. Please sign in again.")
    return _("Sign-in refused: the SAML response is malformed or fails a check (%(e)s).", e=message[:120])


def _once(issuer: str, assertion_id: str, not_on_or_after: Any) -> None:
    """Record the assertion's ID; a second use is a replay."""
    now = utcnow()
    try:
        expires = dt.datetime.fromtimestamp(int(not_on_or_after), dt.UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        expires = now + dt.timedelta(hours=1)
    expires = max(expires, now) + dt.timedelta(seconds=CLOCK_LEEWAY)
    db.session.execute(delete(SamlAssertionSeen).where(SamlAssertionSeen.expires_at < now))
    db.session.add(SamlAssertionSeen(issuer=issuer[:500], assertion_id=assertion_id[:255],
                                     expires_at=expires))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SignInRefused(_("Sign-in refused: this assertion was used before (replay). Please sign in again."))\
            from None


def _attribute(attributes: dict[str, list[str]], names: str) -> str:
    """The first value of the first attribute present, by friendly name or URI (``subject-id`` matches
    ``urn:oasis:names:tc:SAML:attribute:subject-id``)."""
    for name in names.split():
        for key, values in attributes.items():
            if (key == name or key.endswith(":" + name)) and values and values[0].strip():
                return values[0].strip()
    return ""


def _subject(provider: SamlProvider, attributes: dict[str, list[str]]) -> str:
    subject = _attribute(attributes, provider.attr_subject)
    if not subject:
        raise SignInRefused(_("%(p)s did not release a subject id (%(a)s). Please ask the IdP's operators to release "
                              "it to aufsicht.", p=provider.name, a=provider.attr_subject))
    return subject[:255]


def link_account(provider: SamlProvider, subject: str, attributes: dict[str, list[str]]) -> tuple[User, bool]:
    """The account for (IdP, subject id), or a new candidate account; never an existing account found by mail."""
    identity = db.session.scalar(select(SamlIdentity).where(SamlIdentity.provider_id == provider.id,
                                                            SamlIdentity.subject == subject))
    created = False
    if identity is not None:
        user = identity.user
    else:
        email = _attribute(attributes, provider.attr_email).lower()[:254]
        if not email:
            raise SignInRefused(_("%(p)s did not release a mail address. Please ask the IdP's operators to release "
                                  "the attribute mail to aufsicht.", p=provider.name))
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise SignInRefused(_("An account with the email address %(e)s exists already. Please log in with your "
                                  "password; %(p)s cannot open an existing account.", e=email, p=provider.name))
        first = _attribute(attributes, provider.attr_first_name)[:100]
        last = _attribute(attributes, provider.attr_last_name)[:100]
        name = f"{first} {last}".strip() or _attribute(attributes, "displayName cn")[:200] or email
        user = User(email=email, password_hash=NO_PASSWORD, role=Role.CANDIDATE, display_name=name[:200],
                    institution_id=provider.institution_id)
        db.session.add(user)
        db.session.flush()
        identity = SamlIdentity(provider_id=provider.id, subject=subject, user_id=user.id)
        db.session.add(identity)
        created = True
    if not user.active or user.erased_at is not None:
        db.session.rollback()
        raise SignInRefused(_("This account is locked. Please contact your exam office."))
    identity.last_login_at = utcnow()
    identity.sign_ins = (identity.sign_ins or 0) + 1
    user.last_active_at = utcnow()
    user.inactivity_notice_at = None
    db.session.commit()
    return user, created


def _audit(provider: SamlProvider, user: User | None, email: str, ip: str, success: bool, detail: str | None,
           issuer: str | None = None) -> None:
    """The login audit names the IdP by its entity id (the provider column) and our name for it (the detail)."""
    db.session.rollback()
    entity_id = issuer or provider.idp_entity_id
    label = f"SAML {provider.name}: {entity_id}"
    db.session.add(LoginEvent(user_id=user.id if user else None, email=email[:254], ip=ip[:45], success=success,
                              detail=detail if detail else label[:500], provider=entity_id[:100]))
    db.session.commit()


def logout_url(provider_id: int, name_id: str, name_id_format: str, session_index: str | None,
               urls: SpUrls, issuer: str | None = None) -> str | None:
    """The IdP's single logout URL with our signed LogoutRequest (HTTP-Redirect), where it offers one."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID

    provider = db.session.get(SamlProvider, provider_id)
    if provider is None or not name_id:
        return None
    try:
        entity_id, metadata_xml = idp_metadata(provider, issuer)
    except SignInRefused:
        return None
    with _client(provider, urls, metadata_xml) as client:
        try:
            slo = client.metadata.single_logout_service(entity_id, BINDING_HTTP_REDIRECT, "idpsso")
        except Exception:
            return None
        if not slo:
            return None
        destination = slo[0]["location"]
        _req_id, request = client.create_logout_request(
            destination, entity_id,
            name_id=NameID(text=name_id, format=name_id_format or NAMEID_FORMAT_TRANSIENT),
            session_indexes=[session_index] if session_index else None, sign=False)
        info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, relay_state="", sign=True,
                                    sigalg=SIGN_ALG)
    return str(dict(info["headers"])["Location"])


# ------------------------------------------------------------------------------------------- single logout from the IdP


@dataclasses.dataclass(frozen=True)
class LogoutAnswered:
    """The IdP's LogoutRequest was accepted: the accounts whose sessions ended, and where the browser goes next."""

    user_ids: list[int]
    redirect_url: str | None  # the IdP's single logout URL with our signed LogoutResponse (None: it has none)


def _raw_query(query_string: bytes) -> dict[str, str]:
    """The query's parameters as sent (still URL-encoded): the HTTP-Redirect signature covers those bytes."""
    params: dict[str, str] = {}
    for part in query_string.decode("ascii", "replace").split("&"):
        name, _sep, value = part.partition("=")
        params.setdefault(name, value)
    return params


def _signing_keys(metadata_xml: str) -> list[Any]:
    """The public keys of the IdP's signing certificates in its metadata (KeyDescriptor use="signing" or unset)."""
    root = parse_xml(metadata_xml, False)
    keys = []
    for descriptor in root.iter(f"{{{MD}}}IDPSSODescriptor"):
        for key in descriptor.findall(f"{{{MD}}}KeyDescriptor"):
            if key.get("use", "signing") != "signing":
                continue
            for cert in key.iter(f"{{{DS}}}X509Certificate"):
                try:
                    der = base64.b64decode("".join((cert.text or "").split()))
                    keys.append(x509.load_der_x509_certificate(der).public_key())
                except ValueError:
                    continue
    return keys


def _verify_redirect(metadata_xml: str, params: dict[str, str]) -> None:
    """The HTTP-Redirect binding's signature over SAMLRequest, RelayState and SigAlg, by a key from the metadata."""
    from urllib.parse import unquote_plus

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    if not params.get("Signature") or not params.get("SigAlg"):
        raise SignInRefused(_("Logout refused: the IdP's logout request is not signed. Nothing was ended."))
    algorithm = REDIRECT_SIG_HASHES.get(unquote_plus(params["SigAlg"]))
    if algorithm is None:
        raise SignInRefused(_("Logout refused: the IdP's logout request is signed with an algorithm aufsicht does "
                              "not accept (RSA with SHA-256 or stronger). Nothing was ended."))
    signed = "&".join(f"{k}={params[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg") if k in params).encode()
    try:
        signature = base64.b64decode(unquote_plus(params["Signature"]), validate=False)
    except ValueError:
        signature = b""
    for key in _signing_keys(metadata_xml):
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm())
            return
        except InvalidSignature:
            continue
    raise SignInRefused(_("Logout refused: the IdP's logout request is not signed by the IdP's key from its "
                          "metadata. Nothing was ended."))


def _instant_of(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)
    except ValueError:
        raise SignInRefused(_("Logout refused: the IdP's logout request has an unreadable time. Nothing was "
                              "ended.")) from None


def answer_logout_request(provider_id: int, query_string: bytes, urls: SpUrls) -> LogoutAnswered:
    """Check the IdP's LogoutRequest (HTTP-Redirect: signature, issuer, destination, age, good once), end the
    sessions of the sign-ins it names (NameID, SessionIndex) and make our signed LogoutResponse.

    Every check comes before anything is ended: a refused request ends nothing (SignInRefused says why).
    """
    import zlib
    from urllib.parse import unquote_plus

    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.samlp import logout_request_from_string

    provider = get_provider(provider_id)
    params = _raw_query(query_string)
    if not params.get("Signature") or not params.get("SigAlg"):  # before reading anything of it
        raise SignInRefused(_("Logout refused: the IdP's logout request is not signed. Nothing was ended."))
    try:
        raw = zlib.decompressobj(-15).decompress(base64.b64decode(unquote_plus(params["SAMLRequest"])),
                                                 MAX_RESPONSE_BYTES)
    except (ValueError, zlib.error):
        raise SignInRefused(_("Logout refused: the IdP's logout request cannot be read. Nothing was ended.")) \
            from None
    root = parse_xml(raw, True)
    proto, assertion_ns = "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:2.0:assertion"
    issuer = root.findtext(f"{{{assertion_ns}}}Issuer", "").strip()
    name_id = root.findtext(f"{{{assertion_ns}}}NameID", "").strip()
    request_id = root.get("ID", "")
    if root.tag != f"{{{proto}}}LogoutRequest" or not request_id or not name_id:
        raise SignInRefused(_("Logout refused: this is not a logout request. Nothing was ended."))
    try:
        entity_id, metadata_xml = idp_metadata(provider, issuer)
    except SignInRefused:
        entity_id, metadata_xml = "", ""
    if not entity_id or issuer != entity_id:
        raise SignInRefused(_("Logout refused: the logout request comes from another IdP. Nothing was ended."))
    _verify_redirect(metadata_xml, params)
    if root.get("Destination") and root.get("Destination") != urls.slo:
        raise SignInRefused(_("Logout refused: the logout request was sent to another address (Destination). "
                              "Nothing was ended."))
    now, leeway = utcnow(), dt.timedelta(seconds=CLOCK_LEEWAY)
    issued, until = _instant_of(root.get("IssueInstant")), _instant_of(root.get("NotOnOrAfter"))
    if issued is None or issued > now + leeway or issued < now - leeway - dt.timedelta(seconds=LOGOUT_MAX_AGE) \
            or (until is not None and until < now - leeway):
        raise SignInRefused(_("Logout refused: the IdP's logout request has expired. Nothing was ended."))
    db.session.add(SamlAssertionSeen(issuer=issuer[:500], assertion_id=("logout:" + request_id)[:255],
                                     expires_at=now + leeway * 2 + dt.timedelta(seconds=LOGOUT_MAX_AGE)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SignInRefused(_("Logout refused: this logout request was used before (replay). Nothing was "
                              "ended.")) from None
    indexes = [(e.text or "").strip() for e in root.findall(f"{{{proto}}}SessionIndex")]
    query = select(SamlSession).where(SamlSession.provider_id == provider.id, SamlSession.issuer == issuer,
                                      SamlSession.name_id == name_id, SamlSession.ended_at.is_(None))
    if indexes:
        query = query.where(SamlSession.session_index.in_(indexes))
    ended: list[int] = []
    for signed_in in db.session.scalars(query):
        signed_in.ended_at = now
        if signed_in.user_id not in ended:
            signed_in.user.session_version += 1  # as our own logout: every session of the account ends
            ended.append(signed_in.user_id)
    db.session.commit()
    log.info("SAML single logout from %s ended the sessions of %d account(s)", issuer, len(ended))
    relay_state = unquote_plus(params["RelayState"]) if "RelayState" in params else ""
    with _client(provider, urls, metadata_xml) as client:
        try:
            request = logout_request_from_string(raw.decode("utf-8", "replace"))
            response = client.create_logout_response(request, bindings=[BINDING_HTTP_REDIRECT], sign=False)
            info = client.apply_binding(BINDING_HTTP_REDIRECT, str(response), response.destination, relay_state,
                                        response=True, sign=True, sigalg=SIGN_ALG)
        except Exception as err:  # no single logout by redirect in the metadata: the sessions ended all the same
            log.warning("SAML single logout from %s: no LogoutResponse sent (%s)", issuer, str(err)[:200])
            return LogoutAnswered(user_ids=ended, redirect_url=None)
    return LogoutAnswered(user_ids=ended, redirect_url=str(dict(info["headers"])["Location"]))
