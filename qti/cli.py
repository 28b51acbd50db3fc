"""CLI of QTI exchange: ``flask qti import PACKAGE --institution SLUG`` and ``flask qti export EXAM_ID -o FILE``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from accounts.services import get_institution_by_slug
from kernel.errors import DomainError
from qti.services import MAX_PACKAGE, QtiImportError, export_exam_package, import_exam_package

qti_cli = AppGroup("qti", help="QTI exchange: import and export exams as QTI content packages (zip).")


@qti_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", "slug", required=True, help="Short name of the institution.")
def import_cmd(path: Path, slug: str) -> None:
    """Create an exam from a QTI 3.0 or 2.x package; prints every item that cannot come in and exits 1."""
    try:
        institution = get_institution_by_slug(slug)
        with path.open("rb") as handle:
            data = handle.read(MAX_PACKAGE + 1)
        exam = import_exam_package(institution, None, data)
    except QtiImportError as err:
        for problem in err.problems:
            click.echo(f"{path}: {problem}", err=True)
        click.echo(f"{path}: nothing imported", err=True)
        sys.exit(1)
    except DomainError as err:
        click.echo(f"{path}: {err}", err=True)
        sys.exit(1)
    click.echo(f"imported exam {exam.id}: {exam.title} ({len(exam.questions)} items)")


@qti_cli.command("export")
@click.argument("exam_id", type=int)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The zip file to write.")
def export_cmd(exam_id: int, output: Path) -> None:
    """Write an exam as a QTI 3.0 content package; names the items left out (oral items)."""
    from exams.models import Exam
    from kernel.db import db

    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise click.ClickException(f"no exam {exam_id}")
    result = export_exam_package(exam)
    output.write_bytes(result.package)
    for item, reason in result.skipped:
        click.echo(f"left out {item}: {reason}", err=True)
    click.echo(f"wrote {output}")
