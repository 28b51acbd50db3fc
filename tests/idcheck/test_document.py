"""Reading the ID document: the MRZ from photographed TD1/TD2/TD3 documents, check digits, the comparison with
the registration and today, the reasons a photo is refused (de and en), the CLI, and the upload step."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import random

import pytest
from sqlalchemy import select

from idcheck.document import TYPED, check_document, read_bytes
from idcheck.models import IdCheck
from kernel.db import db
from tests.documents import SPECIMENS, Person, Shot, make, mrz_lines
from tests.idcheck.live import engine_delivers
from tests.idcheck.test_flow import wait_done

TODAY = dt.date(2026, 12, 1)
ERIKA = Person("MUSTERMANN", "ERIKA", "T22000129", "900812", "310630")  # the factories' candidate
REGISTRATION = {"first_name": "Erika", "last_name": "Mustermann", "date_of_birth": dt.date(1990, 8, 12),
                "id_document_number": "T22000129"}
FAIR = Shot(fill=0.75, tilt=0.04, rotation=5, blur=1.0, light=0.8, glare=0.3, noise=5, jpeg=70)


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    """A handful of photographed documents, made once for the module."""
    rng = random.Random(15)
    people = {fmt: Person(rng.choice(["WEBER", "OEZDEMIR"]), "ANNA<MARIA", f"L{rng.randrange(10**7, 10**8)}X",
                          "851224", "330101", "D", "F") for fmt in ("TD1", "TD2", "TD3")}
    out = {fmt: make(fmt, mrz_lines(fmt, p), seed=i, shot=FAIR) for i, (fmt, p) in enumerate(people.items())}
    out.update({f"lines-{fmt}": "\n".join(mrz_lines(fmt, p)).encode() for fmt, p in people.items()})
    return out


@pytest.mark.parametrize("fmt", ["TD1", "TD2", "TD3"])
def test_every_format_is_read_from_a_photo_with_all_check_digits(photos, fmt):
    reading = read_bytes(photos[fmt], today=TODAY)
    assert reading.valid and reading.reason is None
    assert reading.format == fmt
    assert "\n".join(reading.lines) == photos[f"lines-{fmt}"].decode()
    assert reading.mrz is not None and reading.mrz.given_names == "ANNA MARIA"
    assert reading.mrz.birth_date == dt.date(1985, 12, 24) and reading.mrz.expiry_date == dt.date(2033, 1, 1)


def test_a_document_photographed_upside_down_is_read(photos):
    import numpy as np

    from idcheck.document import read_image
    from idcheck.images import load_upload

    upside_down = np.ascontiguousarray(np.rot90(load_upload(photos["TD3"]), 2))
    reading = read_image(upside_down, today=TODAY)
    assert reading.valid and "\n".join(reading.lines) == photos["lines-TD3"].decode()


def test_a_printed_wrong_check_digit_is_never_taken_as_data():
    lines = list(SPECIMENS[4][1])  # the German passport specimen: its birth date check digit is 5
    lines[1] = lines[1][:19] + "7" + lines[1][20:]
    reading = read_bytes(make("TD3", lines, seed=3, shot=FAIR), today=TODAY)
    assert not reading.valid and reading.mrz is None
    assert reading.to_json()["fields"] is None and reading.reason == "unreadable"


def test_an_expired_document_and_a_mismatch_are_differences_for_a_person():
    old = dataclasses.replace(ERIKA, expiry="250101")
    image = make("TD3", mrz_lines("TD3", old), seed=4, shot=FAIR)
    result = check_document([image], None, REGISTRATION, TODAY)
    assert result["source"] == "photo" and result["expiry_date"] == "2025-01-01"
    assert result["differences"] == ["the ID document expired on 2025-01-01"]
    other = dict(REGISTRATION, last_name="Meier", id_document_number="T22000130")
    assert check_document([image], None, other, TODAY)["differences"] == [
        "last name differs from the ID document", "document number differs from the registration",
        "the ID document expired on 2025-01-01"]


def test_cli_prints_one_json_line(app, runner, photos, tmp_path):
    path = tmp_path / "td1.jpg"
    path.write_bytes(photos["TD1"])
    out = runner.invoke(args=["idcheck", "read-document", str(path)])
    assert out.exit_code == 0, out.output
    assert len(out.output.strip().splitlines()) == 1
    got = json.loads(out.output)
    assert set(got) == {"format", "lines", "valid", "fields", "reason"}
    assert got["format"] == "TD1" and got["valid"] is True and got["reason"] is None
    assert set(got["fields"]) == {"document_number", "surname", "given_names", "birth_date", "expiry_date",
                                  "nationality"}
    assert got["fields"]["nationality"] == "D" and got["lines"] == photos["lines-TD1"].decode().splitlines()


# ------------------------------------------------------------------ over HTTP


@pytest.fixture
def app_config():
    return {"IDCHECK_REQUIRE_MRZ": True}


@pytest.fixture
def setup(candidate_at_exam):
    _inst, exam, cand, client = candidate_at_exam
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    return exam, cand, client


BAD = {
    "cut_off": (Shot(shift_down=0.42, rotation=2, tilt=0.02), "lower edge", "untere Rand"),
    "glare": (Shot(glare=1.0, glare_on_mrz=True), "glare", "Spiegelung"),
    "blur": (Shot(blur=5.0), "blurred", "unscharf"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_poor_photo_says_what_to_do_in_german_and_english(setup, case):
    exam, cand, client = setup
    shot, en, de = BAD[case]
    image = make("TD1", SPECIMENS[3][1], seed=1, shot=shot)
    for lang, words in (("de", de), ("en", en)):
        r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(image), "ausweis.jpg")},
                        headers={"Accept-Language": lang})
        assert r.status_code == 422, r.json
        assert r.json["error"]["code"] == "document_unreadable"
        assert words in r.json["error"]["message"]
    assert db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id)).id_image_blob_id is None


def test_id_card_front_and_back_the_back_is_read(setup, faces):
    exam, cand, client = setup
    front = make("TD1", mrz_lines("TD1", ERIKA), seed=7, shot=FAIR, side="photo", face="obama2.jpg")
    back = make("TD1", mrz_lines("TD1", ERIKA), seed=8, shot=FAIR)
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(front), "front.jpg")})
    assert r.status_code == 422 and "<<<" in r.json["error"]["message"]  # the front has no MRZ
    r = client.post(f"/api/identity/{exam.id}/document",
                    data={"file": (io.BytesIO(front), "front.jpg"), "back": (io.BytesIO(back), "back.jpg")})
    assert r.status_code == 200, r.json
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.document_check["source"] == "photo" and check.document_check["mrz"] == "TD1"
    assert check.document_check["differences"] == []
    assert check.id_image_blob_id is not None  # the front, with the face that is matched; the back is not kept


def test_a_typed_mrz_only_sends_the_check_to_a_person(setup, faces):
    exam, cand, client = setup
    photo = (faces / "obama2.jpg").read_bytes()  # a face, no MRZ
    typed = "\n".join(mrz_lines("TD3", ERIKA))
    broken = typed[:-1] + str((int(typed[-1]) + 1) % 10)
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(photo), "id.jpg"), "mrz": broken})
    assert r.status_code == 400 and "composite" in r.json["error"]["message"]
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(photo), "id.jpg"), "mrz": typed})
    assert r.status_code == 200, r.json
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.document_check["source"] == "typed" and check.document_check["differences"] == [TYPED]
    assert check.document_check["photo_reason"] == "no_mrz"


def test_an_expired_passport_goes_to_review_with_the_reason(setup, faces):
    exam, cand, client = setup
    old = dataclasses.replace(ERIKA, expiry="240630")
    page = make("TD3", mrz_lines("TD3", old), seed=11, shot=dataclasses.replace(FAIR, glare=0.0, fill=0.85),
                face="obama2.jpg")
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(page), "pass.jpg")})
    assert r.status_code == 200, r.json
    engine_delivers(db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id)), faces, "obama.jpg")
    assert wait_done(client, exam)["status"] == "review"
    db.session.rollback()
    reason = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id)).reason
    assert "the ID document expired on 2024-06-30" in reason
