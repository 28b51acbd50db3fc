"""A real browser signs in through the institution's OpenID provider (npm oidc-provider) and out again."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import chromium, live_server  # noqa: F401
from tests.oidc_peer import start_peer

pytestmark = pytest.mark.browser
LENA = {"email": "lena@example.org", "email_verified": True, "given_name": "Lena", "family_name": "Schmidt"}


def test_sign_in_with_the_institutions_provider_in_chromium(chromium, live_server, make_institution,  # noqa: F811
                                                            tmp_path: Path):
    from accounts.oidc import ProviderSettings, save_provider

    # The provider is another site ("localhost") than aufsicht (127.0.0.1), as a real one is.
    with start_peer(tmp_path, [f"{live_server}/sso/callback"], [f"{live_server}/login"], {"lena": LENA},
                    issuer_host="localhost") as peer:
        inst = make_institution("Universität Nord", slug="nord")
        save_provider(inst, ProviderSettings(name="Uni-Login", issuer=peer.issuer, client_id=peer.client_id,
                                             client_secret=peer.client_secret))
        d = chromium()
        wait = WebDriverWait(d, 15)

        def at_provider_sign_in() -> None:
            wait.until(ec.url_contains(peer.issuer))
            d.find_element(By.NAME, "login").send_keys("lena")
            d.find_element(By.NAME, "password").send_keys("any password")
            d.save_screenshot(str(tmp_path / "2-provider-login.png"))
            d.find_element(By.CSS_SELECTOR, "button.login-submit").click()
            wait.until(lambda drv: "Continue" in drv.page_source or drv.current_url.startswith(live_server))
            if not d.current_url.startswith(live_server):
                d.save_screenshot(str(tmp_path / "3-provider-consent.png"))
                d.find_element(By.CSS_SELECTOR, "button.login-submit").click()

        d.get(live_server + "/login")
        d.save_screenshot(str(tmp_path / "1-our-login.png"))
        d.find_element(By.LINK_TEXT, "Anmelden mit Uni-Login").click()
        at_provider_sign_in()
        # First sign-in: the account exists now; what the provider does not give is asked once.
        wait.until(ec.url_contains("/candidate/profile"))
        assert "Vor Ihrer ersten Prüfung" in d.page_source
        assert d.find_element(By.ID, "first_name").get_attribute("value") == "Lena"
        for name, value in {"place_of_birth": "Ulm", "id_document_number": "T22000129", "street": "Bahnhofstraße 3",
                            "postal_code": "89073", "city": "Ulm", "phone": "0731 123456"}.items():
            d.find_element(By.ID, name).send_keys(value)
        d.execute_script("document.getElementById('date_of_birth').value = '1998-04-03'")
        Select(d.find_element(By.ID, "salutation")).select_by_value("ms")
        d.find_element(By.ID, "privacy").click()
        d.save_screenshot(str(tmp_path / "4-profile.png"))
        d.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]").click()
        wait.until(ec.url_contains("/candidate/"))
        assert "Hallo Lena Schmidt" in d.page_source and "profile-missing" not in d.page_source
        d.save_screenshot(str(tmp_path / "5-candidate-home.png"))

        # Logout: ours, then the provider's (it asks), then back on our login page.
        d.find_element(By.CSS_SELECTOR, "header form button").click()
        wait.until(ec.url_contains(peer.issuer + "/session/end"))
        d.save_screenshot(str(tmp_path / "6-provider-logout.png"))
        d.find_element(By.CSS_SELECTOR, "button[name=logout][value=yes]").click()
        wait.until(ec.url_to_be(live_server + "/login"))

        # Signing in again asks at the provider again (its session ended too) and lands on the candidate's home.
        d.find_element(By.LINK_TEXT, "Anmelden mit Uni-Login").click()
        at_provider_sign_in()
        wait.until(ec.url_to_be(live_server + "/candidate/"))
        assert "Hallo Lena Schmidt" in d.page_source
        d.save_screenshot(str(tmp_path / "7-candidate-home-again.png"))
