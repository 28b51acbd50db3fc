"""Alerts the proctor cannot miss, walked in Chromium (issue 29): a new flag puts its candidate first on a grid of
thirty, in words and counted, with a sound when the proctor turned it on; one click leads to the attempt's page
with "Talk" ready."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kernel.clock import clock
from proctoring.flags import raise_flag
from proctoring.models import FlagKind
from tests.browser import chromium, live_server, log_in  # noqa: F401
from tests.conftest import PASSWORD, totp_code
from tests.proctoring.test_alerts import CANDIDATES, room  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_alert_is_in_words_counted_and_one_click_from_talking(room, chromium, live_server):  # noqa: F811
    attempts = room["attempts"]
    proctor = room["proctor_user"]
    b = chromium()
    log_in(b, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(b, 10).until(lambda d: "/proctor" in d.current_url)
    b.get(f"{live_server}/proctor/live")
    summary = b.find_element(By.ID, "grid-summary")
    WebDriverWait(b, 10).until(lambda d: summary.text.startswith(f"{CANDIDATES} Prüflinge"))
    assert summary.get_attribute("data-alerts") == "0"
    b.execute_script("document.getElementById('alert-sound').click()")  # the proctor turns the sound on
    raise_flag(attempts[17], FlagKind.NO_FACE, clock.now())
    WebDriverWait(b, 10).until(lambda d: summary.get_attribute("data-alerts") == "1")
    assert summary.text == f"{CANDIDATES} Prüflinge · 1 brauchen Aufmerksamkeit"
    # The grid is rebuilt every second: read and click it in one script each, not through stale elements.
    first = b.execute_script("var li = document.querySelector('#grid > li.tile'); return [li.dataset.attempt, "
                             "li.querySelector('.new-flags').textContent, li.className];")
    assert first[0] == str(attempts[17].id)
    assert "Braucht Aufmerksamkeit: neue Hinweise: 1" in first[1] and "alerted" in first[2]
    WebDriverWait(b, 5).until(lambda d: d.find_element(By.ID, "grid").get_attribute("data-beeps") == "1")
    assert len(b.find_elements(By.CSS_SELECTOR, "#grid > li.tile")) == CANDIDATES
    b.execute_script("document.querySelector('#grid > li.tile a.talk-link').click()")
    WebDriverWait(b, 10).until(lambda d: d.current_url.endswith(f"/proctor/attempts/{attempts[17].id}#oral-call"))
