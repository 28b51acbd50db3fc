"""Erasure: no personal data left in the database or storage, except what must be kept (listed with a date)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kernel.db import db
from storage import vault
from storage.models import Blob, BlobState
from tests.conftest import PASSWORD, login
from tests.privacy.conftest import seed_everything

NEEDLES = ("Zacharias", "Quastenberg", "zq@example.org", "C01X00T47")


def scan_database(needles=NEEDLES) -> set[str]:
    """Every table.column whose value contains one of the needles."""
    found = set()
    for name, table in db.metadata.tables.items():
        for row in db.session.execute(sa.select(table)):
            for col, value in row._mapping.items():
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                if any(n.lower() in text.lower() for n in needles):
                    found.add(f"{name}.{col}")
    return found


def erase_via_page(client, user) -> str:
    login(client, user)
    assert client.post("/account/privacy/erase", data={"confirm": "yes", "password": "wrong"}).status_code == 400
    resp = client.post("/account/privacy/erase", data={"confirm": "yes", "password": PASSWORD})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


@pytest.mark.parametrize("certificate", [False, True])
def test_erasure_leaves_nothing_but_what_must_be_kept(client, app, make_user, make_exam, make_institution,
                                                       certificate):
    one = seed_everything(app, make_user, make_exam, make_institution, email="zq@example.org", first="Zacharias",
                          last="Quastenberg", id_number="C01X00T47", certificate=certificate)
    other = seed_everything(app, make_user, make_exam, make_institution, email="other@example.org",
                            first="Ottilie", last="Nebenan", id_number="X99Y88Z77", institution=one.inst)
    keys = [b.key for b in one.blobs]
    assert scan_database() >= {"user.email", "candidate_profile.last_name", "login_event.email", "answer.value"}
    page = erase_via_page(client, one.user)
    db.session.expire_all()
    # The certificate stays verifiable: its signed credential and the holder's name as issued (the snapshot).
    expected = {"certificate.credential", "certificate.holder_name",
                "certificate.openbadge"} if certificate else set()
    assert scan_database() == expected
    if certificate:  # the certificate stays verifiable, and the person was told why and until when
        assert "ausgestellte Zertifikate bleiben überprüfbar" in page and re.search(r"bis \d\d\.\d\d\.20\d\d", page)
    assert "Prüfungsergebnisse" in page  # results are kept, without the name
    for blob in db.session.scalars(sa.select(Blob).where(Blob.user_id == one.user.id)):
        assert blob.state == BlobState.PURGED and blob.wrapped_key is None
    for key in keys:
        with pytest.raises(FileNotFoundError):
            vault.backend().size(key)
    # the other candidate lost nothing
    kept_other = scan_database(("Ottilie", "X99Y88Z77", "other@example.org"))
    assert kept_other >= {"user.email", "candidate_profile.id_document_number"}
    assert all(b.state == BlobState.COMPLETE for b in other.blobs[:1])
    # the erased account cannot log in any more
    resp = client.post("/login", data={"email": "zq@example.org", "password": PASSWORD})
    assert resp.status_code != 302


def test_kept_rows_go_when_their_time_is_up(client, app, make_user, make_exam, make_institution):
    import datetime as dt

    from exams.models import Attempt, Certificate
    from kernel.clock import utcnow
    from privacy.erasure import erase_account, expire_kept

    one = seed_everything(app, make_user, make_exam, make_institution, email="zq@example.org", first="Zacharias",
                          last="Quastenberg", id_number="C01X00T47")
    erase_account(one.user, utcnow())
    assert expire_kept(utcnow()) == 0
    assert expire_kept(utcnow() + dt.timedelta(days=365 * 10 + 5)) > 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
