"""The exam office's home shows the deletion receipts in the page (they sat inside the title block and never showed)."""

from __future__ import annotations

from kernel.db import db
from storage.models import PurgeReceipt
from tests.conftest import login


def test_deletion_receipts_render_in_the_page_not_the_title(client, make_institution, make_user):
    inst = make_institution()
    db.session.add(PurgeReceipt(blob_id=7, category="recording", rule="nach dem Versand des Zertifikats",
                                institution_id=inst.id, attempt_id=41))
    db.session.commit()
    login(client, make_user("staff", inst))
    page = client.get("/staff/").get_data(as_text=True)
    title = page.split("<title>")[1].split("</title>")[0]
    assert "receipts" not in title and "<table" not in title
    table = page.split('<table id="receipts">')[1].split("</table>")[0]
    assert "nach dem Versand des Zertifikats" in table and "41" in table
