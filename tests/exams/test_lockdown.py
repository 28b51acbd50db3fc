"""Safe Exam Browser: the Config Key as SEB computes it, the exam's settings and .seb file, and the key check on
every request of a running attempt (through the real views; tests/exams/test_browser_seb.py drives Chromium)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exams import lockdown
from exams.models import Answer, Attempt
from kernel.db import db
from proctoring.models import Flag, FlagKind
from tests.conftest import login
from tests.exams.conftest import QUESTIONS

DATA = Path(__file__).resolve().parents[1] / "data" / "seb"
HOST = "http://aufsicht.test"


# --- the Config Key against SEB's documentation and source ------------------------------------------------------


def _example() -> str:
    # SEB's developer documentation, "Config Key", section "Example SEB-JSON String"
    # (https://safeexambrowser.org/developer/seb-config-key.html; source: github.com/SafeExamBrowser/
    # SafeExamBrowser-Website, developer/seb-config-key.html at 246318533d4ab3e60dc2130340382cef64adb622).
    return (DATA / "config-key-example.seb-json").read_text(encoding="utf-8")


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = [(k, _shuffled(v, rng)) for k, v in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def test_documented_example_is_reproduced_byte_for_byte_from_shuffled_settings():
    text = _example()
    # SEB-JSON escapes nothing: read every backslash as itself (the URL filter rules hold many).
    settings = json.loads(text.replace("\\", "\\\\"))
    assert settings["whitelistURLFilter"].startswith("^.*?:\\/\\/")
    settings["originatorVersion"] = "SEB_OSX_2.1.4"  # dropped before hashing
    settings["someEmptyDictionary"] = {}  # dropped
    assert lockdown.seb_json(_shuffled(settings, random.Random(7))) == text
    assert lockdown.config_key(settings) == hashlib.sha256(text.encode()).hexdigest()


def test_keys_sort_case_insensitively_at_every_level():
    text = lockdown.seb_json({"URLFilterRules": [{"regex": False, "Action": 1}], "urlFilterRegex": True,
                              "allowWlan": False, "allowedDisplayBuiltin": True, "allowDownUploads": False})
    assert text == ('{"allowDownUploads":false,"allowedDisplayBuiltin":true,"allowWlan":false,'
                    '"urlFilterRegex":true,"URLFilterRules":[{"Action":1,"regex":false}]}')


def test_data_dates_and_reals_in_seb_json():
    text = lockdown.seb_json({"b": b"\x00\xff", "d": dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC),
                              "r": 0.10000000000000001})
    assert text == '{"b":"AP8=","d":"2026-12-07T08:30:00+00:00","r":0.1}'


def test_header_is_sha256_of_url_without_fragment_then_key():
    # SEB for Windows, SafeExamBrowser.Configuration/Cryptography/KeyGenerator.cs (CalculateConfigurationKeyHash):
    # url.Split('#')[0] + configurationKey, SHA-256, lower-case hex.
    key = "6063c3351ed1ac878c05072598d5079e30ca763c957d8e04bd45131c08f88d1a"  # a CK from SEB's DataProcessorTests
    expected = hashlib.sha256(("https://exam.example/candidate/attempts/3?after=2" + key).encode()).hexdigest()
    assert lockdown.config_key_hash("https://exam.example/candidate/attempts/3?after=2#q4", key) == expected


def test_check_request_outcomes():
    key, bek = "a" * 64, "b" * 64
    url = "https://exam.example/x"
    good = lockdown.config_key_hash(url, key)
    assert lockdown.check_request(url, key, [], good, None) == lockdown.KeyProof.VALID
    assert lockdown.check_request(url, key, [], good.upper(), None) == lockdown.KeyProof.VALID
    assert lockdown.check_request(url, key, [], None, None) == lockdown.KeyProof.MISSING
    assert lockdown.check_request(url + "?other", key, [], good, None) == lockdown.KeyProof.WRONG
    assert lockdown.check_request(url, key, [], "zz" + good[2:], None) == lockdown.KeyProof.MALFORMED
    assert lockdown.check_request(url, key, [], good + "00", None) == lockdown.KeyProof.MALFORMED
    assert lockdown.check_request(url, key, [bek], None, lockdown.config_key_hash(url, bek)) == lockdown.KeyProof.VALID
    assert lockdown.check_request(url, key, [], None, lockdown.config_key_hash(url, bek)) == lockdown.KeyProof.WRONG


def test_browser_exam_keys_as_pasted():
    assert lockdown.normalize_browser_exam_keys(f"{'A' * 64}\n{'b' * 64}, {'a' * 64}") == ["a" * 64, "b" * 64]
    with pytest.raises(ValueError, match="xyz"):
        lockdown.normalize_browser_exam_keys("xyz")


# --- the exam's settings and .seb file -------------------------------------------------------------------------


@pytest.fixture
def seb_exam(make_institution, make_user, make_exam):
    inst = make_institution("Hochschule Nord")
    exam = make_exam(institution=inst, title="Klausur", questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, seb_required=True)
    return type("S", (), {"exam": exam, "candidate": make_user("candidate", inst), "inst": inst,
                          "staff": make_user("staff", inst)})


def test_settings_lock_to_this_platform_and_allow_camera(app, seb_exam):
    settings = lockdown.exam_settings(seb_exam.exam, "https://pruefung.example.org")
    assert settings["startURL"] == f"https://pruefung.example.org/candidate/exams/{seb_exam.exam.id}"
    assert settings["quitURL"].endswith("/seb-quit")
    assert settings["URLFilterEnable"] and [r["expression"] for r in settings["URLFilterRules"]] == [
        "https://pruefung.example.org/*"]
    assert settings["allowSwitchToApplications"] is False and settings["permittedProcesses"] == []
    assert settings["browserMediaCaptureCamera"] and settings["browserMediaCaptureMicrophone"]
    assert settings["sendBrowserExamKey"] is True


def test_seb_file_is_seb_format_and_public_only_with_token(app, client, seb_exam):
    from app.views.lockdown import seb_file_url

    with app.test_request_context():
        url = seb_file_url(seb_exam.exam)
    path = url.split("127.0.0.1:5000", 1)[1]
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == "application/seb"
    settings = lockdown.read_seb_file(resp.data)
    assert lockdown.config_key(settings) == lockdown.exam_config_key(seb_exam.exam, "http://127.0.0.1:5000")
    assert client.get(path.replace(path.split("/")[-2], "0" * 32)).status_code == 404


# --- the key check through the views ---------------------------------------------------------------------------


def _key(exam) -> str:
    return lockdown.exam_config_key(exam, "http://127.0.0.1:5000")


def _h(path: str, key: str) -> dict[str, str]:
    return {lockdown.CONFIG_KEY_HEADER: lockdown.config_key_hash(HOST + path, key)}


def test_plain_browser_gets_the_instructions_not_the_start(app, client, seb_exam):
    login(client, seb_exam.candidate)
    page = client.get(f"/candidate/exams/{seb_exam.exam.id}").get_data(as_text=True)
    assert 'id="seb-instructions"' in page and 'id="start"' not in page and "sebs://" not in page
    assert 'id="seb-link"' in page and "seb://127.0.0.1:5000/seb/exams/" in page  # plain http: seb://
    resp = client.post(f"/candidate/exams/{seb_exam.exam.id}/start")
    assert resp.status_code == 403 and 'id="seb-instructions"' in resp.get_data(as_text=True)
    assert db.session.scalar(select(Attempt)) is None


def test_full_attempt_with_keys_then_a_request_without_is_refused_and_flagged(app, client, seb_exam):
    exam = seb_exam.exam
    key = _key(exam)
    login(client, seb_exam.candidate)
    path = f"/candidate/exams/{exam.id}"
    assert 'id="start"' in client.get(path, headers=_h(path, key)).get_data(as_text=True)
    resp = client.post(path + "/start", headers=_h(path + "/start", key))
    assert resp.status_code == 302
    attempt_path = resp.headers["Location"]
    attempt_id = int(attempt_path.rstrip("/").split("/")[-1])
    assert client.get(attempt_path, headers=_h(attempt_path, key)).status_code == 200
    api = f"/api/attempts/{attempt_id}/answers/q1"
    assert client.put(api, json={"value": "a"}, headers=_h(api, key)).status_code == 200
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt.seb_state == lockdown.SEB_VALID

    # A header copied from another URL, a wrong key, a malformed one, none: refused, the answer kept.
    copied = client.put(api, json={"value": "b"}, headers=_h(attempt_path, key))
    assert copied.status_code == 403 and copied.get_json()["error"]["code"] == "seb_required"
    malformed = client.get(attempt_path, headers={lockdown.CONFIG_KEY_HEADER: "not-a-key"})
    assert malformed.status_code == 403 and 'data-malformed="yes"' in malformed.get_data(as_text=True)
    assert client.get(attempt_path).status_code == 403
    assert client.get(attempt_path, headers=_h(attempt_path, "0" * 64)).status_code == 403
    db.session.expire_all()
    assert db.session.scalar(select(Answer.value).where(Answer.attempt_id == attempt_id)) == "a"
    assert db.session.get(Attempt, attempt_id).seb_state == lockdown.SEB_BROKEN
    assert db.session.scalar(select(Flag.kind).where(Flag.attempt_id == attempt_id)) == FlagKind.SEB_KEY_MISSING

    # SEB itself goes on; the submission leads to SEB's quit link.
    submit = f"/candidate/attempts/{attempt_id}/submit"
    done = client.post(submit, headers=_h(submit, key))
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/candidate/exams/{exam.id}/seb-quit")
    assert client.get(f"/candidate/attempts/{attempt_id}/result").status_code == 200  # no key after submission


def test_browser_exam_key_of_an_allowed_build_is_taken(app, client, seb_exam):
    bek = hashlib.sha256(b"SEB 3.10 for Windows").hexdigest()
    seb_exam.exam.seb_browser_exam_keys = [bek]
    db.session.commit()
    login(client, seb_exam.candidate)
    path = f"/candidate/exams/{seb_exam.exam.id}/start"
    ok = client.post(path, headers={lockdown.REQUEST_HASH_HEADER: lockdown.config_key_hash(HOST + path, bek)})
    assert ok.status_code == 302


def test_exam_without_seb_needs_no_key(app, client, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False)
    login(client, make_user("candidate", inst))
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302


# --- what the certificate says ---------------------------------------------------------------------------------


def _drawn_text(pdf: bytes) -> bytes:
    """Every zlib content stream of the PDF, decompressed up to its own end (trailing bytes ignored)."""
    import re
    import zlib

    out = b""
    for m in re.finditer(rb"stream\r?\n", pdf):
        with contextlib.suppress(zlib.error):
            out += zlib.decompressobj().decompress(pdf[m.end():])
    return out


def _issued(app, attempt_id: int, staff):
    from exams.certificates import issue_certificate
    from exams.grading import give_points, release_result
    from kernel.clock import utcnow

    with app.test_request_context():
        give_points(db.session.get(Attempt, attempt_id), staff, "q4", 5, utcnow())
        release_result(db.session.get(Attempt, attempt_id), staff, utcnow())
        return issue_certificate(db.session.get(Attempt, attempt_id), utcnow())


def _take(client, exam, key: str | None, *, drop_key_once: bool = False) -> int:
    h = (lambda p: _h(p, key)) if key else (lambda p: {})
    start = f"/candidate/exams/{exam.id}/start"
    attempt_path = client.post(start, headers=h(start)).headers["Location"]
    attempt_id = int(attempt_path.rstrip("/").split("/")[-1])
    for qid, value in {"q1": "a", "q2": ["p2", "p3"], "q3": 3.14, "q4": "Weil."}.items():
        api = f"/api/attempts/{attempt_id}/answers/{qid}"
        assert client.put(api, json={"value": value}, headers=h(api)).status_code == 200
    if drop_key_once:
        assert client.get(attempt_path).status_code == 403
    submit = f"/candidate/attempts/{attempt_id}/submit"
    assert client.post(submit, headers=h(submit)).status_code == 302
    return attempt_id


@pytest.mark.parametrize("drop_key_once", [False, True])
def test_certificate_states_seb_only_when_every_request_had_a_key(app, client, seb_exam, drop_key_once):
    from exams.certificates import certificate_pdf, lookup_certificate, public_keys
    from exams.credentials import verify_credential

    login(client, seb_exam.candidate)
    cert = _issued(app, _take(client, seb_exam.exam, _key(seb_exam.exam), drop_key_once=drop_key_once),
                   seb_exam.staff)
    expected = not drop_key_once
    assert bool(cert.seb_lockdown) is expected
    assert lookup_certificate(cert.public_id).seb is expected
    assert verify_credential(cert.credential, public_keys()).claims.seb is expected
    assert ("Safe Exam Browser" in cert.openbadge) is expected
    page = client.get(f"/verify/{cert.public_id}").get_data(as_text=True)
    assert ('id="verify-seb"' in page) is expected
    with app.test_request_context():
        pdf = certificate_pdf(cert, font_path="")
    assert (b"taken in Safe Exam Browser" in _drawn_text(pdf)) is expected


def test_page_proof_from_seb_javascript_api():
    from urllib.parse import quote

    key = "c" * 64
    page = "https://exam.example/candidate/exams/4"
    proof = quote(f"{page}|{lockdown.config_key_hash(page, key)}")
    here = "https://exam.example/api/attempts/9/answers/q1"
    assert lockdown.check_page_proof(here, key, proof) == lockdown.KeyProof.VALID
    assert lockdown.check_page_proof("https://other.example/x", key, proof) == lockdown.KeyProof.WRONG
    assert lockdown.check_page_proof(here, "d" * 64, proof) == lockdown.KeyProof.WRONG
    assert lockdown.check_page_proof(here, key, "nonsense") == lockdown.KeyProof.MALFORMED
    assert lockdown.check_page_proof(here, key, None) == lockdown.KeyProof.MISSING


def test_enrolment_mail_has_the_seb_link_and_file(app, make_institution, make_user, make_exam):
    from accounts.models import Notice
    from exams import rosters
    from exams.mails import enrolment_mail

    inst = make_institution()
    exam = make_exam(institution=inst, enrol_all=False, questions=QUESTIONS, seb_required=True)
    candidate = make_user("candidate", inst, enrolled=False)
    with app.test_request_context():
        rosters.enrol(exam, candidate)
        notice = db.session.scalar(select(Notice).where(Notice.kind == "enrolment"))
        body = enrolment_mail(notice).body
        file_path = lockdown.seb_file_path(exam)
    assert f"seb://127.0.0.1:5000{file_path}" in body and f"http://127.0.0.1:5000{file_path}" in body
    assert "Safe Exam Browser" in body


# --- the exam office's settings --------------------------------------------------------------------------------


def test_editor_requires_seb_and_takes_browser_exam_keys(client, make_institution, make_user):
    from exams.models import Exam
    from tests.exams.test_editor import _full_form

    inst = make_institution()
    login(client, make_user("staff", inst))
    form = _full_form()
    form.update({"seb_required": "on", "seb_browser_exam_keys": "keine-ahnung"})
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert "ist kein Browser Exam Key" in page and "keine-ahnung" in page  # kept as typed
    assert db.session.scalar(select(Exam)) is None
    form["seb_browser_exam_keys"] = "A" * 64
    assert client.post("/staff/exams/compose", data=form).status_code == 302
    exam = db.session.scalar(select(Exam))
    assert exam.seb_required and exam.seb_browser_exam_keys == ["a" * 64]
    exported = client.get(f"/staff/exams/{exam.id}/export?format=yaml").get_data(as_text=True)
    assert "seb_required: true" in exported and "a" * 64 in exported


def test_exam_file_refuses_screen_recording_beside_seb_and_bad_keys():
    from exams.authoring import TEMPLATE
    from exams.schema import ExamImportError, load_exam

    spec = load_exam(TEMPLATE.replace("seb_required: false", "seb_required: true"), "yaml")
    assert spec.seb_required
    both = TEMPLATE.replace("seb_required: false", "seb_required: true").replace("screen_capture: false",
                                                                                "screen_capture: true")
    with pytest.raises(ExamImportError) as err:
        load_exam(both, "yaml")
    assert [p.path for p in err.value.problems] == ["screen_capture"]
    assert "Safe Exam Browser" in err.value.problems[0].message
    with pytest.raises(ExamImportError) as err:
        load_exam(TEMPLATE.replace("seb_required: false", 'seb_browser_exam_keys: ["xyz"]'), "yaml")
    assert "not a Browser Exam Key" in err.value.problems[0].message


def test_exam_office_sees_the_config_key_and_the_links(app, client, seb_exam):
    login(client, seb_exam.staff)
    page = client.get(f"/staff/exams/{seb_exam.exam.id}").get_data(as_text=True)
    assert f'<code id="seb-config-key">{_key(seb_exam.exam)}</code>' in page
    assert 'id="seb-file"' in page and "seb://127.0.0.1:5000/seb/exams/" in page
