"""The LTI login initiation (``/lti/login``) as anyone on the internet sees it: it needs no account, so it writes
nothing, and it redirects only to the authorization URL registered for the issuer that the request names."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from kernel.db import db
from lti import tool
from lti.models import LtiLoginState

LAUNCH = "http://aufsicht.test/lti/launch"


def _register(inst, issuer: str, client_id: str, auth: str):
    settings = tool.clean_platform_settings({
        "name": issuer, "issuer": issuer, "client_id": client_id, "auth_login_url": auth,
        "auth_token_url": issuer + "/token", "jwks_url": issuer + "/jwks.json", "deployment_ids": "1"})
    return tool.save_platform(inst, settings)


def test_login_initiations_write_nothing_and_go_only_to_the_registered_auth_url(app, client, make_institution):
    inst, other = make_institution(), make_institution()
    _register(inst, "https://lms.uni.example", "tool-a", "https://lms.uni.example/auth?x=1")
    _register(other, "https://moodle.other.example", "tool-b", "https://moodle.other.example/mod/lti/auth.php")
    login = {"iss": "https://lms.uni.example", "login_hint": "student-1", "target_link_uri": LAUNCH}

    for _ in range(20):  # a script calls the login initiation again and again
        resp = client.get("/lti/login", query_string=login)
        assert resp.status_code == 302
        where = urlsplit(resp.headers["Location"])
        assert (where.scheme, where.netloc, where.path) == ("https", "lms.uni.example", "/auth")
        query = parse_qs(where.query)
        assert query["x"] == ["1"] and query["client_id"] == ["tool-a"] and query["redirect_uri"] == [LAUNCH]
    assert client.post("/lti/login", data=login).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(LtiLoginState)) == 0  # no row before a signed launch

    refused = {
        "unregistered issuer": {**login, "iss": "https://evil.example"},
        "another platform's client id": {**login, "client_id": "tool-b"},
        "an issuer's URL with a path added": {**login, "iss": "https://lms.uni.example/auth"},
        "a target elsewhere": {**login, "target_link_uri": "https://evil.example/lti/launch"},
        "a hint too long": {**login, "login_hint": "x" * 5000},
    }
    for what, params in refused.items():
        resp = client.get("/lti/login", query_string=params)
        assert resp.status_code == 400 and "Location" not in resp.headers, what
    assert db.session.scalar(select(func.count()).select_from(LtiLoginState)) == 0


def test_a_launch_with_a_cookie_not_ours_or_for_another_state_is_refused(app, client, make_institution):
    _register(make_institution(), "https://lms.uni.example", "tool-a", "https://lms.uni.example/auth")
    resp = client.get("/lti/login", query_string={"iss": "https://lms.uni.example", "login_hint": "s",
                                                  "target_link_uri": LAUNCH})
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    cookie = client.get_cookie(tool.STATE_COOKIE, domain="aufsicht.test", path="/lti/launch")
    assert cookie is not None
    assert client.post("/lti/launch", data={"state": "made-up", "id_token": "a.b.c"}).status_code == 400
    client.set_cookie(tool.STATE_COOKIE, cookie.value[:-2] + "xx", domain="aufsicht.test",
                      path="/lti/launch")  # its signature broken
    assert client.post("/lti/launch", data={"state": state, "id_token": "a.b.c"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(LtiLoginState)) == 0
