"""A real browser: the candidate exports their data (progress, then a ZIP) and deletes the account."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from kernel.db import db
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.privacy.conftest import seed_everything

pytestmark = pytest.mark.browser


def test_export_and_erasure_from_the_account_page(chromium, live_server, app, make_user, make_exam,  # noqa: F811
                                                  make_institution):
    one = seed_everything(app, make_user, make_exam, make_institution, email="zq@example.org", first="Zacharias",
                          last="Quastenberg", id_number="C01X00T47")
    d = chromium()
    log_in(d, live_server, "zq@example.org", PASSWORD)
    WebDriverWait(d, 10).until(ec.url_contains("/candidate/"))
    d.find_element(By.ID, "my-data").click()
    WebDriverWait(d, 10).until(ec.url_contains("/account/privacy"))
    d.find_element(By.ID, "export-request").click()
    link = WebDriverWait(d, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.export-download")))
    assert d.find_element(By.CSS_SELECTOR, "li.export progress").get_attribute("value") == "100"
    head = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer())"
        ".then(b => done([b.byteLength, Array.from(new Uint8Array(b.slice(0, 2)))]));", link.get_attribute("href"))
    assert head[0] > 1000 and head[1] == [0x50, 0x4B]  # a ZIP ("PK")
    d.find_element(By.ID, "erase-confirm").click()
    d.find_element(By.ID, "erase-password").send_keys(PASSWORD)
    d.find_element(By.ID, "erase-submit").click()
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "erased")))
    assert "Zertifikat" in d.find_element(By.ID, "kept").text
    db.session.expire_all()
    user = db.session.scalar(sa.select(User).where(User.id == one.user.id))
    assert user.erased_at is not None and "Quastenberg" not in user.display_name and user.email != "zq@example.org"
