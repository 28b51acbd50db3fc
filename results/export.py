"""The exam office's results file: one row per released result, as CSV or XLSX, and as the API's JSON.

Only released results go out: a release is what the chain of trust (``exams.trust``) lets go once grading, the
identity decision and the session review the institution asks for are done; a result held, being graded or reopened
after an appeal is left out (the page says how many). Points per item come from the grading rules themselves
(``exams.questions.grade``, and the grader's points where an item is graded by hand), so every item type is covered.

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: a name like ``=HYPERLINK(...)``) are written as text: in CSV with a leading apostrophe, in XLSX as a string
cell with Excel's quote prefix. Each download is entered in the staff access log of every candidate in it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams import trust
from exams.attempts import exam_spec
from exams.certificates import holder_name, score_text
from exams.grading import ENDED
from exams.models import Answer, Attempt, Exam
from exams.questions import QuestionSpec, grade
from kernel.clock import to_local
from kernel.db import db
from privacy.models import AccessLog

Cell = str | int | Decimal | dt.datetime | None
#: Words for a code in the reader's language: ``words(value, table)`` (the web layer's label tables).
Words = Callable[[Any, str], str]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ACCESS_WHAT = "results"  # the staff access log's entry (privacy.models.AccessLog.what)
WHY_DOWNLOAD = "results file downloaded by the exam office"
WHY_API = "results read by the institution's system (API)"


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One released result."""

    attempt_id: int
    user_id: int
    candidate: str
    email: str
    points: int | None
    max_points: int | None
    percent: str  # "85.00"
    passed: bool | None
    item_points: tuple[int | None, ...]  # per item of the table, None where the candidate did not get the item
    identity_method: str  # "automatic", "person" or "not_checked"
    review: str  # "clean", "findings" or "not_reviewed"
    certificate_id: str | None
    released_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class ResultsTable:
    """An exam's released results, and how many ended results are not released (left out)."""

    exam: Exam
    items: tuple[QuestionSpec, ...]
    rows: tuple[ResultRow, ...]
    unreleased: int


def item_points(questions: Sequence[QuestionSpec], answers: dict[str, Any], manual: dict[str, int | None],
                given: set[str] | None) -> tuple[int | None, ...]:
    """Points per item as the attempt's score counts them (``exams.questions.score_attempt``'s rule): the grading
    rule's points, or the grader's for an item graded by hand; None for an item not in the candidate's form."""
    out: list[int | None] = []
    for q in questions:
        if given is not None and q.id not in given:
            out.append(None)
            continue
        result = grade(q, answers.get(q.id))
        out.append(manual.get(q.id) if result.needs_manual else result.points)
    return tuple(out)


def released_results(exam: Exam) -> ResultsTable:
    """The released results of ``exam`` (already access-checked), oldest attempt first."""
    questions = exam_spec(exam).items  # every item, the pool too; an item the attempt did not get stays empty
    attempts = db.session.scalars(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status.in_(ENDED))
                                  .order_by(Attempt.id)).all()
    released = [a for a in attempts if a.result_released_at is not None]
    answers: dict[int, dict[str, Any]] = {a.id: {} for a in released}
    manual: dict[int, dict[str, int | None]] = {a.id: {} for a in released}
    if released:
        for row in db.session.scalars(select(Answer).where(Answer.attempt_id.in_([a.id for a in released]))):
            answers[row.attempt_id][row.question_id] = row.value
            manual[row.attempt_id][row.question_id] = row.manual_points
    rows = []
    for a in released:
        layout = (a.layout or {}).get("questions")
        identity = trust.identity_of(a)
        cert = trust.live_certificate(a)
        rows.append(ResultRow(
            attempt_id=a.id, user_id=a.user_id, candidate=holder_name(a.user), email=a.user.email, points=a.points,
            max_points=a.max_points, percent=score_text(a), passed=a.passed,
            item_points=item_points(questions, answers[a.id], manual[a.id], set(layout) if layout else None),
            identity_method=(identity.method or "not_checked") if identity.state == trust.IdentityState.VERIFIED
            else "not_checked",
            review=trust.review_statement(a), certificate_id=cert.public_id if cert else None,
            released_at=a.result_released_at or a.ended_at or a.started_at))
    return ResultsTable(exam, questions, tuple(rows), len(attempts) - len(released))


# --------------------------------------------------------------------------------------------- the file


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula (a leading apostrophe where it could)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def headers(table: ResultsTable) -> list[str]:
    """The column heads: the result's columns, then one per item (its id in the exam file)."""
    return [_("Attempt"), _("Candidate"), _("Email"), _("Points"), _("Maximum points"), _("Percent"), _("Passed"),
            _("Identity verified"), _("Review of the session"), _("Certificate"), _("Released"),
            *[q.id for q in table.items]]


def cells(table: ResultsTable, row: ResultRow, words: Words) -> list[Cell]:
    """One row's cells: numbers as numbers, codes in words, the release time in the institution's time zone."""
    local = to_local(row.released_at, table.exam.institution.timezone).replace(tzinfo=None, second=0, microsecond=0)
    return [row.attempt_id, row.candidate, row.email, row.points, row.max_points, Decimal(row.percent),
            words(row.passed, "passed"), words(row.identity_method, "identity_method"), words(row.review, "review"),
            row.certificate_id, local, *row.item_points]


def to_csv(table: ResultsTable, words: Words, lang: str) -> bytes:
    """The table as CSV in UTF-8 with a byte-order mark (Excel reads it right): German with semicolons and decimal
    commas, English with commas and points."""
    delimiter, comma = (";", ",") if lang == "de" else (",", ".")

    def text(cell: Cell) -> str:
        if cell is None:
            return ""
        if isinstance(cell, dt.datetime):
            return cell.strftime("%Y-%m-%d %H:%M")
        if isinstance(cell, Decimal):
            return str(cell).replace(".", comma)
        if isinstance(cell, int):
            return str(cell)
        return safe_text(cell)

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in headers(table)])
    for row in table.rows:
        writer.writerow([text(c) for c in cells(table, row, words)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: ResultsTable, words: Words) -> bytes:
    """The table as an Excel workbook (openpyxl): the results, and a second sheet naming the items."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Results")[:31]
    for col, head in enumerate(headers(table), 1):
        _put(sheet.cell(row=1, column=col), head).font = Font(bold=True)
    for r, row in enumerate(table.rows, 2):
        for col, value in enumerate(cells(table, row, words), 1):
            cell = _put(sheet.cell(row=r, column=col), value)
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, Decimal):
                cell.number_format = "0.00"
    sheet.freeze_panes = "B2"
    items = book.create_sheet(_("Items")[:31])
    for col, head in enumerate([_("No."), _("Item"), _("Maximum points"), _("Question")], 1):
        _put(items.cell(row=1, column=col), head).font = Font(bold=True)
    for n, q in enumerate(table.items, 1):
        values: list[Cell] = [n, q.id, q.points, q.prompt]
        for col, value in enumerate(values, 1):
            _put(items.cell(row=n + 1, column=col), value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(cell: Any, value: Cell) -> Any:
    """Set a cell; text is always a string cell (openpyxl would store text starting with "=" as a formula)."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True  # Excel keeps it text when the cell is edited
    return cell


# --------------------------------------------------------------------------------------------- the API's JSON


def to_json(table: ResultsTable) -> dict[str, Any]:
    """The table as the API answers it (codes, not words; times in UTC with ``Z``)."""
    return {
        "exam": {"id": table.exam.id, "title": table.exam.title},
        "items": [{"id": q.id, "max_points": q.points} for q in table.items],
        "unreleased": table.unreleased,
        "results": [{
            "attempt_id": r.attempt_id, "candidate": {"name": r.candidate, "email": r.email},
            "points": r.points, "max_points": r.max_points, "percent": r.percent, "passed": r.passed,
            "items": {q.id: p for q, p in zip(table.items, r.item_points, strict=True)},
            "identity_method": r.identity_method, "review": r.review, "certificate_id": r.certificate_id,
            "released_at": r.released_at.replace(microsecond=0).isoformat() + "Z",
        } for r in table.rows],
    }


# --------------------------------------------------------------------------------------------- the access log


def log_reading(table: ResultsTable, actor: User | None, why: str, now: dt.datetime, *,
                window: bool = False) -> int:
    """Enter the reading of the results in every candidate's staff access log (they see it on "My data").

    With ``window`` (a system reading through the API, perhaps every minute) one entry per candidate and result
    covers ``ACCESS_LOG_WINDOW_SECONDS``. Returns how many entries were written.
    """
    rows = list(table.rows)
    if window and rows:
        since = now - dt.timedelta(seconds=float(current_app.config.get("ACCESS_LOG_WINDOW_SECONDS", 600)))
        covered = set(db.session.scalars(select(AccessLog.attempt_id).where(
            AccessLog.what == ACCESS_WHAT, AccessLog.why == why, AccessLog.at > since,
            AccessLog.attempt_id.in_([r.attempt_id for r in rows]))))
        rows = [r for r in rows if r.attempt_id not in covered]
    db.session.add_all([AccessLog(at=now, actor_id=actor.id if actor else None, subject_id=r.user_id,
                                  what=ACCESS_WHAT, why=why, attempt_id=r.attempt_id) for r in rows])
    db.session.commit()
    return len(rows)
