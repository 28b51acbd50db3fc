"""Configuration defaults.

Precedence: these defaults, then the environment, then the dict given to ``create_app``.

Environment variables: ``DATABASE_URL``, ``REDIS_URL`` and every ``AUFSICHT_<KEY>`` (e.g.
``AUFSICHT_STORAGE_BACKEND=s3``); values are parsed as JSON where possible.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Database: SQLite in the instance folder unless DATABASE_URL is set.
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Seconds to wait for a PostgreSQL connection before the request fails (503) instead of hanging.
    "DATABASE_CONNECT_TIMEOUT": 5,
    # Jobs: in-process thread pool unless REDIS_URL is set.
    "REDIS_URL": None,
    "JOB_QUEUE": "aufsicht",
    "JOB_WORKERS": 2,
    # Pending work (an identity check, a data export) untouched this long is queued again: its job was lost
    # (queue down when the request committed it, a worker died). Jobs are idempotent, so a duplicate is harmless.
    "JOB_STALLED_AFTER_SECONDS": 120,
    # A job that meets an unreachable database is run again for this long before it fails.
    "JOB_DB_RETRY_SECONDS": 60,
    # Periods of periodic jobs in seconds by name, overriding the registered ones (the outage drill shortens them).
    "JOB_PERIODS": {},
    # Argon2id cost of password hashes: passes, memory in KiB, lanes (RFC 9106's second recommended option).
    "PASSWORD_HASH_COST": [3, 65536, 4],
    # Sessions and cookies (set AUFSICHT_SESSION_COOKIE_SECURE=true behind TLS).
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    # CSRF tokens live as long as their session (Flask-WTF's default of one hour would refuse every answer
    # saved more than an hour after the exam page was opened).
    "WTF_CSRF_TIME_LIMIT": None,
    # Reverse proxies in front of the app (docs/deploy.md: nginx, so 1): the client address is then taken from
    # the last X-Forwarded-For entries they added. 0 trusts no such header (a client could set it); then a request
    # that a peer on loopback or a private network forwarded (X-Forwarded-For, Forwarded, X-Real-IP) is refused
    # with 503 and an error in the log: an undeclared proxy would make every client one address for the throttles.
    "TRUSTED_PROXIES": 0,
    # Login throttling: this many failures for one account (email) from one client address, or from one client
    # address for any accounts, within the window refuse further tries of that account from that address, or from
    # that address. Never the account itself everywhere: wrong passwords typed for a proctor's address from
    # elsewhere must not lock the proctor out. Once an account failed LOGIN_MAX_FAILURES_PER_ACCOUNT times from all
    # addresses together, every address gets only LOGIN_MAX_FAILURES_UNDER_ATTACK tries for it (slowed down),
    # while the right password (and second factor) from an address that has not failed still gets in. An address
    # gets more: many candidates of a test centre share one. Wrong second-factor codes and wrong current
    # passwords (password or email change, new recovery codes) count like wrong passwords; refused tries do not.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 30,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 20,
    "LOGIN_MAX_FAILURES_UNDER_ATTACK": 2,
    # Mails a client address may ask for per minute (password reset, verification link again).
    "ACCOUNT_MAIL_RATE_LIMIT_PER_MINUTE": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    # Retention of the login audit log.
    "LOGIN_AUDIT_RETENTION_DAYS": 7,
    # Privacy (privacy/inventory.py): staff access log, data exports, inactive accounts.
    "ACCESS_LOG_RETENTION_DAYS": 3 * 365,
    "IDCHECK_CHAT_RETENTION_DAYS": 1,  # chat of a check by a proctor left undecided (idcheck.chat)
    "AIACT_LOG_RETENTION_DAYS": 183,  # the detector-run log: at least six months (EU AI Act Art. 19, 26(6))
    "EXPORT_RETENTION_DAYS": 7,
    "INACTIVE_ACCOUNT_DAYS": 2 * 365,
    "INACTIVITY_NOTICE_DAYS": 30,
    # Statistics for institutions never show a group smaller than this.
    "STATISTICS_MIN_GROUP": 5,
    # i18n: German first.
    "BABEL_DEFAULT_LOCALE": "de",
    "LANGUAGES": ["de", "en"],
    # Uploads.
    # Identity check: the ID document's machine-readable zone must be read from the photo (a typed MRZ only
    # sends the check to a person); False accepts a photo without one (test suites with plain face photos).
    "IDCHECK_REQUIRE_MRZ": True,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # The largest file a candidate may hand in for an upload item (exams.itemmedia); below MAX_CONTENT_LENGTH.
    "ANSWER_FILE_MAX_BYTES": 10 * 1024 * 1024,
    # Storage: "local" (files under STORAGE_LOCAL_ROOT, default instance/blobs) or "s3".
    "STORAGE_BACKEND": "local",
    "STORAGE_LOCAL_ROOT": None,
    "STORAGE_SEGMENT_SIZE": 256 * 1024,
    "S3_ENDPOINT_URL": None,
    "S3_BUCKET": None,
    "S3_ACCESS_KEY": None,
    "S3_SECRET_KEY": None,
    "S3_REGION": "us-east-1",
    # JSON {"active": id, "keys": {id: base64}}; unset: generated into instance/storage-master-keys.json.
    "STORAGE_MASTER_KEYS": None,
    # Appeals may be filed until the end of this many days after the result is released (exams.trust.appeal_window,
    # per institution); the recordings are kept until then, and the certificate is mailed then (or sooner when the
    # candidate asks for it, which ends the window). Media of attempts never released go after the max days,
    # once any required review is done.
    "APPEAL_WINDOW_DAYS": 7,
    "ATTEMPT_MEDIA_MAX_DAYS": 30,
    # Identity check: how often a candidate may send the selfie again after the first, per exam (a last
    # unusable one goes to a person).
    "IDCHECK_MAX_RETAKES": 3,
    # Media engine: STUN/TURN servers for browsers and the engine ([{"urls": "turn:...", "username": ..,
    # "credential": ..}]); host addresses the engine offers (None: all interfaces).
    "MEDIA_ICE_SERVERS": [],
    # Media engines in their own processes (``flask media serve``): their base URLs; empty: in-process.
    # Web workers sign a grant for every call to an engine (proctoring/grants.py) with MEDIA_GRANT_KEY (base64 of
    # a 32-byte Ed25519 seed, the same on every web host; default: generated into the instance folder); engines
    # accept grants of MEDIA_GRANT_PUBLIC_KEYS (base64 public keys, `flask media grant-key` prints one; default:
    # the public key of their own MEDIA_GRANT_KEY). MEDIA_ENGINE_CA_FILE: the CA of engines served over TLS.
    # MEDIA_ENGINE_URL: an engine's own URL as MEDIA_ENGINES lists it (default: `media serve`'s scheme://host:port);
    # a grant names the engine it is for, and is used once.
    "MEDIA_ENGINES": [],
    # The media plane: "aiortc" (the engine in Python, the default) or "janus" (Debian's Janus terminates WebRTC,
    # our GStreamer recorders mux its forwarded RTP into the encrypted parts; proctoring/janus.py). With janus:
    # MEDIA_JANUS_RTP_PORTS, the UDP range Janus's media uses ("20000-40000"; None: any); MEDIA_JANUS_NAT_1_1,
    # the public address Janus offers where it sits behind 1:1 NAT.
    "MEDIA_PLANE": "aiortc",
    "MEDIA_JANUS_RTP_PORTS": None,
    "MEDIA_JANUS_NAT_1_1": None,
    "MEDIA_GRANT_KEY": None,
    "MEDIA_GRANT_PUBLIC_KEYS": None,
    "MEDIA_ENGINE_CA_FILE": None,
    "MEDIA_ENGINE_URL": None,
    "MEDIA_ENGINE_API": False,
    "MEDIA_HOST_ADDRESSES": None,
    "MEDIA_DECODE_VIDEO": True,
    # When storage fails mid-recording (unreachable, full), a new recording part is tried this often.
    "MEDIA_RECORDING_RETRY_SECONDS": 10,
    # Threads of each of the engine's pools (signalling and storage, frame analysis, re-encoding).
    "MEDIA_ENGINE_WORKERS": 2,
    # Live sessions an engine takes at most (0: no limit); a new one beyond goes to another engine or waits.
    "MEDIA_ENGINE_MAX_SESSIONS": 0,
    # What one candidate can cost (tests/hostile/test_bounds.py): offers per attempt (and per system check) a
    # minute; data-channel messages a minute per session (more are dropped); H.264 streams an engine re-encodes
    # at once (one more is refused: about a core each); data exports per person a day; chat messages per person
    # and attempt a minute; registrations per client address an hour; decoded pixels per identity job.
    "MEDIA_OFFERS_PER_MINUTE": 20,
    "MEDIA_DATACHANNEL_MESSAGES_PER_MINUTE": 120,
    # The page's events over HTTP (POST /api/attempts/<id>/events, every plane): events per attempt a minute
    # (past it a 429; the page keeps them and sends them again), events in one request at most.
    "PAGE_EVENTS_PER_MINUTE": 120,
    "PAGE_EVENTS_PER_REQUEST": 20,
    "MEDIA_ENGINE_MAX_TRANSCODES": 4,
    "EXPORTS_PER_DAY": 3,
    "CHAT_MESSAGES_PER_MINUTE": 20,
    "REGISTRATIONS_PER_HOUR": 10,
    "IDCHECK_MAX_PIXELS_PER_JOB": 120_000_000,
    "SNAPSHOT_STORE_SECONDS": 60,
    "PROCTORING_FACE_FLAGS": True,
    # How often, per candidate, the live face is compared with the verified one ("another person"); each
    # comparison is a face encoding, about 60 ms of CPU, where finding the face is 5-20 ms.
    "PROCTORING_IDENTITY_SECONDS": 10,
    # Worker processes for the dlib face work of live monitoring (0: in the engine's own threads, which
    # stalls its event loop while dlib holds the GIL; see idcheck/facework.py).
    "PROCTORING_FACE_PROCESSES": 1,
    # Staff access log: one entry per opening of a recording or chat; further reads by the same person of the
    # same attempt's recording (or chat) within this many seconds are covered by it (seeks, chat polling).
    "ACCESS_LOG_WINDOW_SECONDS": 600,
    # Webhooks (results/webhooks.py): a failed try is repeated after the base, doubling each time (1, 2, 4, ...
    # minutes), up to this many tries (about 8.5 hours); the delivery log is kept this many days.
    "WEBHOOK_RETRY_BASE_SECONDS": 60,
    "WEBHOOK_MAX_ATTEMPTS": 10,
    "WEBHOOK_LOG_RETENTION_DAYS": 30,
    # Privacy notice version the candidate consents to.
    "PRIVACY_NOTICE_VERSION": "2026-11",
    # Certificates: absolute base URL printed in QR codes and credentials; verification rate limit per IP.
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "VERIFY_RATE_LIMIT_PER_MINUTE": 30,
    # Requests the server makes for a tenant (OpenID providers, LTI platforms) go through kernel.egress: https,
    # public addresses only, no redirects. EGRESS_ALLOW names hosts or networks that may have internal addresses
    # (an on-premises Keycloak: ["keycloak.uni.local"] or ["10.20.0.0/16"]). EGRESS_LOOPBACK_HTTP lets plain
    # http reach loopback (the tests' local peers); it takes effect only under TESTING or DEBUG and, unset,
    # follows them, so a production app never has it.
    "EGRESS_ALLOW": [],
    "EGRESS_LOOPBACK_HTTP": None,
    "EGRESS_MAX_BYTES": 4 * 1024 * 1024,
    "EGRESS_TIMEOUT_SECONDS": 10,
    "EGRESS_DEADLINE_SECONDS": 30,
    # Certificate signing keys, JSON {"active": name, "keys": {name: base64 of a 32-byte Ed25519 private key}}
    # (or PKCS#8 PEM), the same on every web host; unset: generated into instance/certificate_signing_keys.json.
    "CERTIFICATE_SIGNING_KEYS": None,
    # The LTI tool's RSA keys, JSON {"active": kid, "keys": {kid: PKCS#8 or PKCS#1 PEM}}, the same on every web host
    # (JWKS: every key listed; keep the previous one listed for a while after switching "active"); unset:
    # generated into instance/lti-tool-keys.json (`flask lti rotate-key` replaces it there).
    "LTI_TOOL_KEYS": None,
    # Mail: without MAIL_SMTP_HOST, messages are written to instance/outbox/ as .eml files.
    "MAIL_SMTP_HOST": None,
    "MAIL_SMTP_PORT": 25,
    "MAIL_SMTP_USER": None,
    "MAIL_SMTP_PASSWORD": None,
    "MAIL_SMTP_STARTTLS": False,
    "MAIL_SMTP_TIMEOUT": 30,
    "MAIL_FROM": "aufsicht <no-reply@localhost>",
    # Mails in instance/outbox/ (no SMTP host) are deleted after this many days, and at once with the account.
    "MAIL_OUTBOX_RETENTION_DAYS": 7,
}


def from_environment() -> dict[str, Any]:
    """Settings that come from plain (unprefixed) environment variables."""
    env: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        env["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
