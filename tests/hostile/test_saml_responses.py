"""Hostile SAML responses are refused with a clear message: unsigned, signed by another key, wrong audience,
expired, replayed, signature wrapping, XML bomb and external entity. The IdP is pysaml2's own (tests/saml_idp.py)
on loopback; each forged response changes one thing of a response the IdP's own key would otherwise make good."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from accounts.models import LoginEvent, User
from accounts.saml import ProviderSettings, SamlIdentity, SamlProvider, save_provider
from kernel.db import db
from tests.saml_idp import Idp, make_key, start_idp

BASE = "http://aufsicht.test"  # the test app's SERVER_NAME


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    with start_idp(tmp_path) as running:
        yield running


@pytest.fixture
def provider(app: Any, client: Any, idp: Idp, make_institution: Any) -> SamlProvider:
    inst = make_institution("Universität Nord", slug="nord")
    prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.metadata_url, metadata_xml=None))
    idp.trust(client.get(f"/saml/{prov.id}/metadata").get_data(as_text=True))
    return prov


def _start(client: Any, provider: SamlProvider) -> str:
    """Start a sign-in; returns the AuthnRequest's ID (what the IdP's response must be InResponseTo)."""
    from saml2 import BINDING_HTTP_REDIRECT

    resp = client.get(f"/saml/{provider.id}/start")
    assert resp.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}
    assert query["SigAlg"].endswith("rsa-sha256") and query["Signature"]
    return str(_idp_server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT, sigalg=query["SigAlg"],
                                               signature=query["Signature"]).message.id)


_idp_server: Any = None


@pytest.fixture(autouse=True)
def _server(idp: Idp, provider: SamlProvider) -> None:
    global _idp_server
    _idp_server = idp.server


def _post(client: Any, provider: SamlProvider, xml: str | bytes) -> Any:
    raw = xml.encode() if isinstance(xml, str) else xml
    return client.post(f"/saml/{provider.id}/acs", data={"SAMLResponse": base64.b64encode(raw).decode()})


def _good(idp: Idp, provider: SamlProvider, request_id: str, **kw: Any) -> str:
    kw.setdefault("audience", f"{BASE}/saml/{provider.id}/metadata")
    return idp.forge(in_response_to=request_id, acs=f"{BASE}/saml/{provider.id}/acs", **kw)


def _refused(resp: Any, words: str) -> None:
    assert resp.status_code == 400, resp.get_data(as_text=True)[:500]
    page = resp.get_data(as_text=True)
    assert words in page, page[:2000]
    assert db.session.scalar(select(SamlIdentity)) is None  # nobody was signed in or linked


def test_a_good_forged_response_signs_in(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """The control: the template signed with the IdP's key is accepted (so each refusal below is for its one change)."""
    resp = _post(client, provider, _good(idp, provider, _start(client, provider)))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    ident = db.session.scalar(select(SamlIdentity))
    assert ident is not None and ident.subject == "lena@uni-nord.example"


def test_unsigned_assertion_refused(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """The good template, not signed at all (no Signature in the response or the assertion). Seen failing (signed in)
    with both of its checks switched off: pysaml2's ``want_assertions_signed`` (its insecure-configuration warning
    silenced, else the fixture errs instead) and our own check after it; either alone refuses it."""
    unsigned = _good(idp, provider, _start(client, provider), sign=False)
    assert "Signature" not in unsigned and "<saml:Assertion" in unsigned and "lena@uni-nord.example" in unsigned
    _refused(_post(client, provider, unsigned), "nicht mit dem Schlüssel")


def test_signed_by_another_key_refused(client: Any, idp: Idp, provider: SamlProvider, tmp_path: Path) -> None:
    other = make_key(tmp_path, "mallory")
    _refused(_post(client, provider, _good(idp, provider, _start(client, provider), sign_with=other)),
             "nicht mit dem Schlüssel")


def test_wrong_audience_refused(client: Any, idp: Idp, provider: SamlProvider) -> None:
    _refused(_post(client, provider, _good(idp, provider, _start(client, provider),
                                           audience="https://other-sp.example/shibboleth")), "falsche Zielgruppe")


def test_expired_assertion_refused(client: Any, idp: Idp, provider: SamlProvider) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    _refused(_post(client, provider, _good(idp, provider, _start(client, provider), issued=old)), "abgelaufen")


def test_replayed_assertion_refused(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """The same response twice: the request it answers is used up; and the same assertion ID answering a new
    request (re-signed by the IdP's key) is refused as a replay."""
    first = _good(idp, provider, _start(client, provider), assertion_id="_replayed1")
    assert _post(client, provider, first).status_code == 302
    client.post("/logout")
    db.session.execute(SamlIdentity.__table__.delete())
    db.session.execute(User.__table__.delete().where(User.email == "lena.schmidt@uni-nord.example"))
    db.session.commit()
    _refused(_post(client, provider, first), "abgelaufen oder wurde bereits verwendet")
    again = _good(idp, provider, _start(client, provider), assertion_id="_replayed1")
    _refused(_post(client, provider, again), "schon einmal verwendet")


def test_signature_wrapping_refused(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """XSW: the signed assertion for Lena stays, an unsigned one for Mallory is put beside it (before and after)."""
    request_id = _start(client, provider)
    evil = _good(idp, provider, request_id, sign=False, subject="mallory@evil.example",
                 attributes={"eduPersonPrincipalName": ["mallory@evil.example"], "mail": ["mallory@evil.example"]})
    evil_assertion = evil[evil.index("<saml:Assertion"):evil.index("</saml:Assertion>") + len("</saml:Assertion>")]
    signed = _good(idp, provider, request_id)
    head = signed.index("<saml:Assertion")
    wrapped = signed[:head] + evil_assertion + signed[head:]
    _refused(_post(client, provider, wrapped), "mehr als eine Zusicherung")
    assert db.session.scalar(select(User).where(User.email == "mallory@evil.example")) is None


def test_signature_wrapping_signed_assertion_hidden_in_extensions_refused(client: Any, idp: Idp,
                                                                          provider: SamlProvider) -> None:
    """XSW: the signed assertion moved into the response's Extensions (xmlsec still finds its ID), Mallory's
    unsigned assertion in its place."""
    request_id = _start(client, provider)
    evil = _good(idp, provider, request_id, sign=False, subject="mallory@evil.example",
                 attributes={"eduPersonPrincipalName": ["mallory@evil.example"], "mail": ["mallory@evil.example"]})
    evil_assertion = evil[evil.index("<saml:Assertion"):evil.index("</saml:Assertion>") + len("</saml:Assertion>")]
    signed = _good(idp, provider, request_id)
    head, tail = signed.index("<saml:Assertion"), signed.index("</saml:Assertion>") + len("</saml:Assertion>")
    status = signed.index("<samlp:Status>")
    moved = (signed[:status] + "<samlp:Extensions>" + signed[head:tail] + "</samlp:Extensions>"
             + signed[status:head] + evil_assertion + signed[tail:])
    _refused(_post(client, provider, moved), "nicht mit dem Schlüssel")
    assert db.session.scalar(select(User).where(User.email == "mallory@evil.example")) is None


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
], ids=["xml-bomb", "external-entity"])
def test_xml_bomb_and_external_entity_refused(client: Any, idp: Idp, provider: SamlProvider, prolog: str) -> None:
    xml = _good(idp, provider, _start(client, provider))
    if xml.startswith("<?xml"):
        xml = xml[xml.index("?>") + 2:]
    _refused(_post(client, provider, prolog + xml.replace("Schmidt", "&c;" if "bomb" in prolog or "&a;" in prolog
                                                         else "&xxe;")), "DOCTYPE")


def test_an_unencrypted_assertion_is_refused_where_encryption_is_required(client: Any, idp: Idp,
                                                                          provider: SamlProvider) -> None:
    provider.want_encrypted = True
    db.session.commit()
    _refused(_post(client, provider, _good(idp, provider, _start(client, provider))), "nicht verschlüsselt")


def test_the_slo_endpoint_logs_nobody_in_or_out(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """A link to our SLO endpoint (anyone can send one) neither ends a session nor says it did."""
    assert _post(client, provider, _good(idp, provider, _start(client, provider))).status_code == 302
    resp = client.get(f"/saml/{provider.id}/slo", follow_redirects=True)
    assert "abgemeldet" not in resp.get_data(as_text=True).lower()
    assert client.get("/candidate/profile").status_code == 200


def test_pointing_a_connection_at_another_idp_drops_its_links(client: Any, idp: Idp, provider: SamlProvider,
                                                               tmp_path: Path) -> None:
    """Links are (IdP, subject id): once the connection names another IdP, its subjects open no old account."""
    assert _post(client, provider, _good(idp, provider, _start(client, provider))).status_code == 302
    assert db.session.scalar(select(SamlIdentity)) is not None
    other = idp.metadata().replace(idp.entity_id, "https://idp.other.example/idp/shibboleth")
    save_provider(provider.institution, ProviderSettings(name="Uni Nord", metadata_url=None, metadata_xml=other),
                  provider)
    assert db.session.scalar(select(SamlIdentity)) is None
    assert db.session.scalar(select(User).where(User.email == "lena.schmidt@uni-nord.example")) is not None


def test_refusals_are_in_the_login_audit(client: Any, idp: Idp, provider: SamlProvider) -> None:
    _post(client, provider, _good(idp, provider, _start(client, provider), sign=False))
    event = db.session.scalar(select(LoginEvent).order_by(LoginEvent.id.desc()))
    assert event is not None and not event.success and event.provider == idp.entity_id


def test_metadata_url_goes_through_egress(app: Any, make_institution: Any) -> None:
    """A metadata URL on an internal address is refused by the egress policy (not fetched)."""
    from kernel.errors import ValidationFailed

    inst = make_institution("Institut Süd", slug="sued")
    with app.test_request_context(), pytest.raises(ValidationFailed) as err:
        save_provider(inst, ProviderSettings(name="X", metadata_url="https://10.1.2.3/idp/metadata", metadata_xml=None))
    assert "metadata_url" in err.value.fields
    _ = requests
