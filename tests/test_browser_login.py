"""A real browser registers, logs out and logs in again."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import link_in, mails_to

pytestmark = pytest.mark.browser


def test_register_confirm_logout_login_in_chromium(app, chromium, live_server, make_institution):  # noqa: F811
    make_institution("Sprachschule Süd", slug="sued")
    d = chromium()
    d.get(live_server + "/register/sued")
    fields = {"email": "lena@example.org", "password": "ein gutes Passwort", "first_name": "Lena",
              "last_name": "Schmidt", "place_of_birth": "Ulm", "id_document_number": "T22000129",
              "street": "Bahnhofstraße 3", "postal_code": "89073", "city": "Ulm", "phone": "0731 123456"}
    for name, value in fields.items():
        d.find_element(By.ID, name).send_keys(value)
    d.execute_script("document.getElementById('date_of_birth').value = '1998-04-03'")
    Select(d.find_element(By.ID, "salutation")).select_by_value("ms")
    d.find_element(By.ID, "privacy").click()
    d.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "check-mail"))
    assert "lena@example.org" in d.find_element(By.ID, "check-mail").text
    d.get(live_server + link_in(mails_to(app, "lena@example.org")[-1], "/verify-email/"))
    WebDriverWait(d, 10).until(ec.url_contains("/login"))
    assert "E-Mail-Adresse ist bestätigt" in d.page_source
    log_in(d, live_server, "lena@example.org", "ein gutes Passwort")
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    assert "Hallo Lena Schmidt" in d.page_source and not d.find_elements(By.ID, "unverified")
    d.find_element(By.CSS_SELECTOR, "header form button").click()
    WebDriverWait(d, 10).until(ec.url_contains("/login"))
    log_in(d, live_server, "lena@example.org", "ein gutes Passwort")
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))


def test_staff_first_login_sets_up_the_second_factor_in_chromium(chromium, live_server, make_user, tmp_path):  # noqa: F811
    import pyotp

    from tests.conftest import PASSWORD

    staff = make_user("staff", second_factor=False)
    d = chromium()
    log_in(d, live_server, staff.email, PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/login/enrol"))
    qr = d.find_element(By.CSS_SELECTOR, "main img")
    assert qr.get_attribute("src").startswith("data:image/svg+xml") and qr.size["width"] > 100
    secret = d.find_element(By.ID, "totp-secret").text
    d.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now())
    d.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.ID, "recovery-codes"))
    assert len(d.find_elements(By.CSS_SELECTOR, "#recovery-codes li")) == 10
    d.save_screenshot(str(tmp_path / "recovery-codes.png"))
    d.find_element(By.CSS_SELECTOR, "main p a").click()
    WebDriverWait(d, 10).until(ec.url_contains("/staff"))
