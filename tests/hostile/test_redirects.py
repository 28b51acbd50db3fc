"""Hostile ``next`` targets after logging in and after choosing the language: the redirect stays on this site
and a control character never turns into a server error."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import PASSWORD

HOSTILE = [
    "//evil.example/x", "https://evil.example", "/\\evil.example", "/\\/evil.example",
    "/\t/evil.example",  # browsers and urlsplit drop tabs and newlines: "//evil.example"
    "/\n/evil.example", "/\r\n/evil.example", "/%0A/x\r\nSet-Cookie: a=b", "/\x00/x", "/\x0b/evil.example",
    " //evil.example", "\t//evil.example", "javascript:alert(1)", "/x\x7f",
]


def assert_stays_here(resp) -> None:
    """A redirect to a path of this site, as a browser would read the Location header (or, for a NUL, a 400)."""
    assert resp.status_code in (302, 400), resp.status_code
    if resp.status_code == 400:
        return
    location = resp.headers["Location"]
    as_browser = location.replace("\\", "/")
    for ch in "\t\r\n":
        as_browser = as_browser.replace(ch, "")
    parts = urlsplit(as_browser)
    assert not parts.scheme and not parts.netloc and not as_browser.startswith("//"), location
    assert location.startswith("/"), location


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_elsewhere(app, make_user, target):
    user = make_user("candidate")
    resp = app.test_client().post("/login", query_string={"next": target},
                                  data={"email": user.email, "password": PASSWORD})
    assert_stays_here(resp)


@pytest.mark.parametrize("target", HOSTILE)
def test_language_choice_never_redirects_elsewhere(app, target):
    resp = app.test_client().post("/language", data={"lang": "de", "next": target})
    assert_stays_here(resp)


def test_only_nul_is_refused_outright(app, make_user):
    """Every other hostile target still logs in and lands on this site; a NUL anywhere is a bad request."""
    user = make_user("candidate")
    for target in HOSTILE:
        resp = app.test_client().post("/login", query_string={"next": target},
                                      data={"email": user.email, "password": PASSWORD},
                                      headers={"Accept": "application/json"})
        assert resp.status_code == (400 if "\x00" in target else 302), target


def test_ordinary_targets_still_work(app, make_user):
    user = make_user("candidate")
    resp = app.test_client().post("/login", query_string={"next": "/candidate/?x=1"},
                                  data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/candidate/?x=1"
    resp = app.test_client().post("/language", data={"lang": "en", "next": "/verify?id=AB"})
    assert resp.headers["Location"] == "/verify?id=AB"
