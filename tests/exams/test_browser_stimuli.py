"""Chromium walk: a candidate hears a listening item twice with our play button, reads the counter going down
(a live region), and a third play, forced past the disabled button, is refused by the server in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from exams.models import MediaPlay
from exams.stimuli import store_item_media
from kernel.db import db
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.exams.test_stimuli import listening_items, wav

pytestmark = pytest.mark.browser


@pytest.fixture
def office(make_institution, make_user, make_exam) -> Any:
    inst = make_institution("Sprachschule Nord")
    staff = make_user("staff", inst)
    media = store_item_media(staff, wav(seconds=0.8))
    exam = make_exam(institution=inst, title="Deutsch A2 – Hören", questions=listening_items(media.public_id),
                     identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"exam": exam, "candidate": make_user("candidate", inst)})


def _counter(d: Any) -> str:
    return d.find_element(By.CSS_SELECTOR, '[data-question="listen"] .plays-left').text


def test_listening_item_played_twice_then_refused(chromium, live_server, office, tmp_path: Path):  # noqa: F811
    d = chromium()
    log_in(d, live_server, office.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.get(f"{live_server}/candidate/exams/{office.exam.id}")
    d.find_element(By.ID, "start").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
    figure = d.find_element(By.CSS_SELECTOR, '[data-question="listen"] figure.stimulus')
    audio = figure.find_element(By.CSS_SELECTOR, "audio.limited-media")
    assert audio.get_attribute("controls") is None and audio.get_attribute("controlslist") == "nodownload"
    assert audio.get_attribute("aria-label") == "Durchsage am Bahnhof (Ton)"
    assert _counter(d) == "Noch 2 von 2 Wiedergaben"
    live = figure.find_element(By.CSS_SELECTOR, ".plays-left")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    d.execute_script("window.heard = 0; arguments[0].addEventListener('ended', function () { window.heard++; });",
                     audio)
    button = figure.find_element(By.CSS_SELECTOR, "button.play-limited")
    for heard, left in ((1, 1), (2, 0)):
        button.click()
        WebDriverWait(d, 10).until(lambda drv, n=left: _counter(drv) == f"Noch {n} von 2 Wiedergaben")
        WebDriverWait(d, 15).until(lambda drv, n=heard: drv.execute_script("return window.heard") == n)
        if left:
            WebDriverWait(d, 5).until(lambda drv: button.is_enabled())
    assert not button.is_enabled()  # every play used: our button is off
    d.save_screenshot(str(tmp_path / "01-listening-item-played-twice.png"))
    # A third play forced past the button (as someone with the developer tools would): the server refuses.
    d.execute_script("arguments[0].disabled = false; arguments[0].click();", button)
    WebDriverWait(d, 10).until(lambda drv: "so oft, wie sie abgespielt werden darf" in _counter(drv))
    assert d.execute_script("return window.heard") == 2
    d.save_screenshot(str(tmp_path / "02-third-play-refused.png"))
    db.session.expire_all()
    assert db.session.scalar(select(func.count(MediaPlay.id))) == 2

