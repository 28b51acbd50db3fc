"""A sign-in provider or learning platform of one institution (or whoever controls it) names someone's email
address: it never opens that person's account, here or at another institution, and never keeps the person from
registering with the address elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import User
from accounts.oidc import OidcIdentity, OidcProvider, SignInRefused, link_account
from kernel.db import db
from lti.models import LtiPlatform
from lti.tool import candidate_for
from tests.accounts.test_registration import GOOD
from tests.conftest import PASSWORD, login


@pytest.fixture
def provider(make_institution) -> OidcProvider:
    """A provider row of institution "nord" (the flow up to the claims is tested in tests/accounts/test_oidc.py)."""
    prov = OidcProvider(institution=make_institution("Nord", slug="nord"), name="Nord-Login",
                        issuer="https://idp.nord.example", client_id="aufsicht", secret_key_id="-",
                        secret_wrapped=b"-")
    db.session.add(prov)
    db.session.commit()
    return prov


@pytest.fixture
def platform(make_institution) -> LtiPlatform:
    """A learning platform of institution "west"."""
    lms = "https://lms.west.example"
    plat = LtiPlatform(institution=make_institution("West", slug="west"), name="Moodle", issuer=lms, client_id="c",
                       auth_login_url=f"{lms}/auth", auth_token_url=f"{lms}/token", jwks_url=f"{lms}/jwks",
                       deployment_ids=["1"])
    db.session.add(plat)
    db.session.commit()
    return plat


def claims(email: str, sub: str = "mallory") -> dict[str, Any]:
    return {"sub": sub, "email": email, "email_verified": True, "given_name": "Mallory", "family_name": "M"}


@pytest.mark.parametrize("role", ["staff", "proctor", "candidate"])
def test_a_verified_address_from_the_provider_never_opens_an_account_of_its_institution(app, client, provider,
                                                                                       make_user, role):
    victim = make_user(role, provider.institution)
    with app.test_request_context(), pytest.raises(SignInRefused):
        link_account(provider, claims(victim.email))
    assert db.session.scalar(select(OidcIdentity)) is None
    login(client, victim)  # the owner's password still opens it, and nobody else's sign-in does


def test_a_verified_address_from_the_provider_never_opens_an_account_elsewhere(app, client, provider, make_user):
    victim = make_user("staff")  # another institution
    with app.test_request_context():
        user, created, linked = link_account(provider, claims(victim.email))
    assert created and not linked and user.id != victim.id and user.institution_id == provider.institution_id
    assert user.role.value == "candidate" and not user.holds_email
    db.session.refresh(victim)
    assert victim.holds_email and victim.email_verified_at is not None
    login(client, victim)


def test_an_address_named_by_a_provider_or_a_platform_stays_free_for_its_owner(app, client, provider, platform,
                                                                              make_institution):
    address = "person@example.org"
    with app.test_request_context():
        by_provider, _created, _linked = link_account(provider, claims(address))
        by_platform = candidate_for(platform, "lms-42", {"email": address, "name": "Someone"})
        db.session.commit()
    assert by_provider.email == address  # the provider's word is kept as the account's (unconfirmed) address
    assert not by_provider.holds_email and not by_platform.holds_email
    make_institution("Süd", slug="sued")
    assert client.post("/register/sued", data={**GOOD, "email": address}).status_code == 200
    owner = db.session.scalar(select(User).where(User.email == address, User.institution.has(slug="sued")))
    assert owner is not None and owner.holds_email
    resp = client.post("/login", data={"email": address, "password": GOOD["password"]})
    assert resp.status_code == 302 and client.get("/candidate/").status_code == 200
    # nobody's password opens the accounts the provider and the platform made
    other = type(client)(app)
    assert other.post("/login", data={"email": address, "password": PASSWORD}).status_code == 401
