"""A running attempt's item pictures by signed addresses: the exam page names them, anyone holding the address
gets the picture until the deadline with no session, and an address that was altered, expired or names a file
that is not a picture gets nothing."""

from __future__ import annotations

import datetime as dt
import re

from app.pictures import forget, picture_token
from exams.models import Attempt
from kernel.clock import clock, utcnow
from kernel.db import db
from tests.conftest import login, start_exam
from tests.exams.test_itemtypes_http import png, setup  # noqa: F401  (the hotspot exam's fixture)
from tests.exams.test_stimuli import office  # noqa: F401  (the listening exam's fixture)


def _pictures(page: str) -> list[str]:
    return re.findall(r'<img src="(/pictures/[^"]+)"', page)


def test_the_page_names_signed_pictures_anyone_holding_them_gets(app, client, office):  # noqa: F811
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    [address] = _pictures(page)  # the picture stimulus; the recordings keep their session route
    assert office.image.public_id not in address and str(office.image.blob_id) not in address.split("/")[-1][:2]
    forget()
    other = app.test_client()  # no session at all: the address is the permission
    got = other.get(address)
    assert got.status_code == 200 and got.data == png() and got.mimetype == "image/png"
    assert got.headers["Cache-Control"] == "private, no-store" and got.headers["X-Content-Type-Options"] == "nosniff"
    assert other.get(address).data == png()  # the second time from memory
    # One character changed anywhere in the signed part: nothing.
    token = address.rsplit("/", 1)[1]
    for i in (0, len(token) // 2, len(token) - 1):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert other.get(f"/pictures/{changed}").status_code == 404
    assert other.get("/pictures/x").status_code == 404


def test_an_expired_address_or_one_for_a_recording_gets_nothing(app, client, office):  # noqa: F811
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    with app.test_request_context():
        past = picture_token(attempt_id, "pic", office.image.blob_id, utcnow() - dt.timedelta(seconds=1))
        sound = picture_token(attempt_id, "listen", office.media.blob_id, utcnow() + dt.timedelta(hours=1))
        good = picture_token(attempt_id, "pic", office.image.blob_id, utcnow() + dt.timedelta(hours=1))
    forget()
    assert client.get(f"/pictures/{past}").status_code == 404
    assert client.get(f"/pictures/{sound}").status_code == 404  # signed by us, but not a picture
    assert client.get(f"/pictures/{good}").data == png()


def test_addresses_last_until_the_deadline(app, client, office):  # noqa: F811
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    [address] = _pictures(client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True))
    attempt = db.session.get(Attempt, attempt_id)
    late = attempt.deadline_at + dt.timedelta(minutes=31)
    forget()
    clock.freeze(late)
    try:
        assert client.get(address).status_code == 404
    finally:
        clock.reset()
    assert client.get(address).status_code == 200


def test_the_hotspot_image_comes_by_its_signed_address(app, client, setup):  # noqa: F811
    exam, _staff, cand, image = setup
    login(client, cand)
    attempt_id = start_exam(client, exam.id)
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    [address] = _pictures(page)
    assert image.public_id not in address
    assert app.test_client().get(address).data == png()
