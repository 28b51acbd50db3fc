"""Script in names, titles, chat, appeals and free-text answers: every page shows it as text, every API as data.

The pages are found from ``app.url_map`` (every GET route, with the tenant's own ids), so a new page that shows
one of these strings is checked without touching this file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kernel.clock import utcnow
from kernel.db import db
from tests.conftest import login
from tests.hostile.conftest import Tenant
from tests.hostile.test_tenant_ids import id_rules, methods, paths

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = '"><img src=x onerror=alert(2)>'
RAW = (SCRIPT, "<img src=x", "onerror=alert(2)>")


@pytest.fixture
def evil(app: Flask, make_tenant, make_user) -> tuple[Tenant, Any]:
    """A tenant where the candidate's name, the exam title, the answer, chat and appeal carry script,
    plus a second candidate's attempt waiting in the grading queue with a script answer."""
    from exams.attempts import save_answer, start_attempt, submit_attempt

    t = make_tenant("Xss", candidate_name=SCRIPT, exam_title=f"{IMG} {SCRIPT}", answer=SCRIPT, chat_text=SCRIPT,
                    appeal_text=SCRIPT)
    t.proctor.display_name = SCRIPT
    t.staff.display_name = SCRIPT
    t.check.reason = SCRIPT
    second = make_user("candidate", t.inst, first_name=SCRIPT, last_name="Zwei")
    db.session.commit()
    with app.test_request_context():
        waiting = start_attempt(second, t.exam_done, utcnow())
        save_answer(waiting, "q2", SCRIPT, utcnow())
        submit_attempt(waiting, utcnow())
    return t, waiting


def _client(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client


def _walk(app: Flask, client: FlaskClient, t: Tenant, waiting: Any) -> dict[str, list[Any]]:
    """GET every route (no ids, and each id route with the tenant's ids): responses by endpoint."""
    got: dict[str, list[Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.arguments and "GET" in methods(rule):
            got.setdefault(rule.endpoint, []).append(client.get(rule.rule))
    for rule in id_rules(app):
        if "GET" in methods(rule):
            for path in paths(rule, t, t, foreign=False):
                got.setdefault(rule.endpoint, []).append(client.get(path))
    got.setdefault("grading.attempt", []).append(client.get(f"/staff/attempts/{waiting.id}"))
    return got


def _check(got: dict[str, list[Any]]) -> set[str]:
    """No raw markup in any response; JSON is JSON. Returns the endpoints whose HTML shows the escaped script."""
    shown = set()
    for endpoint, responses in got.items():
        for resp in responses:
            assert resp.status_code < 500, (endpoint, resp.status_code)
            body = resp.get_data(as_text=True) if resp.mimetype.startswith(("text/", "application/json")) else ""
            if resp.mimetype == "application/json":
                # data, not markup: it parses, and nosniff keeps a browser from treating it as HTML
                json.loads(body)
                assert resp.headers["X-Content-Type-Options"] == "nosniff", endpoint
                continue
            if resp.mimetype in ("text/markdown", "text/csv",
                                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
                # a document to save (the AI Act papers, the results file): an attachment no browser renders, the
                # text as typed (formulas are kept text: tests/results/test_export.py)
                assert resp.headers["Content-Disposition"].startswith("attachment"), endpoint
                assert resp.headers["X-Content-Type-Options"] == "nosniff", endpoint
                continue
            for raw in RAW:
                assert raw not in body, (endpoint, raw)
            if resp.mimetype == "text/html" and ESCAPED in body:
                shown.add(endpoint)
            if resp.status_code == 200 and resp.mimetype != "text/html":
                # downloads and media: never something a browser would render as a page
                assert resp.mimetype in ("application/pdf", "application/jwt", "image/jpeg", "image/png", "video/webm",
                                         "audio/wav", "audio/ogg", "audio/mpeg", "audio/mp4", "video/mp4", "text/css",
                                         "text/javascript", "application/javascript",
                                         "application/yaml", "application/zip", "application/ld+json",
                                         "application/did+ld+json"), (endpoint, resp.mimetype)
    return shown


def test_staff_pages_show_script_as_text(app, evil):
    t, waiting = evil
    shown = _check(_walk(app, _client(app, t.staff), t, waiting))
    assert {"staff.home", "staff.exam", "grading.queue", "grading.attempt", "grading.appeals", "proctor.attempt",
            "proctor.review", "identity.queue", "identity.review", "staff.edit_exam"} <= shown


def test_proctor_pages_show_script_as_text(app, evil):
    t, waiting = evil
    shown = _check(_walk(app, _client(app, t.proctor), t, waiting))
    assert {"proctor.home", "proctor.attempt", "proctor.review", "identity.queue", "identity.review"} <= shown


def test_candidate_pages_show_script_as_text(app, evil):
    t, waiting = evil
    shown = _check(_walk(app, _client(app, t.candidate), t, waiting))
    assert {"candidate.home", "attempts.exam", "attempts.take", "attempts.result", "identity.page"} <= shown


def test_public_verify_page_shows_script_as_text(app, evil):
    t, _waiting = evil
    staff = _client(app, t.staff)
    staff.post(f"/staff/certificates/{t.cert.public_id}/revoke", data={"reason": SCRIPT, "confirm": "yes"})
    for client in (app.test_client(), staff):
        for url in (f"/verify/{t.cert.public_id}", f"/verify?id={t.cert.public_id}"):
            body = client.get(url).get_data(as_text=True)
            assert 'data-status="revoked"' in body
            assert SCRIPT not in body and "<img src=x" not in body
            assert body.count(ESCAPED) >= 3  # holder, exam title, revocation reason
    # what is typed into the form comes back escaped too
    body = app.test_client().get("/verify", query_string={"id": IMG}).get_data(as_text=True)
    assert "<img src=x" not in body and "&#34;&gt;&lt;img" in body


def test_apis_return_names_as_json_data(app, evil):
    t, _waiting = evil
    proctor, candidate = _client(app, t.proctor), _client(app, t.candidate)
    live = proctor.get("/api/proctor/live")
    assert live.mimetype == "application/json" and live.headers["X-Content-Type-Options"] == "nosniff"
    tile = next(x for x in live.json["attempts"] if x["attempt_id"] == t.attempt_live.id)
    assert tile["candidate"] == f"{SCRIPT} Xss" and tile["exam"] == f"Live {IMG} {SCRIPT}"
    for resp in (proctor.get(f"/api/proctor/attempts/{t.attempt_live.id}/chat"),
                 candidate.get(f"/api/attempts/{t.attempt_live.id}/chat")):
        assert resp.mimetype == "application/json"
        assert resp.json["messages"][0]["name"] == f"{SCRIPT} Xss" and resp.json["messages"][0]["text"] == SCRIPT
    sent = proctor.post(f"/api/proctor/attempts/{t.attempt_live.id}/chat", json={"text": IMG})
    assert sent.mimetype == "application/json" and sent.json["name"] == SCRIPT and sent.json["text"] == IMG
    warned = proctor.post(f"/api/proctor/attempts/{t.attempt_live.id}/warn", json={"message": IMG})
    assert warned.status_code == 200
    notices = candidate.get(f"/api/attempts/{t.attempt_live.id}/notices").json["notices"]
    assert IMG in [n["detail"].get("message") for n in notices]
    verified = app.test_client().post("/api/verify/credential", json={"credential": t.cert.credential})
    assert verified.mimetype == "application/json" and verified.json["claims"]["holder_name"] == f"{SCRIPT} Xss"


def test_every_response_forbids_inline_script(app, evil):
    """Defence in depth: even a missed escape could not run, the CSP allows scripts from our origin only."""
    t, _waiting = evil
    resp = _client(app, t.staff).get(f"/staff/attempts/{t.attempt_done.id}")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_scripts_insert_names_as_text_only(app):
    """The grid, chat and notices are filled by our JS from the JSON above: never through an HTML parser."""
    sources = {p.name: p.read_text() for p in Path(app.static_folder, "js").glob("*.js")}
    assert {"proctor.js", "chat.js", "exam.js"} <= set(sources)
    for name, text in sources.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, (name, sink)


def test_script_entered_through_the_forms_is_shown_as_text(app, make_institution, make_user):
    """The same strings through the real input paths: exam file, proctor account form, registration form."""
    from exams.authoring import TEMPLATE

    inst = make_institution()
    staff = _client(app, make_user("staff", inst))
    source = TEMPLATE.replace('title: "Neue Prüfung"', "title: '<script>alert(1)</script>'", 1).replace(
        'prompt: "Frage?"', "prompt: '<img src=x onerror=alert(2)>'", 1)
    assert source != TEMPLATE
    resp = staff.post("/staff/exams/new", data={"source": source, "format": "yaml"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    exam_page = staff.get(resp.headers["Location"]).get_data(as_text=True)
    assert staff.post("/staff/proctors", data={"email": "p@example.org", "password": "correct horse battery",
                                               "name": SCRIPT}).status_code == 302
    home = staff.get("/staff/").get_data(as_text=True)
    for body in (exam_page, home):
        assert SCRIPT not in body and "<img src=x" not in body and ESCAPED in body
    # a broken exam file echoes the typed source back: as text
    bad = staff.post("/staff/exams/new", data={"source": SCRIPT + "\n: :", "format": "yaml"})
    assert bad.status_code == 400 and SCRIPT not in bad.get_data(as_text=True)
    # registration refuses the name and shows what was typed, escaped
    reg = app.test_client().post(f"/register/{inst.slug}", data={
        "email": "x@example.org", "password": "correct horse battery", "salutation": "ms", "first_name": SCRIPT,
        "last_name": IMG, "privacy": "yes"})
    page = reg.get_data(as_text=True)
    assert reg.status_code == 400 and SCRIPT not in page and "<img src=x" not in page and ESCAPED in page
