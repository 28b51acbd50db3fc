"""Federation discovery: an institution connects a federation's signed aggregate once; its login page offers one
"Sign in with your home organisation", the person picks any of the federation's IdPs from a searchable list and
signs in there (two pysaml2 IdPs on loopback, tests/saml_idp.py); accounts are linked by (IdP, subject id)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from accounts.models import LoginEvent
from accounts.saml import ProviderSettings, SamlIdentity, SamlProvider, save_provider
from kernel.db import db
from tests.saml_idp import LENA, Idp, entity, make_key, sign_aggregate, start_idp, walk


@pytest.fixture
def idps(tmp_path: Path) -> Iterator[tuple[Idp, Idp]]:
    (tmp_path / "nord").mkdir()
    (tmp_path / "sued").mkdir()
    # The same subject id at both IdPs (another person at each): the link is (IdP, subject id).
    other = {**LENA, "mail": ["lena.sued@hs-sued.example"], "sn": ["Süd"]}
    with start_idp(tmp_path / "nord") as nord, start_idp(tmp_path / "sued", {"lena": other}) as sued:
        yield nord, sued


def _named(metadata: str, name: str) -> str:
    """The IdP's EntityDescriptor with an OrganizationDisplayName (what the discovery list shows)."""
    xml = entity(metadata)
    prefix = re.match(r"<(\w+):EntityDescriptor", xml.lstrip())
    assert prefix, xml[:200]
    p = prefix.group(1)
    org = (f'<{p}:Organization><{p}:OrganizationName xml:lang="de">{name}</{p}:OrganizationName>'
           f'<{p}:OrganizationDisplayName xml:lang="de">{name}</{p}:OrganizationDisplayName>'
           f'<{p}:OrganizationURL xml:lang="de">https://example.org/</{p}:OrganizationURL></{p}:Organization>')
    return xml.replace(f"</{p}:EntityDescriptor>", org + f"</{p}:EntityDescriptor>")


@pytest.fixture
def federation(client: Any, idps: tuple[Idp, Idp], make_institution: Any, tmp_path: Path) -> SamlProvider:
    nord, sued = idps
    key = make_key(tmp_path, "federation")
    nord.aggregate = sign_aggregate(tmp_path, [_named(nord.metadata(), "Universität Nord"),
                                               _named(sued.metadata(), "Hochschule Süd")], key)
    inst = make_institution("Prüfungsamt Verbund", slug="verbund")
    prov = save_provider(inst, ProviderSettings(name="DFN-AAI Test", metadata_url=nord.base + "/federation.xml",
                                                metadata_xml=None, federation_cert=key[1].read_text(),
                                                discovery=True))
    sp_metadata = client.get(f"/saml/{prov.id}/metadata").get_data(as_text=True)
    nord.trust(sp_metadata)
    sued.trust(sp_metadata)
    return prov


def test_the_person_picks_the_second_idp_and_signs_in_there(client: Any, idps: tuple[Idp, Idp],
                                                            federation: SamlProvider) -> None:
    nord, sued = idps
    login_page = client.get("/login").get_data(as_text=True)
    assert "Mit Ihrer Heimateinrichtung anmelden" in login_page
    start = client.get(f"/saml/{federation.id}/start")
    assert start.status_code == 302 and f"/saml/{federation.id}/discover" in start.headers["Location"]
    listing = client.get(f"/saml/{federation.id}/discover").get_data(as_text=True)
    assert "Universität Nord" in listing and "Hochschule Süd" in listing
    found = client.get(f"/saml/{federation.id}/discover", query_string={"q": "süd"}).get_data(as_text=True)
    assert "Hochschule Süd" in found and "Universität Nord" not in found
    by_entity = client.get(f"/saml/{federation.id}/discover", query_string={"q": sued.base}).get_data(as_text=True)
    assert sued.entity_id in by_entity and nord.entity_id not in by_entity

    resp = walk(client, sued, federation.id, pick=sued.entity_id)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    assert "authn-request-signed" in sued.seen and not nord.seen  # the request went to the picked IdP only
    event = db.session.scalar(select(LoginEvent).order_by(LoginEvent.id.desc()))
    assert event is not None and event.success and event.provider == sued.entity_id
    assert event.email == "lena.sued@hs-sued.example"

    # The same subject id at the other IdP is another person: it opens a new account, never the first.
    client.get("/logout")
    with client.session_transaction() as s:
        s.clear()
    assert walk(client, nord, federation.id, pick=nord.entity_id).status_code == 302
    event = db.session.scalar(select(LoginEvent).order_by(LoginEvent.id.desc()))
    assert event is not None and event.provider == nord.entity_id and event.email == "lena.schmidt@uni-nord.example"
    assert db.session.scalar(select(func.count()).select_from(SamlIdentity)) == 2


def test_an_idp_not_in_the_federation_is_refused(client: Any, federation: SamlProvider) -> None:
    resp = client.get(f"/saml/{federation.id}/start", query_string={"idp": "https://evil.example/idp"})
    assert resp.status_code == 400 and "keinen IdP" in resp.get_data(as_text=True)


def test_the_picked_idps_single_logout_ends_the_session(app: Any, client: Any, idps: tuple[Idp, Idp],
                                                       federation: SamlProvider) -> None:
    """The picked IdP's signed LogoutRequest is checked against its key from the aggregate; the other IdP's key
    signing a request in its name ends nothing."""
    nord, sued = idps
    assert walk(client, sued, federation.id, pick=sued.entity_id).status_code == 302
    assert client.get("/candidate/profile").status_code == 200
    name_id, session_index = sued.issued()
    sp = f"http://aufsicht.test/saml/{federation.id}/metadata"
    forged = sued.logout_request(sp, name_id, session_index, sign_with=(nord.key_file, nord.cert_file))
    resp = app.test_client().get(forged.replace("http://aufsicht.test", ""))
    assert resp.status_code == 400 and client.get("/candidate/profile").status_code == 200
    resp = app.test_client().get(sued.logout_request(sp, name_id, session_index).replace("http://aufsicht.test", ""))
    assert resp.status_code == 302 and resp.headers["Location"].startswith(sued.base + "/slo?SAMLResponse=")
    assert client.get("/candidate/profile").status_code == 302


def test_the_exam_office_connects_the_whole_federation(app: Any, client: Any, idps: tuple[Idp, Idp],
                                                       make_institution: Any, make_user: Any,
                                                       tmp_path: Path) -> None:
    """The settings form: aggregate URL, certificate and "every IdP": saved without picking one; an unsigned
    aggregate is refused as before."""
    from tests.conftest import csrf_from, login

    nord, sued = idps
    key = make_key(tmp_path, "federation")
    inst = make_institution("Prüfungsamt Verbund", slug="verbund")
    login(client, make_user("staff", inst))
    page = client.get(f"/institutions/{inst.id}/saml").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "name": "DFN-AAI Test", "metadata_url": nord.base + "/federation.xml",
            "federation_cert": key[1].read_text(), "discovery": "yes", "enabled": "yes"}
    nord.aggregate = sign_aggregate(tmp_path, [entity(nord.metadata()), entity(sued.metadata())], None)
    resp = client.post(f"/institutions/{inst.id}/saml", data=form)
    assert resp.status_code == 400 and "nicht signiert" in resp.get_data(as_text=True)
    nord.aggregate = sign_aggregate(tmp_path, [entity(nord.metadata()), entity(sued.metadata())], key)
    resp = client.post(f"/institutions/{inst.id}/saml", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    prov = db.session.scalar(select(SamlProvider))
    assert prov is not None and prov.discovery and not prov.second_factor_at_provider
    login_page = app.test_client().get("/login").get_data(as_text=True)
    assert "Mit Ihrer Heimateinrichtung anmelden (DFN-AAI Test)" in login_page
