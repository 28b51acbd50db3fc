"""Data export: every inventory item of the candidate, their files decrypted, nothing of anyone else."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile

from kernel.clock import clock
from kernel.db import db
from privacy.inventory import RECORDS, STORED_FILES
from tests.conftest import login


def _export(client) -> tuple[zipfile.ZipFile, bytes]:
    assert client.post("/account/privacy/export").status_code == 302
    page = client.get("/account/privacy").get_data(as_text=True)
    status_url = page.split('data-status-url="')[1].split('"')[0]
    deadline = time.monotonic() + 60
    while True:
        state = client.get(status_url).get_json()
        if state["status"] == "ready":
            break
        assert state["status"] in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.2)
    resp = client.get(state["download"])
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Cache-Control"] == "no-store"
    # streamed segment by segment (never the whole ZIP in memory), with its size announced
    assert resp.is_streamed and int(resp.headers["Content-Length"]) == len(resp.data)
    return zipfile.ZipFile(io.BytesIO(resp.data)), resp.data


def test_export_holds_every_inventory_item_and_nothing_of_another_candidate(client, seeded):
    one, _other = seeded
    login(client, one.user)  # (a login answers the inactivity notice: set it again to see it exported)
    one.user.inactivity_notice_at = clock.now()
    db.session.commit()
    zf, _ = _export(client)
    data = json.loads(zf.read("data.json"))
    for rec in RECORDS:
        if not rec.fields:
            continue
        rows = data["tables"][rec.table]
        assert rows, f"{rec.table}: nothing exported"
        for col in rec.fields:
            if col in rec.secret:
                assert all(col not in r for r in rows), f"secret {rec.table}.{col} exported"
            else:
                assert any(r.get(col) is not None for r in rows), f"{rec.table}.{col} missing from the export"
    assert data["tables"]["candidate_profile"][0]["last_name"] == "Quastenberg"
    files = {f["category"]: f["file"] for f in data["files"]}
    assert set(files) == {f.category for f in STORED_FILES} - {"export"}
    assert zf.read(files["recording"]) == b"webm Quastenberg"
    assert "Ihre Daten" in zf.read("summary.html").decode() and "Quastenberg" in zf.read("summary.html").decode()
    everything = b"".join(zf.read(n) for n in zf.namelist())
    for foreign in (b"Ottilie", b"Nebenan", b"other@example.org", b"X99Y88Z77"):
        assert foreign not in everything
    assert b"$argon2" not in everything  # the password hash is a secret, never exported


def test_download_link_expires_and_belongs_to_its_owner(client, seeded, app):
    one, other = seeded
    login(client, one.user)
    _export(client)
    page = client.get("/account/privacy").get_data(as_text=True)
    link = page.split('class="export-download" href="')[1].split('"')[0]
    client.post("/logout")
    login(client, other.user)
    assert client.get(link).status_code == 404
    client.post("/logout")
    login(client, one.user)
    clock.advance(dt.timedelta(days=8))
    assert client.get(link).status_code == 410
