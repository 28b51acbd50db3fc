"""The item types over HTTP: item images, answers through the answer API (malformed: 400, nothing lost), the
file hand-in (type by content, never served inline, to graders only), grading by rubric, the grader's view."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from exams.models import Answer, AnswerFile, Attempt, ItemImage
from kernel.db import db
from storage.models import Blob
from tests.conftest import login, start_exam
from tests.exams.items_data import new_type_items


def png(width: int = 400, height: int = 200) -> bytes:
    """A PNG drawn here (a map with a 'station' in the top left)."""
    img = Image.new("RGB", (width, height), "white")
    img.paste((30, 90, 200), (0, 0, 100, 80))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def app_config():
    """A small hand-in limit (the test client spools a 10 MB body to a file it never closes)."""
    return {"ANSWER_FILE_MAX_BYTES": 64 * 1024}


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def setup(client, make_institution, make_user, make_exam):
    inst = make_institution()
    staff = make_user("staff", inst)
    cand = make_user("candidate", inst)
    login(client, staff)
    resp = client.post("/staff/item-images", data={"image": (io.BytesIO(png()), "karte.png"),
                                                    "back": "/staff/exams/new"})
    assert resp.status_code == 302
    image = db.session.scalars(select(ItemImage)).one()
    assert (image.width, image.height, image.content_type) == (400, 200, "image/png")
    blob = db.session.get(Blob, image.blob_id)
    assert blob.category == "item_image" and blob.wrapped_key  # stored encrypted like every file
    assert client.get(f"/staff/item-images/{image.public_id}").data == png()
    client.post("/logout")
    exam = make_exam(institution=inst, questions=new_type_items(image.public_id), pass_mark_percent=50,
                     identity_check_required=False, proctoring_required=False)
    return exam, staff, cand, image


def test_item_images_are_checked_by_content(client, make_user):
    login(client, make_user("staff"))
    resp = client.post("/staff/item-images", data={"image": (io.BytesIO(b"<svg onload=alert(1)>"), "a.png")})
    assert resp.status_code == 400
    assert db.session.scalars(select(ItemImage)).all() == []


def test_answer_every_type_grade_and_review(app, client, setup):
    exam, staff, cand, _image = setup
    login(client, cand)
    attempt_id = start_exam(client, exam.id)
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert 'for="q-gap-g1"' in page and 'data-premise="p1"' in page and "move-up" in page
    assert '<img src="/pictures/' in page  # the image comes by the attempt's signed address (test_pictures.py)
    assert "komme" not in page  # no solution on the page
    assert client.get(f"/candidate/attempts/{attempt_id}/images/spot").data == png()
    answers = {"gap": {"g1": "Komme", "g2": "in"}, "match": {"p1": "dog", "p2": "mouse", "p3": "mouse"},
               "order": ["di", "mo", "mi", "do"], "short": "am  bahnhof", "street": "STRASSE",
               "spot": {"x": 40, "y": 30}, "essay": "Liebe Anna, ich komme am Samstag gern zu deiner Feier."}
    for qid, value in answers.items():
        resp = client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": value})
        assert resp.status_code == 200, (qid, resp.json)
    # Malformed answers: a clear 400 and the stored answer untouched.
    for qid, value in [("order", ["mo"]), ("match", {"p1": "horse"}), ("spot", {"x": "links"}),
                       ("gap", {"g2": "zu"}), ("file", {"file": 1})]:
        resp = client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": value})
        assert resp.status_code == 400, qid
        assert resp.json["error"]["message"]
    stored = {a.question_id: a.value for a in db.session.scalars(select(Answer).where(
        Answer.attempt_id == attempt_id))}
    assert stored["order"] == ["di", "mo", "mi", "do"] and stored["match"]["p1"] == "dog"
    # The upload: type by content, not by name.
    resp = client.post(f"/api/attempts/{attempt_id}/files/file", data={"file": (io.BytesIO(b"MZ\x90\x00"), "a.pdf")})
    assert resp.status_code == 400 and "PDF" in resp.json["error"]["message"]
    resp = client.post(f"/api/attempts/{attempt_id}/files/file",
                       data={"file": (io.BytesIO(b"%PDF" + b"x" * (64 * 1024)), "big.pdf")})
    assert resp.status_code == 400 and resp.json["error"]["fields"] == {"file": "too large"}
    resp = client.post(f"/api/attempts/{attempt_id}/files/file", data={"file": (io.BytesIO(PDF), "formular.pdf")})
    assert resp.status_code == 200, resp.json
    assert client.post(f"/api/attempts/{attempt_id}/files/essay",
                       data={"file": (io.BytesIO(PDF), "x.pdf")}).status_code == 404
    handed = db.session.scalars(select(AnswerFile)).one()
    assert (handed.content_type, handed.name) == ("application/pdf", "formular.pdf")
    # A candidate never downloads files (not even their own) from the graders' address.
    assert client.get(f"/staff/answer-files/{handed.id}").status_code == 403
    assert client.post(f"/api/attempts/{attempt_id}/submit").json["status"] == "submitted"
    attempt = db.session.get(Attempt, attempt_id)
    db.session.refresh(attempt)
    # gap 2 + match 2 (p1, p3) + order floor(3*2/3)=2 + short 1 + street 1 + spot 1 = 9; upload, essay pending.
    assert (attempt.points, attempt.max_points, attempt.pending_manual) == (9, 18, True)
    client.post("/logout")

    login(client, staff)
    page = client.get(f"/staff/attempts/{attempt_id}").get_data(as_text=True)
    assert "Download the handed-in file" in page or "Abgegebene Datei herunterladen" in page
    assert 'name="level-content"' in page and "all-answers" in page
    download = client.get(f"/staff/answer-files/{handed.id}")
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/staff/attempts/{attempt_id}/images/spot").data == png()
    assert client.post(f"/staff/attempts/{attempt_id}/points",
                       data={"question_id": "essay", "level-content": "a2"}).status_code == 400  # a level missing
    assert client.post(f"/staff/attempts/{attempt_id}/points",
                       data={"question_id": "essay", "level-content": "a2", "level-form": "zz"}).status_code == 400
    resp = client.post(f"/staff/attempts/{attempt_id}/points",
                       data={"question_id": "essay", "level-content": "a2", "level-form": "a1",
                             "note": "Inhalt vollständig, Satzbau noch einfach."})
    assert resp.status_code == 302
    resp = client.post(f"/staff/attempts/{attempt_id}/points", data={"question_id": "file", "points": "2"})
    assert resp.status_code == 302
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    assert (attempt.points, attempt.pending_manual, attempt.passed) == (9 + 3 + 2, False, True)
    essay = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id,
                                                    Answer.question_id == "essay")).one()
    assert essay.rubric_levels == {"content": "a2", "form": "a1"} and essay.manual_note.startswith("Inhalt")
    page = client.get(f"/staff/attempts/{attempt_id}").get_data(as_text=True)
    assert "Satzbau noch einfach" in page and "checked" in page


def test_other_institution_sees_no_files(client, setup, make_user):
    exam, _staff, cand, image = setup
    login(client, cand)
    attempt_id = start_exam(client, exam.id)
    client.post(f"/api/attempts/{attempt_id}/files/file", data={"file": (io.BytesIO(PDF), "f.pdf")})
    client.post(f"/api/attempts/{attempt_id}/submit")
    client.post("/logout")
    login(client, make_user("staff"))  # another institution
    handed = db.session.scalars(select(AnswerFile)).one()
    assert client.get(f"/staff/answer-files/{handed.id}").status_code == 404
    assert client.get(f"/staff/item-images/{image.public_id}").status_code == 404
    assert client.get(f"/staff/attempts/{attempt_id}/images/spot").status_code == 404


def test_the_form_editor_writes_every_new_type(client, setup):
    exam, staff, _cand, image = setup
    login(client, staff)
    form = {
        "title": "Deutsch A2", "duration_minutes": "45", "opens_at": "2027-03-01T09:00",
        "closes_at": "2027-03-01T18:00", "pass_mark_percent": "50", "questions": "7",
        "q0-kind": "gap_text", "q0-prompt": "Ergänzen Sie.", "q0-points": "2",
        "q0-text": "Ich [komme|kam] aus Köln und wohne [*in|nach] München.",
        "q1-kind": "matching", "q1-prompt": "Was passt?", "q1-points": "2",
        "q1-pairs": "Hund = dog\nKatze = cat", "q1-distractors": "cow",
        "q2-kind": "ordering", "q2-prompt": "Ordnen Sie.", "q2-points": "3", "q2-lines": "Montag\nDienstag\nMittwoch",
        "q2-all_or_nothing": "on",
        "q3-kind": "short_text", "q3-prompt": "Street?", "q3-points": "1", "q3-accepted": "Straße\ndie Straße",
        "q4-kind": "hotspot", "q4-prompt": "Wo ist der Bahnhof?", "q4-points": "1", "q4-image": image.public_id,
        "q4-image_alt": "Stadtplan", "q4-areas": "rect 0 0 100 80\n- circle 300 150 40",
        "q5-kind": "upload", "q5-prompt": "Formular hochladen.", "q5-points": "2",
        "q6-kind": "essay", "q6-prompt": "E-Mail schreiben.", "q6-points": "1", "q6-min_words": "30",
        "q6-max_words": "80", "q6-rubric": "Inhalt: A1 = 1; A2 = 3\nSprache: A1 = 0; A2 = 2",
        "action": "preview",
    }
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert 'id="preview"' in page and "q-q1-g1" in page and "move-up" in page, page[:3000]
    resp = client.post("/staff/exams/compose", data={**form, "action": "save"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    saved = db.session.scalars(select(type(exam)).where(type(exam).title == "Deutsch A2")).one()
    by_id = {q["id"]: q for q in saved.questions}
    assert by_id["q1"]["text"] == "Ich {{g1}} aus Köln und wohne {{g2}} München."
    assert by_id["q1"]["gaps"][0] == {"id": "g1", "accepted": ["komme", "kam"], "case_sensitive": False}
    assert [o["correct"] for o in by_id["q1"]["gaps"][1]["options"]] == [True, False]
    assert [p["match"] for p in by_id["q2"]["premises"]] == ["r1", "r2"] and len(by_id["q2"]["options"]) == 3
    assert by_id["q3"]["scoring"] == "all_or_nothing"
    assert by_id["q5"]["areas"][1] == {"shape": "circle", "x": 300, "y": 150, "r": 40, "correct": False}
    assert by_id["q7"]["points"] == 5 and by_id["q7"]["rubric"][1]["levels"][1]["points"] == 2
    # Opened again, the form shows the same items in the same syntax.
    edit = client.get(f"/staff/exams/{saved.id}/compose").get_data(as_text=True)
    assert "[komme|kam]" in edit and "[*in|nach]" in edit and "Hund = dog" in edit and "- circle 300 150 40" in edit
    assert "Inhalt: A1 = 1; A2 = 3" in edit
    # Each field gets its message.
    bad = {**form, "q0-text": "Ohne Lücke.", "q1-pairs": "Hund dog", "q4-areas": "square 1 2",
           "q6-rubric": "Inhalt A1", "action": "save"}
    page = client.post("/staff/exams/compose", data=bad).get_data(as_text=True)
    for field in ("q0-text", "q1-pairs", "q4-areas", "q6-rubric"):
        assert f'id="{field}-error"' in page, field
