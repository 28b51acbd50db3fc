"""axe-core (WCAG 2.1 A and AA rules) in real headless Chromium on every page the journeys reach, in German and in
English: each role's home and every page linked from it, the candidate's exam page with every item type (and its
fullscreen request and submit dialog open), the system check, the identity pages (the choice, the automatic check,
the check by a proctor), the proctor's live grid (with its flag dialog open), live view, identity queue and review,
the exam office's grading and release pages, the public pages (login, registration, /verify, privacy notice,
accessibility statement). Every violation found on any page is listed in one failure.

Screenshots of every page at 1366x768 (and the staff pages at a phone's 390x844) go to the test's folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from accounts.models import User
from exams.models import Attempt, AttemptStatus, Certificate, Exam
from kernel.db import db
from tests.a11y import violations
from tests.browser import chromium, fake_webcam, live_server, log_in  # noqa: F401
from tests.conftest import TOTP_SECRET, totp_code

pytestmark = pytest.mark.browser

EVERY_TYPE = [
    {"id": "q1", "type": "single_choice", "prompt": "Wie heißt die Hauptstadt Deutschlands?", "points": 1,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "multiple_choice", "prompt": "Welche Städte liegen am Rhein?", "points": 2,
     "options": [{"id": "a", "text": "Köln", "correct": True}, {"id": "b", "text": "Bonn", "correct": True},
                 {"id": "c", "text": "Leipzig"}]},
    {"id": "q3", "type": "numeric", "prompt": "Wie viele Bundesländer hat Deutschland?", "points": 1, "answer": 16},
    {"id": "q4", "type": "free_text", "prompt": "Beschreiben Sie Ihren Wohnort.", "points": 2},
    {"id": "q5", "type": "oral", "prompt": "Stellen Sie sich kurz vor.", "points": 2},
]
SKIP = re.compile(r"\.(pdf|jwt|jsonld|json|csv|yaml|png|jpg|webm)$|/export|/image/|/snapshots/|/recordings/|/logout"
                  r"|/download|/api/")


class Crawl:
    """Visits pages, runs axe on each, keeps every violation and a screenshot of each page."""

    def __init__(self, base: str, folder: Path, lang: str) -> None:
        self.base, self.folder, self.lang = base, folder, lang
        self.found: list[str] = []
        self.seen: set[str] = set()
        self.count = 0

    def check(self, driver: Any, name: str, *, phone: bool = False) -> None:
        """axe on the page as it is now; a screenshot at 1366x768 (and at 390x844 with ``phone``)."""
        assert driver.execute_script("return document.documentElement.lang") == self.lang, driver.current_url
        self.found += violations(driver)
        self.count += 1
        self.seen.add(urlsplit(driver.current_url).path)
        fullscreen = driver.execute_script("return !!document.fullscreenElement")  # a resize would end it
        if driver.get_window_size()["width"] != 1366 and not fullscreen:
            driver.set_window_size(1366, 768)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        driver.save_screenshot(str(self.folder / f"{self.count:03d}-{slug}.png"))
        if phone:
            size = driver.get_window_size()
            driver.set_window_size(390, 844)
            driver.save_screenshot(str(self.folder / f"{self.count:03d}-{slug}-390x844.png"))
            driver.set_window_size(size["width"], size["height"])

    def links(self, driver: Any) -> list[str]:
        """Same-site pages linked from this page (no downloads, no logout, no API)."""
        hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        out = []
        for href in hrefs:
            parts = urlsplit(href)
            if not href.startswith(self.base) or SKIP.search(parts.path) or parts.path in self.seen:
                continue
            if parts.path not in [urlsplit(o).path for o in out]:
                out.append(href.split("#")[0])
        return out

    def home_and_one_click(self, driver: Any, role: str, *, phone: bool = False) -> None:
        """The role's home and every page one click from it."""
        home = driver.current_url
        self.check(driver, f"{role}-home", phone=phone)
        for href in self.links(driver):
            driver.get(href)
            if driver.execute_script("return document.contentType") != "text/html":
                continue
            self.check(driver, f"{role}-{urlsplit(href).path}", phone=phone)
        driver.get(home)


def _click_in_grid(driver: Any, css: str) -> None:
    """Click an element of the live grid, which is rebuilt every second (an element found may go stale)."""
    WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def _staff_login(driver: Any, base: str, user: User, password: str) -> None:
    log_in(driver, base, user.email, password, code=lambda: totp_code(user))


def _demo(app: Any) -> tuple[dict[str, tuple[str, str]], int]:
    """The demo data set (app/demo.py): every role's work; the staff accounts get the test's second factor.
    Returns each role's email and password, and today's demo exam."""
    from accounts.second_factor import seal_secret
    from app.demo import seed
    from kernel.clock import utcnow

    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        demo = seed(utcnow())
    for u in db.session.scalars(select(User).where(User.email.in_([e for _, e, _ in demo.logins]))):
        if u.role.value != "candidate":
            u.totp_secret = seal_secret(u, TOTP_SECRET)
    db.session.commit()
    return {role: (email, pw) for role, email, pw in demo.logins}, demo.exam_id


@pytest.mark.parametrize("lang", ["de", "en"])
def test_no_wcag_violation_on_any_page(lang, app, chromium, live_server, fake_webcam, tmp_path,  # noqa: F811
                                        make_user, make_exam):
    from accounts.models import Institution

    logins, demo_exam_id = _demo(app)
    users = {role: db.session.scalar(select(User).where(User.email == email)) for role, (email, _) in logins.items()}
    for u in users.values():
        u.language = lang
    db.session.commit()
    inst = db.session.scalar(select(Institution))
    exam = make_exam(institution=inst, title="Alle Aufgabentypen", identity_check_required=False,
                     proctoring_required=True, questions=EVERY_TYPE)
    exam.proctors.append(users["proctor"])
    db.session.commit()
    crawl = Crawl(live_server, tmp_path, lang)

    # The candidate: home, one click, the identity pages of the demo exam, the system check and the exam.
    c = chromium(video=fake_webcam[0], audio=fake_webcam[1], lang=lang)
    log_in(c, live_server, *logins["candidate"])
    WebDriverWait(c, 10).until(lambda d: "/candidate" in d.current_url)
    crawl.home_and_one_click(c, "candidate", phone=True)
    c.get(f"{live_server}/candidate/exams/{demo_exam_id}/identity")
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "consent-yes"))
    crawl.check(c, "candidate-identity-choice")
    c.find_element(By.ID, "consent-yes").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "selfie-start"))
    crawl.check(c, "candidate-identity-automatic")
    c.find_element(By.ID, "switch-manual").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "manual-connect"))
    crawl.check(c, "candidate-identity-by-proctor")
    c.get(f"{live_server}/candidate/exams/{exam.id}")
    c.find_element(By.ID, "start").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "start-error"))
    crawl.check(c, "candidate-start-refused")
    c.find_element(By.ID, "to-system-check").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "check-start"))[0].click()
    WebDriverWait(c, 40).until(lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes")
    crawl.check(c, "candidate-system-check-passed", phone=True)
    c.find_element(By.ID, "to-exam").click()
    WebDriverWait(c, 10).until(lambda d: d.find_elements(By.ID, "start"))[0].click()
    gate = WebDriverWait(c, 10).until(lambda d: d.find_element(By.ID, "fullscreen-gate"))
    WebDriverWait(c, 10).until(lambda d: gate.is_displayed())
    crawl.check(c, "candidate-fullscreen-asked")
    c.find_element(By.ID, "enter-fullscreen").click()
    WebDriverWait(c, 10).until(lambda d: not gate.is_displayed())
    attempt_id = int(c.current_url.rstrip("/").split("/")[-1])
    crawl.check(c, "candidate-exam-every-item-type")  # resizing would end fullscreen
    c.execute_script("document.dispatchEvent(new Event('copy'))")  # a flag for the proctor's dialog

    # The proctor: home, one click, the live grid with its flag dialog, the live view, a review.
    p = chromium(lang=lang)
    _staff_login(p, live_server, users["proctor"], logins["proctor"][1])
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    crawl.home_and_one_click(p, "proctor", phone=True)
    p.get(f"{live_server}/proctor/live")
    _click_in_grid(p, f'li.tile[data-attempt="{attempt_id}"] button.decide-flag')
    WebDriverWait(p, 10).until(lambda d: d.find_element(By.ID, "flag-dialog").is_displayed())
    crawl.check(p, "proctor-flag-dialog")
    p.find_element(By.ID, "flag-cancel").click()
    _click_in_grid(p, f'li.tile[data-attempt="{attempt_id}"] a[data-focus-key="name"]')
    WebDriverWait(p, 10).until(lambda d: d.find_elements(By.ID, "watch"))
    p.find_element(By.ID, "watch").click()
    crawl.check(p, "proctor-live-view", phone=True)
    past = db.session.scalars(select(Attempt).join(Exam).where(Attempt.status != AttemptStatus.IN_PROGRESS)).first()
    p.get(f"{live_server}/proctor/attempts/{past.id}/review")
    crawl.check(p, "proctor-review", phone=True)

    # The candidate's submit dialog, then the result page.
    c.find_element(By.ID, "submit").click()
    WebDriverWait(c, 10).until(lambda d: d.find_element(By.ID, "submit-dialog").is_displayed())
    crawl.check(c, "candidate-submit-dialog")
    c.find_element(By.ID, "submit-confirm").click()
    WebDriverWait(c, 15).until(lambda d: d.current_url.endswith("/result"))
    crawl.check(c, "candidate-submitted")

    # The exam office: home, one click, grading and release of the submitted attempt.
    s = chromium(lang=lang)
    _staff_login(s, live_server, users["staff"], logins["staff"][1])
    WebDriverWait(s, 10).until(lambda d: "/staff" in d.current_url)
    crawl.home_and_one_click(s, "staff", phone=True)
    for path in (f"/staff/attempts/{attempt_id}", f"/staff/exams/{exam.id}", f"/staff/exams/{exam.id}/edit",
                 f"/staff/exams/{exam.id}/compose", f"/staff/attempts/{past.id}"):
        s.get(live_server + path)
        crawl.check(s, f"staff-{path}", phone=True)
    for exam_id in (past.exam_id, exam.id):  # one more click from an exam's page: roster, item analysis, release
        s.get(f"{live_server}/staff/exams/{exam_id}")
        for href in crawl.links(s):
            s.get(href)
            if s.execute_script("return document.contentType") == "text/html":
                crawl.check(s, f"staff-{urlsplit(href).path}", phone=True)

    # The admin: home and one click.
    a = chromium(lang=lang)
    _staff_login(a, live_server, users["admin"], logins["admin"][1])
    WebDriverWait(a, 10).until(lambda d: "/admin" in d.current_url)
    crawl.home_and_one_click(a, "admin", phone=True)

    # Public pages.
    anon = chromium(lang=lang)
    cert = db.session.scalar(select(Certificate))
    for path in ("/login", "/register", "/privacy", "/accessibility", f"/verify/{cert.public_id}"):
        anon.get(live_server + path)
        crawl.check(anon, f"public-{path}", phone=True)
    anon.find_element(By.CSS_SELECTOR, "footer a#accessibility-link").click()
    WebDriverWait(anon, 10).until(lambda d: d.current_url.endswith("/accessibility"))

    assert crawl.count >= 30, crawl.count
    assert not crawl.found, f"{len(crawl.found)} WCAG violations:\n" + "\n".join(crawl.found)


def test_the_checker_finds_what_it_should(app, chromium, live_server):  # noqa: F811
    """The check above can fail: a field without a label, a button without a name and pale text are found."""
    d = chromium()
    d.get(live_server + "/login")
    assert violations(d) == []
    d.execute_script("""
        const main = document.getElementById('main');
        main.insertAdjacentHTML('beforeend', '<input id="planted-field"><button id="planted-button"></button>'
          + '<p id="planted-text">pale</p>');
        document.getElementById('planted-text').style.color = '#bbb';  // (CSP refuses a style attribute)""")
    found = "\n".join(violations(d))
    assert "[label]" in found and "#planted-field" in found, found
    assert "[button-name]" in found and "[color-contrast]" in found, found
