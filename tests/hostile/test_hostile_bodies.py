"""Hostile bodies, query strings and ids on every route (found from ``app.url_map``, with the user's own ids so
the request gets past the access check): malformed, oddly typed, huge or absurdly nested input is a 4xx, never
a 500, and nothing a hostile body stored can break a page afterwards."""

from __future__ import annotations

import pytest

from tests.conftest import login
from tests.hostile.test_tenant_ids import id_rules, methods, paths

JSON_BODIES = [
    "[" * 100_000,  # nested deeper than the parser's recursion limit
    '{"value":' * 50_000,
    "[1, 2]", '"text"', "null", "{not json", '{"value": NaN, "text": Infinity}',
    '{"value": {"x": 1}, "text": ["a"], "message": 5, "minutes": [], "sdp": 7, "reason": {}, "credential": 1}',
    '{"value": "a\\u0000b", "text": "\\u0000", "message": "\\u0000", "reason": "\\u0000"}',  # NUL
    '{"value": "\\ud800", "text": "\\udfff", "message": "\\ud800", "reason": "\\ud800"}',  # lone surrogates
    '{"minutes": "999999999999999999999", "value": 1e400, "user_id": 99999999999999999999999}',
]
FORM_BODIES = [
    {"points": "1e9999", "question_id": "\x00", "outcome": "x" * 10_000, "reason": "\x00", "minutes": "-1"},
    {"points": "-5", "question_id": "../../etc/passwd", "user_id": "1; DROP TABLE user", "verified": "yes"},
    {"points": "99999999999999999999999", "user_id": "99999999999999999999999", "granted": ["yes", "no"]},
]
# invalid UTF-8 (a lone surrogate, a bare 0xFF) as a browser would send an urlencoded form
RAW_FORM = (b"question_id=%ff%fe&reason=%ED%A0%80&text=%ED%A0%80&points=1&outcome=%ff&email=%ff&password=%ff"
            b"&name=%ff&user_id=%ff")
QUERIES = ["?after=%ff%fe", "?id=%ED%A0%80", "?after=-1", "?after=99999999999999999999999", "?after=abc",
           "?format=../../x", "?id=%00", "?id=" + "A" * 5000, "?t=x&t=y", "?after=1e9999"]
HUGE_IDS = [2**31, 2**63, 2**64 + 1, 10**30]


@pytest.mark.parametrize("role", ["staff", "proctor", "candidate"])
def test_no_body_or_query_makes_any_route_fail(app, make_tenant, role):
    a = make_tenant("Aaaland")
    client = app.test_client()
    login(client, getattr(a, role))
    targets = [(rule, rule.rule) for rule in app.url_map.iter_rules()
               if not rule.arguments and rule.endpoint not in ("static", "auth.logout", "auth.logout_all")]
    targets += [(rule, path) for rule in id_rules(app) for path in paths(rule, a, a, foreign=False)]
    failures = []
    for rule, path in targets:
        for method in methods(rule):
            if method == "GET":
                sent = [client.get(path + q) for q in QUERIES]
            else:
                sent = [client.open(path, method=method, data=body, content_type="application/json")
                        for body in JSON_BODIES]
                sent += [client.open(path, method=method, data=form) for form in FORM_BODIES]
                sent.append(client.open(path, method=method, data=RAW_FORM,
                                        content_type="application/x-www-form-urlencoded"))
            failures += [(method, path, r.status_code) for r in sent if r.status_code >= 500]
    # and afterwards every page still renders, whatever the bodies above managed to store
    for rule, path in targets:
        if "GET" in methods(rule):
            status = client.get(path).status_code
            if status >= 500:
                failures.append(("GET after", path, status))
    assert not failures, failures


@pytest.mark.parametrize("role", ["staff", "proctor", "candidate"])
def test_ids_too_large_for_the_database_are_not_found(app, make_user, role):
    client = app.test_client()
    login(client, make_user(role))
    failures = []
    for rule in app.url_map.iter_rules():
        ints = [arg for arg in rule.arguments if type(rule._converters[arg]).__name__.endswith(("Integer",
                                                                                            "IdConverter"))]
        if not ints:
            continue
        for huge in HUGE_IDS:
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", str(huge)).replace(f"<{arg}>", "x")
            for method in methods(rule):
                status = client.open(path, method=method).status_code
                if status not in (403, 404, 405):  # another role's page may say "not yours" first
                    failures.append((method, path, status))
    assert not failures, failures


@pytest.mark.parametrize("body", JSON_BODIES[:2] + JSON_BODIES[8:10])
def test_unusable_json_is_a_bad_request_on_the_public_api(app, body):
    resp = app.test_client().post("/api/verify/credential", data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "validation_failed"


@pytest.mark.parametrize("role", [None, "staff", "candidate"])
def test_nul_characters_anywhere_are_a_bad_request(app, make_tenant, role):
    """PostgreSQL text cannot hold NUL: in a path, a query, a form or JSON it is refused before any database
    work, for every route, logged in or not."""
    a = make_tenant("Aaaland")
    client = app.test_client()
    if role:
        login(client, getattr(a, role))
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not methods(rule):
            continue
        values = tenant_ids(a)
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", str(values.get(arg, 1))).replace(f"<{arg}>", "%00")
        for method in methods(rule):
            sent = [client.open(path + "?q=%00", method=method)]
            if method != "GET":
                sent += [client.open(path, method=method, data={"reason": "a\x00b", "text": "\x00", "name": "\x00",
                                                                "email": "a\x00@example.org", "first_name": "\x00"}),
                         client.open(path, method=method, json={"text": "\x00", "value": "\x00", "reason": "\x00"})]
            failures += [(method, path, r.status_code) for r in sent if r.status_code >= 500]
    assert not failures, failures


def tenant_ids(t) -> dict[str, int]:
    """Integer ids of the tenant by argument name."""
    from tests.hostile.test_tenant_ids import tenant_values

    return {k: v[0] for k, v in tenant_values(t).items() if isinstance(v[0], int)}


@pytest.mark.parametrize("header,status,body", [
    ("bytes=-5", 206, b"aland"),  # a suffix range: the last five bytes
    ("bytes=-99999", 206, b"webm Aaaland"),
    ("bytes=0-1,3-4", 200, b"webm Aaaland"),  # several ranges: the whole part
    ("items=0-1", 200, b"webm Aaaland"),  # another unit: the whole part
    ("bytes=abc", 200, b"webm Aaaland"),
    ("bytes=5-1", 200, b"webm Aaaland"),
    ("bytes=3-", 206, b"m Aaaland"),
    ("bytes=12-", 416, None),
    ("bytes=99999999999999999999-", 416, None),
])
def test_hostile_range_headers_on_a_recording(app, make_tenant, header, status, body):
    a = make_tenant("Aaaland")
    client = app.test_client()
    login(client, a.staff)
    resp = client.get(f"/proctor/attempts/{a.attempt_live.id}/recordings/{a.recording.id}", headers={"Range": header})
    assert resp.status_code == status, (header, resp.status_code)
    if body is not None:
        assert resp.data == body
    if status == 206:
        start = len(b"webm Aaaland") - len(body)
        assert resp.headers["Content-Range"] == f"bytes {start}-{len(b'webm Aaaland') - 1}/{len(b'webm Aaaland')}"
