"""Keyboard only, in real headless Chromium: TAB, SHIFT+TAB, ENTER, SPACE, arrow keys and typing, never a click.

The candidate logs in, runs the system check, starts, answers every item type (single choice with the arrow keys,
multiple choice with SPACE, a number, a text; the oral item needs none), copies with CTRL+C (a flag) and submits
through the page's own dialog. The proctor logs in with the second factor, goes to the live grid, decides the flag
in its dialog (focus stays on the tile through the grid's rebuild every second, and comes back to it after the
dialog), opens the live view, starts watching, sends a warning. At every stop the focused element must show a focus
indicator (its computed outline or box shadow), and a whole round of TAB over each page must come back to where it
began (nothing traps focus). Also: the timer is said to screen readers at 10, 5 and 1 minutes left and not every
second; the exam page at 320 px and at 200 % zoom has no horizontal scrolling; colour is never the only signal."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from exams.models import Answer, Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from proctoring.models import Flag, FlagKind, FlagStatus
from tests.a11y import FOCUS_STYLE, focus_visible
from tests.browser import chromium, fake_webcam, live_server  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.test_browser_accessibility import EVERY_TYPE

pytestmark = pytest.mark.browser


# Which control has the focus: a grid tile's control by its tile and focus key (the grid is rebuilt every second),
# any other element by its id or, without one, its place in the document.
WHICH = """
const a = document.activeElement;
if (!a) { return null; }
const tile = a.closest('[data-attempt]');
if (tile && a.dataset.focusKey) { return 'tile:' + tile.dataset.attempt + ':' + a.dataset.focusKey; }
if (a.id) { return 'id:' + a.id; }
const all = Array.from(document.querySelectorAll('*'));
return 'at:' + a.tagName + ':' + all.indexOf(a);
"""


class Keyboard:
    """Presses keys in a driver and checks the focus indicator at every stop."""

    def __init__(self, driver: Any, name: str) -> None:
        self.d, self.name = driver, name
        self.stops = 0

    def press(self, *keys: str) -> dict[str, Any] | None:
        ActionChains(self.d).send_keys(*keys).perform()
        return self.focused()

    def chord(self, modifier: str, key: str) -> None:
        ActionChains(self.d).key_down(modifier).send_keys(key).key_up(modifier).perform()

    def back(self) -> dict[str, Any] | None:
        """SHIFT+TAB."""
        self.chord(Keys.SHIFT, Keys.TAB)
        return self.focused()

    def focused(self) -> dict[str, Any] | None:
        info = self.d.execute_script(FOCUS_STYLE)
        if info is not None:
            self.stops += 1
            assert focus_visible(info), f"{self.name}: focus not visible on {info} at {self.d.current_url}"
        return info

    def tab_to(self, matches: Any, limit: int = 120, back: bool = False) -> dict[str, Any]:
        """TAB (or SHIFT+TAB) until the focused element matches (a predicate on the focus info, or an id)."""
        test = matches if callable(matches) else (lambda i: i["id"] == matches)
        seen = []
        for _ in range(limit):
            info = self.back() if back else self.press(Keys.TAB)
            if info is not None and test(info):
                return info
            seen.append(info and (info["tag"], info["id"], info["text"][:20]))
        raise AssertionError(f"{self.name}: {matches} not reached by keyboard on {self.d.current_url}; went {seen}")

    def round_trip(self, limit: int = 300) -> int:
        """TAB over the whole page from the focused element until focus is back on it; the number of stops.

        "It" is the same control: the live grid rebuilds its tiles every second, so a tile's control is known by
        its tile and its focus key (``data-focus-key``), not as the same DOM element."""
        start = self.d.execute_script(WHICH)
        went = []
        for n in range(1, limit):
            self.press(Keys.TAB)
            went.append(self.d.execute_script(WHICH))
            if went[-1] == start:
                return n
        raise AssertionError(f"{self.name}: focus never came back to {start} on {self.d.current_url} "
                             f"(a trap?); the last stops: {went[-12:]}")


def _log_in(k: Keyboard, base: str, email: str, code: Any = None) -> None:
    k.d.get(base + "/login")
    k.tab_to("email")
    k.press(email)
    k.tab_to("password")
    k.press(PASSWORD, Keys.ENTER)
    if code is not None:
        WebDriverWait(k.d, 10).until(lambda d: d.find_elements(By.ID, "code"))
        k.press(code(), Keys.ENTER)  # the code field has focus on its own (autofocus)


def _wait_id(driver: Any, element_id: str, timeout: float = 15) -> Any:
    return WebDriverWait(driver, timeout).until(lambda d: d.find_element(By.ID, element_id))


def _flag(attempt_id: int, kind: FlagKind) -> Flag | None:
    db.session.expire_all()
    return db.session.scalar(select(Flag).where(Flag.attempt_id == attempt_id, Flag.kind == kind))


def test_the_whole_exam_and_the_supervision_by_keyboard_only(app, chromium, live_server, fake_webcam,  # noqa: F811
                                                              make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, title="Tastatur", identity_check_required=False, proctoring_required=True,
                     questions=EVERY_TYPE)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst, first_name="Tara")
    db.session.commit()

    # The candidate: log in, open the exam, the start is refused until the system check is done.
    c = Keyboard(chromium(video=fake_webcam[0], audio=fake_webcam[1]), "candidate")
    _log_in(c, live_server, cand.email)
    WebDriverWait(c.d, 10).until(lambda d: "/candidate" in d.current_url)
    c.tab_to(lambda i: i["tag"] == "a" and i["text"] == "Tastatur")
    c.press(Keys.ENTER)
    _wait_id(c.d, "start")
    c.tab_to("start")
    c.press(Keys.ENTER)
    _wait_id(c.d, "start-error")
    c.tab_to("to-system-check")
    c.press(Keys.ENTER)
    _wait_id(c.d, "check-start")
    assert c.round_trip() > 3
    c.tab_to("check-start")
    c.press(Keys.SPACE)
    WebDriverWait(c.d, 40).until(lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes")
    c.tab_to("to-exam")
    c.press(Keys.ENTER)
    _wait_id(c.d, "start")
    c.tab_to("start")
    c.press(Keys.ENTER)

    # The fullscreen request is modal: focus is on its button, TAB stays inside, ENTER answers it.
    gate = _wait_id(c.d, "fullscreen-gate")
    WebDriverWait(c.d, 10).until(lambda d: gate.is_displayed())
    assert c.d.execute_script("return document.activeElement.id") == "enter-fullscreen"
    for _ in range(4):  # the exam beneath is inert while covered: TAB goes to the browser's controls and back
        info = c.press(Keys.TAB)
        assert info is None or info["id"] == "enter-fullscreen", info
    c.tab_to("enter-fullscreen")
    c.press(Keys.ENTER)
    WebDriverWait(c.d, 10).until(lambda d: not gate.is_displayed())
    attempt_id = int(c.d.current_url.rstrip("/").split("/")[-1])
    WebDriverWait(c.d, 30).until(lambda d: d.find_element(By.ID, "media-status").get_attribute("data-state")
                                 == "connected")

    # Every item type by keyboard.
    in_question = "return document.activeElement.closest('fieldset[data-question]')?.dataset.question"
    c.tab_to(lambda i: i["tag"] == "input" and c.d.execute_script(in_question) == "q1")  # the radio group
    for _ in range(3):  # the arrow keys move through the options (shuffled) and choose; Berlin is "a"
        if c.d.execute_script("return document.activeElement.value") == "a":
            break
        c.press(Keys.ARROW_DOWN)
    c.press(Keys.SPACE)
    c.tab_to(lambda i: i["tag"] == "input" and c.d.execute_script(in_question) == "q2")
    for _ in range(3):  # each checkbox in turn; SPACE ticks Köln and Bonn
        if c.d.execute_script("return document.activeElement.value") in ("a", "b"):
            c.press(Keys.SPACE)
        c.press(Keys.TAB)
    c.tab_to("q-q3")
    c.press("16")
    c.tab_to("q-q4")
    c.press("Am Rhein.")
    c.chord(Keys.CONTROL, "a")
    c.chord(Keys.CONTROL, "c")  # copying: a flag for the proctor
    c.press(Keys.END)

    def saved(_d: Any) -> bool:
        db.session.expire_all()
        rows = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id))
        got = {a.question_id: a.value for a in rows}
        return got.get("q1") == "a" and sorted(got.get("q2") or []) == ["a", "b"] and got.get("q3") == "16" \
            and got.get("q4") == "Am Rhein."

    try:
        WebDriverWait(c.d, 15).until(saved)
    except Exception:
        raise AssertionError({a.question_id: a.value for a in db.session.scalars(
            select(Answer).where(Answer.attempt_id == attempt_id))}) from None
    WebDriverWait(c.d, 15).until(lambda d: _flag(attempt_id, FlagKind.COPY_PASTE) is not None)
    assert c.round_trip() > 8  # the whole exam page: chat, items, submit, back to the same field

    # The proctor: second factor, home, live grid, the flag's dialog, the live view.
    p = Keyboard(chromium(), "proctor")
    _log_in(p, live_server, proctor.email, code=lambda: totp_code(proctor))
    WebDriverWait(p.d, 10).until(lambda d: "/proctor" in d.current_url)
    p.tab_to("to-live")
    p.press(Keys.ENTER)
    WebDriverWait(p.d, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'li.tile[data-attempt="{attempt_id}"] '
                                                                           "button.decide-flag"))
    p.tab_to(lambda i: i["tag"] == "button" and "decide" in (p.d.execute_script(
        "return document.activeElement.className") or ""))
    time.sleep(2.5)  # the grid was rebuilt twice meanwhile: focus is still on the flag's button
    info = p.focused()
    assert info is not None and p.d.execute_script(
        "return document.activeElement.classList.contains('decide-flag')"), info
    p.press(Keys.ENTER)
    dialog = _wait_id(p.d, "flag-dialog")
    WebDriverWait(p.d, 10).until(lambda d: dialog.is_displayed())
    assert p.focused()["id"] == "flag-dialog-note"
    p.press("Nur die eigene Antwort kopiert")
    p.tab_to("flag-dismiss")
    p.press(Keys.ENTER)
    WebDriverWait(p.d, 10).until(lambda d: not dialog.is_displayed())
    assert _flag(attempt_id, FlagKind.COPY_PASTE).status == FlagStatus.DISMISSED
    back = p.focused()  # focus came back to the candidate's tile, not the top of the page
    assert back is not None and p.d.execute_script(
        f"return !!document.activeElement.closest('li.tile[data-attempt=\"{attempt_id}\"]')"), back
    assert p.round_trip() > 3
    p.tab_to(lambda i: i["tag"] == "a" and "Tara" in i["text"])
    p.press(Keys.ENTER)
    _wait_id(p.d, "watch")
    p.tab_to("watch")
    p.press(Keys.ENTER)
    WebDriverWait(p.d, 30).until(lambda d: d.find_element(By.ID, "watch-state").get_attribute("data-state")
                                 == "connected")
    p.tab_to("warn-msg")
    p.press("Bitte schauen Sie in die Kamera", Keys.ENTER)
    WebDriverWait(c.d, 15).until(lambda d: "schauen Sie" in d.find_element(By.ID, "notices").text)
    _wait_id(p.d, "warn-msg")
    p.focused()
    assert p.round_trip() > 8

    # The candidate submits through the page's dialog: focus starts on "back to the exam".
    c.tab_to("submit")
    c.press(Keys.ENTER)
    submit_dialog = _wait_id(c.d, "submit-dialog")
    WebDriverWait(c.d, 10).until(lambda d: submit_dialog.is_displayed())
    assert c.focused()["id"] == "submit-cancel"
    assert c.back()["id"] == "submit-confirm"
    c.press(Keys.ENTER)
    WebDriverWait(c.d, 15).until(lambda d: d.current_url.endswith("/result"))
    db.session.expire_all()
    assert db.session.get(Attempt, attempt_id).status == AttemptStatus.SUBMITTED
    assert c.stops > 20 and p.stops > 20


def test_the_timer_is_said_at_ten_five_and_one_minutes_not_every_second(app, chromium, live_server,  # noqa: F811
                                                                         make_user, make_exam):
    exam = make_exam(title="Uhr", duration_minutes=30, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Was ist Zeit?", "points": 1}])
    cand = make_user("candidate", exam.institution)
    d = chromium()
    k = Keyboard(d, "candidate")
    _log_in(k, live_server, cand.email)
    WebDriverWait(d, 10).until(lambda d: "/candidate" in d.current_url)
    d.get(f"{live_server}/candidate/exams/{exam.id}")
    k.tab_to("start")
    k.press(Keys.ENTER)
    said = _wait_id(d, "timer-announce")
    assert said.get_attribute("aria-live") == "polite" and said.get_attribute("role") == "status"
    assert d.find_element(By.CSS_SELECTOR, "[role=timer]").get_attribute("aria-live") == "off"
    time.sleep(2)
    assert said.get_attribute("textContent") == ""  # 30 minutes left: nothing said yet, the seconds never
    for minutes, text in ((19.9, "Noch 10 Minuten"), (5, "Noch 5 Minuten"), (4, "Noch 1 Minute")):
        clock.advance(dt.timedelta(minutes=minutes))  # the server's clock: the page follows it at its next poll
        WebDriverWait(d, 10).until(lambda d, t=text: said.get_attribute("textContent") == t)
    d.refresh()  # opened again with under a minute left: the moments past are not said again
    said = _wait_id(d, "timer-announce")
    time.sleep(2)
    assert said.get_attribute("textContent") == ""
    assert "chat-log" in d.page_source and d.find_element(By.ID, "chat-log").get_attribute("aria-live") == "polite"


@pytest.mark.parametrize("width,zoom", [(320, 1), (1280, 2)])
def test_the_exam_page_reflows_at_320_px_and_at_200_percent(width, zoom, app, chromium, live_server,  # noqa: F811
                                                            make_user, make_exam, tmp_path):
    exam = make_exam(title="Eine Prüfung mit einem ziemlich langen Titel, der umbrechen muss",
                     identity_check_required=False, proctoring_required=False,
                     questions=[q for q in EVERY_TYPE if q["type"] != "oral"])
    cand = make_user("candidate", exam.institution)
    d = chromium()
    k = Keyboard(d, "candidate")
    _log_in(k, live_server, cand.email)
    WebDriverWait(d, 10).until(lambda d: "/candidate" in d.current_url)
    d.set_window_size(width, 900)
    d.get(f"{live_server}/candidate/exams/{exam.id}")
    k.tab_to("start")
    k.press(Keys.ENTER)
    _wait_id(d, "exam-form")
    if zoom != 1:  # CSS zoom on the root: what the browser's 200 % does to the layout width
        d.execute_script(f"document.documentElement.style.zoom = '{zoom}'")
    time.sleep(0.5)
    overflow = d.execute_script("""
        const doc = document.documentElement;
        const wide = Array.from(document.querySelectorAll('body *')).filter(el => {
          const r = el.getBoundingClientRect();
          return r.width > 0 && r.right > doc.clientWidth + 1 && !el.closest('table');
        }).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')).slice(0, 8);
        return {scroll: doc.scrollWidth, client: doc.clientWidth, wide: wide};""")
    d.save_screenshot(str(tmp_path / f"exam-{width}px-zoom{zoom}.png"))
    assert overflow["scroll"] <= overflow["client"] and not overflow["wide"], overflow
    # every control still reachable and visible when focused
    k.d.find_element(By.ID, "q-q3")  # present
    k.tab_to("q-q4")
    assert d.execute_script("const r = document.activeElement.getBoundingClientRect();"
                            "return r.left >= 0 && r.right <= document.documentElement.clientWidth + 1")
    k.tab_to("submit")


def test_colour_is_never_the_only_signal(app, chromium, live_server, make_institution, make_user,  # noqa: F811
                                         make_exam, tmp_path):
    """A flagged tile says so in words; a sorted column says its order (aria-sort) and shows an arrow; a status
    in the exam office's list is a word in a box."""
    from tests.conftest import totp_code as code

    inst = make_institution()
    exam = make_exam(institution=inst, title="Farben", identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    staff = make_user("staff", inst)
    d = chromium()
    k = Keyboard(d, "staff")
    _log_in(k, live_server, staff.email, code=lambda: code(staff))
    WebDriverWait(d, 10).until(lambda d: d.find_elements(By.ID, "exams"))
    state = d.find_element(By.CSS_SELECTOR, f'#exams tr[data-exam="{exam.id}"] .states li')
    assert state.text.strip()  # a word, not only a colour
    assert state.value_of_css_property("border-top-style") == "solid"
    assert exam.title in d.find_element(By.ID, "exams").text
