"""A spoken answer walked in real Chromiums (issue 32): the candidate (the suite's fake webcam and microphone) presses
"Vorbereitung beginnen", hears the phases said in the live region, sees the recording indicator while the server's
span runs; the recording part in the vault, decrypted, covers the span with the microphone's audio in it; the exam
office's grader clicks the answer's button, the player seeks to the span, and grades with the rubric and a note.
Screenshots go to the test's output folder."""

from __future__ import annotations

import datetime as dt
import io
import time

import av
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Answer, Attempt
from exams.spoken import span_of
from kernel.db import db
from kernel.jobs import runner
from proctoring.models import SystemCheck
from proctoring.review import parts_for_review
from storage import vault
from tests.a11y import violations
from tests.browser import chromium, confirm_submit, enter_fullscreen, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.conftest import probe, recordings, wait_parts_closed
from tests.proctoring.test_screen import ffprobe_streams

pytestmark = pytest.mark.browser

QUESTIONS = [{"id": "talk", "type": "spoken", "prompt": "Stellen Sie sich kurz vor.", "preparation_seconds": 3,
              "answer_seconds": 6,
              "rubric": [{"id": "range", "name": "Spektrum", "levels": [{"id": "a1", "label": "A1", "points": 1},
                                                                        {"id": "a2", "label": "A2", "points": 2}]},
                         {"id": "pron", "name": "Aussprache", "levels": [{"id": "p0", "label": "schwer", "points": 0},
                                                                         {"id": "p1", "label": "klar", "points": 1}]}]}]


def writing(attempt_id: int) -> bool:
    """Whether a part of the attempt's recording is being written (a new snapshot: the engine writes elsewhere)."""
    db.session.rollback()
    return any(b.state.value == "writing" for b in recordings(attempt_id))


def test_a_spoken_answer_is_recorded_and_graded(app, chromium, live_server, fake_webcam,  # noqa: F811
                                                make_institution, make_user, make_exam, tmp_path):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, questions=QUESTIONS)
    cand, staff = make_user("candidate", inst), make_user("staff", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()

    c = chromium(video=fake_webcam[0], audio=fake_webcam[1])
    log_in(c, live_server, cand.email, PASSWORD)
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    status = WebDriverWait(c, 30).until(lambda d: d.find_element(By.ID, "media-status"))
    WebDriverWait(c, 30).until(lambda d: status.get_attribute("data-state") == "connected")
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(c)
    box = c.find_element(By.ID, "spoken-talk")
    said = box.find_element(By.CSS_SELECTOR, ".spoken-said")
    start = box.find_element(By.CSS_SELECTOR, ".spoken-start")
    assert start.text == "Vorbereitung beginnen" and said.get_attribute("aria-live") == "polite"
    WebDriverWait(c, 15).until(lambda d: writing(attempt_id))  # the engine writes a part: a take may begin
    start.click()
    WebDriverWait(c, 5).until(lambda d: said.text == "Die Vorbereitung hat begonnen: 3 Sekunden.")
    assert box.find_element(By.CSS_SELECTOR, ".spoken-clock").text.startswith("Vorbereitung: noch")
    assert not start.is_displayed()
    assert c.execute_script("return document.activeElement.id") == "spoken-talk"  # focus not lost to the page
    rec = box.find_element(By.CSS_SELECTOR, ".spoken-recording")
    WebDriverWait(c, 10).until(lambda d: rec.is_displayed())
    assert said.text.startswith("Die Aufnahme läuft.")
    c.execute_script("arguments[0].scrollIntoView()", box)
    c.save_screenshot(str(tmp_path / "1-candidate-recording.png"))
    assert violations(c) == []
    WebDriverWait(c, 15).until(lambda d: said.text == "Ihre Antwort wurde aufgenommen." and not rec.is_displayed())
    assert not start.is_displayed()  # once: the item allows no retry
    c.save_screenshot(str(tmp_path / "2-candidate-recorded.png"))
    time.sleep(1)
    c.find_element(By.ID, "submit").click()
    confirm_submit(c)
    WebDriverWait(c, 15).until(lambda d: "/result" in d.current_url)

    # The vault's part, decrypted, covers the span the server set, with the microphone's audio in it.
    wait_parts_closed(attempt_id)
    db.session.expire_all()
    span = span_of(db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id)).value)
    assert span is not None and span.ends - span.started == dt.timedelta(seconds=6)
    assert runner().wait(runner().enqueue("proctoring.remux_recordings"), timeout=120) >= 1  # type: ignore[attr-defined]
    attempt = db.session.get(Attempt, attempt_id)
    covering = [p for p in parts_for_review(attempt) if p.started_at <= span.started]
    assert covering, [p.started_at for p in parts_for_review(attempt)]
    part = covering[-1]
    webm = vault.read(part.blob)
    assert {(s["codec_type"], s["codec_name"]) for s in ffprobe_streams(webm, tmp_path)} == {("video", "vp8"),
                                                                                              ("audio", "opus")}
    info = probe(webm)
    offset = (span.started - part.started_at).total_seconds()
    assert offset + 6 <= info["duration"] + 0.5, (offset, info)  # the part runs past the span's end
    with av.open(io.BytesIO(webm)) as container:
        audio = container.streams.audio[0]
        times = [float(p.pts * p.time_base) for p in container.demux(audio) if p.pts is not None]
    first = min(times)
    in_span = [t for t in times if offset <= t - first <= offset + 6]
    assert len(in_span) > 200, (len(in_span), offset)  # 20 ms Opus packets: the answer's six seconds are there

    # The grader: the button seeks the player to the answer; the rubric gives the points, the note is kept.
    g = chromium()
    log_in(g, live_server, staff.email, PASSWORD, code=lambda: totp_code(staff))
    WebDriverWait(g, 10).until(lambda d: "/login" not in d.current_url)
    g.get(f"{live_server}/staff/attempts/{attempt_id}")
    video = WebDriverWait(g, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, "#player video.playback"))
    WebDriverWait(g, 20).until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
    jump = g.find_element(By.CSS_SELECTOR, "button.spoken-jump")
    assert jump.text.startswith("Antwort anhören:")
    jump.click()
    WebDriverWait(g, 10).until(lambda d: d.find_element(By.ID, "player").get_attribute("data-jumped") == "yes")
    target = float(video.get_attribute("data-target"))
    assert abs(target - offset) < 1.5, (target, offset)
    WebDriverWait(g, 10).until(lambda d: abs(d.execute_script("return arguments[0].currentTime", video) - target)
                               < 1.0)
    g.execute_script("document.getElementById('spoken-player').scrollIntoView()")
    g.save_screenshot(str(tmp_path / "3-grader-player-at-the-answer.png"))
    assert violations(g) == []
    section = g.find_element(By.ID, "grade-talk")
    section.find_element(By.CSS_SELECTOR, 'input[name="level-range"][value="a2"]').click()
    section.find_element(By.CSS_SELECTOR, 'input[name="level-pron"][value="p1"]').click()
    section.find_element(By.ID, "note-talk").send_keys("Flüssig, gut verständlich.")
    g.save_screenshot(str(tmp_path / "4-grader-rubric.png"))
    section.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    WebDriverWait(g, 10).until(lambda d: "Punkte gespeichert" in d.page_source)
    db.session.expire_all()
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id))
    assert (row.manual_points, row.rubric_levels, row.manual_note) == (3, {"range": "a2", "pron": "p1"},
                                                                       "Flüssig, gut verständlich.")
    attempt = db.session.get(Attempt, attempt_id)
    assert (attempt.points, attempt.max_points, attempt.pending_manual) == (3, 3, False)
    g.save_screenshot(str(tmp_path / "5-grader-graded.png"))
