"""A real SAML 2.0 IdP on loopback for the tests: pysaml2's own IdP (``saml2.server.Server``, PyPI pysaml2).

Why pysaml2's IdP: it is on PyPI (no PHP or web server to configure in CI, where SimpleSAMLphp would need
Debian's PHP and its config tree), it checks our signed AuthnRequest and LogoutRequest as an IdP does, and it
issues real signed assertions (xmlsec1). Hostile responses are built by ``forge`` here: a response template filled
in and signed with xmlsec1 by the IdP's own key (or another), so each test changes exactly one thing.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import re
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

XMLSEC = "/usr/bin/xmlsec1"
LENA = {"eduPersonPrincipalName": ["lena@uni-nord.example"], "mail": ["lena.schmidt@uni-nord.example"],
        "givenName": ["Lena"], "sn": ["Schmidt"]}


def make_key(folder: Path, name: str) -> tuple[Path, Path]:
    """An RSA key and self-signed certificate, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_file, cert_file = folder / f"{name}.key", folder / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def _cert_b64(cert_file: Path) -> str:
    return "".join(line for line in cert_file.read_text().splitlines() if "-----" not in line)


def _instant(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Idp:
    """The running IdP: its base URL, entity id, keys, and what it saw."""

    base: str
    folder: Path
    key_file: Path
    cert_file: Path
    users: dict[str, dict[str, list[str]]]
    server: Any = None
    sp_metadata: str | None = None
    seen: list[str] = field(default_factory=list)  # "authn-request-signed", "logout-request"
    aggregate: str | None = None  # served at /federation.xml: a federation's metadata aggregate
    encrypt: bool = False  # encrypt assertions for the SP's encryption certificate (from its metadata)
    last_response: str = ""  # the last response it issued (XML)

    @property
    def entity_id(self) -> str:
        return self.base + "/idp"

    @property
    def metadata_url(self) -> str:
        return self.base + "/metadata"

    def config(self) -> Any:
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT

        conf = IdPConfig()
        conf.load({
            "entityid": self.entity_id, "xmlsec_binary": XMLSEC,
            "key_file": str(self.key_file), "cert_file": str(self.cert_file),
            "metadata": {"inline": [self.sp_metadata]} if self.sp_metadata else {},
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(self.base + "/sso", BINDING_HTTP_REDIRECT)],
                              "single_logout_service": [(self.base + "/slo", BINDING_HTTP_REDIRECT),
                                                        (self.base + "/slo", BINDING_HTTP_POST)]},
                "want_authn_requests_signed": True,
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI,
                                       "attribute_restrictions": None}},
            }},
        })
        return conf

    def metadata(self) -> str:
        from saml2.metadata import create_metadata_string

        return create_metadata_string(None, config=self.config(), valid=None).decode()

    def trust(self, sp_metadata: str) -> None:
        """Load the SP's metadata (its ACS and signing key), as the IdP's operators do."""
        import warnings

        with warnings.catch_warnings():  # pysaml2's IdP module touches a cipher mode cryptography moved (CFB)
            from cryptography.utils import CryptographyDeprecationWarning

            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            from saml2.server import Server

        self.sp_metadata = sp_metadata
        self.server = Server(config=self.config())

    # -------------------------------------------------------------------------------- forged responses

    def forge(self, *, in_response_to: str, acs: str, audience: str, subject: str = "lena@uni-nord.example",
              attributes: dict[str, list[str]] | None = None, lifetime: int = 300, issued: dt.datetime | None = None,
              assertion_id: str | None = None, sign_with: tuple[Path, Path] | None = None, sign: bool = True,
              extra: str = "") -> str:
        """A response filled in from a template, its assertion signed (xmlsec1) with the IdP's key by default;
        ``extra`` is put beside the assertion (signature wrapping). Returns the XML."""
        now = issued or dt.datetime.now(dt.UTC)
        aid = assertion_id or "_a" + secrets.token_hex(16)
        attrs = attributes if attributes is not None else {**LENA, "eduPersonPrincipalName": [subject]}
        oids = {"eduPersonPrincipalName": "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
                "mail": "urn:oid:0.9.2342.19200300.100.1.3",
                "givenName": "urn:oid:2.5.4.42", "sn": "urn:oid:2.5.4.4"}
        attr_xml = "".join(
            f'<saml:Attribute Name="{oids.get(k, k)}" FriendlyName="{k}" '
            f'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
            + "".join(f"<saml:AttributeValue>{html.escape(v)}</saml:AttributeValue>" for v in vs)
            + "</saml:Attribute>" for k, vs in attrs.items())
        key_file, cert_file = sign_with or (self.key_file, self.cert_file)
        signature = "" if not sign else (
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f'<ds:Reference URI="#{aid}"><ds:Transforms>'
            '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
            '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
            '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data>'
            f'<ds:X509Certificate>{_cert_b64(cert_file)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>'
            '</ds:Signature>')
        until = _instant(now + dt.timedelta(seconds=lifetime))
        assertion = (
            f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" '
            f'IssueInstant="{_instant(now)}"><saml:Issuer>{self.entity_id}</saml:Issuer>{signature}'
            '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">'
            f'_n{secrets.token_hex(8)}</saml:NameID><saml:SubjectConfirmation '
            'Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData '
            f'InResponseTo="{in_response_to}" NotOnOrAfter="{until}" Recipient="{acs}"/></saml:SubjectConfirmation>'
            f'</saml:Subject><saml:Conditions NotBefore="{_instant(now - dt.timedelta(seconds=30))}" '
            f'NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>'
            f'</saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{_instant(now)}" '
            f'SessionIndex="_s{secrets.token_hex(8)}"><saml:AuthnContext><saml:AuthnContextClassRef>'
            'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>'
            f'</saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attr_xml}</saml:AttributeStatement>'
            '</saml:Assertion>')
        xml = (
            '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{_instant(now)}" Destination="{acs}" InResponseTo="{in_response_to}">'
            f'<saml:Issuer>{self.entity_id}</saml:Issuer><samlp:Status><samlp:StatusCode '
            'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f'{assertion}{extra}</samlp:Response>')
        if not sign:
            return xml
        src = self.folder / f"{aid}.xml"
        src.write_text(xml)
        out = subprocess.run([XMLSEC, "--sign", "--privkey-pem", f"{key_file},{cert_file}", "--id-attr:ID",
                              "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", str(src)],
                             capture_output=True, check=True)
        return out.stdout.decode()

    def _sp_encryption_cert(self) -> str:
        found = re.search(r'use="encryption".*?<ns\d:X509Certificate>([^<]+)<', self.sp_metadata or "", re.S)
        assert found, "the SP's metadata has no encryption certificate"
        body = found.group(1).strip()
        return "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n"

    def issued(self) -> tuple[str, str]:
        """The NameID and SessionIndex of the last response it issued (what its LogoutRequest names)."""
        name_id = re.search(r"<(?:\w+:)?NameID[^>]*>([^<]+)<", self.last_response)
        index = re.search(r'SessionIndex="([^"]+)"', self.last_response)
        assert name_id and index, self.last_response[:500]
        return name_id.group(1), index.group(1)

    def logout_request(self, sp_entity_id: str, name_id: str, session_index: str | None, *,
                       sign_with: tuple[Path, Path] | None = None, sign: bool = True,
                       sigalg: str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                       issued: dt.datetime | None = None) -> str:
        """The URL of the SP's single logout with this IdP's LogoutRequest (HTTP-Redirect), made by pysaml2's IdP and
        signed over the query (by the IdP's key unless ``sign_with``; unsigned when ``sign`` is false)."""
        import zlib
        from urllib.parse import quote_plus

        from cryptography.hazmat.primitives.asymmetric import padding
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID

        slo = self.server.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")
        destination = slo[0]["location"]
        _rid, request = self.server.create_logout_request(
            destination, sp_entity_id, name_id=NameID(text=name_id, format=NAMEID_FORMAT_TRANSIENT),
            session_indexes=[session_index] if session_index else None, sign=False)
        xml = str(request)
        if issued is not None:
            xml = re.sub(r'IssueInstant="[^"]+"', f'IssueInstant="{_instant(issued)}"', xml)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = compressor.compress(xml.encode()) + compressor.flush()
        query = f"SAMLRequest={quote_plus(base64.b64encode(deflated).decode())}&RelayState=rs1"
        if sign:
            query += f"&SigAlg={quote_plus(sigalg)}"
            key_file = (sign_with or (self.key_file, self.cert_file))[0]
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            algorithm = hashes.SHA1() if sigalg.endswith("rsa-sha1") else hashes.SHA256()  # noqa: S303
            signature = key.sign(query.encode(), padding.PKCS1v15(), algorithm)  # type: ignore[union-attr,call-arg]
            query += f"&Signature={quote_plus(base64.b64encode(signature).decode())}"
        return f"{destination}?{query}"

    # -------------------------------------------------------------------------------- the web side

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, req: Request) -> Response:
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_TRANSIENT

        if req.path == "/federation.xml" and self.aggregate is not None:
            return Response(self.aggregate, mimetype="application/samlmetadata+xml")
        if req.path == "/metadata":
            return Response(self.metadata(), mimetype="application/samlmetadata+xml")
        if req.path == "/sso":
            # pysaml2 checks the request and the signature of the redirect (want_authn_requests_signed)
            parsed = self.server.parse_authn_request(req.args["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                     relay_state=req.args.get("RelayState"),
                                                     sigalg=req.args.get("SigAlg"), signature=req.args.get("Signature"))
            if req.args.get("Signature"):
                self.seen.append("authn-request-signed")
            msg = parsed.message
            page = (f'<!doctype html><title>Uni Nord IdP</title><h1>Uni Nord Login</h1><form method="post" '
                    f'action="/login"><input type="hidden" name="req" value="{html.escape(msg.id)}">'
                    f'<input type="hidden" name="acs" value="{html.escape(msg.assertion_consumer_service_url)}">'
                    f'<input type="hidden" name="sp" value="{html.escape(msg.issuer.text)}">'
                    '<label>Benutzername <input name="username"></label>'
                    '<label>Passwort <input name="password" type="password"></label>'
                    '<button type="submit" id="idp-login">Anmelden</button></form>')
            return Response(page, mimetype="text/html")
        if req.path == "/login" and req.method == "POST":
            identity = self.users.get(req.form.get("username", ""))
            if identity is None:
                return Response("unknown user", status=403)
            resp = self.server.create_authn_response(
                identity, in_response_to=req.form["req"], destination=req.form["acs"], sp_entity_id=req.form["sp"],
                name_id_policy=None, userid=req.form["username"], sign_assertion=True, sign_response=False,
                name_id=None, authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
                nameid_format=NAMEID_FORMAT_TRANSIENT, encrypt_assertion=self.encrypt,
                encrypt_cert_assertion=self._sp_encryption_cert() if self.encrypt else None)
            self.last_response = str(resp)
            value = base64.b64encode(self.last_response.encode()).decode()
            action = html.escape(req.form["acs"])
            page = (f'<!doctype html><title>Uni Nord IdP</title><form method="post" action="{action}">'
                    f'<input type="hidden" name="SAMLResponse" value="{value}">'
                    '<button type="submit" id="idp-continue">Weiter zu aufsicht</button></form>')
            return Response(page, mimetype="text/html")
        if req.path == "/slo":
            query = parse_qs(req.query_string.decode())
            if "SAMLRequest" in query:
                self.server.parse_logout_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT,
                                                 relay_state=query.get("RelayState", [None])[0],
                                                 sigalg=query.get("SigAlg", [None])[0],
                                                 signature=query.get("Signature", [None])[0])
                self.seen.append("logout-request")
                return Response('<!doctype html><title>Uni Nord IdP</title><h1 id="idp-logged-out">Abgemeldet</h1>',
                                mimetype="text/html")
            _ = BINDING_HTTP_POST
        return Response("not found", status=404)


@contextlib.contextmanager
def start_idp(folder: Path, users: dict[str, dict[str, list[str]]] | None = None,
              host: str = "localhost") -> Iterator[Idp]:
    """Run the IdP on a free loopback port in a thread (``localhost``: another site than aufsicht's 127.0.0.1)."""
    key_file, cert_file = make_key(folder, "idp")
    server = make_server("127.0.0.1", 0, lambda e, s: idp.wsgi(e, s), threaded=True)
    idp = Idp(base=f"http://{host}:{server.server_port}", folder=folder, key_file=key_file, cert_file=cert_file,
              users=users if users is not None else {"lena": LENA})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        thread.join(timeout=10)


def walk(client: Any, idp: Idp, provider_id: int, username: str = "lena", next_url: str | None = None,
         pick: str | None = None) -> Any:
    """Sign in by the HTTP messages a browser carries: our start, the IdP's login form (over HTTP), its response
    posted to our ACS with the Flask test client; ``pick``: the IdP picked from a discovery connection's list.
    Returns our ACS's answer."""
    import requests

    query = urlencode({k: v for k, v in (("next", next_url), ("idp", pick)) if v})
    start = client.get(f"/saml/{provider_id}/start" + (f"?{query}" if query else ""))
    assert start.status_code == 302, start.get_data(as_text=True)[:500]
    page = requests.get(start.headers["Location"], timeout=10)
    page.raise_for_status()
    fields = dict(re.findall(r'name="(req|acs|sp)" value="([^"]*)"', page.text))
    answer = requests.post(idp.base + "/login", data={**{k: html.unescape(v) for k, v in fields.items()},
                                                      "username": username, "password": "x"}, timeout=10)
    answer.raise_for_status()
    found = re.search(r'name="SAMLResponse" value="([^"]+)"', answer.text)
    assert found, answer.text[:500]
    return client.post(f"/saml/{provider_id}/acs", data={"SAMLResponse": found.group(1)})


def entity(metadata: str) -> str:
    """An EntityDescriptor without its XML declaration (to put into an aggregate)."""
    return metadata.split("?>", 1)[1] if metadata.startswith("<?xml") else metadata


def sign_aggregate(folder: Path, entities: list[str], key: tuple[Path, Path] | None, *, reference: str | None = None,
                   valid_until: dt.datetime | None = None, name: str = "DFN-AAI Test") -> str:
    """A federation's metadata aggregate (EntitiesDescriptor) signed with xmlsec1 by ``key`` (None: unsigned);
    ``reference`` overrides the signature's Reference URI (default: the root's ID)."""
    root_id = "_fed" + secrets.token_hex(8)
    until = _instant(valid_until or dt.datetime.now(dt.UTC) + dt.timedelta(days=7))
    signature = "" if key is None else (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="{reference if reference is not None else "#" + root_id}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
        '</ds:SignedInfo><ds:SignatureValue/></ds:Signature>')
    xml = (f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{root_id}" Name="{name}" '
           f'validUntil="{until}">{signature}{"".join(entities)}</md:EntitiesDescriptor>')
    if key is None:
        return xml
    src = folder / f"{root_id}.xml"
    src.write_text(xml)
    ids = ["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
           "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"]
    out = subprocess.run([XMLSEC, "--sign", "--privkey-pem", f"{key[0]},{key[1]}", *ids, str(src)],
                         capture_output=True, check=True)
    return out.stdout.decode()
