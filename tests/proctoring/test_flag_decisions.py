"""A person confirms or dismisses a flag with a note: from the live tile (JSON) and from the review (form)."""

from __future__ import annotations

import pytest

from exams.attempts import timeline
from exams.models import Attempt
from kernel.clock import clock
from kernel.db import db
from proctoring.flags import raise_flag
from proctoring.models import Flag, FlagKind, FlagStatus
from tests.conftest import login, start_exam


@pytest.fixture
def flagged(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    cand = make_user("candidate", inst)
    candidate = app.test_client()
    login(candidate, cand)
    attempt_id = start_exam(candidate, exam.id)
    attempt = db.session.get(Attempt, attempt_id)
    flag = raise_flag(attempt, FlagKind.TAB_HIDDEN, clock.now(), source="browser")
    supervisor = app.test_client()
    login(supervisor, proctor)
    return {"attempt_id": attempt_id, "flag_id": flag.id, "proctor": supervisor, "inst": inst, "exam": exam,
            "candidate": candidate}


def _flag(flag_id):
    db.session.expire_all()
    return db.session.get(Flag, flag_id)


def test_the_tile_lists_open_flags_in_words_and_a_proctor_confirms_one_with_a_note(flagged):
    aid, fid, proc = flagged["attempt_id"], flagged["flag_id"], flagged["proctor"]
    tile = proc.get("/api/proctor/live").json["attempts"][0]
    assert [(f["id"], f["label"]) for f in tile["flags"]] == [(fid, "Tab der Prüfung verlassen")]
    # Confirming needs a note: what was seen.
    r = proc.post(f"/api/proctor/attempts/{aid}/flags/{fid}", json={"decision": "confirm", "note": " "})
    assert r.status_code == 400 and _flag(fid).status == FlagStatus.OPEN
    r = proc.post(f"/api/proctor/attempts/{aid}/flags/{fid}",
                  json={"decision": "confirm", "note": "Liest von einem Zettel ab"})
    assert r.status_code == 200 and r.json["status"] == "confirmed" and r.json["label"] == "bestätigt"
    f = _flag(fid)
    assert (f.status, f.note, f.reviewed_at is not None) == (FlagStatus.CONFIRMED, "Liest von einem Zettel ab", True)
    events = timeline(db.session.get(Attempt, aid))
    assert any(e.kind == "flag_confirmed" and e.detail["flag_id"] == fid for e in events)
    assert proc.get("/api/proctor/live").json["attempts"][0]["flags"] == []  # decided flags leave the tile
    # A decision holds: a second one is refused and changes nothing.
    r = proc.post(f"/api/proctor/attempts/{aid}/flags/{fid}", json={"decision": "dismiss"})
    assert r.status_code == 409 and _flag(fid).status == FlagStatus.CONFIRMED


def test_dismiss_from_the_review_form_without_a_note(flagged):
    aid, fid, proc = flagged["attempt_id"], flagged["flag_id"], flagged["proctor"]
    page = proc.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert f'id="flag-{fid}"' in page and "tab_hidden" not in page.split('id="flags"')[1].split("</ul>")[0]
    r = proc.post(f"/proctor/attempts/{aid}/flags/{fid}", data={"decision": "dismiss", "note": "", "back": "review"})
    assert r.status_code == 302 and f"/proctor/attempts/{aid}/review#flag-{fid}" in r.headers["Location"]
    assert _flag(fid).status == FlagStatus.DISMISSED
    page = proc.get(f"/proctor/attempts/{aid}/review").get_data(as_text=True)
    assert "verworfen" in page and f'id="flag-{fid}"' not in page


def test_a_bad_decision_is_refused(flagged):
    aid, fid, proc = flagged["attempt_id"], flagged["flag_id"], flagged["proctor"]
    assert proc.post(f"/api/proctor/attempts/{aid}/flags/{fid}", json={"decision": "maybe"}).status_code == 400
    assert _flag(fid).status == FlagStatus.OPEN


@pytest.mark.parametrize("who", ["other_institution_proctor", "unassigned_proctor", "other_institution_staff",
                                 "candidate"])
def test_others_cannot_decide(app, flagged, make_institution, make_user, who):
    aid, fid = flagged["attempt_id"], flagged["flag_id"]
    if who == "candidate":
        client = flagged["candidate"]
    else:
        other = make_institution()
        role, inst = {"other_institution_proctor": ("proctor", other), "unassigned_proctor": ("proctor",
                      flagged["inst"]), "other_institution_staff": ("staff", other)}[who]
        u = make_user(role, inst)
        if who == "other_institution_proctor":  # even wrongly put on the exam's proctor list, the institution rules
            flagged["exam"].proctors.append(u)
            db.session.commit()
        client = app.test_client()
        login(client, u)
    for url, kw in ((f"/api/proctor/attempts/{aid}/flags/{fid}", {"json": {"decision": "dismiss"}}),
                    (f"/proctor/attempts/{aid}/flags/{fid}", {"data": {"decision": "dismiss"}})):
        r = client.post(url, **kw)
        assert r.status_code in (403, 404), (url, r.status_code)
    assert _flag(fid).status == FlagStatus.OPEN


def test_a_flag_of_another_attempt_is_not_found(flagged, app, make_user, make_exam):
    aid, proc = flagged["attempt_id"], flagged["proctor"]
    other_exam = make_exam(institution=flagged["inst"], identity_check_required=False, proctoring_required=False)
    other_exam.proctors.append(db.session.get(type(flagged["exam"].proctors[0]), flagged["exam"].proctors[0].id))
    db.session.commit()
    cand = make_user("candidate", flagged["inst"])
    c = app.test_client()
    login(c, cand)
    other_attempt = db.session.get(Attempt, start_exam(c, other_exam.id))
    other_flag = raise_flag(other_attempt, FlagKind.NO_FACE, clock.now())
    r = proc.post(f"/api/proctor/attempts/{aid}/flags/{other_flag.id}", json={"decision": "dismiss"})
    assert r.status_code == 404 and _flag(other_flag.id).status == FlagStatus.OPEN


def test_every_flag_type_and_state_has_words_in_both_languages(app):
    from flask_babel import force_locale

    from proctoring.flag_labels import DEVICE_LOST_LABELS, FLAG_KIND_LABELS, FLAG_STATUS_LABELS

    for table, values in ((FLAG_KIND_LABELS, list(FlagKind)), (FLAG_STATUS_LABELS, list(FlagStatus)),
                          (DEVICE_LOST_LABELS, ["camera", "microphone", "window"])):
        assert set(table) == set(values)
        with app.test_request_context():
            for value in values:
                with force_locale("de"):
                    de = str(table[value])
                with force_locale("en"):
                    en = str(table[value])
                assert de != en and de != str(value) and en.strip(), (value, de, en)  # German never shows the raw value
