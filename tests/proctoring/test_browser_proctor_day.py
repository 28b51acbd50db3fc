"""A proctor's working day in two real Chromiums, clicking only from the login page: the home page with
today's session, the live grid with a flag and an accommodation, confirming and dismissing flags, the
identity queue, the review queue and a review. The candidate is asked for fullscreen, leaves it, loses
the camera and is told what to do. Screenshots of each page go to the test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus, ExtraTime
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from proctoring.models import Accommodation, Flag, FlagKind, FlagStatus, SystemCheck
from tests.browser import chromium, confirm_submit, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser


def shot(driver, folder: Path, name: str) -> None:
    driver.save_screenshot(str(folder / f"{name}.png"))


def click_in_grid(driver, css: str) -> None:
    """Click an element of the live grid, which is rebuilt every second (an element found may go stale)."""
    WebDriverWait(driver, 10, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def _flags(attempt_id: int) -> dict[FlagKind, Flag]:
    db.session.expire_all()
    return {f.kind: f for f in db.session.scalars(select(Flag).where(Flag.attempt_id == attempt_id))}


def test_a_proctors_day_in_chromium(app, chromium, live_server, fake_webcam, tmp_path,  # noqa: F811
                                    make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, title="Deutsch B2", identity_check_required=False, proctoring_required=True,
                     duration_minutes=30,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Was ist Aufsicht?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst, first_name="Erika")
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))  # the check itself: test_browser_recording
    db.session.add(ExtraTime(exam_id=exam.id, user_id=cand.id, extra_minutes=10, extra_percent=0,
                             reason="Sehbehinderung"))
    # The fake microphone plays a steady tone, which the voice check would flag: silenced, as for someone who
    # reads aloud.
    db.session.add(Accommodation(user_id=cand.id, exam_id=exam.id, flag_kind=FlagKind.VOICE, reason="Sehbehinderung"))
    waiting = make_user("candidate", inst, first_name="Jonas", last_name="Wartend")  # waits for the identity check
    db.session.add(IdCheck(user_id=waiting.id, exam_id=exam.id, status=IdCheckStatus.MANUAL, biometric=False))
    db.session.commit()

    # The candidate starts; the exam asks for fullscreen before anything else.
    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    gate = WebDriverWait(c, 10).until(lambda d: d.find_element(By.ID, "fullscreen-gate"))
    WebDriverWait(c, 10).until(lambda d: gate.is_displayed())
    assert "Vollbild" in gate.text
    shot(c, tmp_path, "01-candidate-fullscreen-asked")
    c.find_element(By.ID, "enter-fullscreen").click()
    WebDriverWait(c, 10).until(lambda d: d.execute_script("return !!document.fullscreenElement"))
    assert not gate.is_displayed()
    WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status").get_attribute("data-state")
                               == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    attempt = db.session.get(Attempt, attempt_id)
    assert (attempt.deadline_at - attempt.started_at).total_seconds() == 40 * 60  # the accommodation applied

    # Leaving fullscreen is flagged and the candidate is asked back.
    c.execute_script("document.exitFullscreen()")
    WebDriverWait(c, 10).until(lambda d: gate.is_displayed())
    assert "verlassen" in c.find_element(By.ID, "fullscreen-text").text
    shot(c, tmp_path, "02-candidate-left-fullscreen")
    WebDriverWait(c, 15).until(lambda d: FlagKind.FULLSCREEN_EXIT in _flags(attempt_id))
    c.find_element(By.ID, "enter-fullscreen").click()
    WebDriverWait(c, 10).until(lambda d: not gate.is_displayed())

    # The camera stops mid-exam: a flag, and the candidate is told what to do.
    c.execute_script("document.getElementById('self-view').srcObject.getVideoTracks()[0]"
                     ".dispatchEvent(new Event('ended'))")
    lost = c.find_element(By.ID, "media-lost")
    WebDriverWait(c, 10).until(lambda d: lost.is_displayed())
    assert "Kamera" in lost.text and "Neu verbinden" in lost.text
    shot(c, tmp_path, "03-candidate-camera-lost")
    WebDriverWait(c, 15).until(lambda d: FlagKind.MEDIA_LOST in _flags(attempt_id))
    assert _flags(attempt_id)[FlagKind.MEDIA_LOST].detail.get("device") == "camera"

    # The proctor logs in and finds the work from the home page.
    p = chromium()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "today"))
    row = p.find_element(By.CSS_SELECTOR, f'#today tr[data-exam="{exam.id}"]')
    assert row.find_element(By.CLASS_NAME, "count-live").text == "1"
    assert row.find_element(By.CLASS_NAME, "count-identity").text == "1"
    assert row.find_element(By.CLASS_NAME, "count-flags").text == "2"
    shot(p, tmp_path, "04-proctor-home")
    p.find_element(By.ID, "to-live").click()
    WebDriverWait(p, 15).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"] .tile-flags li[data-kind="media_lost"]'))
    tile_text = WebDriverWait(p, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"]').text)
    assert "Kamera ausgefallen" in tile_text and "Vollbild verlassen" in tile_text
    assert "+10 Min. zusätzliche Zeit" in tile_text and "abgeschaltet: Sprechen gehört" in tile_text
    assert "Sehbehinderung" in tile_text
    shot(p, tmp_path, "05-proctor-grid-with-flags")

    # Confirm one flag with a note, dismiss the other.
    click_in_grid(p, f'li.tile[data-attempt="{attempt_id}"] li[data-kind="fullscreen_exit"] button.decide-flag')
    WebDriverWait(p, 10).until(lambda d: d.find_element(By.ID, "flag-dialog").is_displayed())
    p.find_element(By.ID, "flag-confirm").click()  # without a note: refused, said in the dialog
    WebDriverWait(p, 10).until(lambda d: d.find_element(By.ID, "flag-dialog-error").text)
    p.find_element(By.ID, "flag-dialog-note").send_keys("Hat das Vollbild zweimal verlassen")
    shot(p, tmp_path, "06-proctor-flag-dialog")
    p.find_element(By.ID, "flag-confirm").click()
    WebDriverWait(p, 10).until(lambda d: not d.find_element(By.ID, "flag-dialog").is_displayed())
    WebDriverWait(p, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, 'li[data-kind="fullscreen_exit"]'))
    confirmed = _flags(attempt_id)[FlagKind.FULLSCREEN_EXIT]
    assert (confirmed.status, confirmed.note, confirmed.reviewed_by_id) == (
        FlagStatus.CONFIRMED, "Hat das Vollbild zweimal verlassen", proctor.id)
    click_in_grid(p, 'li[data-kind="media_lost"] button.decide-flag')
    WebDriverWait(p, 10).until(lambda d: d.find_element(By.ID, "flag-dialog").is_displayed())
    p.find_element(By.ID, "flag-dismiss").click()
    WebDriverWait(p, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, 'li[data-kind="media_lost"]'))
    assert _flags(attempt_id)[FlagKind.MEDIA_LOST].status == FlagStatus.DISMISSED

    # The candidate reconnects the camera and copies something (a flag left open for the review).
    c.find_element(By.ID, "media-retry").click()
    WebDriverWait(c, 10).until(lambda d: not lost.is_displayed())
    c.execute_script("document.dispatchEvent(new Event('copy'))")
    WebDriverWait(c, 15).until(lambda d: FlagKind.COPY_PASTE in _flags(attempt_id))

    # The identity queue, one click from home.
    p.find_element(By.CSS_SELECTOR, "a.brand").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-manual-queue"))
    p.find_element(By.ID, "to-manual-queue").click()
    # The queue is refreshed every two seconds: read it within the wait (an element found may go stale).
    WebDriverWait(p, 10, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]).until(
        lambda d: "Wartend" in d.find_element(By.CSS_SELECTOR, "#manual-queue li[data-check]").text)
    shot(p, tmp_path, "07-proctor-identity-queue")

    # The candidate submits: asked once, told what follows.
    c.find_element(By.ID, "submit").click()
    confirm_submit(c, "Antworten können danach nicht mehr geändert werden")
    WebDriverWait(c, 15).until(lambda d: d.current_url.endswith("/result"))
    db.session.expire_all()
    assert db.session.get(Attempt, attempt_id).status == AttemptStatus.SUBMITTED

    # The review queue, one click from home, leads to the review; the open flag is decided there.
    p.find_element(By.CSS_SELECTOR, "a.brand").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-session-reviews"))
    p.find_element(By.ID, "to-session-reviews").click()
    entry = WebDriverWait(p, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-attempt="{attempt_id}"]'))
    # Only the copy is open: submitting (the page hidden, fullscreen ended by leaving it) is no flag.
    assert {k for k, f in _flags(attempt_id).items() if f.status == FlagStatus.OPEN} == {FlagKind.COPY_PASTE}
    assert entry.find_element(By.CLASS_NAME, "open-flags").text == "1"
    shot(p, tmp_path, "08-proctor-review-queue")
    entry.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "flags"))
    flags_text = p.find_element(By.ID, "flags").text
    assert "bestätigt" in flags_text and "verworfen" in flags_text and "Kopiert oder eingefügt" in flags_text
    copy_flag = _flags(attempt_id)[FlagKind.COPY_PASTE]
    form = p.find_element(By.ID, f"flag-{copy_flag.id}")
    form.find_element(By.NAME, "note").send_keys("Nur die eigene Antwort kopiert")
    shot(p, tmp_path, "09-proctor-review")
    form.find_element(By.CLASS_NAME, "dismiss-flag").click()
    WebDriverWait(p, 10).until(lambda d: not d.find_elements(By.ID, f"flag-{copy_flag.id}"))
    assert _flags(attempt_id)[FlagKind.COPY_PASTE].status == FlagStatus.DISMISSED
    p.find_element(By.CSS_SELECTOR, 'input[name="outcome"][value="clean"]').click()
    p.find_element(By.CSS_SELECTOR, 'form.stack button[type="submit"]').click()
    def reviewed(_d):
        db.session.expire_all()
        return db.session.get(Attempt, attempt_id).review_outcome == "clean"

    WebDriverWait(p, 10).until(reviewed)
    shot(p, tmp_path, "10-proctor-reviewed")
    p.find_element(By.CSS_SELECTOR, "a.brand").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-session-reviews"))
    p.find_element(By.ID, "to-session-reviews").click()
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "reviews"))
    assert not p.find_elements(By.CSS_SELECTOR, f'tr[data-attempt="{attempt_id}"]')
