"""Permission matrix: every role against every protected route, found from the URL map itself."""

from __future__ import annotations

import pytest
from flask import Flask

from accounts.models import Role
from tests.conftest import login

# Routes anyone may open; every other route must declare its roles with @role_required.
PUBLIC = {"static", "main.index", "main.set_language", "main.privacy", "main.healthz", "oversight.documentation",
          "main.accessibility", "oversight.download", "auth.login",
          "auth.choose_institution", "auth.register", "verify.form", "verify.certificate", "verify.well_known_jwks",
          "verify.api_credential", "main.openapi", "sso.start", "sso.callback", "sso.logged_out",
          # SAML: our SP metadata, the redirect to the IdP, the IdP's POST back and logout (tests/accounts/test_saml.py)
          "saml.metadata", "saml.start", "saml.acs", "saml.logged_out", "saml.slo", "saml.discover",
          "verify.upload", "badges.platform_did_document", "badges.institution_did_document",
          "badges.status_list", "badges.single_jwk",
          # LTI 1.3: the learning platform's calls (state, nonce and signature protect them; tests/lti)
          "lti.login", "lti.launch", "lti.deep_link", "lti.jwks",
          # the second login step (only after the right password, in the same session) and the mailed links
          "auth.second_factor", "auth.enrol_second_factor", "auth.verify_email", "auth.password_reset_request",
          "auth.password_reset", "account.confirm_email",
          # the exam's Safe Exam Browser settings: SEB downloads them without a login (an unguessable token in the
          # address; tests/exams/test_lockdown.py)
          "lockdown.seb_file",
          # the phone as the second camera: no login on the phone; the single-use pairing link, then the device
          # credential it issued (tests/proctoring/test_phone.py, test_page_events.py)
          "phone.pair", "phone.camera", "phone.state", "phone.offer", "phone.events",
          # a running attempt's item pictures: the signed address is the permission (tests/exams/test_pictures.py)
          "pictures.picture"}
# The media engine's internal API: no user session; a bearer token, and absent from web processes
# (tests/proctoring/test_media_engines.py checks both).
ENGINE_API = "engine_api."
# The institution API: no user session; an institution's API token as a bearer token (tests/results/test_api.py;
# test_the_institution_api_takes_tokens_only below).
TOKEN_API = "institution_api."
# Routes for any logged-in user, whatever the role.
ANY_USER = {"auth.logout", "auth.logout_all", "auth.resend_verification", "account.security", "account.password",
            "account.email", "account.recovery_codes"}


def _protected(app: Flask) -> list[tuple[str, str, frozenset[Role]]]:
    rows = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC | ANY_USER or rule.endpoint.startswith((ENGINE_API, TOKEN_API)):
            continue
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "required_roles", None)
        assert roles, f"{rule.endpoint} ({rule.rule}) is neither public nor protected by @role_required"
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "999999").replace(f"<{arg}>", "x")
        rows.append((method, path, roles))
    return rows


def test_every_route_is_public_or_declares_roles(app):
    assert len(_protected(app)) >= 8


@pytest.mark.parametrize("role", [None, *Role])
def test_permission_matrix(app, make_user, role):
    client = app.test_client()
    if role is not None:
        login(client, make_user(role.value))
    for method, path, roles in _protected(app):
        resp = client.open(path, method=method)
        if role is None:
            assert resp.status_code in (302, 401), (path, resp.status_code)
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"]
        elif role in roles:
            # allowed: the page renders, or the (nonexistent) object is not found, or input is missing
            assert resp.status_code in (200, 302, 400, 404), (role, path, resp.status_code)
        else:
            assert resp.status_code == 403, (role, path, resp.status_code)


@pytest.mark.parametrize("role", [None, *Role])
def test_the_institution_api_takes_tokens_only(app, make_user, role):
    """A session of any role is no API token: every route of the institution API answers 401."""
    client = app.test_client()
    if role is not None:
        login(client, make_user(role.value))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(TOKEN_API)]
    assert len(rules) >= 3
    for rule in rules:
        path = rule.rule.replace("<int:exam_id>", "1")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert client.open(path, method=method, json={}).status_code == 401, (role, method, path)
