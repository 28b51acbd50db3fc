"""Every request the server makes on a tenant's behalf goes through this one egress policy.

Safety rule: a URL a tenant can set (an OpenID provider's issuer, an LTI platform's keys and services) must
never reach what only the server can reach: the cloud metadata service (169.254.169.254), the database, Redis,
the media engines, an admin interface on loopback. So:

- https only; plain http only to a loopback address, and only in development (``TESTING`` or ``DEBUG``);
- the host name is resolved once here and every address it resolves to must be public (not loopback, private,
  link-local, shared, multicast or otherwise reserved) unless the operator's allow-list (``EGRESS_ALLOW``)
  names the host or a network holding the address (an on-premises Keycloak);
- the connection goes to the address that was checked (TLS still checks the certificate against the host
  name), so a DNS answer that changes between the check and the connection (rebinding) changes nothing;
- redirects are never followed; the answer is limited in size and time;
- errors say what went wrong in a few words (``HTTP 500``, "redirect not followed"), never the answer's body.

The caller wraps :class:`EgressError` in its own domain error with its own words.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from flask import current_app, has_app_context
from flask_babel import gettext as _
from requests.utils import parse_header_links

from kernel.errors import DomainError

__all__ = ["EgressError", "EgressPolicy", "EgressRefused", "Resolver", "Response", "current_policy", "fetch",
           "origin", "target_address"]

MAX_BYTES = 4 * 1024 * 1024  # a roster page of a large course fits; a key set is a few KB
TIMEOUT = 10.0  # seconds for the connection and for each read
DEADLINE = 30.0  # seconds for the whole answer

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]


class EgressError(DomainError):
    """A request to another server failed (cannot connect, HTTP error, too large, too slow)."""

    status = 502
    code = "egress_failed"

    def __init__(self, detail: str, *, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.http_status = http_status


class EgressRefused(EgressError):
    """The egress policy refused the request before (or instead of) sending it."""

    code = "egress_refused"


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the operating system's resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise EgressError(_("the host name %(h)s is not known", h=host[:100])) from None
    return [str(info[4][0]) for info in infos]


@dataclasses.dataclass(frozen=True)
class EgressPolicy:
    """Where the server may send requests; see the module's safety rule."""

    allow_hosts: frozenset[str] = frozenset()  # host names whose addresses may be non-public
    allow_networks: tuple[Network, ...] = ()  # addresses that may be non-public
    loopback_http: bool = False  # development only: loopback addresses, plain http to them
    max_bytes: int = MAX_BYTES
    timeout: float = TIMEOUT
    deadline: float = DEADLINE
    resolver: Resolver = system_resolver
    ca_certs: str | None = None  # CA bundle for TLS; default REQUESTS_CA_BUNDLE (as before) or certifi's

    @classmethod
    def from_settings(cls, allow: Sequence[str] | str | None, *, loopback_http: bool = False,
                      max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT, deadline: float = DEADLINE,
                      resolver: Resolver = system_resolver) -> EgressPolicy:
        """A policy from the operator's allow-list: host names, addresses and networks (``10.1.2.0/24``)."""
        entries = allow.replace(",", " ").split() if isinstance(allow, str) else list(allow or [])
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (str(e).strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks), loopback_http, int(max_bytes), float(timeout),
                   float(deadline), resolver)

    def allows_address(self, host: str, address: Address) -> bool:
        """Whether a connection to ``address`` (resolved from ``host``) is allowed."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            return True
        if host.lower().rstrip(".") in self.allow_hosts:
            return True
        if any(address.version == net.version and address in net for net in self.allow_networks):
            return True
        return self.loopback_http and address.is_loopback


def current_policy() -> EgressPolicy:
    """The policy of the running app: ``EGRESS_ALLOW`` and the limits from its configuration.

    ``EGRESS_LOOPBACK_HTTP`` (plain http to loopback, for the tests' local peers) takes effect only when the
    app runs with ``TESTING`` or ``DEBUG``; unset, it follows them. A production app never has it.
    """
    if not has_app_context():
        return EgressPolicy()
    app = current_app
    development = bool(app.testing or app.debug)
    loopback = app.config.get("EGRESS_LOOPBACK_HTTP")
    return EgressPolicy.from_settings(
        app.config.get("EGRESS_ALLOW") or [],
        loopback_http=development and (loopback is None or bool(loopback)),
        max_bytes=int(app.config.get("EGRESS_MAX_BYTES") or MAX_BYTES),
        timeout=float(app.config.get("EGRESS_TIMEOUT_SECONDS") or TIMEOUT),
        deadline=float(app.config.get("EGRESS_DEADLINE_SECONDS") or DEADLINE))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, default ports left out ("" when it has none)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    shown = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{shown}" + (f":{port}" if port is not None and port != default else "")


@dataclasses.dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    address: str
    path: str
    host_header: str


def _target(url: str, policy: EgressPolicy) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise EgressRefused(_("this is not a valid URL")) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host or parts.username is not None or parts.password is not None:
        raise EgressRefused(_("only https URLs are allowed"))
    if scheme == "http" and not policy.loopback_http:
        raise EgressRefused(_("only https URLs are allowed"))
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    found = [str(literal)] if literal is not None else list(policy.resolver(host, port))
    if not found:
        raise EgressError(_("the host name %(h)s is not known", h=host[:100]))
    addresses: list[Address] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not policy.allows_address(host, address):
            raise EgressRefused(_("the address of %(h)s is not public (%(a)s); the operator's allow-list does not "
                                  "name it", h=host[:100], a=str(address)))
        addresses.append(address)
    if scheme == "http" and not all(a.is_loopback for a in addresses):
        raise EgressRefused(_("only https URLs are allowed"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return _Target(scheme, host, port, str(addresses[0]), path, shown if port == default else f"{shown}:{port}")


def _ca_bundle(policy: EgressPolicy) -> str:
    """The CA bundle TLS is checked against (an internal CA's bundle via REQUESTS_CA_BUNDLE, as requests did)."""
    env = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return policy.ca_certs or env or certifi.where()


def target_address(url: str, policy: EgressPolicy | None = None) -> str:
    """The checked address a request to ``url`` would connect to; EgressRefused when the policy refuses it."""
    return _target(url, policy or current_policy()).address


@dataclasses.dataclass(frozen=True)
class Response:
    """An answer read in full (within the size limit)."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.content.decode("utf-8"))

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header's links by ``rel`` (as requests gives them)."""
        header = self.headers.get("link") or self.headers.get("Link")
        found: dict[str, dict[str, str]] = {}
        for link in parse_header_links(header) if header else []:
            found[link.get("rel") or link.get("url", "")] = link
        return found

    def raise_for_status(self) -> None:
        """EgressError(``HTTP <status>``) for a 4xx or 5xx answer; the body is never part of the message."""
        if self.status >= 400:
            raise EgressError(f"HTTP {self.status}", http_status=self.status)


def fetch(method: str, url: str, *, headers: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
          json_body: Any = None, content: bytes | None = None, policy: EgressPolicy | None = None) -> Response:
    """Send one request under the egress policy (the app's unless ``policy`` is given) and read its answer.

    The body is a form (``data``), JSON (``json_body``) or bytes sent as they are (``content``: a signed body).

    Raises EgressRefused (scheme, address, redirect, size) or EgressError (cannot connect, too slow); an HTTP
    error status is returned as it is (``raise_for_status`` turns it into an EgressError).
    """
    policy = policy or current_policy()
    target = _target(url, policy)
    sent = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    body: bytes | None = None
    if data is not None:
        body = urlencode(data).encode()
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        sent.setdefault("Content-Type", "application/json")
    elif content is not None:
        body = content
    sent["Host"] = target.host_header
    sent.setdefault("User-Agent", "aufsicht")
    timeout = urllib3.Timeout(connect=policy.timeout, read=policy.timeout)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":  # connect to the checked address; TLS checks the certificate for the host name
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1,
                                           cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle(policy),
                                           server_hostname=target.host, assert_hostname=target.host)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)
    started = time.monotonic()
    try:
        answer = pool.urlopen(method.upper(), target.path, body=body, headers=sent, redirect=False, retries=False,
                              preload_content=False, assert_same_host=False)
        try:
            if 300 <= answer.status < 400:
                raise EgressRefused(_("redirect not followed (HTTP %(s)s)", s=answer.status), http_status=answer.status)
            declared = answer.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise EgressRefused(_("the answer is larger than %(n)s bytes", n=policy.max_bytes))
            chunks: list[bytes] = []
            size = 0
            while chunk := answer.read(64 * 1024):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise EgressRefused(_("the answer is larger than %(n)s bytes", n=policy.max_bytes))
                if time.monotonic() - started > policy.deadline:
                    raise EgressError(_("no complete answer within %(s)s seconds", s=int(policy.deadline)))
                chunks.append(chunk)
        finally:
            answer.close()  # one connection per request: never back to a pool, unread rest dropped
    except urllib3.exceptions.NewConnectionError:  # a subclass of the connect timeout: refused, unreachable
        raise EgressError(_("cannot connect to %(h)s", h=target.host[:100])) from None
    except urllib3.exceptions.TimeoutError:
        raise EgressError(_("no answer within %(s)s seconds", s=int(policy.timeout))) from None
    except urllib3.exceptions.SSLError:
        raise EgressError(_("the TLS certificate of %(h)s is not valid", h=target.host[:100])) from None
    except urllib3.exceptions.HTTPError:
        raise EgressError(_("cannot connect to %(h)s", h=target.host[:100])) from None
    finally:
        pool.close()
    return Response(url, answer.status, answer.headers, b"".join(chunks))
