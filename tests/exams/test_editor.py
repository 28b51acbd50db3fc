"""The form-based exam editor: every question type, a message per field in German and English, preview, save."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from exams.models import Exam
from kernel.db import db
from tests.conftest import login


def _exams() -> list[Exam]:
    db.session.expire_all()
    return list(db.session.scalars(select(Exam).order_by(Exam.id)))


def _full_form(proctor: str = "") -> dict[str, Any]:
    """A valid form with one question of each of the four types, as a browser posts it."""
    return {
        "title": "Erste Hilfe", "description": "Grundkurs", "duration_minutes": "45",
        "opens_at": "2027-03-01T09:00", "closes_at": "2027-03-01T18:00", "pass_mark_percent": "50",
        "minimum_age": "", "identity_check_required": "on", "proctoring_required": "on",
        "proctors": [proctor] if proctor else [],
        "questions": "4",
        "q0-kind": "single_choice", "q0-id": "", "q0-prompt": "Notruf?", "q0-points": "2", "q0-options": "2",
        "q0-o0-text": "112", "q0-o1-text": "110", "q0-correct": "0",
        "q1-kind": "multiple_choice", "q1-prompt": "Was gehört in den Verbandkasten?", "q1-points": "3",
        "q1-options": "3", "q1-o0-text": "Pflaster", "q1-o0-correct": "on", "q1-o1-text": "Schere",
        "q1-o1-correct": "on", "q1-o2-text": "Kaffee",
        "q2-kind": "numeric", "q2-prompt": "Herzdruckmassagen je Minute?", "q2-points": "1", "q2-answer": "110,5",
        "q2-tolerance": "10",
        "q3-kind": "free_text", "q3-prompt": "Beschreiben Sie die stabile Seitenlage.", "q3-points": "4",
        "action": "save",
    }


@pytest.fixture
def staff(client, make_institution, make_user) -> Any:
    inst = make_institution("Rettungsschule")
    member = make_user("staff", inst)
    proctor = make_user("proctor", inst, email="petra@example.org")
    login(client, member)
    return type("Staff", (), {"inst": inst, "user": member, "proctor": proctor})


def test_every_question_type_is_saved_and_exported(client, staff):
    page = client.get("/staff/exams/compose").get_data(as_text=True)
    assert 'id="add-numeric"' in page and 'id="add-free_text"' in page
    resp = client.post("/staff/exams/compose", data=_full_form("petra@example.org"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (exam,) = _exams()
    assert exam.title == "Erste Hilfe" and exam.institution_id == staff.inst.id
    assert exam.opens_at.hour == 8  # 09:00 in Berlin (winter time) is 08:00 UTC
    assert [p.email for p in exam.proctors] == ["petra@example.org"]
    kinds = [q["type"] for q in exam.questions]
    # the four written types; an oral item (answered aloud with an examiner in the call) comes from the exam file
    assert kinds == ["single_choice", "multiple_choice", "numeric", "free_text"]  # the others: test_itemtypes_http
    assert [q["id"] for q in exam.questions] == ["q1", "q2", "q3", "q4"]
    assert exam.questions[0]["options"][0] == {"id": "a", "text": "112", "correct": True}
    assert [o["correct"] for o in exam.questions[1]["options"]] == [True, True, False]
    assert exam.questions[2]["answer"] == 110.5 and exam.questions[2]["tolerance"] == 10
    # The YAML export still works and reads back as the same exam; editing keeps the question ids.
    exported = yaml.safe_load(client.get(f"/staff/exams/{exam.id}/export?format=yaml").get_data(as_text=True))
    assert exported["questions"][2]["answer"] == 110.5
    edit = client.get(f"/staff/exams/{exam.id}/compose").get_data(as_text=True)
    assert 'value="2027-03-01T09:00"' in edit and "Beschreiben Sie die stabile Seitenlage." in edit
    form = _full_form()
    form.update({"q0-id": "q1", "q0-o0-id": "a", "q0-o1-id": "b", "title": "Erste Hilfe II"})
    assert client.post(f"/staff/exams/{exam.id}/compose", data=form).status_code == 302
    (exam,) = _exams()
    assert exam.title == "Erste Hilfe II" and exam.proctors == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("de", {"title": "Bitte geben Sie einen Titel ein.",
            "duration_minutes": "Geben Sie die Dauer in ganzen Minuten an, von 1 bis 10080.",
            "closes_at": "Die Prüfung muss schließen, nachdem sie öffnet.",
            "q0-options": "Markieren Sie genau eine Option als richtig.",
            "q1-o2-text": "Option 1 hat denselben Text.",
            "q2-answer": "Geben Sie die erwartete Antwort als Zahl an (z. B. 3.5 oder 3,5).",
            "q3-points": "Geben Sie die Punkte als ganze Zahl von 1 bis 1000 an."}),
    ("en", {"title": "Please enter a title.",
            "duration_minutes": "Enter the duration in whole minutes, from 1 to 10080.",
            "closes_at": "The exam must close after it opens.",
            "q0-options": "Mark exactly one option as correct.",
            "q1-o2-text": "Option 1 has the same text.",
            "q2-answer": "Enter the expected answer as a number (e.g. 3.5 or 3,5).",
            "q3-points": "Enter the points as a whole number from 1 to 1000."}),
])
def test_each_field_gets_its_message_and_nothing_is_lost(client, staff, lang, expected):
    form = _full_form()
    form.update({"title": "", "duration_minutes": "0", "closes_at": "2027-03-01T08:00", "q0-correct": "",
                 "q1-o2-text": "pflaster", "q2-answer": "viel", "q3-points": "1.5"})
    resp = client.post("/staff/exams/compose", data=form, headers={"Accept-Language": lang})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for field, message in expected.items():
        found = re.search(rf'<p class="error" id="{re.escape(field)}-error">([^<]*)</p>', page)
        assert found is not None, field
        assert found.group(1).replace("&#34;", '"').replace("&#39;", "'") == message
        assert f'aria-describedby="{field}-error"' in page
    # What was typed is still there, and nothing was saved.
    assert "Was gehört in den Verbandkasten?" in page and 'value="viel"' in page
    assert _exams() == []


def test_buttons_add_and_remove_questions_and_options_without_saving(client, staff):
    form = _full_form()
    form["action"] = "add:numeric"
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert 'name="q4-kind" value="numeric"' in page
    form["action"] = "add-option:1"
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert 'name="q1-o3-text"' in page
    form["action"] = "remove:0"
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert "Notruf?" not in page and 'name="q0-kind" value="multiple_choice"' in page
    form["action"] = "remove:1:2"
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert "Kaffee" not in page and "Pflaster" in page
    assert _exams() == []


def test_preview_shows_the_questions_as_the_candidate_sees_them(client, staff):
    form = _full_form()
    form["action"] = "preview"
    resp = client.post("/staff/exams/compose", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    preview = page[page.index('id="preview"'):]
    assert "Notruf?" in preview and ("(2 Punkte)" in preview or "(2 points)" in preview)
    assert 'type="radio" name="preview-q1"' in preview and 'type="checkbox" name="preview-q2"' in preview
    assert "110,5" not in preview and "correct" not in preview.lower()  # no solutions in the preview
    assert _exams() == []


def test_tampered_fields_are_refused(client, staff, make_institution, make_user):
    other = make_user("proctor", make_institution("Andere"), email="fremd@example.org")
    form = _full_form(other.email)
    resp = client.post("/staff/exams/compose", data=form, headers={"Accept-Language": "en"})
    assert resp.status_code == 400 and "Choose proctors of this institution only." in resp.get_data(as_text=True)
    form = _full_form()
    form.update({"questions": "99999999", "q0-options": "abc"})
    resp = client.post("/staff/exams/compose", data=form)
    assert resp.status_code == 400  # the single-choice question lost its options: refused, not a crash
    assert _exams() == []


def test_an_exam_once_started_is_not_changed(client, staff, make_user, make_exam):
    from exams.attempts import start_attempt
    from kernel.clock import utcnow

    exam = make_exam(institution=staff.inst, identity_check_required=False, proctoring_required=False)
    start_attempt(make_user("candidate", staff.inst), exam, utcnow())
    form = _full_form()
    resp = client.post(f"/staff/exams/{exam.id}/compose", data=form, headers={"Accept-Language": "en"})
    assert resp.status_code == 409 and "can no longer be changed" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).title != "Erste Hilfe"
    assert Decimal(0) <= db.session.get(Exam, exam.id).pass_mark_percent


def test_other_institutions_exam_is_not_found(client, staff, make_institution, make_exam):
    exam = make_exam(institution=make_institution("Fremd"))
    assert client.get(f"/staff/exams/{exam.id}/compose").status_code == 404
    assert client.post(f"/staff/exams/{exam.id}/compose", data=_full_form()).status_code == 404


def test_repeated_ids_from_a_tampered_form_get_fresh_ones(client, staff):
    form = _full_form()
    form.update({"q0-id": "x", "q1-id": "x", "q1-o0-id": "k", "q1-o1-id": "k"})
    assert client.post("/staff/exams/compose", data=form).status_code == 302
    (exam,) = _exams()
    ids = [q["id"] for q in exam.questions]
    assert ids[0] == "x" and len(set(ids)) == 4
    assert len({o["id"] for o in exam.questions[1]["options"]}) == 3


def test_german_preview_says_one_point_and_shows_an_oral_item_as_spoken(client, staff):
    """Issue 30: "(1 Punkte)"; an oral item previewed as a text box with "free text is graded by hand"."""
    form = _full_form()
    form.update({"questions": "5", "q4-kind": "oral", "q4-prompt": "Erklären Sie die Rettungskette.",
                 "q4-points": "5", "action": "preview"})
    page = client.post("/staff/exams/compose", data=form, headers={"Accept-Language": "de"}).get_data(as_text=True)
    editor, preview = page.split('id="preview"', 1)
    assert "(1 Punkt)" in preview and "(1 Punkte)" not in preview and "(2 Punkte)" in preview
    oral = re.search(r'<fieldset class="question" data-question="\w+" data-kind="oral">(.*?)</fieldset>',
                     preview, re.S).group(1)
    assert "<textarea" not in oral and "mündlich" in oral
    oral_editor = re.search(r'id="question-4" data-kind="oral">(.*?)</fieldset>', editor, re.S).group(1)
    assert "von Hand" not in oral_editor and "Freitext" not in oral_editor
    assert "Prüfer" in oral_editor
