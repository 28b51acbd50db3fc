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


def test_receipts_name_the_rule_in_german_on_german_pages(client, app, make_institution, make_user):
    """Issue 30: a German page showed storage's English rule ("after any required review, ...")."""
    from storage.retention import RULES

    inst = make_institution()
    cand = make_user("candidate", inst)
    for category in ("recording", "export"):
        db.session.add(PurgeReceipt(blob_id=8, category=category, rule=RULES[category].description,
                                    institution_id=inst.id, user_id=cand.id, attempt_id=42))
    db.session.commit()
    staff = app.test_client()
    login(staff, make_user("staff", inst))
    login(client, cand)
    for who, path in ((staff, "/staff/"), (client, "/candidate/")):
        page = who.get(path, headers={"Accept-Language": "de"}).get_data(as_text=True)
        table = page.split('<table id="receipts">')[1].split("</table>")[0]
        assert "required review" not in table and "deleted 7 days" not in table, path
        assert "Widerspruchsfrist" in table and "7 Tage nach der Erstellung gelöscht" in table, path
        english = who.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert "after any required review" in english.split('<table id="receipts">')[1].split("</table>")[0]
