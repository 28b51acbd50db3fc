"""The reverse proxy in front, as declared: an undeclared one is refused, not guessed around.

With ``AUFSICHT_TRUSTED_PROXIES=0`` (the default) the client's address is the TCP peer's. Behind a proxy that
nobody declared, that peer is the proxy for every client: the login throttle per client address would become one
bucket, and the failures of many people would lock out everyone. So a request that a peer on loopback or a
private network forwarded (it carries X-Forwarded-For, Forwarded or X-Real-IP) is refused with 503 and an error
in the log naming the setting, until the operator sets it: the platform does not run that way. A client on a
public address that sets such a header itself is no proxy: the header is ignored and it is throttled by its own
address.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask, current_app, request
from flask_babel import gettext as _

from kernel.errors import ServiceUnavailable

log = logging.getLogger(__name__)
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
# Where a reverse proxy sits: the same host, or the operator's private network.
_PROXY_NETWORKS = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10")]


class ProxyNotDeclared(ServiceUnavailable):
    """A proxy forwards requests, but AUFSICHT_TRUSTED_PROXIES does not declare it."""

    code = "proxy_not_declared"


def looks_like_proxy(address: str | None) -> bool:
    """True if a peer at ``address`` (loopback or a private network) may be a reverse proxy of the operator."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _PROXY_NETWORKS)


def register(app: Flask) -> None:
    """Refuse requests forwarded by an undeclared proxy (only while no proxy is declared)."""
    if int(app.config.get("TRUSTED_PROXIES") or 0) > 0:
        return

    @app.before_request
    def _refuse_undeclared_proxy() -> None:
        if not any(h in request.headers for h in FORWARDING_HEADERS) or not looks_like_proxy(request.remote_addr):
            return
        if not current_app.extensions.get("aufsicht.proxy_warned"):
            current_app.extensions["aufsicht.proxy_warned"] = True
            log.error("A proxy at %s forwards requests (%s), but AUFSICHT_TRUSTED_PROXIES is 0: every client would "
                      "be one address for the login throttle. Refusing requests until AUFSICHT_TRUSTED_PROXIES is "
                      "set to the number of proxies in front (docs/deploy.md).", request.remote_addr,
                      ", ".join(h for h in FORWARDING_HEADERS if h in request.headers))
        raise ProxyNotDeclared(_("aufsicht is not set up for the proxy in front of it (AUFSICHT_TRUSTED_PROXIES). "
                                 "Please tell the platform's operator."))
