"""The inventory lists every column of every table and every storage category; the notice shows it all."""

from __future__ import annotations

from markupsafe import escape

from kernel.db import db
from privacy.inventory import NOT_PERSONAL, RECORDS, STORED_FILES
from storage.retention import RULES
from tests.conftest import login


def test_every_column_of_every_table_is_in_the_inventory(app):
    listed = {}
    for rec in RECORDS:
        assert rec.table not in listed, f"{rec.table} listed twice"
        cols = list(rec.fields) + list(rec.technical)
        assert len(cols) == len(set(cols)), f"{rec.table}: a column is listed twice"
        listed[rec.table] = set(cols)
        assert set(rec.secret) <= set(cols)
    for name, table in db.metadata.tables.items():
        if name in NOT_PERSONAL:
            continue
        assert name in listed, f"table {name} is missing from privacy/inventory.py"
        actual = {c.name for c in table.columns}
        assert actual - listed[name] == set(), f"{name}: columns missing from the inventory"
        assert listed[name] - actual == set(), f"{name}: the inventory lists columns that do not exist"


def test_every_storage_category_is_in_the_inventory():
    assert {f.category for f in STORED_FILES} == set(RULES)


def test_the_notice_shows_every_item_in_german_and_english(client):
    html = client.get("/privacy").get_data(as_text=True)
    for rec in RECORDS:
        for col, item in rec.fields.items():
            assert f'data-item="{rec.table}.{col}"' in html
            assert str(escape(item.what.de)) in html
    for f in STORED_FILES:
        assert f'data-item="file:{f.category}"' in html and str(escape(f.retention.de)) in html
    client.post("/language", data={"lang": "en", "next": "/privacy"})
    html = client.get("/privacy").get_data(as_text=True)
    assert all(str(escape(item.what.en)) in html for rec in RECORDS for item in rec.fields.values())
    assert all(str(escape(f.retention.en)) in html for f in STORED_FILES)


def test_the_notice_names_the_controller_the_institution_chose(client, make_user, make_institution):
    from privacy.settings import update_settings

    inst = make_institution("Volkshochschule Ost")
    login(client, make_user("candidate", inst))
    assert "Verantwortlicher im Sinne der DSGVO ist Volkshochschule Ost" in client.get("/privacy").get_data(
        as_text=True)
    update_settings(inst.id, role="controller", recording=True, biometric_matching=True, appeal_window_days=7)
    assert "Verantwortlicher im Sinne der DSGVO ist der Betreiber" in client.get("/privacy").get_data(as_text=True)
