"""The AI oversight page and the exam's PDF report, walked in Chromium by the exam office."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from proctoring.models import FlagKind
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.oversight.test_accuracy import office  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_office_walks_from_home_to_the_oversight_page_and_the_exam_report(app, chromium, live_server,  # noqa: F811
                                                                              office):  # noqa: F811
    office.flags(office.exams[0], FlagKind.OTHER_PERSON, confirmed=20, dismissed=5)
    office.flags(office.exams[1], FlagKind.OTHER_PERSON, confirmed=1, dismissed=9, opened=False)
    d = chromium()
    log_in(d, live_server, office.staff.email, PASSWORD, code=lambda: totp_code(office.staff))
    WebDriverWait(d, 10).until(ec.url_contains("/staff/"))
    d.find_element(By.ID, "oversight-link").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "oversight-plot")))
    assert "KI-Aufsicht: Ihre Einrichtung" in d.find_element(By.TAG_NAME, "h1").text
    row = d.find_element(By.CSS_SELECTOR, 'tr[data-kind="other_person"]').text
    assert "35" in row and "10 Min." in row
    assert d.find_elements(By.CSS_SELECTOR, "#oversight-plot rect")  # the bars are drawn
    d.find_element(By.LINK_TEXT, "Recht").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "oversight-warning")))
    assert "Möglicherweise eine andere Person" in d.find_element(By.ID, "oversight-warning").text
    row = d.find_element(By.CSS_SELECTOR, 'tr[data-kind="other_person"]').text
    assert "1 (10 %)" in row and "9 (90 %)" in row
    href = d.find_element(By.ID, "report-pdf").get_attribute("href")
    head = d.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => "
        "done([...new Uint8Array(b.slice(0, 5))].map(c => String.fromCharCode(c)).join('')))", href)
    assert head == "%PDF-"
