"""The platform's accessibility statement (Erklärung zur Barrierefreiheit, BITV 2.0 § 7 / EU directive 2016/2102).

One statement per platform, edited by the platform admin: the state of conformance with WCAG 2.1 AA, the known
gaps, a contact for feedback and the enforcement body, in German and English. A text left empty is the default
the page writes (app/templates/accessibility.html): public bodies of the federation name the Schlichtungsstelle
nach § 16 BGG there.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import db
from kernel.errors import ValidationFailed

#: How far the platform conforms to WCAG 2.1 AA (BITV 2.0): the three states the EU model statement knows.
CONFORMANCE = ("full", "partial", "none")
MAX_TEXT = 20_000
MAX_CONTACT = 500


class AccessibilityStatement(db.Model):  # type: ignore[name-defined]
    """The platform's accessibility statement (one row, id 1); empty texts mean the page's default."""

    __tablename__ = "accessibility_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    conformance: Mapped[str] = mapped_column(String(16), default="partial")
    known_gaps_de: Mapped[str] = mapped_column(Text, default="")
    known_gaps_en: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(MAX_CONTACT), default="")
    enforcement_de: Mapped[str] = mapped_column(Text, default="")
    enforcement_en: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


def current_statement() -> AccessibilityStatement:
    """The statement as saved, or the default one (not added to the session) when the admin never edited it."""
    found = db.session.get(AccessibilityStatement, 1)
    return found or AccessibilityStatement(id=1, conformance="partial", known_gaps_de="", known_gaps_en="",
                                           contact="", enforcement_de="", enforcement_en="", updated_at=None)


def update_statement(*, conformance: str, known_gaps_de: str, known_gaps_en: str, contact: str,
                     enforcement_de: str, enforcement_en: str, now: dt.datetime) -> AccessibilityStatement:
    """Save the statement; an unknown state or an over-long text is refused with the field named."""
    fields = {"known_gaps_de": known_gaps_de, "known_gaps_en": known_gaps_en, "enforcement_de": enforcement_de,
              "enforcement_en": enforcement_en}
    if conformance not in CONFORMANCE:
        raise ValidationFailed("conformance", fields={"conformance": " / ".join(CONFORMANCE)})
    if len(contact) > MAX_CONTACT:
        raise ValidationFailed("contact", fields={"contact": f"at most {MAX_CONTACT} characters"})
    for name, value in fields.items():
        if len(value) > MAX_TEXT:
            raise ValidationFailed(name, fields={name: f"at most {MAX_TEXT} characters"})
    row = db.session.get(AccessibilityStatement, 1) or AccessibilityStatement(id=1)
    row.conformance = conformance
    row.contact = contact.strip()
    for name, value in fields.items():
        setattr(row, name, value.strip())
    row.updated_at = now
    db.session.add(row)
    db.session.commit()
    return row
