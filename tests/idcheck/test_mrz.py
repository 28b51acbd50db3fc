"""ICAO 9303 check digits on the specimen MRZs, and the parser never fails with anything else."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idcheck.mrz import MrzInvalid, check_digit, matches_registration, parse, validate_document_number

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"


def test_specimens_parse():
    p = parse(TD3, today=dt.date(2026, 1, 1))
    assert (p.kind, p.document_number, p.surname, p.given_names) == ("TD3", "L898902C3", "ERIKSSON", "ANNA MARIA")
    assert p.birth_date == dt.date(1974, 8, 12) and p.expiry_date == dt.date(2012, 4, 15)
    t = parse(TD1, today=dt.date(2026, 1, 1))
    assert (t.kind, t.document_number, t.nationality) == ("TD1", "D23145890", "UTO")
    assert check_digit("L898902C3") == "6"


@pytest.mark.parametrize(("line", "pos", "name"), [(1, 9, "document number"), (1, 19, "birth date"),
                                                   (1, 27, "expiry date"), (1, 43, "composite")])
def test_each_broken_td3_check_digit_is_named(line, pos, name):
    lines = TD3.split("\n")
    s = lines[line]
    lines[line] = s[:pos] + str((int(s[pos]) + 1) % 10) + s[pos + 1:]
    with pytest.raises(MrzInvalid) as err:
        parse("\n".join(lines))
    assert name in err.value.message


def test_td1_broken_composite():
    lines = TD1.split("\n")
    lines[1] = lines[1][:29] + "7"
    with pytest.raises(MrzInvalid, match="composite"):
        parse("\n".join(lines))


def test_compare_with_registration_handles_transliteration():
    mrz = parse("P<D<<MUELLER<<JUERGEN<<<<<<<<<<<<<<<<<<<<<<<\n" + _td3_line2("C01X00T47", "D<<", "640812", "270101"))
    assert matches_registration(mrz, "Jürgen", "Müller", dt.date(1964, 8, 12)) == []
    assert matches_registration(mrz, "Jürgen", "Meier", dt.date(1964, 8, 13)) == [
        "last name differs from the ID document", "date of birth differs from the ID document"]


def _td3_line2(number: str, nat: str, dob: str, exp: str) -> str:
    from idcheck.mrz import check_digit as cd

    n = number.ljust(9, "<")
    body = n + cd(n) + nat + dob + cd(dob) + "M" + exp + cd(exp) + "<" * 14 + "0"
    composite = body[0:10] + body[13:20] + body[21:43]
    return body + cd(composite)


def test_document_number_format():
    assert validate_document_number("t22 000-129") == "T22000129"
    with pytest.raises(MrzInvalid):
        validate_document_number("12")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_parser_raises_only_mrz_invalid(text):
    with contextlib.suppress(MrzInvalid):
        parse(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1), st.integers(0, 43), st.sampled_from("0123456789ABCXYZ<"))
def test_mutated_specimen_is_refused_or_still_valid(line, pos, char):
    lines = TD3.split("\n")
    lines[line] = lines[line][:pos] + char + lines[line][pos + 1:]
    with contextlib.suppress(MrzInvalid):
        parse("\n".join(lines))
