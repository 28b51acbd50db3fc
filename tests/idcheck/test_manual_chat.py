"""Chat in the check by a proctor (issue 29): the proctor and the waiting candidate write to each other on the
identity pages, beside the call; only they; only until the decision, which deletes the messages."""

from __future__ import annotations

from sqlalchemy import func, select

from idcheck.models import IdCheckMessage
from kernel.db import db
from tests.conftest import login
from tests.idcheck.test_manual_check import waiting  # noqa: F401


def test_proctor_and_candidate_write_to_each_other_until_the_decision_deletes_it(waiting):  # noqa: F811
    exam, _cand, client, proctor, p, check = waiting
    assert 'id="chat"' in client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert 'id="chat"' in p.get(f"/proctor/identity/{check.id}").get_data(as_text=True)
    sent = p.post(f"/api/proctor/identity/{check.id}/chat", json={"text": "Bitte halten Sie den Ausweis neben Ihr "
                                                                          "Gesicht."})
    assert sent.status_code == 200 and sent.json["from"] == "proctor"
    assert client.post(f"/api/identity/{exam.id}/chat", json={"text": "  Ich höre Sie nicht.  "}).status_code == 200
    seen = client.get(f"/api/identity/{exam.id}/chat").json["messages"]
    assert [(m["from"], m["text"]) for m in seen] == [("proctor", "Bitte halten Sie den Ausweis neben Ihr Gesicht."),
                                                      ("candidate", "Ich höre Sie nicht.")]
    assert seen[0]["name"] == proctor.display_name
    newer = p.get(f"/api/proctor/identity/{check.id}/chat?after={seen[0]['id']}").json["messages"]
    assert [m["text"] for m in newer] == ["Ich höre Sie nicht."]
    assert p.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "yes", "reason": "Ausweis passt"}
                  ).status_code == 302
    assert db.session.scalar(select(func.count(IdCheckMessage.id))) == 0  # nothing of the chat is kept
    assert client.post(f"/api/identity/{exam.id}/chat", json={"text": "Danke"}).status_code == 409
    assert p.post(f"/api/proctor/identity/{check.id}/chat", json={"text": "Noch etwas"}).status_code == 409


def test_bad_messages_are_refused_and_nothing_is_stored(waiting):  # noqa: F811
    exam, _cand, client, _proctor, _p, _check = waiting
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 1001}, {"text": None}, [], "text"):
        resp = client.post(f"/api/identity/{exam.id}/chat", json=body)
        assert resp.status_code == 400, body
    assert db.session.scalar(select(func.count(IdCheckMessage.id))) == 0


def test_only_the_candidate_and_the_exams_proctors_read_it(app, waiting, make_user, make_institution):  # noqa: F811
    exam, _cand, client, _proctor, p, check = waiting
    client.post(f"/api/identity/{exam.id}/chat", json={"text": "Meine Geburtsdaten stimmen nicht."})
    stranger = app.test_client()
    login(stranger, make_user("proctor", exam.institution))  # a proctor, but not of this exam
    assert stranger.get(f"/api/proctor/identity/{check.id}/chat").status_code == 404
    assert stranger.post(f"/api/proctor/identity/{check.id}/chat", json={"text": "hallo"}).status_code == 404
    other = app.test_client()
    login(other, make_user("candidate", exam.institution))  # another candidate has no check waiting here
    assert other.get(f"/api/identity/{exam.id}/chat").status_code in (404, 409)
    assert other.post(f"/api/identity/{exam.id}/chat", json={"text": "hallo"}).status_code in (404, 409)
    assert [m["text"] for m in p.get(f"/api/proctor/identity/{check.id}/chat").json["messages"]] == [
        "Meine Geburtsdaten stimmen nicht."]
