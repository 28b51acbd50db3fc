"""A real browser signs in through the institution's SAML IdP (pysaml2's own IdP on loopback, tests/saml_idp.py)
by clicking, gives the profile once, and logs out at aufsicht and at the IdP (single logout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import chromium, live_server  # noqa: F401
from tests.saml_idp import start_idp

pytestmark = pytest.mark.browser


def test_sign_in_with_the_institutions_saml_idp_in_chromium(chromium, live_server, make_institution,  # noqa: F811
                                                            tmp_path: Path):
    from accounts.saml import ProviderSettings, save_provider

    # The IdP is another site ("localhost") than aufsicht (127.0.0.1), as a real one is: its POST back is cross-site.
    with start_idp(tmp_path, host="localhost") as idp:
        inst = make_institution("Universität Nord", slug="nord")
        prov = save_provider(inst, ProviderSettings(name="Uni Nord", metadata_url=idp.metadata_url, metadata_xml=None))
        idp.trust(requests.get(f"{live_server}/saml/{prov.id}/metadata", timeout=10).text)
        d = chromium()
        wait = WebDriverWait(d, 15)

        def at_idp() -> None:
            wait.until(ec.url_contains(idp.base + "/sso"))
            d.find_element(By.NAME, "username").send_keys("lena")
            d.find_element(By.NAME, "password").send_keys("any password")
            d.save_screenshot(str(tmp_path / "2-idp-login.png"))
            d.find_element(By.ID, "idp-login").click()
            wait.until(ec.presence_of_element_located((By.ID, "idp-continue"))).click()

        d.get(live_server + "/login")
        d.find_element(By.LINK_TEXT, "Anmelden mit Uni Nord").click()
        at_idp()
        wait.until(ec.url_contains("/candidate/profile"))
        assert "Vor Ihrer ersten Prüfung" in d.page_source
        assert d.find_element(By.ID, "first_name").get_attribute("value") == "Lena"
        for name, value in {"place_of_birth": "Ulm", "id_document_number": "T22000129", "street": "Bahnhofstraße 3",
                            "postal_code": "89073", "city": "Ulm", "phone": "0731 123456"}.items():
            d.find_element(By.ID, name).send_keys(value)
        d.execute_script("document.getElementById('date_of_birth').value = '1998-04-03'")
        Select(d.find_element(By.ID, "salutation")).select_by_value("ms")
        d.find_element(By.ID, "privacy").click()
        d.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]").click()
        wait.until(ec.url_contains("/candidate/"))
        assert "Hallo Lena Schmidt" in d.page_source
        d.save_screenshot(str(tmp_path / "3-candidate-home.png"))

        # Logout: ours, then on to the IdP's single logout (as for OpenID), where pysaml2 checks our signed request.
        d.find_element(By.CSS_SELECTOR, "header form button").click()
        wait.until(ec.presence_of_element_located((By.ID, "idp-logged-out")))
        assert d.current_url.startswith(idp.base + "/slo?SAMLRequest=") and "Signature=" in d.current_url
        assert "logout-request" in idp.seen

        # Signing in again lands on the candidate's home (the profile is asked once).
        d.get(live_server + "/login")
        d.find_element(By.LINK_TEXT, "Anmelden mit Uni Nord").click()
        at_idp()
        wait.until(ec.url_to_be(live_server + "/candidate/"))
        assert "Hallo Lena Schmidt" in d.page_source
