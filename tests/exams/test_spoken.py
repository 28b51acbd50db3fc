"""Spoken answers (issue 32) on the server: a take is started by the candidate and its span set by the server's clock
only; a second start is refused unless the item allows a retry (and two presses at once give one take); the answer
API never writes a spoken answer (attacker's view); a take needs a live recording; graded by hand with the rubric,
the grader's note kept; an exam with a spoken item must be supervised."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading

import pytest
from sqlalchemy import select

from exams.attempts import record_event, timeline
from exams.models import Answer, Attempt
from exams.schema import ExamImportError, dump_exam, load_exam
from kernel.clock import clock
from kernel.db import db
from proctoring.models import SystemCheck
from storage.models import Blob, BlobState
from tests.conftest import login, start_exam

RUBRIC = [{"id": "range", "name": "Spektrum", "levels": [{"id": "a1", "label": "A1", "points": 1},
                                                         {"id": "a2", "label": "A2", "points": 2},
                                                         {"id": "b1", "label": "B1", "points": 3}]},
          {"id": "fluency", "name": "Flüssigkeit", "levels": [{"id": "low", "label": "stockend", "points": 0},
                                                              {"id": "high", "label": "flüssig", "points": 2}]}]
QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Zwei plus zwei?", "points": 1,
     "options": [{"id": "a", "text": "4", "correct": True}, {"id": "b", "text": "5"}]},
    {"id": "talk", "type": "spoken", "prompt": "Erzählen Sie von Ihrem Wochenende.", "preparation_seconds": 30,
     "answer_seconds": 60, "rubric": RUBRIC},
    {"id": "again", "type": "spoken", "prompt": "Beschreiben Sie Ihre Wohnung.", "preparation_seconds": 0,
     "answer_seconds": 20, "retry": True, "points": 2},
]


@pytest.fixture
def sitting(app, make_institution, make_user, make_exam):
    """A supervised exam with two spoken items, its candidate's attempt started with a recording part being written."""
    clock.freeze(dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, questions=QUESTIONS)
    cand, staff = make_user("candidate", inst), make_user("staff", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    aid = start_exam(client, exam.id)
    part = Blob(key=secrets.token_hex(8), category="recording", state=BlobState.WRITING, attempt_id=aid)
    db.session.add(part)
    db.session.commit()
    yield {"client": client, "aid": aid, "exam": exam, "staff": staff, "cand": cand, "part": part}
    clock.reset()


def url(s: dict, qid: str) -> str:
    return f"/api/attempts/{s['aid']}/spoken/{qid}"


def stored(aid: int, qid: str):
    db.session.expire_all()
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == aid, Answer.question_id == qid))
    return row.value if row else None


def test_a_take_is_timed_by_the_server_and_given_once(sitting):
    client, aid = sitting["client"], sitting["aid"]
    page = client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)
    assert 'id="spoken-talk"' in page and "Vorbereitung beginnen" in page and "js/spoken.js" in page
    assert client.get(url(sitting, "talk")).get_json()["phase"] == "ready"
    now = clock.now()
    # whatever the page sends beside the action, the span is the server's
    body = client.post(url(sitting, "talk"), json={"action": "start", "started": "2000-01-01T00:00:00Z",
                                                   "ends": "2100-01-01T00:00:00Z"}).get_json()
    assert body["phase"] == "preparing" and body["seconds_to_answer"] == 30 and body["seconds_left"] == 90
    assert not body["can_start"] and body["take"] == 1 and body["takes_allowed"] == 1
    value = stored(aid, "talk")
    assert value == {"prepared_from": now.isoformat(timespec="milliseconds") + "Z",
                     "started": (now + dt.timedelta(seconds=30)).isoformat(timespec="milliseconds") + "Z",
                     "ends": (now + dt.timedelta(seconds=90)).isoformat(timespec="milliseconds") + "Z", "take": 1}
    event = [e for e in timeline(db.session.get(Attempt, aid)) if e.kind == "spoken_started"]
    assert len(event) == 1 and event[0].detail["question_id"] == "talk" and event[0].at == now

    clock.advance(dt.timedelta(seconds=31))
    assert client.get(url(sitting, "talk")).get_json()["phase"] == "recording"
    refused = client.post(url(sitting, "talk"), json={"action": "start"})
    assert refused.status_code == 409 and "wird gerade aufgenommen" in refused.get_json()["error"]["message"]
    clock.advance(dt.timedelta(seconds=60))
    assert client.get(url(sitting, "talk")).get_json()["phase"] == "done"
    refused = client.post(url(sitting, "talk"), json={"action": "start"})
    assert refused.status_code == 409 and "keine weitere Aufnahme" in refused.get_json()["error"]["message"]
    assert stored(aid, "talk")["take"] == 1


def test_a_retry_where_the_item_allows_one_and_no_more(sitting):
    client, aid = sitting["client"], sitting["aid"]
    first = client.post(url(sitting, "again"), json={"action": "start"}).get_json()
    assert first["phase"] == "recording" and first["takes_allowed"] == 2
    assert client.post(url(sitting, "again"), json={"action": "start"}).status_code == 409  # still running
    clock.advance(dt.timedelta(seconds=20))
    second = client.post(url(sitting, "again"), json={"action": "start"})
    assert second.status_code == 200 and second.get_json()["take"] == 2
    assert stored(aid, "again")["started"] == clock.now().isoformat(timespec="milliseconds") + "Z"
    clock.advance(dt.timedelta(seconds=20))
    assert client.post(url(sitting, "again"), json={"action": "start"}).status_code == 409
    assert stored(aid, "again")["take"] == 2


def test_presses_at_once_give_one_take(app, sitting):
    aid = sitting["aid"]
    tabs = []
    for _ in range(4):
        tab = app.test_client()
        login(tab, sitting["cand"])
        tabs.append(tab)
    barrier, codes = threading.Barrier(len(tabs)), []

    def press(tab) -> None:
        barrier.wait()
        codes.append(tab.post(url(sitting, "talk"), json={"action": "start"}).status_code)

    threads = [threading.Thread(target=press, args=(t,)) for t in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes).count(200) == 1 and set(codes) <= {200, 409}, codes
    assert stored(aid, "talk")["take"] == 1
    db.session.expire_all()
    assert [e.kind for e in timeline(db.session.get(Attempt, aid))].count("spoken_started") == 1


def test_the_answer_api_never_writes_a_spoken_answer(sitting):
    """The attacker's view: a candidate who sends a span, a longer one, or clears a take to get another."""
    client, aid = sitting["client"], sitting["aid"]
    forged = {"prepared_from": "2000-01-01T00:00:00Z", "started": "2000-01-01T00:00:00Z",
              "ends": "2100-01-01T00:00:00Z", "take": 0}
    for value in (forged, "Ich habe gesprochen.", None):
        resp = client.put(f"/api/attempts/{aid}/answers/talk", json={"value": value})
        assert resp.status_code == 400 and "Start" in resp.get_json()["error"]["message"], resp.get_json()
    assert stored(aid, "talk") is None
    assert client.post(url(sitting, "talk"), json={"action": "start"}).status_code == 200
    taken = stored(aid, "talk")
    assert client.put(f"/api/attempts/{aid}/answers/talk", json={"value": None}).status_code == 400
    assert stored(aid, "talk") == taken
    # a spoken item's start is not an answer to another item, and another candidate's attempt is not theirs
    assert client.post(url(sitting, "q1"), json={"action": "start"}).status_code == 404
    assert client.post(url(sitting, "nope"), json={"action": "start"}).status_code == 404
    assert client.post(url(sitting, "talk"), json={"action": "begin"}).status_code == 400


def test_another_candidate_cannot_start_it(app, sitting, make_user):
    intruder = app.test_client()
    login(intruder, make_user("candidate", sitting["exam"].institution))
    assert intruder.post(url(sitting, "talk"), json={"action": "start"}).status_code == 404
    assert stored(sitting["aid"], "talk") is None


def test_no_take_without_a_live_recording_nor_past_the_deadline(sitting):
    client, aid, part = sitting["client"], sitting["aid"], sitting["part"]
    part.state, part.completed_at = BlobState.COMPLETE, clock.now()
    db.session.commit()
    refused = client.post(url(sitting, "talk"), json={"action": "start"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "media_not_live"
    assert "Kamera und Ihr Mikrofon" in refused.get_json()["error"]["message"]
    assert stored(aid, "talk") is None
    db.session.add(Blob(key=secrets.token_hex(8), category="recording", state=BlobState.WRITING, attempt_id=aid))
    attempt = db.session.get(Attempt, aid)
    attempt.deadline_at = clock.now() + dt.timedelta(seconds=60)  # 30 + 60 seconds do not fit
    db.session.commit()
    assert client.post(url(sitting, "talk"), json={"action": "start"}).status_code == 409
    assert client.post(url(sitting, "again"), json={"action": "start"}).status_code == 200  # 20 seconds do


def test_graded_by_hand_with_the_rubric_and_the_note_kept(app, sitting):
    client, aid = sitting["client"], sitting["aid"]
    client.post(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    assert client.post(url(sitting, "talk"), json={"action": "start"}).status_code == 200
    clock.advance(dt.timedelta(seconds=90))
    assert client.post(url(sitting, "again"), json={"action": "start"}).status_code == 200
    clock.advance(dt.timedelta(seconds=5))  # the microphone is lost during the second answer
    record_event(db.session.get(Attempt, aid), "microphone_lost", clock.now())
    db.session.commit()
    clock.advance(dt.timedelta(seconds=15))
    assert client.post(f"/api/attempts/{aid}/submit").status_code == 200
    attempt = db.session.get(Attempt, aid)
    assert attempt.pending_manual and attempt.max_points == 1 + 5 + 2
    staff = app.test_client()
    login(staff, sitting["staff"])
    page = staff.get(f"/staff/attempts/{aid}").get_data(as_text=True)
    assert 'id="player"' in page and "spoken-jump" in page and "js/review.js" in page
    assert f"/proctor/attempts/{aid}/recordings/{sitting['part'].id}" in page
    span = stored(aid, "talk")
    assert f'data-at="{span["started"][:-5]}' in page  # the button seeks the player to the answer's start
    review = staff.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)  # the review lists it too
    assert 'id="spoken-answers"' in review and f'data-at="{span["started"][:-5]}' in review
    assert "Mündliche Antwort: Vorbereitung begonnen" in review  # on the timeline
    # without a level per criterion: refused; with them: their sum
    resp = staff.post(f"/staff/attempts/{aid}/points", data={"question_id": "talk", "level-range": "b1"})
    assert resp.status_code == 400
    staff.post(f"/staff/attempts/{aid}/points", data={"question_id": "talk", "level-range": "a2",
                                                      "level-fluency": "high", "note": "Gut verständlich."})
    staff.post(f"/staff/attempts/{aid}/points", data={"question_id": "again", "points": "0"})
    db.session.expire_all()
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == aid, Answer.question_id == "talk"))
    assert (row.manual_points, row.rubric_levels, row.manual_note) == (4, {"range": "a2", "fluency": "high"},
                                                                       "Gut verständlich.")
    attempt = db.session.get(Attempt, aid)
    assert (attempt.points, attempt.max_points, attempt.pending_manual) == (5, 8, False)
    page = staff.get(f"/staff/attempts/{aid}").get_data(as_text=True)
    assert "Gut verständlich." in page
    warned = re.findall(r'<section class="grade-item" id="grade-(\w+)".*?</section>', page, re.S)
    assert warned == ["talk", "again"]
    assert page.count("spoken-interrupted") == 1 and page.index("spoken-interrupted") > page.index('id="grade-again"')
    assert "Teile davon können fehlen" in page


def test_import_needs_a_supervised_exam_and_checks_the_rubric():
    base = ("title: Sprechen\nduration_minutes: 20\nwindow: {opens_at: '2026-03-01T09:00:00+01:00', "
            "closes_at: '2026-03-01T12:00:00+01:00'}\npass_mark_percent: 60\n")
    item = ("questions:\n  - {id: s1, type: spoken, prompt: Sprechen Sie., preparation_seconds: 10, "
            "answer_seconds: 30}\n")
    spec = load_exam(base + item, "yaml")
    q = spec.questions[0]
    assert (q.kind.value, q.preparation_seconds, q.answer_seconds, q.retry, q.points) == ("spoken", 10, 30, False, 1)
    assert load_exam(dump_exam(spec, "yaml"), "yaml") == spec  # the export writes it back
    rated = load_exam(base + item.replace("}", ", retry: true, rubric: [{id: c, name: Aussprache, levels: [{id: a, "
                                               "label: A, points: 0}, {id: b, label: B, points: 2}]}]}"), "yaml")
    assert rated.questions[0].retry and rated.questions[0].points == 2
    assert load_exam(dump_exam(rated, "json"), "json") == rated
    with pytest.raises(ExamImportError) as err:
        load_exam(base + "proctoring_required: false\n" + item, "yaml")
    assert "spoken answer is recorded" in str(err.value) and "line 7" in str(err.value)
    with pytest.raises(ExamImportError) as err:
        load_exam(base + item.replace("answer_seconds: 30", "answer_seconds: 2"), "yaml")
    assert "answer_seconds" in str(err.value)
    with pytest.raises(ExamImportError) as err:
        load_exam(base + item.replace(", answer_seconds: 30", ""), "yaml")
    assert "answer_seconds" in str(err.value)
    bad_rubric = item.replace("}", ", points: 3, rubric: [{id: c, name: Aussprache, levels: [{id: a, label: A, "
                                   "points: 0}, {id: b, label: B, points: 2}]}]}")
    with pytest.raises(ExamImportError) as err:
        load_exam(base + bad_rubric, "yaml")
    assert "the rubric gives at most 2 points" in str(err.value)


def test_the_editor_writes_a_spoken_item_and_reads_it_back(client, make_institution, make_user):
    from tests.exams.test_editor import _exams, _full_form

    login(client, make_user("staff", make_institution("Sprachschule")))
    form = _full_form()
    form.update({"questions": "5", "q4-kind": "spoken", "q4-prompt": "Stellen Sie sich vor.", "q4-points": "5",
                 "q4-preparation_seconds": "20", "q4-answer_seconds": "45", "q4-retry": "on",
                 "q4-rubric": "Aussprache: A2 = 1; B1 = 2\nWortschatz: A2 = 1; B1 = 3"})
    bad = client.post("/staff/exams/compose", data={**form, "q4-answer_seconds": "2"})
    assert bad.status_code == 400 and "ganze Zahl von Sekunden zwischen 5 und 1800" in bad.get_data(as_text=True)
    resp = client.post("/staff/exams/compose", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (exam,) = _exams()
    item = exam.questions[4]
    assert (item["type"], item["preparation_seconds"], item["answer_seconds"], item["retry"], item["points"]) == (
        "spoken", 20, 45, True, 5)
    assert [c["name"] for c in item["rubric"]] == ["Aussprache", "Wortschatz"]
    edit = client.get(f"/staff/exams/{exam.id}/compose").get_data(as_text=True)
    assert 'value="45"' in edit and "Wortschatz: A2 = 1; B1 = 3" in edit
    preview = client.post("/staff/exams/compose", data={**form, "action": "preview"}).get_data(as_text=True)
    assert 'id="spoken-q5"' in preview and "45 Sekunden lang" in preview  # shown as on the exam page, not usable
    assert re.search(r'<button type="button" class="spoken-start"[^>]*disabled', preview)
    unsupervised = {**form, "proctoring_required": ""}
    refused = client.post("/staff/exams/compose", data=unsupervised)
    assert refused.status_code == 400 and len(_exams()) == 1, refused.get_data(as_text=True)
    assert "spoken answer is recorded" in refused.get_data(as_text=True)
