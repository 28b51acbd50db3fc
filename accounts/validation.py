"""Validation of what a candidate enters at registration; one message per field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kernel.errors import ValidationFailed

SALUTATIONS = {"ms": _l("Ms"), "mr": _l("Mr"), "mx": _l("Mx (neutral)"), "none": _l("No salutation")}
GENDERS = {"female": _l("female"), "male": _l("male"), "diverse": _l("diverse")}
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\-.])*$")
_ID_NUMBER = re.compile(r"^[A-Z0-9]{6,20}$")
_POSTAL = {"DE": re.compile(r"^\d{5}$"), "AT": re.compile(r"^\d{4}$"), "CH": re.compile(r"^\d{4}$")}
_POSTAL_ANY = re.compile(r"^[A-Z0-9][A-Z0-9 \-]{1,9}$")


@dataclasses.dataclass(frozen=True)
class Registration:
    """Validated registration data of a candidate."""

    email: str
    password: str
    salutation: str
    first_name: str
    last_name: str
    street: str
    postal_code: str
    city: str
    country: str
    phone: str
    date_of_birth: dt.date
    place_of_birth: str
    gender: str | None
    id_document_number: str


def clean_registration(form: dict[str, str], today: dt.date) -> Registration:
    """Validate raw form fields; raise ValidationFailed with one message per bad field."""
    f = {k: (v or "").strip() for k, v in form.items()}
    errors: dict[str, str] = {}

    email = _email(f.get("email", ""), errors)
    password = form.get("password") or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = _("At least %(n)d characters, please.", n=MIN_PASSWORD_LENGTH)
    elif email and password.lower() == email.lower():
        errors["password"] = _("The password must not be your email address.")
    person = _person(f, today, errors)
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), fields=errors)
    return Registration(email=email, password=password, **person)


@dataclasses.dataclass(frozen=True)
class Profile:
    """Validated person, address and ID data of a candidate (the profile without the account)."""

    salutation: str
    first_name: str
    last_name: str
    street: str
    postal_code: str
    city: str
    country: str
    phone: str
    date_of_birth: dt.date
    place_of_birth: str
    gender: str | None
    id_document_number: str


def clean_profile(form: dict[str, str], today: dt.date) -> Profile:
    """Validate the profile fields alone (an account made through an OpenID provider has no password)."""
    errors: dict[str, str] = {}
    person = _person({k: (v or "").strip() for k, v in form.items()}, today, errors)
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), fields=errors)
    return Profile(**person)


def _person(f: dict[str, str], today: dt.date, errors: dict[str, str]) -> dict[str, Any]:
    """The profile fields, valid or with their messages in ``errors``."""
    salutation = f.get("salutation", "")
    if salutation not in SALUTATIONS:
        errors["salutation"] = _("Please choose a salutation.")
    first_name = _name(f.get("first_name", ""), "first_name", errors)
    last_name = _name(f.get("last_name", ""), "last_name", errors)
    street = f.get("street", "")
    if not 3 <= len(street) <= 200:
        errors["street"] = _("Please enter street and house number.")
    country = f.get("country", "").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = _("Please choose a country.")
    postal_code = f.get("postal_code", "").upper()
    if not (_POSTAL.get(country) or _POSTAL_ANY).fullmatch(postal_code):
        errors["postal_code"] = _("This postal code is not valid for the chosen country.")
    city = f.get("city", "")
    if not 1 <= len(city) <= 100:
        errors["city"] = _("Please enter your city.")
    phone = _phone(f.get("phone", ""), country, errors)
    dob = _birth_date(f.get("date_of_birth", ""), today, errors)
    place_of_birth = f.get("place_of_birth", "")
    if not 1 <= len(place_of_birth) <= 100:
        errors["place_of_birth"] = _("Please enter your place of birth.")
    gender = f.get("gender") or None
    if gender is not None and gender not in GENDERS:
        errors["gender"] = _("Please choose one of the options or leave it empty.")
    id_number = re.sub(r"[\s\-]", "", f.get("id_document_number", "")).upper()
    if not _ID_NUMBER.fullmatch(id_number):
        errors["id_document_number"] = _("6 to 20 letters and digits, as printed on your ID document.")
    return {"salutation": salutation, "first_name": first_name, "last_name": last_name, "street": street,
            "postal_code": postal_code, "city": city, "country": country, "phone": phone, "date_of_birth": dob,
            "place_of_birth": place_of_birth, "gender": gender, "id_document_number": id_number}


def _email(raw: str, errors: dict[str, str]) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors["email"] = _("Please enter a valid email address.")
        return ""


def _name(raw: str, field: str, errors: dict[str, str]) -> str:
    if not 1 <= len(raw) <= 100 or not _NAME.fullmatch(raw):
        errors[field] = _("Please enter the name as on your ID document (letters, spaces, hyphens).")
    return raw


def _phone(raw: str, country: str, errors: dict[str, str]) -> str:
    try:
        number = phonenumbers.parse(raw, country if len(country) == 2 else "DE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors["phone"] = _("Please enter a phone number where the proctor can reach you, e.g. +49 30 1234567.")
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _birth_date(raw: str, today: dt.date, errors: dict[str, str]) -> dt.date | None:
    try:
        dob = dt.date.fromisoformat(raw)
    except ValueError:
        errors["date_of_birth"] = _("Please enter your date of birth.")
        return None
    if dob >= today or today.year - dob.year > 120:
        errors["date_of_birth"] = _("This date of birth is not plausible.")
        return None
    return dob


def clean_email(raw: str) -> str:
    """A valid, normalised email address, or ValidationFailed with the field's message."""
    errors: dict[str, str] = {}
    email = _email(raw, errors)
    if errors:
        raise ValidationFailed(errors["email"], fields=errors)
    return email
