"""Chromium walk: a candidate answers an item of every new type by clicking and typing (ordering and the hotspot
also by keyboard), hands in a PDF, submits; the exam office grades the essay by its rubric and the file, and
reads every answer with its points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from exams.itemmedia import store_item_image
from exams.models import Answer, Attempt
from kernel.db import db
from tests.browser import chromium, confirm_submit, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.exams.items_data import new_type_items
from tests.exams.test_itemtypes_http import PDF, png

pytestmark = pytest.mark.browser


@pytest.fixture
def office(make_institution, make_user, make_exam) -> Any:
    inst = make_institution("Sprachschule West")
    staff = make_user("staff", inst)
    image = store_item_image(staff, png())
    exam = make_exam(institution=inst, title="Deutsch A2", questions=new_type_items(image.public_id),
                     pass_mark_percent=50, identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"exam": exam, "staff": staff, "candidate": make_user("candidate", inst)})


def _saved(d: Any, qid: str) -> None:
    WebDriverWait(d, 10).until(
        lambda drv: drv.find_element(By.CSS_SELECTOR, f'[data-saved-for="{qid}"]').text.strip() != "")


def _order(d: Any) -> list[str]:
    return [li.get_attribute("data-option") for li in d.find_elements(By.CSS_SELECTOR, "ol.ordering li")]


def test_every_new_type_answered_and_graded(chromium, live_server, office, tmp_path: Path):  # noqa: F811
    d = chromium()
    log_in(d, live_server, office.candidate.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.get(f"{live_server}/candidate/exams/{office.exam.id}")
    d.find_element(By.ID, "start").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))

    # Gap text: a typed gap and a drop-down gap, each with its own label.
    d.find_element(By.ID, "q-gap-g1").send_keys("Komme")
    Select(d.find_element(By.ID, "q-gap-g2")).select_by_visible_text("in")
    _saved(d, "gap")
    # Matching: one drop-down per entry on the left.
    for premise, response in (("p1", "dog"), ("p2", "cat"), ("p3", "cow")):
        Select(d.find_element(By.ID, f"q-match-{premise}")).select_by_value(response)
    _saved(d, "match")
    # Ordering: by the buttons, by keyboard (focus a button, Enter), until Monday to Thursday stand in order.
    for _ in range(12):
        order = _order(d)
        if order == ["mo", "di", "mi", "do"]:
            break
        wanted = ["mo", "di", "mi", "do"]
        place = next(i for i, oid in enumerate(order) if oid != wanted[i])
        target = d.find_element(By.CSS_SELECTOR, f'ol.ordering li[data-option="{wanted[place]}"] .move-up')
        target.send_keys(Keys.ENTER)
    assert _order(d) == ["mo", "di", "mi", "do"]
    assert "Platz" in d.find_element(By.CSS_SELECTOR, ".order-said").get_attribute("textContent")
    _saved(d, "order")
    # Short text: spacing, case and ß folded.
    d.find_element(By.ID, "q-short").send_keys("  am   BAHNHOF ")
    d.find_element(By.ID, "q-street").send_keys("strasse")
    _saved(d, "short")
    _saved(d, "street")
    # Hotspot: first by keyboard (a place outside the station), then a click into the station's rectangle.
    spot = d.find_element(By.CSS_SELECTOR, ".hotspot")
    WebDriverWait(d, 10).until(lambda drv: drv.execute_script(
        "return document.querySelector('.hotspot img').naturalWidth") == 400)
    spot.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ENTER)
    _saved(d, "spot")
    assert "Ihre Wahl" in d.find_element(By.ID, "q-spot-point").text
    img = d.find_element(By.CSS_SELECTOR, ".hotspot img")
    width = img.size["width"]
    ActionChains(d).move_to_element_with_offset(img, -width // 2 + int(width * 0.1), -img.size["height"] // 4) \
        .click().perform()
    WebDriverWait(d, 10).until(lambda drv: float(drv.find_element(By.CSS_SELECTOR, ".hotspot")
                                                 .get_attribute("data-x")) < 100)
    # Upload: a file that is not a PDF is refused by its content, then a real PDF.
    fake = tmp_path / "formular.pdf"
    fake.write_bytes(b"this is text, not a PDF")
    d.find_element(By.ID, "q-file").send_keys(str(fake))
    WebDriverWait(d, 10).until(lambda drv: "PDF" in drv.find_element(By.CSS_SELECTOR, ".upload-said").text)
    real = tmp_path / "antrag.pdf"
    real.write_bytes(PDF)
    d.find_element(By.ID, "q-file").send_keys(str(real))
    WebDriverWait(d, 10).until(lambda drv: "antrag.pdf" in drv.find_element(By.CSS_SELECTOR, ".upload-said").text)
    # Essay with its word counter.
    counter = d.find_element(By.ID, "q-essay-words")
    assert "5 bis 80" in counter.text
    d.find_element(By.ID, "q-essay").send_keys("Liebe Anna")
    WebDriverWait(d, 10).until(lambda drv: "weniger als verlangt" in counter.text)
    d.find_element(By.ID, "q-essay").send_keys(", ich komme am Samstag gern zu deiner Feier.")
    WebDriverWait(d, 10).until(lambda drv: "10 Wörter" in counter.text and "weniger" not in counter.text)
    _saved(d, "essay")
    d.save_screenshot(str(tmp_path / "01-exam-page.png"))
    # A reload shows every answer as given (the hotspot's point and the order included).
    d.refresh()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "exam-form")))
    assert d.find_element(By.ID, "q-gap-g1").get_attribute("value") == "Komme"
    assert _order(d) == ["mo", "di", "mi", "do"]
    assert "antrag.pdf" in d.find_element(By.CSS_SELECTOR, ".upload-said").text
    d.find_element(By.ID, "submit").click()
    confirm_submit(d)
    WebDriverWait(d, 10).until(ec.url_contains("/result"))

    db.session.expire_all()
    attempt = db.session.scalars(select(Attempt)).one()
    # gap 2, match 2 of 3, order 3, short 1, street 1, spot 1 = 10; upload (2) and essay (5) wait for a person.
    assert (attempt.points, attempt.max_points, attempt.pending_manual) == (10, 18, True)

    staff = chromium()
    log_in(staff, live_server, office.staff.email, PASSWORD, code=lambda: totp_code(office.staff))
    WebDriverWait(staff, 10).until(ec.url_contains("/staff"))
    staff.get(f"{live_server}/staff/grading")
    staff.find_element(By.CSS_SELECTOR, f'a[href$="/staff/attempts/{attempt.id}"]').click()
    WebDriverWait(staff, 10).until(ec.presence_of_element_located((By.ID, "all-answers")))
    table = staff.find_element(By.ID, "all-answers").text
    assert "Lückentext" in table and "cow" in table and "falsch" in table
    link = staff.find_element(By.CSS_SELECTOR, "#grade-file a.answer-file")
    assert link.get_attribute("download") is not None
    essay = staff.find_element(By.ID, "grade-essay")
    essay.find_element(By.CSS_SELECTOR, 'input[name="level-content"][value="a2"]').click()
    essay.find_element(By.CSS_SELECTOR, 'input[name="level-form"][value="a1"]').click()
    essay.find_element(By.ID, "note-essay").send_keys("Inhalt vollständig; Satzbau einfach.")
    essay.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(staff, 10).until(ec.presence_of_element_located((By.ID, "grade-file")))
    upload = staff.find_element(By.ID, "grade-file")
    upload.find_element(By.ID, "pts-file").send_keys("2")
    upload.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(staff, 10).until(lambda drv: "15 / 18" in drv.find_element(By.ID, "result").text)
    staff.save_screenshot(str(tmp_path / "02-graded.png"))
    db.session.expire_all()
    essay_row = db.session.scalars(select(Answer).where(Answer.question_id == "essay")).one()
    assert essay_row.manual_points == 3 and essay_row.manual_note == "Inhalt vollständig; Satzbau einfach."
