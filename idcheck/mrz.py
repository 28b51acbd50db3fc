"""ICAO 9303 machine-readable zones: TD1 (ID cards, 3 x 30), TD2 (2 x 36) and TD3 (passports, 2 x 44).

Check digits use weights 7, 3, 1 over digits (0-9), letters (A=10 ... Z=35) and the filler
``<`` (0). Names and the birth date are compared with the registration, ignoring case,
diacritics and ICAO's transliterations (Ä -> AE or A, ß -> SS).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

from kernel.errors import ValidationFailed

_LINE = re.compile(r"^[A-Z0-9<]+$")
_WEIGHTS = (7, 3, 1)


class MrzInvalid(ValidationFailed):
    """The MRZ is malformed or a check digit does not match."""

    code = "mrz_invalid"


def char_value(c: str) -> int:
    """Value of one MRZ character for the check digit."""
    if c.isdigit():
        return int(c)
    if "A" <= c <= "Z":
        return ord(c) - 55
    if c == "<":
        return 0
    raise MrzInvalid(f"Character {c!r} is not allowed in an MRZ.")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of a field."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


@dataclasses.dataclass(frozen=True)
class Mrz:
    """The fields we use from an MRZ."""

    kind: str
    document_number: str
    surname: str
    given_names: str
    birth_date: dt.date
    expiry_date: dt.date
    nationality: str


def _date(yymmdd: str, *, birth: bool, today: dt.date) -> dt.date:
    if not yymmdd.isdigit():
        raise MrzInvalid(f"Date {yymmdd!r} is not YYMMDD.")
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = 2000 if (yy <= today.year % 100 or not birth) else 1900
    try:
        return dt.date(century + yy, mm, dd)
    except ValueError:
        raise MrzInvalid(f"Date {yymmdd!r} does not exist.") from None


def _check(name: str, field: str, digit: str) -> None:
    if check_digit(field) != digit:
        raise MrzInvalid(f"The check digit of the {name} does not match.", fields={name: "check digit"})


def _names(field: str) -> tuple[str, str]:
    surname, _sep, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def parse(text: str, today: dt.date | None = None) -> Mrz:
    """Parse and verify a TD1, TD2 or TD3 MRZ (lines separated by newlines); raises MrzInvalid."""
    today = today or dt.date.today()
    if not isinstance(text, str) or len(text) > 200:
        raise MrzInvalid("The MRZ is too long.")
    lines = [ln.strip().upper().replace(" ", "") for ln in text.strip().splitlines() if ln.strip()]
    if not all(_LINE.fullmatch(ln) for ln in lines):
        raise MrzInvalid("The MRZ may contain only A-Z, 0-9 and <.")
    if len(lines) == 3 and all(len(ln) == 30 for ln in lines):
        l1, l2, l3 = lines
        number, nd = l1[5:14], l1[14]
        _check("document number", number, nd)
        _check("birth date", l2[0:6], l2[6])
        _check("expiry date", l2[8:14], l2[14])
        _check("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
        surname, given = _names(l3)
        return Mrz("TD1", number.replace("<", ""), surname, given, _date(l2[0:6], birth=True, today=today),
                   _date(l2[8:14], birth=False, today=today), l2[15:18].replace("<", ""))
    if len(lines) == 2 and all(len(ln) == 36 for ln in lines):
        l1, l2 = lines
        number = l2[0:9]
        _check("document number", number, l2[9])
        _check("birth date", l2[13:19], l2[19])
        _check("expiry date", l2[21:27], l2[27])
        _check("composite", l2[0:10] + l2[13:20] + l2[21:35], l2[35])
        surname, given = _names(l1[5:36])
        return Mrz("TD2", number.replace("<", ""), surname, given, _date(l2[13:19], birth=True, today=today),
                   _date(l2[21:27], birth=False, today=today), l2[10:13].replace("<", ""))
    if len(lines) == 2 and all(len(ln) == 44 for ln in lines):
        l1, l2 = lines
        number = l2[0:9]
        _check("document number", number, l2[9])
        _check("birth date", l2[13:19], l2[19])
        _check("expiry date", l2[21:27], l2[27])
        if l2[42] != "<" or l2[28:42].strip("<"):
            _check("personal number", l2[28:42], l2[42])
        _check("composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43])
        surname, given = _names(l1[5:44])
        return Mrz("TD3", number.replace("<", ""), surname, given, _date(l2[13:19], birth=True, today=today),
                   _date(l2[21:27], birth=False, today=today), l2[10:13].replace("<", ""))
    raise MrzInvalid("An MRZ has 3 lines of 30 characters (ID card), 2 of 36 or 2 of 44 (passport).")


def _fold(name: str) -> set[str]:
    """Spellings an MRZ may use for a name: ICAO transliteration (AE, OE, UE, SS) and plain letters."""
    upper = name.upper()
    icao = upper.replace("Ä", "AE").replace("Ö", "OE").replace("Ü", "UE").replace("ß", "SS").replace("ẞ", "SS")
    variants = set()
    for v in (icao, upper.replace("ß", "SS")):
        plain = unicodedata.normalize("NFKD", v).encode("ascii", "ignore").decode()
        variants.add(re.sub(r"[^A-Z]", "", plain))
    return variants


def matches_registration(mrz: Mrz, first_name: str, last_name: str, date_of_birth: dt.date) -> list[str]:
    """Differences between MRZ and registration (empty when they agree)."""
    problems = []
    if not _fold(last_name) & _fold(mrz.surname):
        problems.append("last name differs from the ID document")
    mrz_given = re.sub(r"[^A-Z]", "", mrz.given_names)
    if not any(mrz_given.startswith(v) or v.startswith(mrz_given) for v in _fold(first_name) if v):
        problems.append("first name differs from the ID document")
    if mrz.birth_date != date_of_birth:
        problems.append("date of birth differs from the ID document")
    return problems


def validate_document_number(number: str) -> str:
    """A plausible ID document number (letters and digits, 6 to 20), normalised."""
    n = re.sub(r"[\s-]", "", number or "").upper()
    if not re.fullmatch(r"[A-Z0-9]{6,20}", n):
        raise MrzInvalid("An ID document number has 6 to 20 letters and digits.", fields={"number": "format"})
    return n
