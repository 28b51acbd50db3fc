"""SAML 2.0 sign-in against a real IdP on loopback (pysaml2's own IdP, tests/saml_idp.py, over HTTP): SP metadata,
signed requests, the account found by (IdP, subject id) only, the profile asked once, the login audit naming the
IdP, our second factor unless the administrator declared the IdP's, single logout, the settings page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from defusedxml.ElementTree import fromstring
from sqlalchemy import select

from accounts.models import LoginEvent, Role, User
from accounts.saml import ProviderSettings, SamlIdentity, SamlProvider, save_provider
from kernel.db import db
from tests.conftest import csrf_from, login
from tests.saml_idp import LENA, Idp, start_idp, walk

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    users = {"lena": LENA, "sam": {"eduPersonPrincipalName": ["sam@uni-nord.example"],
                                   "mail": ["sam.staff@uni-nord.example"], "givenName": ["Sam"], "sn": ["Staff"]}}
    with start_idp(tmp_path, users) as running:
        yield running


@pytest.fixture
def inst(make_institution: Any) -> Any:
    return make_institution("Universität Nord", slug="nord")


@pytest.fixture
def provider(client: Any, idp: Idp, inst: Any) -> SamlProvider:
    prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.metadata_url, metadata_xml=None))
    idp.trust(client.get(f"/saml/{prov.id}/metadata").get_data(as_text=True))
    return prov


def test_sp_metadata_names_entity_id_acs_slo_and_both_certificates(client: Any, provider: SamlProvider) -> None:
    resp = client.get(f"/saml/{provider.id}/metadata")
    assert resp.status_code == 200 and resp.mimetype == "application/samlmetadata+xml"
    root = fromstring(resp.get_data())
    assert root.get("entityID") == f"http://aufsicht.test/saml/{provider.id}/metadata"
    sp = root.find(f"{MD}SPSSODescriptor")
    assert sp.get("AuthnRequestsSigned") == "true" and sp.get("WantAssertionsSigned") == "true"
    acs = sp.find(f"{MD}AssertionConsumerService")
    assert acs.get("Location") == f"http://aufsicht.test/saml/{provider.id}/acs"
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert sp.find(f"{MD}SingleLogoutService").get("Location") == f"http://aufsicht.test/saml/{provider.id}/slo"
    assert {k.get("use") for k in sp.findall(f"{MD}KeyDescriptor")} == {"signing", "encryption"}
    assert "PRIVATE" not in resp.get_data(as_text=True)


def test_first_sign_in_makes_a_candidate_asks_the_profile_and_is_audited(client: Any, idp: Idp,
                                                                          provider: SamlProvider) -> None:
    resp = walk(client, idp, provider.id)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/candidate/profile")
    assert "authn-request-signed" in idp.seen  # the IdP checked our request's signature
    user = db.session.scalar(select(User).where(User.email == "lena.schmidt@uni-nord.example"))
    assert user is not None and user.role == Role.CANDIDATE and user.display_name == "Lena Schmidt"
    assert user.institution_id == provider.institution_id and user.profile is None
    ident = db.session.scalar(select(SamlIdentity))
    assert ident is not None and (ident.provider_id, ident.subject) == (provider.id, "lena@uni-nord.example")
    event = db.session.scalar(select(LoginEvent).where(LoginEvent.success.is_(True)))
    assert event is not None and event.provider == idp.entity_id and event.user_id == user.id
    # the second time the same account, found by (IdP, subject id)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/candidate/profile").get_data(as_text=True))})
    assert walk(client, idp, provider.id).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(SamlIdentity)).sign_ins == 2
    assert len(list(db.session.scalars(select(User).where(User.email == "lena.schmidt@uni-nord.example")))) == 1


def test_an_encrypted_assertion_is_decrypted_and_required(client: Any, idp: Idp, provider: SamlProvider) -> None:
    """The IdP encrypts for our encryption certificate (from our metadata); the connection requires it."""
    provider.want_encrypted = True
    db.session.commit()
    idp.encrypt = True
    resp = walk(client, idp, provider.id)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    assert "EncryptedAssertion" in idp.last_response and "lena@uni-nord.example" not in idp.last_response
    assert db.session.scalar(select(SamlIdentity)).subject == "lena@uni-nord.example"


def test_an_existing_account_with_the_same_mail_is_never_taken_over(client: Any, idp: Idp, provider: SamlProvider,
                                                                     make_user: Any, inst: Any) -> None:
    owner = make_user("candidate", inst, email="lena.schmidt@uni-nord.example")
    resp = walk(client, idp, provider.id)
    assert resp.status_code == 400
    assert "besteht bereits" in resp.get_data(as_text=True)
    assert db.session.scalar(select(SamlIdentity)) is None
    assert client.get("/candidate/").status_code in (302, 401)  # not logged in as the owner
    assert db.session.get(User, owner.id).email == "lena.schmidt@uni-nord.example"


def test_a_response_posted_in_another_browser_is_refused(client: Any, app: Any, idp: Idp,
                                                          provider: SamlProvider) -> None:
    """The response is good, but the browser that posts it did not start the sign-in (no cookie of ours)."""
    import re

    start = client.get(f"/saml/{provider.id}/start")
    page = requests.get(start.headers["Location"], timeout=10)
    fields = dict(re.findall(r'name="(req|acs|sp)" value="([^"]*)"', page.text))
    answer = requests.post(idp.base + "/login", data={**fields, "username": "lena"}, timeout=10)
    value = re.search(r'name="SAMLResponse" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    other = app.test_client()
    resp = other.post(f"/saml/{provider.id}/acs", data={"SAMLResponse": value})
    assert resp.status_code == 400 and "anderen Browser" in resp.get_data(as_text=True)
    assert db.session.scalar(select(SamlIdentity)) is None


def _link_staff(make_user: Any, inst: Any, provider: SamlProvider) -> User:
    staff = make_user("staff", inst, email="sam.staff@uni-nord.example")
    db.session.add(SamlIdentity(provider_id=provider.id, subject="sam@uni-nord.example", user_id=staff.id))
    db.session.commit()
    return staff


def test_staff_give_our_second_factor_unless_the_admin_declared_the_idps(
        client: Any, idp: Idp, inst: Any, provider: SamlProvider, make_user: Any) -> None:
    _link_staff(make_user, inst, provider)
    resp = walk(client, idp, provider.id, "sam")
    assert resp.status_code == 302 and "/login/second-factor" in resp.headers["Location"]
    assert client.get("/staff/").status_code != 200  # not logged in before the second factor
    # the exam office cannot declare it ...
    settings = ProviderSettings(name="Uni Nord", metadata_url=None, metadata_xml=None)
    save_provider(inst, settings, provider)
    assert not provider.second_factor_at_provider
    # ... the platform's administrator can
    save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=None, metadata_xml=None,
                                         second_factor_at_provider=True), provider)
    resp = walk(client, idp, provider.id, "sam")
    assert resp.status_code == 302 and "second-factor" not in resp.headers["Location"]


def test_logout_sends_a_signed_logout_request_to_the_idp(client: Any, idp: Idp, provider: SamlProvider) -> None:
    walk(client, idp, provider.id)
    page = client.get("/candidate/profile").get_data(as_text=True)
    resp = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/sso/logged-out")
    resp = client.get(resp.headers["Location"])
    assert resp.headers["Location"].endswith("/saml/logged-out")
    resp = client.get(resp.headers["Location"])
    import html
    import re

    url = html.unescape(re.search(r'href="(http://localhost:\d+/slo\?[^"]+)"', resp.get_data(as_text=True))
                        .group(1))  # type: ignore[union-attr]
    assert "Signature=" in url and "SigAlg=" in url
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and "logout-request" in idp.seen  # pysaml2's IdP verified it


def test_settings_page_shows_the_fields_to_copy_and_adds_an_idp(client: Any, app: Any, idp: Idp, inst: Any,
                                                                make_user: Any) -> None:
    staff = make_user("staff", inst)
    login(client, staff)
    page = client.get(f"/institutions/{inst.id}/saml")
    assert page.status_code == 200
    resp = client.post(f"/institutions/{inst.id}/saml", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "name": "Uni Nord", "metadata_url": idp.metadata_url,
        "enabled": "yes", "second_factor_at_provider": "yes"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    prov = db.session.scalar(select(SamlProvider))
    assert prov is not None and prov.idp_entity_id == idp.entity_id and not prov.second_factor_at_provider
    page = client.get(f"/institutions/{inst.id}/saml").get_data(as_text=True)
    assert f"http://aufsicht.test/saml/{prov.id}/metadata" in page and f"/saml/{prov.id}/acs" in page
    login_page = app.test_client().get("/login").get_data(as_text=True)
    assert f'href="/saml/{prov.id}/start' in login_page and "Anmelden mit Uni Nord" in login_page


def test_metadata_file_with_a_doctype_is_refused(client: Any, inst: Any, make_user: Any, idp: Idp) -> None:
    staff = make_user("staff", inst)
    login(client, staff)
    page = client.get(f"/institutions/{inst.id}/saml").get_data(as_text=True)
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]>' + idp.metadata().split("?>", 1)[-1]
    resp = client.post(f"/institutions/{inst.id}/saml", data={"csrf_token": csrf_from(page), "name": "X",
                                                              "metadata_xml": bomb})
    assert resp.status_code == 400 and "DOCTYPE" in resp.get_data(as_text=True)
    assert db.session.scalar(select(SamlProvider)) is None


def _logout_response_of(idp: Idp, provider: SamlProvider, location: str) -> Any:
    """The IdP's reading of our LogoutResponse at its SLO endpoint, once its redirect signature is our SP's key."""
    import base64
    from urllib.parse import parse_qs, unquote_plus, urlsplit

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from saml2 import BINDING_HTTP_REDIRECT

    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == idp.base + "/slo"
    raw = dict(p.split("=", 1) for p in parts.query.split("&"))
    assert unquote_plus(raw["SigAlg"]).endswith("rsa-sha256")
    signed = "&".join(f"{k}={raw[k]}" for k in ("SAMLResponse", "RelayState", "SigAlg") if k in raw).encode()
    key = x509.load_pem_x509_certificate(provider.cert_pem.encode()).public_key()
    key.verify(base64.b64decode(unquote_plus(raw["Signature"])), signed, padding.PKCS1v15(),  # type: ignore[union-attr,call-arg]
               hashes.SHA256())  # raises if not signed by our SP's key
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query.get("RelayState") == "rs1"
    return idp.server.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)


def test_single_logout_from_the_idp_ends_the_sign_ins_sessions(app: Any, client: Any, idp: Idp,
                                                               provider: SamlProvider) -> None:
    """The IdP's signed LogoutRequest (HTTP-Redirect), carried by another browser even, ends the session of the sign-in
    it names (NameID, SessionIndex); our signed LogoutResponse goes back to the IdP's SLO endpoint."""
    walk(client, idp, provider.id)
    assert client.get("/candidate/profile").status_code == 200
    name_id, session_index = idp.issued()
    sp = f"http://aufsicht.test/saml/{provider.id}/metadata"
    other = app.test_client()
    # Another sign-in's SessionIndex names nothing here: nothing ends, the IdP is still answered.
    resp = other.get(idp.logout_request(sp, name_id, "_another-session").replace("http://aufsicht.test", ""))
    assert resp.status_code == 302 and client.get("/candidate/profile").status_code == 200
    resp = other.get(idp.logout_request(sp, name_id, session_index).replace("http://aufsicht.test", ""))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    answer = _logout_response_of(idp, provider, resp.headers["Location"])
    assert answer.response.status.status_code.value == "urn:oasis:names:tc:SAML:2.0:status:Success"
    assert client.get("/candidate/profile").status_code == 302  # Lena's session has ended
    lena = db.session.scalar(select(User).where(User.email == "lena.schmidt@uni-nord.example"))
    assert lena is not None


def test_single_logout_from_the_idp_in_the_same_browser_logs_it_out(client: Any, idp: Idp,
                                                                      provider: SamlProvider) -> None:
    walk(client, idp, provider.id)
    name_id, session_index = idp.issued()
    sp = f"http://aufsicht.test/saml/{provider.id}/metadata"
    resp = client.get(idp.logout_request(sp, name_id, session_index).replace("http://aufsicht.test", ""))
    assert resp.status_code == 302 and resp.headers["Location"].startswith(idp.base + "/slo?SAMLResponse=")
    assert client.get("/candidate/profile").status_code == 302
