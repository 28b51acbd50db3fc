"""Words for what the document step keeps (``IdCheck.document_check``), in the reader's language.

The reviewer's page never shows its keys (``given_names``, ``source``), its values (``typed``, ``no_mrz``, ``TD1``),
ISO dates or the English differences ``idcheck.document`` and ``idcheck.mrz`` write; it shows ``document_rows``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from idcheck.document import TYPED

FIELD_LABELS: dict[str, LazyString] = {
    "mrz": _l("Document type"), "source": _l("Where the lines come from"),
    "document_number": _l("Document number"), "surname": _l("Last name"), "given_names": _l("First names"),
    "first_name": _l("First name"), "last_name": _l("Last name"), "birth_date": _l("Date of birth"),
    "date_of_birth": _l("Date of birth"), "expiry_date": _l("Valid until"), "expires": _l("Valid until"),
    "nationality": _l("Nationality"), "photo_reason": _l("Why the photo could not be read"),
}

VALUE_LABELS: dict[str, dict[str, LazyString]] = {
    "mrz": {"TD1": _l("ID card (three machine-readable lines)"), "TD2": _l("ID document (two lines of 36)"),
            "TD3": _l("passport (two machine-readable lines)")},
    "source": {"photo": _l("read from the photo"), "typed": _l("typed in by the candidate")},
    "photo_reason": {"cut_off_bottom": _l("lower edge cut off"), "cut_off_side": _l("a side cut off"),
                     "glare": _l("glare on the lines"), "too_dark": _l("too dark"), "blurred": _l("blurred"),
                     "no_mrz": _l("no machine-readable lines found"), "unreadable": _l("lines not readable")},
}

DIFFERENCES: dict[str, LazyString] = {
    TYPED: _l("The machine-readable lines were typed in, not read from the photo: compare them with the document."),
    "last name differs from the ID document": _l("The last name differs from the ID document."),
    "first name differs from the ID document": _l("The first name differs from the ID document."),
    "date of birth differs from the ID document": _l("The date of birth differs from the ID document."),
    "document number differs from the registration": _l("The document number differs from the registration."),
}
_EXPIRED = re.compile(r"the ID document expired on (\d{4}-\d{2}-\d{2})")
_DATES = {"birth_date", "date_of_birth", "expiry_date", "expires"}


def _day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).strftime("%d.%m.%Y")
    except ValueError:
        return text


def difference_words(text: str) -> str:
    """One difference the document step found, in the reader's language."""
    expired = _EXPIRED.fullmatch(text)
    if expired:
        return _("The ID document expired on %(day)s.", day=_day(expired.group(1)))
    found = DIFFERENCES.get(text)
    return str(found) if found is not None else text


def document_rows(document_check: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(key, label, value) for each field the document step kept (differences and unset fields left out)."""
    rows = []
    for key, value in (document_check or {}).items():
        if key == "differences" or value is None or key not in FIELD_LABELS:
            continue
        if isinstance(value, bool):
            words = _("yes") if value else _("no")
        elif key in VALUE_LABELS:
            found = VALUE_LABELS[key].get(str(value))
            words = str(found) if found is not None else "–"
        elif key in _DATES:
            words = _day(str(value))
        else:
            words = str(value)
        rows.append((key, str(FIELD_LABELS[key]), words))
    return rows
