"""Our CSS system on the staff pages, in real headless Chromium: the live grid holds 30 candidates on a 1366x768
screen (seven tiles a row) and stays within a phone's 390 px; a flagged tile says so in words; the exam office's
tables sort by keyboard with the order said (aria-sort) and shown; the statistics and certificate pages print
without navigation. Screenshots at 1366x768 and 390x844 go to the test's folder."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from exams.models import Attempt, AttemptStatus
from kernel.clock import utcnow
from kernel.db import db
from proctoring.models import Flag, FlagKind
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser


def _shots(driver: Any, folder: Any, name: str) -> None:
    """Screenshots at 1366x768 and at a phone's 390x844; at both the page never scrolls sideways."""
    for w, h in ((1366, 768), (390, 844)):
        driver.set_window_size(w, h)
        WebDriverWait(driver, 5).until(lambda d, w=w: d.execute_script("return window.innerWidth") <= w)
        driver.save_screenshot(str(folder / f"{name}-{w}x{h}.png"))
        sizes = driver.execute_script("return [document.documentElement.scrollWidth, "
                                      "document.documentElement.clientWidth]")
        assert sizes[0] <= sizes[1], (name, w, sizes)
    driver.set_window_size(1366, 768)


def test_the_live_grid_holds_thirty_candidates(app, chromium, live_server, make_institution, make_user,  # noqa: F811
                                               make_exam, tmp_path):
    inst = make_institution()
    exam = make_exam(institution=inst, title="Deutsch B2", identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    now = utcnow()
    attempts = []
    for n in range(30):
        cand = make_user("candidate", inst, first_name=f"Kandidat{n:02d}", last_name="Muster")
        attempts.append(Attempt(exam=exam, user=cand, status=AttemptStatus.IN_PROGRESS, started_at=now,
                                deadline_at=now + dt.timedelta(minutes=30), seed=n, layout={}))
    db.session.add_all(attempts)
    db.session.commit()
    db.session.add(Flag(attempt_id=attempts[7].id, kind=FlagKind.COPY_PASTE, started_at=now, detail={}))
    db.session.commit()

    p = chromium()
    p.set_window_size(1366, 768)
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "to-live"))
    p.find_element(By.ID, "to-live").click()
    WebDriverWait(p, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#grid li.tile")) == 30)
    per_row = p.execute_script("""
        const tiles = Array.from(document.querySelectorAll('#grid li.tile'));
        const tops = tiles.map(t => Math.round(t.getBoundingClientRect().top));
        return tops.filter(t => t === tops[0]).length;""")
    assert per_row >= 6, per_row
    flagged = p.find_element(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempts[7].id}"]')
    assert "1" in flagged.text and flagged.value_of_css_property("border-left-width") == "8px"
    assert "Kopiert oder eingefügt" in flagged.text  # the flag in words, not only the red edge
    _shots(p, tmp_path, "live-grid-30")


def test_tables_sort_by_keyboard_and_say_their_order(app, chromium, live_server, make_institution,  # noqa: F811
                                                     make_user, make_exam, tmp_path):
    inst = make_institution()
    for title in ("Chemie", "Algebra", "Biologie"):
        make_exam(institution=inst, title=title)
    staff = make_user("staff", inst)
    s = chromium()
    s.set_window_size(1366, 768)
    log_in(s, live_server, staff.email, PASSWORD, code=lambda: totp_code(staff))
    WebDriverWait(s, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#exams th button.sort"))

    def titles() -> list[str]:
        return [r.find_element(By.TAG_NAME, "a").text for r in s.find_elements(By.CSS_SELECTOR, "#exams tbody tr")]

    head = s.find_element(By.CSS_SELECTOR, "#exams thead th")
    assert head.get_attribute("aria-sort") is None
    for _ in range(60):  # TAB to the column's button, as a keyboard user does
        ActionChains(s).send_keys(Keys.TAB).perform()
        if s.execute_script("return document.activeElement.classList.contains('sort')"):
            break
    assert s.execute_script("return document.activeElement.closest('th')") == head
    ActionChains(s).send_keys(Keys.ENTER).perform()
    assert head.get_attribute("aria-sort") == "ascending" and titles() == ["Algebra", "Biologie", "Chemie"]
    assert head.find_element(By.CLASS_NAME, "sort-arrow").text == "↑"
    ActionChains(s).send_keys(Keys.SPACE).perform()
    assert head.get_attribute("aria-sort") == "descending" and titles() == ["Chemie", "Biologie", "Algebra"]
    _shots(s, tmp_path, "staff-home-sorted")
    state = s.find_element(By.CSS_SELECTOR, "#exams .states li")
    assert state.text.strip() and state.value_of_css_property("border-top-style") == "solid"  # a word in a box

    # Printed: the statistics without header, footer, buttons; the table whole.
    s.get(f"{live_server}/staff/statistics")
    WebDriverWait(s, 10).until(lambda d: d.find_elements(By.ID, "statistics"))
    s.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not s.find_element(By.CSS_SELECTOR, "header.site").is_displayed()
    assert not s.find_element(By.CSS_SELECTOR, "footer.site").is_displayed()
    assert s.find_element(By.ID, "statistics").is_displayed()
    s.save_screenshot(str(tmp_path / "statistics-print.png"))
    s.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert s.find_element(By.CSS_SELECTOR, "header.site").is_displayed()
