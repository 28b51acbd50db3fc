"""In Chromium, clicking from the login page: the exam office enrols two candidates from a CSV file (a first try
with a mistake is refused with its line), the candidates are mailed, and a candidate finds the exam at home."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from kernel.clock import utcnow
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.exams.test_mailer import Collector, smtp  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(smtp) -> dict[str, Any]:  # noqa: F811
    return {"MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": smtp[1],
            "MAIL_FROM": "Prüfungsamt <office@aufsicht.test>"}


def _shot(d: Any, folder: Path, name: str) -> None:
    d.save_screenshot(str(folder / f"{name}.png"))


def _type(d: Any, element_id: str, text: str) -> None:
    field = d.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def test_exam_office_enrols_two_candidates_from_csv_in_chromium(chromium, live_server, make_institution,  # noqa: F811
                                                                 make_user, make_exam, smtp, tmp_path):  # noqa: F811
    inst = make_institution("Sprachschule Mitte")
    now = utcnow()
    exam = make_exam(institution=inst, enrol_all=False, title="Deutsch B1 – Juni", proctoring_required=True,
                     opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=60))
    staff = make_user("staff", inst)
    make_user("proctor", inst, email="anna.aufsicht@example.org")
    erika = make_user("candidate", inst, email="erika@example.org", enrolled=False)
    make_user("candidate", inst, email="max@example.org", enrolled=False, first_name="Max")
    day = (now + dt.timedelta(days=10)).date()

    d = chromium()
    log_in(d, live_server, staff.email, PASSWORD, code=lambda: totp_code(staff))
    WebDriverWait(d, 10).until(ec.url_contains("/staff/"))
    _shot(d, tmp_path, "01-staff-home")
    d.find_element(By.LINK_TEXT, exam.title).click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "to-roster"))
    _shot(d, tmp_path, "02-exam")
    d.find_element(By.ID, "to-roster").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "roster-import"))
    assert "Noch niemand ist angemeldet" in d.page_source
    _shot(d, tmp_path, "03-roster-empty")

    csv = (f"email,date,start,end,proctor\n"
           f"erika@example.org,{day:%d.%m.%Y},09:00,11:00,anna.aufsicht@example.org\n"
           f"max@exmaple.org,{day:%Y-%m-%d},09:00,11:00,\n")  # a typo in the address
    _type(d, "roster-csv", csv)
    d.find_element(By.ID, "roster-import-submit").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "roster-problems"))
    problems = d.find_element(By.ID, "roster-problems").text
    assert "Zeile 3" in problems and "max@exmaple.org" in problems and "Zeile 2" not in problems
    _shot(d, tmp_path, "04-roster-line-error")

    _type(d, "roster-csv", csv.replace("exmaple", "example"))
    d.find_element(By.ID, "roster-import-submit").click()
    WebDriverWait(d, 10).until(lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "#roster tbody tr[data-email]")) == 2)
    rows = {r.get_attribute("data-email"): r.text for r in d.find_elements(By.CSS_SELECTOR, "#roster tr[data-email]")}
    assert set(rows) == {"erika@example.org", "max@example.org"}
    assert f"{day:%d.%m.%Y} 09:00" in rows["erika@example.org"] and "Proctor Person" in rows["erika@example.org"]
    assert "2 Teilnehmende angemeldet" in d.page_source
    assert "(2 / 15)" in d.find_element(By.ID, "sessions").text  # one proctor, two of fifteen places taken
    _shot(d, tmp_path, "05-roster-enrolled")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(smtp[0].messages) < 2:
        time.sleep(0.2)
    assert sorted(r for _f, rcpt, _m in smtp[0].messages for r in rcpt
                  if r in ("erika@example.org", "max@example.org")) == ["erika@example.org", "max@example.org"]

    c = chromium()
    log_in(c, live_server, erika.email, PASSWORD)
    WebDriverWait(c, 10).until(ec.url_contains("/candidate/"))
    mine = c.find_element(By.ID, "exams").text
    assert exam.title in mine and f"{day:%d.%m.%Y} 09:00" in mine
    _shot(c, tmp_path, "06-candidate-home")
    c.find_element(By.LINK_TEXT, exam.title).click()
    WebDriverWait(c, 10).until(lambda drv: drv.find_elements(By.ID, "my-session"))
    _shot(c, tmp_path, "07-candidate-exam")
