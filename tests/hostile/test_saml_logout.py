"""Hostile single logout requests: an IdP's LogoutRequest that is unsigned, signed by another key, signed with SHA-1,
old, or replayed is refused with a clear message and ends nothing. The IdP is pysaml2's own (tests/saml_idp.py) on
loopback; each request changes one thing of one the IdP's own key would otherwise make good."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.saml import ProviderSettings, SamlProvider, save_provider
from tests.saml_idp import Idp, make_key, start_idp, walk

BASE = "http://aufsicht.test"  # the test app's SERVER_NAME


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    with start_idp(tmp_path) as running:
        yield running


@pytest.fixture
def provider(client: Any, idp: Idp, make_institution: Any) -> SamlProvider:
    inst = make_institution("Universität Nord", slug="nord")
    prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.metadata_url, metadata_xml=None))
    idp.trust(client.get(f"/saml/{prov.id}/metadata").get_data(as_text=True))
    return prov


@pytest.fixture
def signed_in(client: Any, idp: Idp, provider: SamlProvider) -> tuple[str, str]:
    """Lena signed in through the IdP; its NameID and SessionIndex."""
    walk(client, idp, provider.id)
    assert client.get("/candidate/profile").status_code == 200
    return idp.issued()


def _deliver(app: Any, url: str) -> Any:
    return app.test_client().get(url.replace(BASE, ""))  # another browser: the request alone must not suffice


def _refused_and_nothing_ended(resp: Any, client: Any, words: str) -> None:
    assert resp.status_code == 400, resp.get_data(as_text=True)[:500]
    page = resp.get_data(as_text=True)
    assert words in page and "Es wurde nichts beendet" in page, page[:2000]
    assert client.get("/candidate/profile").status_code == 200  # Lena is still signed in


def _sp(provider: SamlProvider) -> str:
    return f"{BASE}/saml/{provider.id}/metadata"


def test_the_control_request_ends_the_session(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                              signed_in: tuple[str, str]) -> None:
    resp = _deliver(app, idp.logout_request(_sp(provider), *signed_in))
    assert resp.status_code == 302
    assert client.get("/candidate/profile").status_code == 302


def test_unsigned_logout_request_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                         signed_in: tuple[str, str]) -> None:
    _refused_and_nothing_ended(_deliver(app, idp.logout_request(_sp(provider), *signed_in, sign=False)), client,
                               "nicht signiert")


def test_logout_request_signed_by_another_key_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                                      signed_in: tuple[str, str], tmp_path: Path) -> None:
    other = make_key(tmp_path, "mallory")
    _refused_and_nothing_ended(_deliver(app, idp.logout_request(_sp(provider), *signed_in, sign_with=other)),
                               client, "nicht mit dem Schlüssel")


def test_logout_request_with_a_tampered_name_id_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                                        signed_in: tuple[str, str]) -> None:
    """A good signature over another request: the query changed after signing (the signature covers it)."""
    good = idp.logout_request(_sp(provider), "someone-else", signed_in[1])
    forged = idp.logout_request(_sp(provider), *signed_in, sign=False)
    url = forged + "&" + "&".join(p for p in good.split("?", 1)[1].split("&") if p.startswith(("SigAlg", "Signature")))
    _refused_and_nothing_ended(_deliver(app, url), client, "nicht mit dem Schlüssel")


def test_logout_request_signed_with_sha1_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                                 signed_in: tuple[str, str]) -> None:
    url = idp.logout_request(_sp(provider), *signed_in, sigalg="http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    _refused_and_nothing_ended(_deliver(app, url), client, "SHA-256")


def test_old_logout_request_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                    signed_in: tuple[str, str]) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    _refused_and_nothing_ended(_deliver(app, idp.logout_request(_sp(provider), *signed_in, issued=old)), client,
                               "abgelaufen")


def test_replayed_logout_request_refused(app: Any, client: Any, idp: Idp, provider: SamlProvider,
                                         signed_in: tuple[str, str]) -> None:
    """The same signed request twice: the second time it is refused, and Lena's next sign-in stays signed in."""
    url = idp.logout_request(_sp(provider), signed_in[0], None)
    assert _deliver(app, url).status_code == 302
    assert client.get("/candidate/profile").status_code == 302
    walk(client, idp, provider.id)
    assert client.get("/candidate/profile").status_code == 200
    _refused_and_nothing_ended(_deliver(app, url), client, "bereits verwendet")
