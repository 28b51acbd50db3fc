"""The LTI 1.3 core: platform registrations, the tool's key, the OIDC third-party login and the launch.

Safety rule: a launch is believed only when its ID token is signed by a key the registered platform publishes,
names that platform as issuer and our client id as audience, comes from a registered deployment, is fresh, and
carries the nonce of a login initiation that this browser started here (``state`` and ``nonce`` travel in a
cookie we signed; nothing is written before the platform's signed launch comes back) and that was not used
before (then its state and nonce are kept in the database). An account is found by the pair (platform,
``sub``) only; an email address from a platform never opens an existing account.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from accounts.models import Institution, LoginEvent, Role, User
from accounts.oidc import NO_PASSWORD
from exams.models import Enrolment, Exam
from kernel import egress
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError, NotFound, ValidationFailed
from lti.models import LtiEnrolment, LtiIdentity, LtiLink, LtiLoginState, LtiPlatform

KEYS_TTL = 600  # a platform's key set is fetched again after this many seconds (and at once on an unknown kid)
CLOCK_LEEWAY = 60  # seconds of clock difference allowed on exp/iat
STATE_TTL = 600  # a login initiation must come back within this many seconds
STATE_COOKIE = "aufsicht_lti_state"
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest", "LtiStartProctoring", "LtiEndAssessment")
TEACHER_ROLES = ("Instructor", "Administrator", "ContentDeveloper")


class LaunchRefused(DomainError):
    """A login initiation or launch from a platform was not accepted (the message says why, in words)."""

    status = 400
    code = "launch_refused"


# ------------------------------------------------------------------------------------------- registrations


@dataclasses.dataclass(frozen=True)
class PlatformSettings:
    """What the exam office copies from the platform's tool registration."""

    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployment_ids: tuple[str, ...]


def _url(value: str, field: str, errors: dict[str, str]) -> str:
    value = value.strip()
    parts = urlsplit(value)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.netloc or (parts.scheme == "http" and not local):
        errors[field] = _("Please enter an https:// address.")
    return value


def clean_platform_settings(form: dict[str, str]) -> PlatformSettings:
    """Check the registration form; every field is required and URLs must be https (http only on loopback)."""
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()[:100]
    if not name:
        errors["name"] = _("Please enter a name.")
    issuer = _url(form.get("issuer", ""), "issuer", errors)
    client_id = form.get("client_id", "").strip()
    if not client_id or len(client_id) > 200:
        errors["client_id"] = _("Please enter the client ID the platform shows.")
    urls = {f: _url(form.get(f, ""), f, errors) for f in ("auth_login_url", "auth_token_url", "jwks_url")}
    deployments = tuple(d.strip() for d in form.get("deployment_ids", "").replace(",", "\n").splitlines()
                        if d.strip())
    if not deployments or any(len(d) > 255 for d in deployments):
        errors["deployment_ids"] = _("Please enter at least one deployment ID (one a line).")
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)
    return PlatformSettings(name=name, issuer=issuer, client_id=client_id, deployment_ids=deployments, **urls)


def save_platform(institution: Institution, settings: PlatformSettings,
                  platform: LtiPlatform | None = None) -> LtiPlatform:
    """Create or update a platform registration of ``institution``."""
    clash = db.session.scalar(select(LtiPlatform).where(LtiPlatform.issuer == settings.issuer,
                                                         LtiPlatform.client_id == settings.client_id))
    if clash is not None and clash is not platform:
        raise ValidationFailed(_("This platform and client ID are registered already."),
                               fields={"client_id": _("This platform and client ID are registered already.")})
    if platform is None:
        platform = LtiPlatform(institution_id=institution.id)
        db.session.add(platform)
    for field in ("name", "issuer", "client_id", "auth_login_url", "auth_token_url", "jwks_url"):
        setattr(platform, field, getattr(settings, field))
    platform.deployment_ids = list(settings.deployment_ids)
    db.session.commit()
    _KEYS.pop(platform.jwks_url, None)
    return platform


def platforms_of(institution_id: int) -> list[LtiPlatform]:
    """The platforms an institution registered, by name."""
    return list(db.session.scalars(select(LtiPlatform).where(LtiPlatform.institution_id == institution_id)
                                   .order_by(LtiPlatform.name)))


def get_platform(platform_id: int, *, institution_id: int | None = None) -> LtiPlatform:
    """One registration (404 for another institution's)."""
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is None or (institution_id is not None and platform.institution_id != institution_id):
        raise NotFound()
    return platform


def delete_platform(platform: LtiPlatform) -> None:
    """Remove a registration (its links, enrolments and proctoring records go with it; accounts stay)."""
    db.session.delete(platform)
    db.session.commit()


# ------------------------------------------------------------------------------------------- the tool's key


#: Where the key ring is kept when ``LTI_TOOL_KEYS`` is not configured (one host, or a shared instance folder).
KEYS_FILE = "lti-tool-keys.json"
_OLD_KEY_FILE = "lti-tool-key.json"  # the single key of earlier versions: taken into the ring as it is
_key_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ToolKeys:
    """The tool's RSA keys: the active one signs; every one is published (the previous one verifies what was
    signed before a rotation until the platforms have fetched the new key set)."""

    active: RSAKey
    keys: tuple[RSAKey, ...]


def _rsa(kid: str, pem: str) -> RSAKey:
    key = RSAKey.import_key(pem, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    if not key.is_private:
        raise ValueError(f"LTI tool key {kid!r} is not a private key")
    return key


def _pem(key: RSAKey) -> str:
    return key.as_pem(private=True).decode()


def _configured_ring() -> dict[str, Any] | None:
    """``LTI_TOOL_KEYS`` (``{"active": kid, "keys": {kid: RSA private key PEM}}``), the same on every web host."""
    configured = current_app.config.get("LTI_TOOL_KEYS")
    if not configured:
        return None
    doc = json.loads(configured) if isinstance(configured, str) else configured
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or doc.get("active") not in doc["keys"]:
        raise ValueError('LTI_TOOL_KEYS must be {"active": kid, "keys": {kid: PEM}} naming its active key')
    return doc


def _write_ring(path: Path, doc: dict[str, Any], *, new: bool) -> bool:
    """Write the ring with mode 0600 (``new``: only if no other process made it first); False if one did."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    if new:
        try:
            os.link(tmp, path)  # fails if the ring exists: never overwrite another process's key
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True
    os.replace(tmp, path)
    return True


def _instance_ring() -> dict[str, Any]:
    """The ring in the instance folder, made on first use (from the single key of earlier versions if any)."""
    base = Path(current_app.instance_path)
    path = base / KEYS_FILE
    with _key_lock:
        if not path.exists():
            base.mkdir(parents=True, exist_ok=True)
            old = base / _OLD_KEY_FILE
            if old.exists():
                key = RSAKey.import_key(json.loads(old.read_text()))
            else:
                key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
            kid = key.kid or key.thumbprint()
            _write_ring(path, {"active": kid, "keys": {kid: _pem(key)}}, new=True)
        doc: dict[str, Any] = json.loads(path.read_text())
    return doc


_RINGS: dict[str, ToolKeys] = {}  # parsed rings by their text: RSA keys are slow to load


def tool_keys() -> ToolKeys:
    """The tool's key ring: ``LTI_TOOL_KEYS`` when configured, else ``instance/lti-tool-keys.json``."""
    doc = _configured_ring() or _instance_ring()
    text = json.dumps(doc, sort_keys=True)
    ring = _RINGS.get(text)
    if ring is None:
        keys = tuple(_rsa(str(kid), str(pem)) for kid, pem in doc["keys"].items())
        ring = ToolKeys(active=next(k for k in keys if k.kid == doc["active"]), keys=keys)
        if len(_RINGS) > 16:
            _RINGS.clear()
        _RINGS[text] = ring
    return ring


def tool_key() -> RSAKey:
    """The tool's active signing key."""
    return tool_keys().active


def rotate_tool_key() -> str:
    """Make a new key active in the instance folder's ring, keep the previous one published, drop older ones;
    returns the new kid. Configured keys (``LTI_TOOL_KEYS``) are rotated in the configuration instead."""
    if _configured_ring() is not None:
        raise Conflict("The tool's keys come from AUFSICHT_LTI_TOOL_KEYS: rotate them there.")
    doc = _instance_ring()
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    kid = key.thumbprint()
    previous = doc["active"]
    doc = {"active": kid, "keys": {previous: doc["keys"][previous], kid: _pem(key)}}
    with _key_lock:
        _write_ring(Path(current_app.instance_path) / KEYS_FILE, doc, new=False)
    return kid


def tool_jwks() -> dict[str, Any]:
    """The tool's public key set, the active key and the previous one (the platform checks deep linking
    answers and token requests with it)."""
    published = []
    for key in tool_keys().keys:
        public: dict[str, Any] = dict(key.as_dict(private=False))
        public.update({"kid": key.kid, "use": "sig", "alg": "RS256"})
        published.append(public)
    return {"keys": published}


def sign(claims: dict[str, Any]) -> str:
    """A JWT signed with the tool's key (RS256, with its key id)."""
    key = tool_key()
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


# ------------------------------------------------------------------------------------------- platform keys


_KEYS: dict[str, tuple[float, KeySet]] = {}


def _get_json(url: str, **kwargs: Any) -> Any:
    try:  # through the egress policy: https, public addresses (or the operator's allow-list), no redirects
        response = egress.fetch("GET", url, **kwargs)
        response.raise_for_status()
        return response.json()
    except (egress.EgressError, ValueError) as err:
        detail = err.detail if isinstance(err, egress.EgressError) else _("not JSON")
        raise LaunchRefused(_("The learning platform could not be reached (%(u)s: %(e)s). Please try again later.",
                              u=urlsplit(url).netloc, e=detail)) from err


def platform_keys(platform: LtiPlatform, *, force: bool = False) -> KeySet:
    """The platform's published public keys, cached for a while."""
    cached = _KEYS.get(platform.jwks_url)
    if cached and not force and time.monotonic() - cached[0] < KEYS_TTL:
        return cached[1]
    doc = _get_json(platform.jwks_url)
    try:
        keys = KeySet.import_key_set({"keys": [k for k in doc.get("keys", []) if k.get("use", "sig") == "sig"]})
    except (JoseError, ValueError, TypeError, AttributeError) as err:
        raise LaunchRefused(_("The learning platform publishes no usable keys.")) from err
    _KEYS[platform.jwks_url] = (time.monotonic(), keys)
    return keys


def decode_platform_jwt(platform: LtiPlatform, raw: str) -> dict[str, Any]:
    """Check a JWT the platform signed (signature, algorithm, issuer, audience, expiry) and return its claims."""
    if not raw or raw.count(".") != 2:
        raise LaunchRefused(_("The learning platform sent no valid launch (the token is missing)."))
    try:
        try:
            token = jwt.decode(raw, platform_keys(platform), algorithms=list(_ALGORITHMS))
        except (InvalidKeyIdError, ValueError):  # a new key at the platform: fetch once more
            token = jwt.decode(raw, platform_keys(platform, force=True), algorithms=list(_ALGORITHMS))
    except (BadSignatureError, InvalidKeyIdError) as err:
        raise LaunchRefused(_("The launch is not signed by %(p)s. It was refused.", p=platform.name)) from err
    except (JoseError, ValueError) as err:
        raise LaunchRefused(_("The launch could not be read. It was refused.")) from err
    claims = dict(token.claims)
    if claims.get("iss") != platform.issuer:
        raise LaunchRefused(_("The launch names another platform as its issuer. It was refused."))
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if platform.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != platform.client_id):
        raise LaunchRefused(_("The launch is meant for another tool. It was refused."))
    now = int(time.time())
    try:
        exp, iat = int(claims["exp"]), int(claims.get("iat", now))
    except (KeyError, TypeError, ValueError) as err:
        raise LaunchRefused(_("The launch has no expiry time. It was refused.")) from err
    if exp < now - CLOCK_LEEWAY:
        raise LaunchRefused(_("The launch has expired. Please open it again from the course."))
    if iat > now + CLOCK_LEEWAY:
        raise LaunchRefused(_("The launch was issued in the future. Please check the platform's clock."))
    return claims


# ------------------------------------------------------------------------------------------- login initiation


#: The longest ``login_hint`` / ``lti_message_hint`` passed on to the platform (Moodle's and Open edX's are short).
MAX_HINT = 2048
_STATE_SALT = "aufsicht-lti-login-state"


def _state_signer() -> URLSafeTimedSerializer:
    """Signs the login in flight into the browser's cookie: nothing is stored until a signed launch comes back."""
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=_STATE_SALT)


def begin_login(params: dict[str, str], redirect_uri: str) -> tuple[str, str]:
    """Answer a third-party login initiation: the authorization URL registered for the platform that names
    itself (``iss``, and ``client_id`` where it has several registrations), and the cookie that carries the
    login (``state``, ``nonce``, platform, signed by us).

    Nothing is written here: anyone can call this, and a row per call would let anyone fill the database. The
    login is kept in the browser's cookie, signed, and recorded as used once the platform's signed launch
    comes back (``finish_launch``). A ``lti_deployment_id`` the platform gives must be registered.
    """
    issuer, client_id = params.get("iss", ""), params.get("client_id", "")
    if not issuer or not params.get("login_hint") or not params.get("target_link_uri"):
        raise LaunchRefused(_("The learning platform's login request is incomplete (iss, login_hint, "
                              "target_link_uri)."))
    if any(len(params.get(k) or "") > MAX_HINT for k in ("iss", "client_id", "login_hint", "lti_message_hint",
                                                          "target_link_uri", "lti_deployment_id")):
        raise LaunchRefused(_("The learning platform's login request is too long."))
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.enabled.is_(True))
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(db.session.scalars(query))
    if len(found) != 1:
        raise LaunchRefused(_("This learning platform is not registered with aufsicht (issuer %(i)s). Please ask "
                              "your exam office to register it.", i=issuer[:200]) if not found else
                            _("Several registrations match; the platform must send its client_id."))
    platform = found[0]
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in platform.deployment_ids:
        raise LaunchRefused(_("This deployment of the tool is not registered (deployment %(d)s).", d=deployment[:100]))
    target = params["target_link_uri"]
    if urlsplit(target).netloc != urlsplit(redirect_uri).netloc:
        raise LaunchRefused(_("The launch points at another address than this tool's."))
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    cookie = _state_signer().dumps({"s": state, "n": nonce, "p": platform.id, "t": target[:500]})
    auth = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
            "client_id": platform.client_id, "redirect_uri": redirect_uri, "login_hint": params["login_hint"],
            "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        auth["lti_message_hint"] = params["lti_message_hint"]
    # only ever the authorization URL registered for this issuer (and client id), never one the request names
    sep = "&" if urlsplit(platform.auth_login_url).query else "?"
    return platform.auth_login_url + sep + urlencode(auth), cookie


@dataclasses.dataclass
class Launch:
    """A checked launch: the platform, the message type and every claim."""

    platform: LtiPlatform
    message_type: str
    claims: dict[str, Any]

    @property
    def deployment_id(self) -> str:
        """The deployment the launch came from."""
        return str(self.claims[LTI + "deployment_id"])

    @property
    def subject(self) -> str:
        """The platform's id of the person."""
        return str(self.claims.get("sub") or "")

    @property
    def roles(self) -> list[str]:
        """The person's role URIs in the context."""
        roles = self.claims.get(LTI + "roles") or []
        return [str(r) for r in roles] if isinstance(roles, list) else []

    @property
    def is_teacher(self) -> bool:
        """Whether the person teaches or administers the course (may pick an exam, never takes one)."""
        return any(r.rsplit("#", 1)[-1] in TEACHER_ROLES for r in self.roles)

    def claim(self, name: str, default: Any = None) -> Any:
        """An LTI core claim by its short name (``resource_link``, ``context``, ``custom`` ...)."""
        return self.claims.get(LTI + name, default)


def _login_in_flight(state: str, cookie: str | None) -> dict[str, Any]:
    """The login this browser started (from its signed cookie) if ``state`` is its state and it is fresh."""
    if not state or not cookie:
        raise LaunchRefused(_("This launch was started in another browser. Please open it again from the course."))
    try:
        started = _state_signer().loads(cookie, max_age=STATE_TTL)
    except SignatureExpired:
        raise LaunchRefused(_("The launch took too long. Please open it again from the course.")) from None
    except BadSignature:
        raise LaunchRefused(_("This launch is unknown or was used already. Please open it again from the course.")
                            ) from None
    if not isinstance(started, dict) or started.get("s") != state:
        raise LaunchRefused(_("This launch was started in another browser. Please open it again from the course."))
    return started


def _use_login(started: dict[str, Any], platform: LtiPlatform) -> None:
    """Record the login as used (once: a second launch with its state or nonce is refused). Called only for a
    launch the platform signed, so no one can write rows here without the platform's key."""
    now = utcnow()
    db.session.execute(delete(LtiLoginState).where(
        LtiLoginState.created_at < now - dt.timedelta(seconds=STATE_TTL * 6)))
    db.session.add(LtiLoginState(state=str(started["s"]), platform_id=platform.id, nonce=str(started["n"]),
                                 target_link_uri=str(started.get("t") or "")[:500], created_at=now, used_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise LaunchRefused(_("This launch is unknown or was used already. Please open it again from the course.")
                            ) from None


def finish_launch(form: dict[str, str], cookie: str | None) -> Launch:
    """Check the launch the platform posted (``id_token`` and ``state``) against the login this browser started
    (its signed cookie) and return it."""
    if form.get("error"):
        raise LaunchRefused(_("The learning platform refused the login: %(e)s",
                              e=(form.get("error_description") or form["error"])[:200]))
    started = _login_in_flight(form.get("state", ""), cookie)
    if db.session.get(LtiLoginState, started["s"]) is not None:
        raise LaunchRefused(_("This launch is unknown or was used already. Please open it again from the course."))
    platform = db.session.get(LtiPlatform, started.get("p"))
    if platform is None or not platform.enabled:
        raise LaunchRefused(_("This learning platform is no longer registered."))
    claims = decode_platform_jwt(platform, form.get("id_token", ""))
    if claims.get("nonce") != started.get("n"):
        raise LaunchRefused(_("The launch does not belong to this login (nonce). It was refused."))
    _use_login(started, platform)  # used once, even if the checks below fail
    if claims.get(LTI + "version") != "1.3.0":
        raise LaunchRefused(_("Only LTI 1.3 launches are accepted."))
    message_type = str(claims.get(LTI + "message_type") or "")
    if message_type not in MESSAGE_TYPES:
        raise LaunchRefused(_("This kind of launch (%(t)s) is not supported.", t=message_type[:60]))
    if str(claims.get(LTI + "deployment_id") or "") not in platform.deployment_ids:
        raise LaunchRefused(_("This deployment of the tool is not registered."))
    if message_type != "LtiDeepLinkingRequest" and not isinstance(claims.get(LTI + "resource_link"), dict):
        raise LaunchRefused(_("The launch names no resource link."))
    if not claims.get("sub"):
        raise LaunchRefused(_("The launch names no person (anonymous launches are not supported)."))
    return Launch(platform=platform, message_type=message_type, claims=claims)


# ------------------------------------------------------------------------------------------- accounts and links


def _new_email(claims: dict[str, Any], platform: LtiPlatform, subject: str) -> str:
    """The platform's address where no account has it; otherwise a placeholder that reaches no one."""
    email = str(claims.get("email") or "").strip().lower()[:254]
    if email and "@" in email and db.session.scalar(select(User.id).where(User.email == email)) is None:
        return email
    digest = secrets.token_hex(6)
    return f"lti-{platform.id}-{digest}@lti.invalid"


def candidate_for(platform: LtiPlatform, subject: str, claims: dict[str, Any]) -> User:
    """The candidate account for (platform, sub): found, or made (never linked by an email address)."""
    identity = db.session.scalar(select(LtiIdentity).where(LtiIdentity.platform_id == platform.id,
                                                           LtiIdentity.subject == subject[:255]))
    if identity is None:
        name = (str(claims.get("name") or "").strip()
                or f"{claims.get('given_name') or ''} {claims.get('family_name') or ''}".strip()
                or _("Participant"))
        user = User(email=_new_email(claims, platform, subject), password_hash=NO_PASSWORD, role=Role.CANDIDATE,
                    display_name=name[:200], institution_id=platform.institution_id)
        db.session.add(user)
        db.session.flush()
        identity = LtiIdentity(platform_id=platform.id, subject=subject[:255], user_id=user.id, user=user)
        db.session.add(identity)
    else:
        user = identity.user
    if user.role != Role.CANDIDATE or user.institution_id != platform.institution_id:
        raise LaunchRefused(_("This account cannot take exams through the learning platform."))
    if not user.active or user.erased_at is not None:
        raise LaunchRefused(_("This account is locked. Please contact your exam office."))
    identity.last_launch_at = utcnow()
    user.last_active_at = utcnow()
    return user


def exam_of_platform(platform: LtiPlatform, exam_id: Any) -> Exam:
    """An exam of the platform's institution (404 otherwise)."""
    try:
        exam = db.session.get(Exam, int(exam_id))
    except (TypeError, ValueError):
        exam = None
    if exam is None or exam.institution_id != platform.institution_id:
        raise NotFound(_("This exam does not exist (any more)."))
    return exam


def link_for(launch: Launch) -> LtiLink:
    """The link of the launch's resource link, made on its first launch from the exam the teacher picked.

    The picked exam travels as the custom parameter ``aufsicht_exam`` of the deep linking answer; the link
    then keeps the service URLs (roster, grade column) of the latest launch.
    """
    resource = launch.claim("resource_link") or {}
    resource_id = str(resource.get("id") or "")[:255]
    link = db.session.scalar(select(LtiLink).where(LtiLink.platform_id == launch.platform.id,
                                                   LtiLink.resource_link_id == resource_id))
    if link is None:
        custom = launch.claim("custom") or {}
        if not isinstance(custom, dict) or not custom.get("aufsicht_exam"):
            raise LaunchRefused(_("No exam is chosen for this course item yet. Please ask your teacher to pick "
                                  "one (deep linking)."))
        exam = exam_of_platform(launch.platform, custom["aufsicht_exam"])
        link = LtiLink(platform_id=launch.platform.id, exam_id=exam.id, resource_link_id=resource_id,
                       deployment_id=launch.deployment_id)
        db.session.add(link)
    context = launch.claim("context") or {}
    if isinstance(context, dict):
        link.context_id = str(context.get("id") or "")[:255] or link.context_id
        link.context_title = str(context.get("title") or "")[:255] or link.context_title
    nrps = launch.claims.get(NRPS_CLAIM) or {}
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        link.memberships_url = str(nrps["context_memberships_url"])[:500]
    ags = launch.claims.get(AGS_ENDPOINT) or {}
    if isinstance(ags, dict):
        link.lineitems_url = str(ags.get("lineitems") or "")[:500] or link.lineitems_url
        link.lineitem_url = str(ags.get("lineitem") or "")[:500] or link.lineitem_url
        link.ags_scopes = [str(s) for s in ags.get("scope") or []] or link.ags_scopes
    db.session.flush()
    return link


def enrol(link: LtiLink, user: User, subject: str, source: str) -> LtiEnrolment:
    """Record that ``user`` takes the link's exam (idempotent), and put them on the exam's roster: only enrolled
    candidates open the exam's pages, its identity check and system check among them (no mail: the platform told
    them already)."""
    enrolment = db.session.scalar(select(LtiEnrolment).where(LtiEnrolment.link_id == link.id,
                                                             LtiEnrolment.user_id == user.id))
    if enrolment is None:
        enrolment = LtiEnrolment(link_id=link.id, user_id=user.id, subject=subject[:255], source=source)
        db.session.add(enrolment)
        db.session.flush()
    if db.session.scalar(select(Enrolment.id).where(Enrolment.exam_id == link.exam_id,
                                                    Enrolment.user_id == user.id)) is None:
        db.session.add(Enrolment(exam_id=link.exam_id, user_id=user.id, attempts_allowed=1, enrolled_at=utcnow()))
        db.session.flush()
    return enrolment


def resource_launch(launch: Launch) -> tuple[User | None, LtiLink]:
    """A student's launch: their account and enrolment (None for a teacher, who is not logged in)."""
    link = link_for(launch)
    if launch.is_teacher:
        db.session.commit()
        return None, link
    user = candidate_for(launch.platform, launch.subject, launch.claims)
    enrol(link, user, launch.subject, "launch")
    db.session.commit()
    return user, link


def links_of(institution_id: int) -> list[LtiLink]:
    """Every course link of an institution's platforms, newest first."""
    return list(db.session.scalars(select(LtiLink).join(LtiPlatform).where(
        LtiPlatform.institution_id == institution_id).order_by(LtiLink.created_at.desc())))


def get_link(link_id: int, *, institution_id: int) -> LtiLink:
    """One link of the institution (404 for another's)."""
    link = db.session.get(LtiLink, link_id)
    if link is None or link.platform.institution_id != institution_id:
        raise NotFound()
    return link


def record_login(platform: LtiPlatform, user: User, ip: str) -> None:
    """The login audit entry of a launch that logs a candidate in (the platform's name as the provider)."""
    db.session.add(LoginEvent(user_id=user.id, email=user.email, ip=ip[:45], success=True, detail="lti launch",
                              provider=platform.name[:100]))
    db.session.commit()
