"""Times on pages: stored in UTC, shown in the institution's time zone to the minute (Jinja filters).

``{{ value|localtime }}`` shows "14:05" today and "24.12.2026 14:05" on another day (ISO "2026-12-24" on
English pages); ``localtime(seconds=True)`` adds the seconds (timelines); ``{{ value|localdate }}`` shows
the day; ``{{ value|percent }}`` a percentage in the page's language ("60,0 %" in German, "60.0 %" in
English). The zone is the logged-in person's institution's (Europe/Berlin for the admin and visitors);
``localdate(tz)`` names one (/verify shows the issuing institution's days to every visitor).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask, has_request_context
from flask_babel import format_decimal, get_locale
from flask_login import current_user

from kernel.clock import DEFAULT_TIMEZONE, to_local, utcnow


def viewer_timezone() -> str:
    """The time zone pages are shown in for the current person."""
    if not has_request_context() or not current_user.is_authenticated:  # a job renders in the default zone
        return DEFAULT_TIMEZONE
    inst = getattr(current_user, "institution", None)
    return inst.timezone if inst is not None and inst.timezone else DEFAULT_TIMEZONE


def day_format() -> str:
    """The date format of the page's language: "24.12.2026" in German, ISO "2026-12-24" otherwise."""
    locale = get_locale() if has_request_context() else None
    return "%d.%m.%Y" if locale is not None and locale.language == "de" else "%Y-%m-%d"


def localtime(value: dt.datetime | None, seconds: bool = False) -> str:
    """A stored time in the viewer's zone, to the minute (or second); with the date where it is not today."""
    if value is None:
        return "–"
    tz = viewer_timezone()
    local = to_local(value, tz)
    text = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if local.date() != to_local(utcnow(), tz).date():
        text = f"{local.strftime(day_format())} {text}"
    return text


def localdate(value: dt.datetime | dt.date | None, tz: str | None = None) -> str:
    """The day of a stored time in ``tz`` (default: the viewer's zone); a date is shown as it is."""
    if value is None:
        return "–"
    if not isinstance(value, dt.datetime):
        return value.strftime(day_format())
    return to_local(value, tz or viewer_timezone()).strftime(day_format())


def percent(value: Decimal | float | int | None) -> str:
    """A percentage in the page's language with a space before the sign: one decimal for a decimal ("60,0 %"),
    a whole number as it is ("67 %", an attempt's score)."""
    if value is None:
        return "–"
    return f"{format_decimal(value, format='#,##0' if isinstance(value, int) else '#,##0.0')} %"


def number(value: Decimal | float | int | None) -> str:
    """A number in the page's language ("3,14" in German), as precise as it is."""
    return "–" if value is None else format_decimal(value)


def register(app: Flask) -> None:
    """Make the filters available to every template."""
    app.add_template_filter(number, "number")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
