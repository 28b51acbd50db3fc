"""Alerts the proctor cannot miss (issue 29): the live grid puts candidates with new open flags first and says so
in words, with counts (the walk in a browser: test_browser_alerts.py). Thirty candidates on one grid."""

from __future__ import annotations

import datetime as dt

import pytest

from exams.models import Attempt
from kernel.clock import clock
from kernel.db import db
from proctoring.actions import NEW_FLAG_SECONDS, order_by_alerts
from proctoring.flags import raise_flag
from proctoring.models import FlagKind
from tests.conftest import login, start_exam

CANDIDATES = 30


@pytest.fixture
def room(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    attempts = []
    for _ in range(CANDIDATES):
        c = app.test_client()
        login(c, make_user("candidate", inst))
        attempts.append(db.session.get(Attempt, start_exam(c, exam.id)))
    client = app.test_client()
    login(client, proctor)
    return {"attempts": attempts, "proctor": client, "proctor_user": proctor}


def test_candidates_with_new_flags_come_first_newest_first(room):
    attempts, now = room["attempts"], clock.now()
    old = raise_flag(attempts[3], FlagKind.TAB_HIDDEN, now - dt.timedelta(seconds=NEW_FLAG_SECONDS + 60))
    raise_flag(attempts[20], FlagKind.NO_FACE, now - dt.timedelta(seconds=30))
    raise_flag(attempts[25], FlagKind.COPY_PASTE, now - dt.timedelta(seconds=5))
    tiles = room["proctor"].get("/api/proctor/live").get_json()["attempts"]
    assert len(tiles) == CANDIDATES
    order = [t["attempt_id"] for t in tiles]
    assert order[:3] == [attempts[25].id, attempts[20].id, attempts[3].id], order[:5]
    assert [t["new_flags"] for t in tiles[:4]] == [1, 1, 0, 0]
    assert tiles[2]["open_flags"] == 1 and old is not None
    assert order[3:] == [a.id for a in attempts if a.id not in order[:3]]  # the rest keep their order


def test_the_order_is_stable_without_flags():
    now = dt.datetime(2026, 12, 7, 9, 0)
    tiles = [{"attempt_id": i, "flags": []} for i in range(5)]
    assert [t["attempt_id"] for t in order_by_alerts(tiles, now)] == list(range(5))
