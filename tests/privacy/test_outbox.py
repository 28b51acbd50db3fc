"""Mails kept in instance/outbox/ (no SMTP host) are personal data: private files, listed in the notice,
erased with the account and purged after MAIL_OUTBOX_RETENTION_DAYS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from markupsafe import escape

from kernel.clock import clock, utcnow
from privacy.inventory import OUTBOX
from tests.conftest import mails_to


def test_erasure_deletes_the_persons_outbox_mails_and_no_one_elses(app, client, make_user):
    from privacy.erasure import erase_account

    cand, other = make_user("candidate"), make_user("candidate")
    for u in (cand, other):
        client.post("/password-reset", data={"email": u.email})
    assert mails_to(app, cand.email) and mails_to(app, other.email)
    path = next((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert path.stat().st_mode & 0o777 == 0o600
    address = cand.email
    with app.test_request_context():
        erase_account(cand, utcnow())
    assert mails_to(app, address) == []
    assert mails_to(app, other.email)


def test_outbox_mails_are_purged_after_the_retention(app, client, make_user):
    from privacy.jobs import purge_aged_rows_job

    cand = make_user("candidate")
    client.post("/password-reset", data={"email": cand.email})
    purge_aged_rows_job()
    assert mails_to(app, cand.email)
    clock.advance(dt.timedelta(days=8))
    assert purge_aged_rows_job()["outbox"] >= 1
    assert mails_to(app, cand.email) == []


def test_the_notice_lists_the_outbox(client):
    html = client.get("/privacy").get_data(as_text=True)
    assert 'data-item="file:outbox"' in html and str(escape(OUTBOX.retention.de)) in html
