"""Sign-in through an OpenID provider, against a real certified one (npm oidc-provider) on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import select

from accounts.models import ConsentRecord, LoginEvent, Role, User
from accounts.oidc import OidcIdentity, OidcProvider, SignInRefused, validate_id_token
from kernel.db import db
from tests.conftest import link_in, login, mails_to, start_exam
from tests.oidc_peer import Peer, start_peer, walk_to_callback

OURS = "http://aufsicht.test"
ACCOUNTS = {
    "lena": {"email": "lena@example.org", "email_verified": True, "given_name": "Lena", "family_name": "Schmidt"},
    "unverified": {"email": "taken@example.org", "email_verified": False, "given_name": "Mallory",
                   "family_name": "Mallet"},
    "staffer": {"email": "office@example.org", "email_verified": True, "given_name": "Olga", "family_name": "Amt"},
    "elsewhere": {"email": "other-inst@example.org", "email_verified": True},
    "noemail": {"given_name": "Nobody"},
    "newcomer": {"email": "new@example.org", "email_verified": False, "name": "Nele Neu"},
}


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """One provider for the module, with our test client's callback registered."""
    with start_peer(tmp_path_factory.mktemp("oidc"), [f"{OURS}/sso/callback"], [f"{OURS}/login"], ACCOUNTS) as p:
        yield p


@pytest.fixture
def provider(app, peer, make_institution) -> OidcProvider:
    """The institution's provider, set up through the exam office's settings form."""
    inst = make_institution("Universität Nord", slug="nord")
    from accounts.oidc import ProviderSettings, save_provider

    return save_provider(inst, ProviderSettings(name="Uni-Login", issuer=peer.issuer, client_id=peer.client_id,
                                                client_secret=peer.client_secret))


def sign_in(client, provider: OidcProvider, login_name: str) -> Any:
    """Click "Sign in with ..." on our login page, sign in at the provider, come back: our answer."""
    page = client.get("/login").get_data(as_text=True)
    assert f'href="/sso/{provider.id}/start' in page
    start = client.get(f"/sso/{provider.id}/start")
    assert start.status_code == 302
    callback = walk_to_callback(start.headers["Location"], login_name, OURS)
    return client.get(callback.removeprefix(OURS))


def test_the_authorization_request_carries_pkce_state_and_nonce(client, provider, peer):
    start = client.get(f"/sso/{provider.id}/start")
    url = urlsplit(start.headers["Location"])
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{peer.issuer}/auth"
    assert q["response_type"] == "code" and q["client_id"] == peer.client_id
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 40 and len(q["nonce"]) >= 40 and q["scope"] == "openid email profile"
    assert q["redirect_uri"] == f"{OURS}/sso/callback"


def test_first_sign_in_makes_a_candidate_who_completes_the_profile_once(client, provider, make_exam):
    resp = sign_in(client, provider, "lena")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/candidate/profile")
    lena = db.session.scalar(select(User).where(User.email == "lena@example.org"))
    assert lena is not None and lena.role == Role.CANDIDATE and lena.institution_id == provider.institution_id
    assert lena.display_name == "Lena Schmidt" and lena.profile is None
    ident = db.session.scalar(select(OidcIdentity).where(OidcIdentity.user_id == lena.id))
    assert (ident.provider_id, ident.subject, ident.email_verified) == (provider.id, "lena", True)
    event = db.session.scalar(select(LoginEvent).where(LoginEvent.user_id == lena.id))
    assert event.success and event.provider == "Uni-Login"
    # The provider put email and names only in userinfo (as oidc-provider does by default): read from there.
    with client.session_transaction() as s:
        payload = s["oidc_login"]["id_token"].split(".")[1]
    import base64
    import json

    assert "email" not in json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # No password opens the account.
    assert client.post("/logout").status_code == 302
    assert client.post("/login", data={"email": "lena@example.org", "password": "!openid"}).status_code == 401
    sign_in(client, provider, "lena")

    exam = make_exam(institution=provider.institution, proctoring_required=False, identity_check_required=False)
    # The provider's word that the address is verified does not count: the address counts (holds, and lets exams
    # start) once Lena follows the link we mailed to it.
    assert lena.email_verified_at is None and not lena.holds_email
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 403
    assert client.get(link_in(mails_to(client.application, "lena@example.org")[-1], "/verify-email/")
                      ).status_code == 302
    refused = client.post(f"/candidate/exams/{exam.id}/start")
    assert refused.status_code == 409 and "Profil" in refused.get_data(as_text=True)
    page = client.get("/candidate/profile").get_data(as_text=True)
    assert 'value="Lena"' in page and 'value="Schmidt"' in page
    form = {"salutation": "ms", "first_name": "Lena", "last_name": "Schmidt", "date_of_birth": "1998-04-03",
            "place_of_birth": "Ulm", "id_document_number": "T22000129", "street": "Bahnhofstraße 3",
            "postal_code": "89073", "city": "Ulm", "country": "DE", "phone": "0731 123456"}
    no_consent = client.post("/candidate/profile", data=form)
    assert no_consent.status_code == 400 and "Datenschutzhinweise" in no_consent.get_data(as_text=True)
    bad = client.post("/candidate/profile", data={**form, "postal_code": "1", "privacy": "yes"})
    assert bad.status_code == 400 and "Postleitzahl" in bad.get_data(as_text=True)
    done = client.post("/candidate/profile", data={**form, "privacy": "yes"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/candidate/")
    db.session.expire_all()
    assert lena.profile.city == "Ulm" and lena.profile.phone == "+49731123456"
    consents = db.session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == lena.id)).all()
    assert [(c.kind, c.granted) for c in consents] == [("privacy_notice", True)]
    assert client.get("/candidate/profile").status_code == 302  # asked once
    assert lena.holds_email
    start_exam(client, exam.id)


def test_the_next_sign_in_finds_the_account_by_sub(client, provider):
    sign_in(client, provider, "lena")
    client.post("/logout")
    resp = sign_in(client, provider, "lena")
    assert resp.status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1
    ident = db.session.scalar(select(OidcIdentity))
    assert ident.sign_ins == 2


@pytest.mark.parametrize("login_name", ["unverified", "staffer"])
def test_no_email_verified_or_not_ever_opens_an_existing_account(client, provider, make_user, login_name):
    address = ACCOUNTS[login_name]["email"]
    owner = make_user("candidate", provider.institution, email=address)
    resp = sign_in(client, provider, login_name)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and address in html and "Passwort" in html
    assert client.get("/candidate/").status_code == 302  # not logged in
    assert db.session.scalar(select(OidcIdentity)) is None
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1
    event = db.session.scalar(select(LoginEvent).where(LoginEvent.success.is_(False)))
    assert event.provider == "Uni-Login" and event.user_id is None
    assert owner.email == address


def test_an_unverified_email_makes_a_new_account_not_marked_verified(client, provider):
    resp = sign_in(client, provider, "newcomer")
    assert resp.headers["Location"].endswith("/candidate/profile")
    ident = db.session.scalar(select(OidcIdentity))
    assert ident.user.email == "new@example.org" and ident.user.display_name == "Nele Neu"
    assert ident.email_verified is False
    assert ident.user.email_verified_at is None


def link_from_account_page(client, provider: OidcProvider, login_name: str) -> Any:
    """The logged-in owner links the provider from "My account": our answer after the provider's sign-in."""
    page = client.get("/account/security").get_data(as_text=True)
    assert f"/account/sign-in/{provider.id}/link" in page
    hop = client.post(f"/account/sign-in/{provider.id}/link")
    assert hop.status_code == 200
    import re
    from html import unescape

    url = unescape(re.search(r'<a href="([^"]+)" id="to-provider"', hop.get_data(as_text=True)).group(1))
    return client.get(walk_to_callback(url, login_name, OURS).removeprefix(OURS))


def test_staff_link_their_account_themselves_then_sign_in_through_the_provider(client, provider, make_user):
    staff = make_user("staff", provider.institution, email="office@example.org")
    login(client, staff)
    done = link_from_account_page(client, provider, "staffer")
    assert done.status_code == 302 and done.headers["Location"].endswith("/account/security")
    ident = db.session.scalar(select(OidcIdentity))
    assert (ident.user_id, ident.subject) == (staff.id, "staffer")
    client.post("/logout")
    resp = sign_in(client, provider, "staffer")
    # our second factor is still due: the provider was not declared to ask for one
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/second-factor")
    assert client.get("/staff/").status_code in (302, 401)
    # declared (by the platform's administrator): the provider's second factor counts, the sign-in lands at once
    provider.second_factor_at_provider = True
    db.session.commit()
    client.post("/logout")
    resp = sign_in(client, provider, "staffer")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")
    assert client.get("/staff/").status_code == 200


def test_a_link_is_refused_for_a_login_linked_elsewhere_and_for_a_browser_that_did_not_start_it(
        client, provider, make_user):
    sign_in(client, provider, "lena")  # Lena's own account, made by the provider
    client.post("/logout")
    other = make_user("candidate", provider.institution)
    login(client, other)
    resp = link_from_account_page(client, provider, "lena")
    assert resp.status_code == 400 and "anderen Konto" in resp.get_data(as_text=True)
    assert {i.user_id for i in db.session.scalars(select(OidcIdentity))} != {other.id}


def test_an_account_elsewhere_is_neither_taken_over_nor_blocked(client, provider, make_user):
    elsewhere = make_user("candidate", email="other-inst@example.org")  # another institution
    resp = sign_in(client, provider, "elsewhere")
    assert resp.status_code == 302  # a new account of the provider's institution, not the other one
    new = db.session.scalar(select(OidcIdentity)).user
    assert new.id != elsewhere.id and new.institution_id == provider.institution_id
    assert not new.holds_email and elsewhere.holds_email


def test_a_providers_account_never_blocks_the_address_for_the_person_elsewhere(client, provider, make_institution):
    earlier = len(mails_to(client.application, "lena@example.org"))  # the outbox is the session's
    sign_in(client, provider, "lena")  # the provider says lena@example.org is verified
    client.post("/logout")
    made = db.session.scalar(select(User))
    assert not made.holds_email
    make_institution("Sprachschule Süd", slug="sued")
    from tests.accounts.test_registration import GOOD

    assert client.post("/register/sued", data={**GOOD, "email": "lena@example.org"}).status_code == 200
    registered = db.session.scalar(select(User).where(User.email == "lena@example.org", User.id != made.id))
    assert registered is not None and registered.institution.slug == "sued"
    # her password works: the address is hers, and the provider's account does not stand in the way
    assert client.post("/login", data={"email": "lena@example.org", "password": GOOD["password"]}
                       ).status_code == 302
    client.post("/logout")
    # the provider's account can no longer confirm the address another account holds
    mail = mails_to(client.application, "lena@example.org")[earlier]  # the provider's account's, not hers
    resp = client.get(link_in(mail, "/verify-email/"))
    assert resp.status_code == 409
    db.session.expire_all()
    assert made.email_verified_at is None


def test_no_email_from_the_provider_no_new_account(client, provider):
    resp = sign_in(client, provider, "noemail")
    assert resp.status_code == 400 and "keine E-Mail-Adresse" in resp.get_data(as_text=True)
    assert db.session.scalar(select(User)) is None


def test_a_replayed_callback_is_refused(client, provider):
    start = client.get(f"/sso/{provider.id}/start")
    callback = walk_to_callback(start.headers["Location"], "lena", OURS).removeprefix(OURS)
    assert client.get(callback).status_code == 302
    client.post("/logout")
    again = client.get(callback)
    assert again.status_code == 400 and "bereits verwendet" in again.get_data(as_text=True)
    # Another browser that never started this sign-in cannot use the code either.
    stranger = client.application.test_client()
    assert stranger.get(callback).status_code == 400


def test_a_changed_state_is_refused(client, provider):
    start = client.get(f"/sso/{provider.id}/start")
    callback = walk_to_callback(start.headers["Location"], "lena", OURS).removeprefix(OURS)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    resp = client.get(callback.replace(state, state[:-2] + ("AA" if not state.endswith("AA") else "BB")))
    assert resp.status_code == 400 and db.session.scalar(select(User)) is None


def test_cancelled_at_the_provider(client, provider):
    start = client.get(f"/sso/{provider.id}/start")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    resp = client.get(f"/sso/callback?error=access_denied&state={state}")
    assert resp.status_code == 400 and "abgebrochen" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("change", "message"), [
    ({"aud": "someone-else"}, "falsche Zielgruppe"),
    ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 1200}, "abgelaufen"),
    ({"nonce": "an old nonce"}, "Nonce"),
    ({"iss": "http://127.0.0.1:1"}, "anderen Aussteller"),
    ("bad signature", "Signatur"),
    ("alg none", "fehlerhaft"),
])
def test_tampered_id_tokens_are_refused_with_a_clear_message(app, provider, peer, change, message):
    good = {"sub": "lena", "nonce": "the nonce of this sign-in"}
    if change == "bad signature":
        forger = RSAKey.generate_key(2048, parameters={"kid": peer.key.kid})
        token = peer.sign(good, key=forger)
    elif change == "alg none":
        import base64
        import json

        def b64(d: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

        token = f"{b64({'alg': 'none'})}.{b64({'iss': peer.issuer, 'aud': peer.client_id, **good})}."
    else:
        token = peer.sign({**good, **change})
    with app.test_request_context():
        assert validate_id_token(provider, peer.sign(good), "the nonce of this sign-in")["sub"] == "lena"  # control
        with pytest.raises(SignInRefused) as err:
            validate_id_token(provider, token, "the nonce of this sign-in")
    assert message in err.value.message


def test_the_providers_real_id_token_replayed_into_another_sign_in_is_refused(client, provider):
    sign_in(client, provider, "lena")
    with client.session_transaction() as s:
        real = s["oidc_login"]["id_token"]
    client.get(f"/sso/{provider.id}/start")
    with client.session_transaction() as s:
        new_nonce = s["oidc_pending"]["nonce"]
    with client.application.test_request_context(), pytest.raises(SignInRefused) as err:
        validate_id_token(provider, real, new_nonce)
    assert "Nonce" in err.value.message


def test_logout_ends_our_session_then_the_providers(client, provider, peer):
    sign_in(client, provider, "lena")
    out = client.post("/logout")
    assert out.headers["Location"].endswith("/sso/logged-out")
    page = client.get("/sso/logged-out").get_data(as_text=True)
    assert client.get("/candidate/").status_code == 302  # our session is over
    import re
    from html import unescape

    url = unescape(re.search(r'<a href="([^"]+)" id="provider-logout"', page).group(1))
    assert 'http-equiv="refresh" content="0; url=' in page
    q = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{peer.issuer}/session/end") and q["post_logout_redirect_uri"] == [f"{OURS}/login"]
    assert q["id_token_hint"][0].count(".") == 2
    confirm = requests.get(url, timeout=10)  # the provider accepts it: its sign-out confirmation page
    assert confirm.status_code == 200 and "logout" in confirm.text.lower()
    assert client.get("/sso/logged-out").headers["Location"].endswith("/login")  # only once


def test_a_password_login_logs_out_as_before(client, provider, make_user):
    login(client, make_user("candidate", provider.institution))
    assert client.post("/logout").headers["Location"].endswith("/login")


# ------------------------------------------------------------------------------------------- settings


def test_the_exam_office_sets_up_a_provider_and_never_sees_the_secret_again(client, peer, make_user,
                                                                            make_institution):
    inst = make_institution("Hochschule West")
    office = make_user("staff", inst)
    login(client, office)
    home = client.get("/staff/").get_data(as_text=True)
    assert f"/institutions/{inst.id}/sign-in" in home
    page = client.get(f"/institutions/{inst.id}/sign-in").get_data(as_text=True)
    assert "http://aufsicht.test/sso/callback" in page
    form = {"name": "Campus-Login", "issuer": peer.issuer + "/", "client_id": peer.client_id,
            "client_secret": peer.client_secret, "scopes": "openid email profile", "claim_email": "email",
            "claim_first_name": "given_name", "claim_last_name": "family_name", "enabled": "yes"}
    assert client.post(f"/institutions/{inst.id}/sign-in", data={**form, "issuer": "http://127.0.0.1:1"}
                       ).status_code == 400
    assert client.post(f"/institutions/{inst.id}/sign-in", data={**form, "scopes": "email"}).status_code == 400
    assert client.post(f"/institutions/{inst.id}/sign-in", data=form).status_code == 302
    prov = db.session.scalar(select(OidcProvider).where(OidcProvider.institution_id == inst.id))
    assert prov.issuer == peer.issuer and peer.client_secret.encode() not in prov.secret_wrapped
    edit = client.get(f"/institutions/{inst.id}/sign-in/{prov.id}").get_data(as_text=True)
    assert peer.client_secret not in edit and 'value="Campus-Login"' in edit
    # Saving without a secret keeps the stored one; unticking "enabled" hides it from the login page.
    assert client.post(f"/institutions/{inst.id}/sign-in/{prov.id}", data={**form, "client_secret": "",
                                                                         "enabled": ""}).status_code == 302
    from accounts.oidc import client_secret

    db.session.expire_all()
    assert client_secret(prov) == peer.client_secret and prov.enabled is False
    client.post("/logout")
    assert "Campus-Login" not in client.get("/login").get_data(as_text=True)


def test_the_admin_reaches_every_institutions_providers(client, provider, make_user):
    login(client, make_user("admin"))
    assert f"/institutions/{provider.institution_id}/sign-in" in client.get("/admin/").get_data(as_text=True)
    page = client.get(f"/institutions/{provider.institution_id}/sign-in").get_data(as_text=True)
    assert "Uni-Login" in page


def test_another_institutions_providers_are_not_found(client, provider, make_user):
    login(client, make_user("staff"))
    assert client.get(f"/institutions/{provider.institution_id}/sign-in").status_code == 404
    assert client.get(f"/institutions/{provider.institution_id}/sign-in/{provider.id}").status_code == 404
    assert client.post(f"/institutions/{provider.institution_id}/sign-in/{provider.id}/delete",
                       data={"confirm": "yes"}).status_code == 404


def test_removing_a_provider_asks_once(client, provider, make_user):
    sign_in(client, provider, "lena")
    client.post("/logout")
    lena = db.session.scalar(select(User))
    login(client, make_user("staff", provider.institution))
    provider_id = provider.id
    base = f"/institutions/{provider.institution_id}/sign-in/{provider_id}"
    client.post(base + "/delete")
    assert db.session.get(OidcProvider, provider_id) is not None
    client.post(base + "/delete", data={"confirm": "yes"})
    db.session.expire_all()
    assert db.session.get(OidcProvider, provider_id) is None
    assert db.session.scalar(select(OidcIdentity)) is None and db.session.get(User, lena.id) is not None


def test_only_the_platforms_admin_declares_that_a_provider_asks_for_a_second_factor(client, provider, peer,
                                                                                   make_user):
    base = f"/institutions/{provider.institution_id}/sign-in/{provider.id}"
    form = {"name": "Uni-Login", "issuer": peer.issuer, "client_id": peer.client_id, "client_secret": "",
            "scopes": "openid email profile", "claim_email": "email", "claim_first_name": "given_name",
            "claim_last_name": "family_name", "enabled": "yes", "second_factor_at_provider": "yes"}
    login(client, make_user("staff", provider.institution))
    assert 'name="second_factor_at_provider"' not in client.get(base).get_data(as_text=True)
    assert client.post(base, data=form).status_code == 302  # the exam office's tick is ignored
    assert client.post(f"/institutions/{provider.institution_id}/sign-in", data={
        **form, "name": "Zweit-Login", "client_secret": peer.client_secret}).status_code == 302
    db.session.expire_all()
    assert {p.second_factor_at_provider for p in db.session.scalars(select(OidcProvider))} == {False}
    client.post("/logout")
    login(client, make_user("admin"))
    assert 'name="second_factor_at_provider"' in client.get(base).get_data(as_text=True)
    assert client.post(base, data=form).status_code == 302
    db.session.expire_all()
    assert provider.second_factor_at_provider is True
    client.post("/logout")
    # The exam office may still edit the provider (the declaration stays) but not point it elsewhere with it.
    login(client, make_user("staff", provider.institution))
    assert client.post(base, data={**form, "name": "Uni-Login neu"}).status_code == 302
    db.session.expire_all()
    assert provider.second_factor_at_provider is True and provider.name == "Uni-Login neu"
    assert client.post(base, data={**form, "client_id": "another-client"}).status_code == 302
    db.session.expire_all()
    assert provider.second_factor_at_provider is False
