"""A federation's signed metadata aggregate (as DFN-AAI publishes it): verified with the federation's certificate
(xmlsec1) before any IdP is taken from it; unsigned, signed by another key, altered after signing, signed only in
part (wrapping) or expired aggregates are refused; the periodic refresh keeps the last good copy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.saml import (
    ProviderSettings,
    SamlIdentity,
    SignInRefused,
    entity_from_aggregate,
    federation_idps,
    refresh_all_metadata,
    save_provider,
)
from kernel.db import db
from tests.conftest import csrf_from, login
from tests.saml_idp import Idp, entity, make_key, sign_aggregate, start_idp, walk


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    with start_idp(tmp_path) as running:
        yield running


@pytest.fixture
def federation(tmp_path: Path) -> tuple[Path, Path]:
    return make_key(tmp_path, "federation")


def _other_idp(idp: Idp) -> str:
    return entity(idp.metadata()).replace(idp.entity_id, "https://idp.hs-sued.example/idp/shibboleth")


def _aggregate(idp: Idp, key: tuple[Path, Path] | None, **kw: Any) -> str:
    return sign_aggregate(idp.folder, [_other_idp(idp), entity(idp.metadata())], key, **kw)


def test_the_federations_idps_are_listed_and_one_signs_in(app: Any, client: Any, idp: Idp, make_institution: Any,
                                                          federation: tuple[Path, Path]) -> None:
    idp.aggregate = _aggregate(idp, federation)
    cert = federation[1].read_text()
    with app.test_request_context():
        choices = federation_idps(idp.base + "/federation.xml", cert)
    assert {c[0] for c in choices} == {idp.entity_id, "https://idp.hs-sued.example/idp/shibboleth"}
    inst = make_institution("Universität Nord", slug="nord")
    prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.base + "/federation.xml",
                                                metadata_xml=None, federation_cert=cert, idp_entity_id=idp.entity_id))
    assert prov.idp_entity_id == idp.entity_id and "hs-sued" not in prov.metadata_xml
    idp.trust(client.get(f"/saml/{prov.id}/metadata").get_data(as_text=True))
    assert walk(client, idp, prov.id).status_code == 302
    assert db.session.scalar(select(SamlIdentity)) is not None


@pytest.mark.parametrize("case", ["unsigned", "other-key", "altered", "inner-reference", "expired"])
def test_a_bad_aggregate_is_refused(app: Any, idp: Idp, federation: tuple[Path, Path], tmp_path: Path,
                                    case: str) -> None:
    if case == "unsigned":
        idp.aggregate = _aggregate(idp, None)
    elif case == "other-key":
        idp.aggregate = _aggregate(idp, make_key(tmp_path, "mallory"))
    elif case == "altered":  # an IdP's entity id changed after signing
        idp.aggregate = _aggregate(idp, federation).replace("https://idp.hs-sued.example/idp/shibboleth",
                                                            "https://idp.evil.example/idp/shibboleth")
    elif case == "inner-reference":  # the signature covers one entity only, the rest is free to change
        inner = _other_idp(idp).replace("<ns0:EntityDescriptor", '<ns0:EntityDescriptor ID="_inner"', 1)
        assert 'ID="_inner"' in inner
        idp.aggregate = sign_aggregate(idp.folder, [inner, entity(idp.metadata())], federation, reference="#_inner")
    else:
        idp.aggregate = _aggregate(idp, federation, valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with app.test_request_context(headers={"Accept-Language": "de"}), pytest.raises(SignInRefused) as err:
        entity_from_aggregate(idp.base + "/federation.xml", federation[1].read_text(), idp.entity_id)
    words = {"unsigned": "nicht signiert", "other-key": "nicht mit dem", "altered": "nicht mit dem",
             "inner-reference": "nicht das ganze", "expired": "abgelaufen"}[case]
    assert words in err.value.message, err.value.message


def test_refresh_takes_the_new_aggregate_and_keeps_the_last_good_copy(app: Any, client: Any, idp: Idp,
                                                                      make_institution: Any,
                                                                      federation: tuple[Path, Path]) -> None:
    idp.aggregate = _aggregate(idp, federation)
    inst = make_institution("Universität Nord", slug="nord")
    with app.test_request_context():
        prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.base + "/federation.xml",
                                                    metadata_xml=None, federation_cert=federation[1].read_text(),
                                                    idp_entity_id=idp.entity_id))
    first = prov.metadata_fetched_at
    good = prov.metadata_xml
    idp.aggregate = _aggregate(idp, None)  # the next download is unsigned: refused, the last good copy stays
    assert refresh_all_metadata() == 0
    db.session.expire_all()
    assert prov.metadata_xml == good and prov.metadata_fetched_at == first
    idp.aggregate = _aggregate(idp, federation)
    assert refresh_all_metadata() == 1
    db.session.expire_all()
    assert prov.metadata_fetched_at is not None and first is not None and prov.metadata_fetched_at >= first


def test_the_settings_page_offers_the_federations_idps(client: Any, idp: Idp, make_institution: Any, make_user: Any,
                                                       federation: tuple[Path, Path]) -> None:
    idp.aggregate = _aggregate(idp, federation)
    inst = make_institution("Universität Nord", slug="nord")
    login(client, make_user("staff", inst))
    page = client.get(f"/institutions/{inst.id}/saml").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "name": "Uni Nord", "metadata_url": idp.base + "/federation.xml",
            "federation_cert": federation[1].read_text(), "enabled": "yes"}
    resp = client.post(f"/institutions/{inst.id}/saml", data=form)
    assert resp.status_code == 200
    listing = resp.get_data(as_text=True)
    assert 'id="idp_entity_id"' in listing and "https://idp.hs-sued.example/idp/shibboleth" in listing
    resp = client.post(f"/institutions/{inst.id}/saml", data={**form, "idp_entity_id": idp.entity_id})
    assert resp.status_code == 302
