"""Staff write exams as exam files in the browser, upload and export them; `flask exams import`."""

from __future__ import annotations

import io
from decimal import Decimal

import yaml
from sqlalchemy import select

from exams.authoring import TEMPLATE
from exams.models import Exam
from kernel.db import db
from tests.conftest import login

EXAM_YAML = """\
title: "Mathe Grundkurs"
description: "Zahlen"
duration_minutes: 45
window:
  opens_at: "2026-12-01T08:00:00+01:00"
  closes_at: "2026-12-31T20:00:00+01:00"
pass_mark_percent: 66.67
minimum_age: 16
identity_check_required: false
proctoring_required: true
shuffle_questions: true
shuffle_options: false
proctors:
  - {proctor}
questions:
  - id: q1
    type: numeric
    prompt: "2+2?"
    points: 2
    answer: 4
  - id: q2
    type: free_text
    prompt: "Warum?"
    points: 3
"""


def _exams() -> list[Exam]:
    db.session.expire_all()
    return list(db.session.scalars(select(Exam).order_by(Exam.id)))


def test_create_edit_export_round_trip(app, client, make_institution, make_user):
    inst = make_institution()
    staff = make_user("staff", inst)
    proctor = make_user("proctor", inst, email="paula@example.org")
    login(client, staff)
    page = client.get("/staff/exams/new").get_data(as_text=True)
    assert "single_choice" in page
    resp = client.post("/staff/exams/new", data={"format": "yaml",
                                                 "source": EXAM_YAML.format(proctor="Paula@example.org")})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (exam,) = _exams()
    assert exam.pass_mark_percent == Decimal("66.67") and exam.institution_id == inst.id
    assert exam.opens_at.hour == 7 and exam.minimum_age == 16 and not exam.identity_check_required
    assert [p.id for p in exam.proctors] == [proctor.id]
    exported = client.get(f"/staff/exams/{exam.id}/export?format=yaml")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    data = yaml.safe_load(exported.get_data(as_text=True))
    assert data["pass_mark_percent"] == 66.67 and data["proctors"] == ["paula@example.org"]
    assert [q["id"] for q in data["questions"]] == ["q1", "q2"]
    as_json = client.get(f"/staff/exams/{exam.id}/export?format=json").get_data(as_text=True)
    edit = client.get(f"/staff/exams/{exam.id}/edit").get_data(as_text=True)
    assert "Mathe Grundkurs" in edit
    resp = client.post(f"/staff/exams/{exam.id}/edit",
                       data={"format": "json", "source": as_json.replace("Mathe Grundkurs", "Mathe Aufbau")})
    assert resp.status_code == 302
    assert _exams()[0].title == "Mathe Aufbau"


def test_problems_are_shown_with_lines_and_nothing_saved(client, make_user):
    login(client, make_user("staff"))
    bad = EXAM_YAML.format(proctor="nobody@example.org").replace("duration_minutes: 45", "duration_minutes: -5")
    resp = client.post("/staff/exams/new", data={"format": "yaml", "source": bad})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "exam-problems" in page
    assert "4" in page and "duration_minutes" in page  # the line of the problem
    resp = client.post("/staff/exams/new", data={"format": "yaml",
                                                 "source": EXAM_YAML.format(proctor="nobody@example.org")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "nobody@example.org" in page
    assert ("Line</span> 14" in page or "Zeile 14" in page or "Line 14" in page)
    assert client.post("/staff/exams/new", data={"format": "yaml", "source": "title: [unclosed"}).status_code == 400
    assert client.post("/staff/exams/new", data={"format": "yaml", "source": ""}).status_code == 400
    assert client.post("/staff/exams/new", data={"format": "xml", "source": "x"}).status_code == 400
    assert _exams() == []


def test_upload_file(client, make_user):
    login(client, make_user("staff"))
    data = {"file": (io.BytesIO(TEMPLATE.encode()), "exam.yml")}
    resp = client.post("/staff/exams/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302
    assert _exams()[0].title == "Neue Prüfung"
    bad = {"file": (io.BytesIO(b"x"), "exam.txt")}
    assert client.post("/staff/exams/new", data=bad, content_type="multipart/form-data").status_code == 400
    latin = {"file": (io.BytesIO("title: Prüfung".encode("latin-1")), "exam.yaml")}
    assert client.post("/staff/exams/new", data=latin, content_type="multipart/form-data").status_code == 400


def test_exam_with_attempts_cannot_be_edited(app, client, office, submitted):
    submitted()
    login(client, office.staff)
    resp = client.post(f"/staff/exams/{office.exam.id}/edit", data={"format": "yaml", "source": TEMPLATE})
    assert resp.status_code == 409
    assert _exams()[0].title == "Deutsch B1"


def test_cli_import(app, runner, make_institution, make_user, tmp_path):
    inst = make_institution(slug="schule-nord")
    make_user("proctor", inst, email="paula@example.org")
    good = tmp_path / "exam.yaml"
    good.write_text(EXAM_YAML.format(proctor="paula@example.org"))
    result = runner.invoke(args=["exams", "import", str(good), "--institution", "schule-nord"])
    assert result.exit_code == 0, result.output
    assert "Mathe Grundkurs" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAM_YAML.format(proctor="x@example.org").replace("points: 3", "points: -3"))
    result = runner.invoke(args=["exams", "import", str(bad), "--institution", "schule-nord"])
    assert result.exit_code == 1
    assert f"{bad}:24: questions[1].points" in result.output
    result = runner.invoke(args=["exams", "import", str(good), "--institution", "nope"])
    assert result.exit_code == 1
    assert len(_exams()) == 1
    exam_id = _exams()[0].id
    result = runner.invoke(args=["exams", "export", str(exam_id), "--format", "json"])
    assert result.exit_code == 0 and '"pass_mark_percent": 66.67' in result.output
