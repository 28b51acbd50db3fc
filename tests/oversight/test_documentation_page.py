"""The technical documentation as a page and a download, in German and English, for anyone."""

from __future__ import annotations

import pytest

from oversight.detectors import DETECTORS


def test_the_page_lists_every_detector_with_its_limits_in_german(client):
    page = client.get("/ai-act", headers={"Accept-Language": "de"}).get_data(as_text=True)
    for d in DETECTORS:
        assert f'data-detector="{d.key}"' in page
        assert d.cannot_notice.de.replace("(", "").split()[0] in page
    assert "Kein Gesicht im Bild" in page  # a flag kind in words, never its code
    assert "no_face" not in page
    assert "Art. 5 Abs. 1 Buchst. f" in page
    assert "Mindestgröße eines zweiten Gesichts" in page


@pytest.mark.parametrize("lang,words", [("de", "Technische Dokumentation"), ("en", "Technical documentation")])
def test_the_download_is_the_committed_documentation(client, lang, words):
    from oversight.documentation import committed_path

    resp = client.get(f"/ai-act/technical-documentation.{lang}.md")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    assert words in resp.get_data(as_text=True)
    assert resp.get_data(as_text=True) == committed_path(lang).read_text(encoding="utf-8")


def test_an_unknown_language_is_not_found(client):
    assert client.get("/ai-act/technical-documentation.fr.md").status_code == 404


def test_the_privacy_notice_says_which_checks_run_what_they_cannot_notice_and_that_a_person_decides(client):
    page = client.get("/privacy", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="detector-list"' in page
    for d in DETECTORS:
        assert f'data-detector="{d.key}"' in page
        assert d.cannot_notice.de.split(";")[0] in page
    assert "eine Person sieht sich die Aufnahme oder die Bilder an und entscheidet" in page
