"""Server-side requests cannot be aimed inward: every URL fetched for a tenant (an OpenID provider's discovery,
keys, token and userinfo endpoints; an LTI platform's keys, token, roster, grade and Assessment Control URLs)
goes through kernel.egress. Private, link-local and other non-public addresses are refused before any
connection is made (no traffic here ever goes to a non-loopback address), redirects are not followed, answers
are bounded in size and time, the address that was checked is the one connected to, and staff read what went
wrong without the answer's body. The test servers listen on 127.0.0.2, a loopback address."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from kernel import egress
from kernel.egress import EgressError, EgressPolicy, EgressRefused
from kernel.errors import DomainError

NON_PUBLIC = [
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service (link-local)
    "https://10.0.0.1/",
    "https://192.168.1.10:8443/realms/uni",
    "https://172.16.5.5/jwks",
    "https://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "https://0.0.0.0/",
    "https://[fd00::1]/",  # unique local IPv6
    "https://[fe80::1]/",  # link-local IPv6
    "https://[::ffff:10.0.0.1]/",  # a private IPv4 address written as IPv6
    "https://224.0.0.1/",  # multicast
]


class Peer:
    """A tiny HTTP server on 127.0.0.2: answers per path, and every request it saw."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.seen: list[tuple[str, str, str]] = []  # (method, path, Host header)
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                peer.seen.append((self.command, self.path, self.headers.get("Host", "")))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body, delay = peer.routes.get(self.path, (404, {}, b"", 0.0))
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.2:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def route(self, path: str, status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None,
              delay: float = 0.0) -> str:
        """Answer ``path``; returns its URL."""
        self.routes[path] = (status, {"Content-Type": "application/json", **(headers or {})}, body, delay)
        return self.base + path


@pytest.fixture
def peer() -> Iterator[Peer]:
    """A server on a loopback address."""
    server = Peer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 opens (to show that a refusal came before any connection); as a safety net,
    one to anything but a loopback address is recorded and stopped here, unresolved and unsent."""
    opened: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        opened.append(address)
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"the test stops a connection to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return opened


DEV = EgressPolicy(loopback_http=True)  # what TESTING and DEBUG get: loopback, over http too
PRODUCTION = EgressPolicy()


@pytest.mark.parametrize("url", NON_PUBLIC)
def test_non_public_addresses_are_refused_before_any_connection(url, connections):
    for policy in (PRODUCTION, DEV):
        with pytest.raises(EgressRefused) as err:
            egress.fetch("GET", url, policy=policy)
        assert "not public" in err.value.detail
    assert connections == []


def test_a_host_name_resolving_to_a_private_address_is_refused_before_connecting(connections):
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return {"intranet.example.org": ["10.1.2.3"], "mixed.example.org": ["93.184.215.14", "192.168.0.5"],
                "metadata.example.org": ["169.254.169.254"]}[host]

    policy = EgressPolicy(resolver=resolver)
    for host in ("intranet.example.org", "mixed.example.org", "metadata.example.org"):
        with pytest.raises(EgressRefused):
            egress.fetch("GET", f"https://{host}/.well-known/openid-configuration", policy=policy)
    assert asked == ["intranet.example.org", "mixed.example.org", "metadata.example.org"] and connections == []


def test_loopback_is_refused_in_production_and_plain_http_everywhere(peer, connections):
    url = peer.route("/jwks")
    for target in (url, url.replace("http://", "https://")):
        with pytest.raises(EgressRefused):
            egress.fetch("GET", target, policy=PRODUCTION)
    with pytest.raises(EgressRefused) as err:  # plain http to anything but loopback, even in development
        egress.fetch("GET", "http://93.184.215.14/", policy=DEV)
    assert "https" in err.value.detail
    assert connections == [] and peer.seen == []
    assert egress.fetch("GET", url, policy=DEV).json() == {}  # development: the tests' own peers


def test_the_operators_allow_list_lets_an_on_premises_server_through(peer):
    by_network = EgressPolicy.from_settings(["10.20.0.0/16", "127.0.0.2"])
    by_name = EgressPolicy.from_settings("keycloak.uni.local")
    assert by_network.allows_address("x", ipaddress.ip_address("10.20.3.4"))
    assert not by_network.allows_address("x", ipaddress.ip_address("10.21.0.1"))
    assert by_name.allows_address("Keycloak.Uni.Local", ipaddress.ip_address("10.9.9.9"))
    assert not by_name.allows_address("other.uni.local", ipaddress.ip_address("10.9.9.9"))
    assert egress.target_address(f"https://127.0.0.2:{peer.port}/", by_network) == "127.0.0.2"
    with pytest.raises(EgressRefused):  # allowed, but still https only
        egress.fetch("GET", peer.route("/x"), policy=by_network)


def test_redirects_are_not_followed(peer, connections):
    url = peer.route("/.well-known/openid-configuration", 302,
                     headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(EgressRefused) as err:
        egress.fetch("GET", url, policy=DEV)
    assert "redirect" in err.value.detail
    assert connections == [("127.0.0.2", peer.port)] and len(peer.seen) == 1


def test_the_checked_address_is_the_one_connected_to(peer, connections):
    answers = iter([["127.0.0.2"], ["10.0.0.1"]])  # a rebinding name: harmless first, inward the second time
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    peer.route("/jwks", body=b'{"keys": []}')
    answer = egress.fetch("GET", f"http://platform.test:{peer.port}/jwks",
                          policy=EgressPolicy(loopback_http=True, resolver=rebinding))
    assert answer.json() == {"keys": []}
    assert asked == ["platform.test"]  # resolved once, by the policy
    assert connections == [("127.0.0.2", peer.port)]
    assert peer.seen == [("GET", "/jwks", f"platform.test:{peer.port}")]  # the host name still goes in Host


def _tls_files(folder: Path) -> tuple[str, str, str]:
    """A CA and a certificate it signed for ``platform.test``: (CA file, certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "platform.test")])
    leaf = (x509.CertificateBuilder().subject_name(leaf_name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("platform.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(files[0]), str(files[1]), str(files[2])


def test_https_to_an_allowed_address_checks_the_certificate_for_the_host_name(peer, tmp_path, connections):
    ca_file, cert_file, key_file = _tls_files(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    peer.server.socket = context.wrap_socket(peer.server.socket, server_side=True)
    peer.route("/.well-known/openid-configuration", body=b'{"issuer": "https://platform.test"}')
    names = {"platform.test": ["127.0.0.2"], "impostor.test": ["127.0.0.2"]}
    on_premises = EgressPolicy.from_settings(["127.0.0.2/32"], resolver=lambda host, port: names[host])
    on_premises = dataclasses.replace(on_premises, ca_certs=ca_file)
    answer = egress.fetch("GET", f"https://platform.test:{peer.port}/.well-known/openid-configuration",
                          policy=on_premises)
    assert answer.json() == {"issuer": "https://platform.test"}
    with pytest.raises(EgressError) as err:  # the pinned address, but a certificate for another name
        egress.fetch("GET", f"https://impostor.test:{peer.port}/", policy=on_premises)
    assert "TLS" in err.value.detail
    with pytest.raises(EgressRefused):  # the same server, not on the allow-list
        egress.fetch("GET", f"https://platform.test:{peer.port}/", policy=dataclasses.replace(
            on_premises, allow_networks=()))
    assert connections == [("127.0.0.2", peer.port)] * 2


def test_answers_are_bounded_in_size_and_time(peer):
    small = EgressPolicy(loopback_http=True, max_bytes=1024, timeout=0.5, deadline=1.0)
    with pytest.raises(EgressRefused):  # announced too large
        egress.fetch("GET", peer.route("/big", body=b"x" * 4096), policy=small)
    with pytest.raises(EgressRefused):  # too large without announcing it
        egress.fetch("GET", peer.route("/chunked", body=b"1000\r\n" + b"x" * 4096 + b"\r\n0\r\n\r\n",
                                       headers={"Transfer-Encoding": "chunked"}), policy=small)
    start = time.monotonic()
    with pytest.raises(EgressError) as err:
        egress.fetch("GET", peer.route("/slow", delay=3.0), policy=small)
    assert not isinstance(err.value, EgressRefused) and time.monotonic() - start < 2.0


def test_production_never_gets_plain_http_to_loopback(app):
    with app.app_context():
        app.config["EGRESS_LOOPBACK_HTTP"] = True
        assert egress.current_policy().loopback_http  # TESTING
        app.testing = False
        try:
            assert not egress.current_policy().loopback_http  # neither TESTING nor DEBUG: the setting is ignored
        finally:
            app.testing = True
        app.config["EGRESS_LOOPBACK_HTTP"] = False
        assert not egress.current_policy().loopback_http


# ------------------------------------------------------------------------------------------- OpenID Connect


@pytest.fixture
def in_request(app) -> Iterator[None]:
    """The services below word their errors for a reader: in a request (English, so the words can be checked)."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def test_staff_cannot_point_a_sign_in_provider_inward(app, in_request, make_institution, peer, connections):
    from accounts.oidc import ProviderSettings, save_provider
    from kernel.errors import ValidationFailed

    inst = make_institution("Innen")
    for issuer in ("https://169.254.169.254/latest", "https://10.0.0.1/realms/uni"):
        with pytest.raises(ValidationFailed) as err:
            save_provider(inst, ProviderSettings(name="Login", issuer=issuer, client_id="c", client_secret="s"))
        assert "169.254.169.254" in err.value.message or "10.0.0.1" in err.value.message
    assert connections == []
    peer.route("/realms/uni/.well-known/openid-configuration", 301,
               headers={"Location": "https://10.0.0.1/realms/uni/.well-known/openid-configuration"})
    with pytest.raises(ValidationFailed):
        save_provider(inst, ProviderSettings(name="Login", issuer=f"{peer.base}/realms/uni", client_id="c",
                                             client_secret="s"))
    assert connections == [("127.0.0.2", peer.port)]


def test_discovered_endpoints_on_private_addresses_are_refused(app, in_request, make_institution, peer, connections):
    from accounts.oidc import SignInRefused, discover, validate_id_token

    issuer = f"{peer.base}/realms/uni"
    peer.route("/realms/uni/.well-known/openid-configuration", body=json.dumps({
        "issuer": issuer, "authorization_endpoint": f"{issuer}/auth", "token_endpoint": "https://10.0.0.1/token",
        "jwks_uri": "https://169.254.169.254/jwks"}).encode())
    meta = discover(issuer, force=True)
    assert meta["jwks_uri"] == "https://169.254.169.254/jwks"

    class Provider:
        pass

    provider = Provider()
    provider.issuer, provider.client_id, provider.name = issuer, "c", "Uni-Login"  # type: ignore[attr-defined]
    header = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ"  # {"alg":"RS256","kid":"k"}: the keys are needed
    with pytest.raises(SignInRefused) as err:
        validate_id_token(provider, f"{header}.e30.c2ln", "n")  # type: ignore[arg-type]
    assert "169.254.169.254" in err.value.message
    assert connections == [("127.0.0.2", peer.port)]


# ------------------------------------------------------------------------------------------- LTI


@pytest.fixture
def platform_of(app, in_request, make_institution, make_exam) -> Callable[..., Any]:
    """A registered LTI platform at ``base`` with a course link whose service URLs came from a launch."""
    from kernel.db import db
    from lti.models import LtiLink, LtiPlatform

    def make(base: str, *, jwks: str | None = None, **link_urls: str) -> Any:
        inst = make_institution("LMS-Hochschule")
        platform = LtiPlatform(institution_id=inst.id, name="Moodle", issuer=base, client_id="c",
                               auth_login_url=f"{base}/auth", auth_token_url=f"{base}/token",
                               jwks_url=jwks or f"{base}/jwks", deployment_ids=["1"])
        db.session.add(platform)
        db.session.flush()
        link = LtiLink(platform_id=platform.id, exam_id=make_exam(institution=inst).id, deployment_id="1",
                       resource_link_id="r", ags_scopes=[], **link_urls)
        db.session.add(link)
        db.session.commit()
        return link

    return make


@pytest.mark.parametrize("service", ["memberships_url", "lineitem_url"])
@pytest.mark.parametrize("url", ["https://169.254.169.254/nrps", "https://lms.evil.example/nrps",
                                 "https://lms.example.org:8443/nrps", "http://lms.example.org/nrps"])
def test_service_urls_from_claims_must_be_on_the_platforms_registered_origin(platform_of, service, url,
                                                                             connections):
    from lti.services import PlatformServiceFailed, send_results, sync_roster

    link = platform_of("https://lms.example.org", **{service: url})
    with pytest.raises(PlatformServiceFailed) as err:
        (sync_roster if service == "memberships_url" else send_results)(link)
    assert "registered" in err.value.message
    assert connections == []  # not even a token was asked for


def test_assessment_control_url_must_be_on_the_platforms_origin(app, platform_of, make_user, connections):
    from kernel.db import db
    from lti.models import LtiProctoring
    from lti.proctoring import control
    from lti.services import PlatformServiceFailed

    link = platform_of("https://lms.example.org")
    session = LtiProctoring(link_id=link.id, user_id=make_user().id, attempt_number=1, session_data="s",
                            start_assessment_url="https://lms.example.org/start",
                            acs_url="https://10.0.0.1/acs", acs_actions=["flag"])
    db.session.add(session)
    db.session.commit()
    with pytest.raises(PlatformServiceFailed) as err:
        control(session, "flag", reason="test")
    assert "registered" in err.value.message and connections == []


def test_platform_keys_on_a_private_address_are_refused(platform_of, connections):
    from lti.tool import LaunchRefused, platform_keys

    link = platform_of("https://lms.example.org", jwks="https://192.168.0.10/jwks")
    with pytest.raises(LaunchRefused) as err:
        platform_keys(link.platform, force=True)
    assert "192.168.0.10" in err.value.message and connections == []


def test_staff_read_the_failure_without_the_platforms_answer(platform_of, peer, connections):
    from lti.services import PlatformServiceFailed, sync_roster

    peer.route("/token", 500, body=b"Traceback: SECRET-INTERNAL-DETAIL at db01.intern", headers={
        "Content-Type": "text/plain"})
    link = platform_of(peer.base, memberships_url=f"{peer.base}/nrps")
    with pytest.raises(PlatformServiceFailed) as err:
        sync_roster(link)
    assert "HTTP 500" in err.value.message and "SECRET" not in err.value.message
    peer.route("/token", 302, headers={"Location": "https://169.254.169.254/token"})
    with pytest.raises(DomainError) as err:
        sync_roster(link)
    assert "redirect" in err.value.message
    assert set(connections) == {("127.0.0.2", peer.port)}
