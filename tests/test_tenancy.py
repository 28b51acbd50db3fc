"""One institution never sees another's data."""

from __future__ import annotations

from tests.conftest import login


def test_staff_cannot_open_another_institutions_exam(client, make_user, make_institution, make_exam):
    a, b = make_institution(), make_institution()
    exam_b = make_exam(institution=b, title="Geheim B")
    login(client, make_user("staff", a))
    assert client.get(f"/staff/exams/{exam_b.id}").status_code == 404
    assert "Geheim B" not in client.get("/staff/").get_data(as_text=True)


def test_staff_sees_own_exams(client, make_user, make_institution, make_exam):
    a = make_institution()
    exam = make_exam(institution=a, title="Unsere Prüfung")
    login(client, make_user("staff", a))
    assert "Unsere Prüfung" in client.get("/staff/").get_data(as_text=True)
    assert client.get(f"/staff/exams/{exam.id}").status_code == 200


def test_staff_cannot_assign_a_proctor_of_another_institution(client, make_user, make_institution, make_exam):
    a, b = make_institution(), make_institution()
    exam = make_exam(institution=a)
    foreign = make_user("proctor", b)
    login(client, make_user("staff", a))
    assert client.post(f"/staff/exams/{exam.id}/proctors", data={"user_id": foreign.id}).status_code == 404


def test_proctor_sees_only_assigned_exams(client, make_user, make_institution, make_exam):
    a = make_institution()
    assigned, other = make_exam(institution=a, title="Zugewiesen"), make_exam(institution=a, title="Fremd")
    proctor = make_user("proctor", a)
    assigned.proctors.append(proctor)
    from kernel.db import db

    db.session.commit()
    login(client, proctor)
    html = client.get("/proctor/").get_data(as_text=True)
    assert "Zugewiesen" in html and "Fremd" not in html
    assert other.id != assigned.id


def test_candidate_sees_only_own_institutions_exams(client, make_user, make_institution, make_exam):
    a, b = make_institution(), make_institution()
    make_exam(institution=a, title="Meine")
    make_exam(institution=b, title="Andere")
    login(client, make_user("candidate", a))
    html = client.get("/candidate/").get_data(as_text=True)
    assert "Meine" in html and "Andere" not in html
