"""Walk the retention rules with the clock: nothing purged early, nothing kept late."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from exams.models import Appeal, AppealStatus, Attempt, AttemptStatus, Certificate
from kernel.clock import clock
from kernel.db import db
from storage import vault
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState, PurgeReceipt
from storage.retention import purge_blob_now, purge_expired

DAY = dt.timedelta(days=1)


@pytest.fixture
def attempt(make_user, make_exam):
    exam = make_exam()
    cand = make_user("candidate", exam.institution)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                  status=AttemptStatus.SUBMITTED, seed=1, layout={}, result_released_at=now)
    db.session.add(att)
    db.session.commit()
    return att


def media(att):
    return [vault.store(cat, b"frame" * 100, attempt_id=att.id, user_id=att.user_id,
                        institution_id=att.exam.institution_id) for cat in ("recording", "snapshot", "chat")]


def states(blobs):
    db.session.expire_all()
    return {db.session.get(Blob, b.id).state for b in blobs}


def test_appeal_window_closes_at_the_end_of_the_seventh_day(app, attempt):
    """Not 7 x 24 hours after the release: appeals are taken until midnight (the institution's) after day 7."""
    from exams.trust import appeal_window

    blobs = media(attempt)
    closes = appeal_window(attempt).closes_at
    assert closes > attempt.result_released_at + 7 * DAY
    clock.advance(7 * DAY)
    assert purge_expired(clock.now()).shredded == 0
    clock.freeze(closes - dt.timedelta(minutes=1))
    assert purge_expired(clock.now()).shredded == 0
    assert states(blobs) == {BlobState.COMPLETE}
    clock.advance(dt.timedelta(minutes=2))
    assert purge_expired(clock.now()).shredded == 3
    assert states(blobs) == {BlobState.PURGED}
    assert not any(vault.backend().exists(b.key) for b in blobs)
    receipts = db.session.scalars(select(PurgeReceipt)).all()
    assert {r.category for r in receipts} == {"recording", "snapshot", "chat"}
    assert all(r.attempt_id == attempt.id and "appeal window" in r.rule for r in receipts)
    with pytest.raises(StorageIntegrityError):
        vault.read(db.session.get(Blob, blobs[0].id))
    assert purge_expired(clock.now()).shredded == 0  # idempotent


def test_certificate_sent_releases_early(app, attempt):
    blobs = media(attempt)
    clock.advance(DAY)
    assert purge_expired(clock.now()).shredded == 0
    db.session.add(Certificate(attempt_id=attempt.id, public_id="X", credential="jws", sent_at=clock.now()))
    db.session.commit()
    assert purge_expired(clock.now()).shredded == 3
    assert states(blobs) == {BlobState.PURGED}


def test_open_appeal_holds_until_decided(app, attempt):
    blobs = media(attempt)
    appeal = Appeal(attempt_id=attempt.id, text="Bitte prüfen", filed_at=clock.now() + 2 * DAY)
    db.session.add(appeal)
    db.session.commit()
    clock.advance(20 * DAY)
    assert purge_expired(clock.now()).shredded == 0
    assert states(blobs) == {BlobState.COMPLETE}
    appeal.status, appeal.decided_at = AppealStatus.REJECTED, clock.now()
    db.session.commit()
    assert purge_expired(clock.now()).shredded == 3


def test_unreleased_results_hold_until_backstop(app, attempt):
    attempt.result_released_at = None
    db.session.commit()
    blobs = media(attempt)
    clock.advance(29 * DAY)
    assert purge_expired(clock.now()).shredded == 0
    clock.advance(2 * DAY)
    assert purge_expired(clock.now()).shredded == 3
    assert states(blobs) == {BlobState.PURGED}


def test_attempt_in_progress_is_never_purged(app, attempt):
    attempt.status = AttemptStatus.IN_PROGRESS
    db.session.commit()
    media(attempt)
    clock.advance(100 * DAY)
    assert purge_expired(clock.now()).shredded == 0


def test_id_images_go_at_their_retain_until(app, make_user):
    user = make_user("candidate")
    keep = vault.store("id_image", b"jpeg", user_id=user.id)  # no decision yet: kept
    decided = vault.store("id_image", b"jpeg", user_id=user.id, retain_until=clock.now() + dt.timedelta(seconds=1))
    assert purge_expired(clock.now()).shredded == 0
    clock.advance(dt.timedelta(seconds=2))
    assert purge_expired(clock.now()).blob_ids == [decided.id]
    assert states([keep]) == {BlobState.COMPLETE}
    purge_blob_now(keep, clock.now(), "identity decision taken")
    assert states([keep]) == {BlobState.PURGED}


def test_dry_run_changes_nothing_and_crash_half_way_is_finished(app, attempt):
    blobs = media(attempt)
    clock.advance(8 * DAY)
    assert len(purge_expired(clock.now(), dry_run=True).blob_ids) == 3
    assert states(blobs) == {BlobState.COMPLETE}
    # simulate a crash after the keys were destroyed but before the bytes were deleted
    for b in blobs:
        row = db.session.get(Blob, b.id)
        row.wrapped_key, row.state = None, BlobState.PURGING
    db.session.commit()
    assert all(vault.backend().exists(b.key) for b in blobs)
    purge_expired(clock.now())
    assert states(blobs) == {BlobState.PURGED}
    assert not any(vault.backend().exists(b.key) for b in blobs)


def test_cli_check_rotate_and_purge(app, attempt):
    runner = app.test_cli_runner()
    blobs = media(attempt)
    assert runner.invoke(args=["storage", "check"]).exit_code == 0
    old_key_id = db.session.get(Blob, blobs[0].id).master_key_id
    out = runner.invoke(args=["storage", "rotate-key"])
    assert out.exit_code == 0 and "re-wrapped" in out.output
    db.session.expire_all()
    row = db.session.get(Blob, blobs[0].id)
    assert row.master_key_id != old_key_id and vault.read(row) == b"frame" * 100
    # damage one blob on disk: check names it and fails
    path = vault.backend().root / row.key
    raw = bytearray(path.read_bytes())
    raw[40] ^= 1
    path.write_bytes(bytes(raw))
    res = runner.invoke(args=["storage", "check"])
    assert res.exit_code == 1 and f"blob {row.id}" in res.output
    clock.advance(8 * DAY)
    assert "3 blobs due" in runner.invoke(args=["storage", "purge", "--dry-run"]).output
    assert "3 blobs purged" in runner.invoke(args=["storage", "purge"]).output


def test_receipts_are_visible_to_the_candidate_and_the_institution(app, attempt, make_user):
    from tests.conftest import login

    media(attempt)
    clock.advance(8 * DAY)
    purge_expired(clock.now())
    cand = app.test_client()
    cand.post("/login", data={"email": attempt.user.email, "password": "correct horse battery"})
    page = cand.get("/candidate/").get_data(as_text=True)

    def receipts(html: str) -> str:
        return html.split('<table id="receipts">')[1].split("</table>")[0]

    # The rule in the page's language (issue 30), once per deleted file.
    assert receipts(page).count("Widerspruchsfrist") == 3 and "appeal window" not in page
    assert "<td>Aufnahme</td>" in page and "<td>Standbild</td>" in page
    staff = app.test_client()
    login(staff, make_user("staff", attempt.exam.institution))
    assert receipts(staff.get("/staff/").get_data(as_text=True)).count("Widerspruchsfrist") == 3
    other = app.test_client()
    login(other, make_user("staff"))
    assert "Widerspruchsfrist" not in receipts(other.get("/staff/").get_data(as_text=True))
