"""Hostile Safe Exam Browser keys: malformed, oversized or foreign headers and cookies get a clear 403 (never a 500)
and lose nothing; another candidate's valid keys open nothing of theirs."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from exams import lockdown
from exams.models import Answer
from kernel.db import db
from tests.conftest import login
from tests.exams.conftest import QUESTIONS

HOST = "http://aufsicht.test"


@pytest.fixture
def running(app, client, make_institution, make_user, make_exam):
    """A SEB exam whose attempt runs in SEB, with one answer saved."""
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, seb_required=True)
    candidate = make_user("candidate", inst)
    key = lockdown.exam_config_key(exam, app.config["PUBLIC_BASE_URL"])
    login(client, candidate)
    start = f"/candidate/exams/{exam.id}/start"
    resp = client.post(start, headers={lockdown.CONFIG_KEY_HEADER: lockdown.config_key_hash(HOST + start, key)})
    attempt_path = resp.headers["Location"]
    attempt_id = int(attempt_path.rstrip("/").split("/")[-1])
    api = f"/api/attempts/{attempt_id}/answers/q1"
    assert client.put(api, json={"value": "a"}, headers={
        lockdown.CONFIG_KEY_HEADER: lockdown.config_key_hash(HOST + api, key)}).status_code == 200
    return type("R", (), {"exam": exam, "key": key, "path": attempt_path, "id": attempt_id, "inst": inst})


@pytest.mark.parametrize("value", ["", "0" * 63, "0" * 65, "g" * 64, "0" * 10000, "ä" * 64, "0" * 64 + " x",
                                   "../../etc/passwd"])
def test_malformed_headers_get_a_clear_403(client, running, value):
    resp = client.get(running.path, headers={lockdown.CONFIG_KEY_HEADER: value})
    assert resp.status_code == 403
    page = resp.get_data(as_text=True)
    assert 'id="seb-instructions"' in page and 'id="seb-refused"' in page
    api = client.put(f"/api/attempts/{running.id}/answers/q1", json={"value": "b"},
                     headers={lockdown.REQUEST_HASH_HEADER: value})
    assert api.status_code == 403 and api.get_json()["error"]["code"] in ("seb_key_malformed", "seb_required")
    db.session.expire_all()
    assert db.session.scalar(select(Answer.value).where(Answer.attempt_id == running.id)) == "a"


@pytest.mark.parametrize("cookie", ["", "|", "x|y", quote("https://evil.example/candidate/exams/1|") + "0" * 64,
                                    "%E0%A4%A" + "0" * 64])
def test_foreign_or_broken_page_proofs_are_refused(client, running, cookie):
    client.set_cookie(lockdown.PAGE_PROOF_COOKIE, cookie, domain="aufsicht.test")
    assert client.get(running.path).status_code == 403


def test_a_page_proof_from_another_host_is_refused_even_with_the_right_key(client, running):
    page = f"https://evil.example/candidate/exams/{running.exam.id}"
    client.set_cookie(lockdown.PAGE_PROOF_COOKIE, quote(f"{page}|{lockdown.config_key_hash(page, running.key)}"),
                      domain="aufsicht.test")
    assert client.get(running.path).status_code == 403
    same_host = f"{HOST}/candidate/exams/{running.exam.id}"
    client.set_cookie(lockdown.PAGE_PROOF_COOKIE,
                      quote(f"{same_host}|{lockdown.config_key_hash(same_host, running.key)}"), domain="aufsicht.test")
    assert client.get(running.path).status_code == 200


def test_another_candidates_attempt_stays_404_with_valid_keys(app, client, running, make_user):
    other = make_user("candidate", running.inst)
    client.post("/logout")
    login(client, other)
    resp = client.get(running.path, headers={
        lockdown.CONFIG_KEY_HEADER: lockdown.config_key_hash(HOST + running.path, running.key)})
    assert resp.status_code == 404
