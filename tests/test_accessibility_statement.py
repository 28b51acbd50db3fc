"""The accessibility statement (Erklärung zur Barrierefreiheit): public, linked from every page's footer, its
default names the conciliation body under § 16 BGG, the admin edits it per language; and the identity page tells
candidates who cannot make the head movements that a proctor checks them instead."""

from __future__ import annotations

from sqlalchemy import select

from accounts.accessibility import AccessibilityStatement
from kernel.db import db
from tests.conftest import csrf_from, login


def test_the_default_statement_in_german_and_english(client):
    page = client.get("/accessibility", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "<h1>Erklärung zur Barrierefreiheit</h1>" in page
    assert "teilweise vereinbar" in page and "Schlichtungsstelle nach § 16 BGG" in page
    assert "Mauerstraße 53" in page and "Prüfungsamt" in page  # the feedback contact said
    assert 'id="known-gaps"' in page and "Kopfbewegungen" in page
    english = client.get("/accessibility", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>Accessibility statement</h1>" in english and "partially compliant" in english
    assert "§ 16 BGG" in english


def test_every_page_links_the_statement_in_its_footer(client, make_user):
    for path in ("/login", "/privacy", "/verify"):
        page = client.get(path, headers={"Accept-Language": "de"}).get_data(as_text=True)
        footer = page[page.index('<footer class="site">'):]
        assert 'href="/accessibility"' in footer and "Barrierefreiheit" in footer, path
    login(client, make_user("candidate"))
    page = client.get("/candidate/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'href="/accessibility" id="accessibility-link"' in page


def test_the_admin_edits_the_statement_per_language(client, make_user):
    admin = make_user("admin")
    login(client, admin)
    form_page = client.get("/admin/accessibility").get_data(as_text=True)
    data = {"csrf_token": csrf_from(form_page), "conformance": "full",
            "known_gaps_de": "Keine bekannten Lücken.\n\nZweiter Absatz.", "known_gaps_en": "No known gaps.",
            "contact": "barrierefreiheit@example.org", "enforcement_de": "", "enforcement_en": ""}
    resp = client.post("/admin/accessibility", data=data)
    assert resp.status_code == 302
    saved = db.session.scalar(select(AccessibilityStatement))
    assert (saved.conformance, saved.contact, saved.updated_at is not None) == ("full", "barrierefreiheit@example.org",
                                                                                 True)
    german = client.get("/accessibility", headers={"Accept-Language": "de"}).get_data(as_text=True)
    client.post("/language", data={"csrf_token": csrf_from(german), "lang": "de", "next": "/accessibility"})
    german = client.get("/accessibility").get_data(as_text=True)
    assert "vollständig vereinbar" in german and "<p>Keine bekannten Lücken.</p><p>Zweiter Absatz.</p>" in german
    assert "barrierefreiheit@example.org" in german and "Schlichtungsstelle nach § 16 BGG" in german  # default kept
    client.post("/language", data={"csrf_token": csrf_from(german), "lang": "en", "next": "/accessibility"})
    english = client.get("/accessibility").get_data(as_text=True)
    assert "No known gaps." in english and "Keine bekannten" not in english and "fully compliant" in english


def test_an_unknown_state_is_refused_and_nothing_saved(client, make_user):
    login(client, make_user("admin"))
    page = client.get("/admin/accessibility").get_data(as_text=True)
    resp = client.post("/admin/accessibility", data={"csrf_token": csrf_from(page), "conformance": "mostly",
                                                     "known_gaps_de": "x"})
    assert resp.status_code == 200 and 'id="conformance-error"' in resp.get_data(as_text=True)
    assert db.session.scalar(select(AccessibilityStatement)) is None


def test_only_the_admin_edits_it(client, make_user):
    login(client, make_user("staff"))
    assert client.get("/admin/accessibility").status_code == 403


def test_the_identity_page_offers_the_check_by_a_proctor_to_those_who_cannot_move(client, make_user, make_exam):
    exam = make_exam(identity_check_required=True, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", exam.institution)
    login(client, cand)
    page = client.get(f"/candidate/exams/{exam.id}/identity", headers={"Accept-Language": "de"}).get_data(as_text=True)
    client.post("/language", data={"csrf_token": csrf_from(page), "lang": "de", "next": "/"})
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    said = page[page.index('id="movement-alternative"'):]
    said = said[:said.index("</p>")]
    assert "blind" in said and "motorisch" in said and "ohne Kopfbewegungen" in said
    assert 'id="consent-no"' in page  # the way to it, on the same page
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"csrf_token": csrf_from(page), "granted": "yes"})
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert 'id="movement-help"' in page and 'id="switch-manual"' in page
    client.post("/language", data={"csrf_token": csrf_from(page), "lang": "en", "next": "/"})
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert "cannot turn your head" in page.lower() and "no head movements" in page
