"""Media grants: what a web worker allows a media engine to do for one call, signed with Ed25519.

A web worker signs a grant for each call it makes to an engine (``RemoteMedia``): one session, one
purpose, the attempt, user and institution it concerns, and an expiry a minute away. The engine checks
the signature with the public key only (an engine cannot sign grants for another engine) and takes
everything it acts on from the grant: a recording's owner (attempt, user, institution) is never read
from the request body. A grant is also bound to the one call it was
signed for: the engine it is meant for (``e``, the engine's base URL as web workers list it in
``MEDIA_ENGINES``; the engine knows its own as ``MEDIA_ENGINE_URL``), the SHA-256 of the request body
(``d``), and a random nonce (``n``) that the engine accepts once: a grant copied off the wire cannot be
sent again, nor to another engine, nor with another body (another SDP offer).

Purposes:

- ``record``: a candidate's stream, recorded as the grant's attempt, user and institution;
- ``check``: a stream that is not kept (system check, the check of an identity by a proctor);
- ``watch``: relay a session to the grant's viewer;
- ``snapshot``: the latest picture and live state of the grant's attempts;
- ``control``: state and hang-up of a session;
- ``probe``: is the engine alive, how full is it.

Format: ``base64url(JSON payload) "." base64url(signature)``, with version ``v`` 1.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kernel.errors import DomainError

PURPOSES = ("record", "check", "watch", "join", "liveness", "snapshot", "control", "probe")
#: How long a grant holds: one call, with room for clocks a little apart and a slow engine.
LIFETIME_SECONDS = 60
_MAX_TOKEN = 8192


class GrantRefused(DomainError):
    """The engine call's grant is missing, forged, expired or for something else (403)."""

    status = 403
    code = "grant_refused"


@dataclasses.dataclass(frozen=True)
class Grant:
    """What one engine call may do."""

    purpose: str
    session: str | None = None
    attempt: int | None = None
    user: int | None = None
    institution: int | None = None
    viewer: str | None = None
    attempts: tuple[int, ...] = ()
    expires: int = 0
    check: int | None = None  # the identity check whose liveness frames a "liveness" grant lets the engine take


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_key(seed: bytes) -> Ed25519PrivateKey:
    """The signing key from its 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(seed: bytes) -> str:
    """The public key of a seed, as base64 (what ``MEDIA_GRANT_PUBLIC_KEYS`` lists on engine hosts)."""
    raw = private_key(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_keys(texts: list[str]) -> list[Ed25519PublicKey]:
    """Public keys from base64 texts (several while a key is being replaced)."""
    return [Ed25519PublicKey.from_public_bytes(base64.b64decode(t)) for t in texts]


def body_digest(body: bytes) -> str:
    """The digest a grant carries of its request's body (base64url of SHA-256; an empty body for GET)."""
    return _b64(hashlib.sha256(body).digest())


def engine_name(url: str) -> str:
    """An engine's name in grants: its base URL without a trailing slash."""
    return url.strip().rstrip("/")


class ReplayGuard:
    """The nonces of the grants an engine accepted, kept until they expire: each grant is good for one call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._prune_at = 0.0

    def use(self, nonce: str, expires: int, now: float | None = None) -> None:
        """Accept ``nonce`` once; GrantRefused if it was accepted before."""
        now = time.time() if now is None else now
        with self._lock:
            if now >= self._prune_at:  # expired grants are refused anyway: their nonces can go
                self._seen = {n: x for n, x in self._seen.items() if x >= now}
                self._prune_at = now + 5
            if nonce in self._seen:
                raise GrantRefused("The media grant was used already.")
            self._seen[nonce] = expires


def sign(key: Ed25519PrivateKey, grant: Grant, *, engine: str, body: bytes = b"", now: float | None = None) -> str:
    """A signed grant for one call to ``engine`` with request body ``body``, usable once, that expires
    ``LIFETIME_SECONDS`` from ``now`` (unless ``grant.expires`` is set)."""
    if grant.purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {grant.purpose!r}")
    expires = grant.expires or int((time.time() if now is None else now) + LIFETIME_SECONDS)
    payload: dict[str, Any] = {"v": 1, "p": grant.purpose, "s": grant.session, "a": grant.attempt,
                               "u": grant.user, "i": grant.institution, "w": grant.viewer,
                               "as": list(grant.attempts), "x": expires, "c": grant.check,
                               "e": engine_name(engine), "d": body_digest(body), "n": secrets.token_urlsafe(16)}
    signed = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return signed + "." + _b64(key.sign(b"aufsicht-media-grant." + signed.encode()))


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise GrantRefused("The media grant is malformed.")
    return value


def check(keys: list[Ed25519PublicKey], token: str, *, purpose: str | tuple[str, ...], engine: str, body: bytes,
          replay: ReplayGuard, session: str | None = None, now: float | None = None) -> Grant:
    """The grant in ``token`` if one of ``keys`` signed it, it has not expired, it is for ``purpose`` (or one
    of several) and ``session`` (where given), for this ``engine`` and this request ``body``, and it was not
    used before (``replay`` remembers it now); else GrantRefused."""
    purposes = (purpose,) if isinstance(purpose, str) else purpose
    if not keys or not token or len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise GrantRefused("No valid media grant.")
    signed, _, sig = token.partition(".")
    try:
        signature = _unb64(sig)
    except ValueError:
        raise GrantRefused("No valid media grant.") from None
    message = b"aufsicht-media-grant." + signed.encode()
    for key in keys:
        try:
            key.verify(signature, message)
            break
        except InvalidSignature:
            continue
    else:
        raise GrantRefused("The media grant's signature is not valid.")
    try:
        payload = json.loads(_unb64(signed))
    except ValueError:
        raise GrantRefused("The media grant is malformed.") from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise GrantRefused("The media grant is malformed.")
    expires = payload.get("x")
    if type(expires) is not int or expires < (time.time() if now is None else now):
        raise GrantRefused("The media grant has expired.")
    if payload.get("p") not in purposes:
        raise GrantRefused("The media grant is for something else.")
    if session is not None and payload.get("s") != session:
        raise GrantRefused("The media grant is for another session.")
    attempts = payload.get("as") or []
    viewer, sess = payload.get("w"), payload.get("s")
    if (not isinstance(attempts, list) or not all(type(a) is int for a in attempts)
            or not isinstance(viewer, str | None) or not isinstance(sess, str | None)):
        raise GrantRefused("The media grant is malformed.")
    if not engine or payload.get("e") != engine_name(engine):
        raise GrantRefused("The media grant is for another engine.")
    if payload.get("d") != body_digest(body):
        raise GrantRefused("The media grant is for another request.")
    nonce = payload.get("n")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise GrantRefused("The media grant is malformed.")
    replay.use(nonce, expires, now)
    return Grant(purpose=str(payload["p"]), session=sess, attempt=_opt_int(payload.get("a")),
                 user=_opt_int(payload.get("u")), institution=_opt_int(payload.get("i")), viewer=viewer,
                 attempts=tuple(attempts), expires=expires, check=_opt_int(payload.get("c")))
