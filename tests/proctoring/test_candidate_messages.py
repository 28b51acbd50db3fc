"""Every message the supervised exam page may show the candidate (fullscreen, lost camera or microphone,
offline, saving errors, the submit question) exists in German and in English."""

from __future__ import annotations

import re

import pytest

from kernel.db import db
from proctoring.models import SystemCheck
from tests.conftest import login, start_exam

# data attributes of the exam page holding words for the candidate
MESSAGES = ("msg-start", "msg-left", "msg-camera", "msg-microphone", "msg-failed", "msg-offline", "msg-error",
            "msg-denied", "msg-reconnecting", "ask")


@pytest.fixture
def exam_page(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    attempt_id = start_exam(client, exam.id)

    def page(lang: str) -> dict[str, list[str]]:
        html = client.get(f"/candidate/attempts/{attempt_id}", headers={"Accept-Language": lang}).get_data(as_text=True)
        found: dict[str, list[str]] = {}
        for name, text in re.findall(r'data-(msg-[a-z-]+|ask)="([^"]*)"', html):
            found.setdefault(name, []).append(text)
        # the submit question is asked in the page's own dialog (a window.confirm would end fullscreen)
        asked = re.findall(r'id="submit-dialog-text">([^<]*)<', html)
        if asked:
            found.setdefault("ask", []).extend(asked)
        return found

    return page


def test_every_candidate_message_is_there_in_german_and_english(exam_page):
    de, en = exam_page("de"), exam_page("en")
    for name in MESSAGES:
        assert name in de and name in en, name
        for de_text, en_text in zip(de[name], en[name], strict=True):
            assert de_text.strip() and en_text.strip(), name
            assert de_text != en_text, f"{name} is not translated: {de_text}"
    assert "Vollbild" in de["msg-start"][0] and "fullscreen" in en["msg-start"][0]
    assert "Kamera" in de["msg-camera"][0] and "camera" in en["msg-camera"][0]
    assert any("Offline" in t for t in de["msg-offline"]) and any("Offline" in t for t in en["msg-offline"])
