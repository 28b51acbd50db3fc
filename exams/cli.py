"""CLI of the exams domain: ``flask exams import|export`` and ``flask certificates verify|export|rotate-key``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from accounts.services import get_institution_by_slug
from exams.authoring import create_exam, export_exam
from exams.schema import ExamImportError, format_for_filename
from kernel.errors import DomainError

exams_cli = AppGroup("exams", help="Exams: import and export exam files.")
certificates_cli = AppGroup("certificates", help="Certificates: verify credentials, rotate the signing key.")


@exams_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", "slug", required=True, help="Short name of the institution.")
def import_cmd(path: Path, slug: str) -> None:
    """Create an exam from a YAML/JSON file; prints every problem with its line and exits 1 on error."""
    try:
        fmt = format_for_filename(path.name)
        institution = get_institution_by_slug(slug)
        exam = create_exam(institution, path.read_text(encoding="utf-8"), fmt)
    except ExamImportError as err:
        for problem in err.problems:
            click.echo(f"{path}:{problem.line}: {problem.path}: {problem.message}", err=True)
        sys.exit(1)
    except (DomainError, UnicodeDecodeError) as err:
        click.echo(f"{path}: {err}", err=True)
        sys.exit(1)
    click.echo(f"imported exam {exam.id}: {exam.title}")


@exams_cli.command("export")
@click.argument("exam_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def export_cmd(exam_id: int, fmt: str) -> None:
    """Print an exam as a YAML or JSON exam file."""
    from exams.models import Exam
    from kernel.db import db

    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise click.ClickException(f"no exam {exam_id}")
    click.echo(export_exam(exam, "json" if fmt == "json" else "yaml"), nl=False)


@exams_cli.command("release")
@click.argument("exam_id", type=int)
@click.option("--attempt", "attempt_id", type=int, default=None, help="Release only this attempt.")
def release_cmd(exam_id: int, attempt_id: int | None) -> None:
    """Release the results the chain of trust lets go (as "Release all" does); prints what is held and why.

    Exits 1 when something was held.
    """
    from exams.grading import ReleaseReport, release_all, release_result
    from exams.models import Attempt, Exam
    from exams.trust import Action, holds
    from kernel.clock import utcnow
    from kernel.db import db

    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise click.ClickException(f"no exam {exam_id}")
    if attempt_id is not None:
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None or attempt.exam_id != exam.id:
            raise click.ClickException(f"no attempt {attempt_id} of exam {exam_id}")
        report = ReleaseReport()
        found = holds(attempt, Action.RELEASE)
        if found:
            report.held.append((attempt, found))
        else:
            report.released.append(release_result(attempt, None, utcnow()))
    else:
        report = release_all(None, exam, utcnow())
    for attempt in report.released:
        click.echo(f"released attempt {attempt.id}")
    for attempt, found in report.held:
        click.echo(f"held attempt {attempt.id}: {', '.join(h.code for h in found)}", err=True)
    if report.held:
        sys.exit(1)


@certificates_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Check against this JWK set file instead of the instance's keys.")
def verify_cmd(path: Path, jwks_path: Path | None) -> None:
    """Check a certificate credential (.jwt or .json) offline; exits 1 when forged, altered or unknown."""
    from exams.certificates import check_credential, public_keys
    from exams.credentials import load_jwks

    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if text.startswith("{") and '"proof"' in text:
        _verify_jsonld(text, jwks_path)
        return
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("credential", ""))
        except (ValueError, AttributeError):
            text = ""
    keys = load_jwks(jwks_path.read_text()) if jwks_path else public_keys()
    result = check_credential(text, keys, with_status=False)
    if not result["valid"]:
        click.echo(f"INVALID ({result['reason']}): {result.get('message', '')}", err=True)
        sys.exit(1)
    claims = result["claims"]
    click.echo(f"VALID signature: {claims['certificate_id']} {claims['holder_name']} - {claims['exam_title']} "
               f"({claims['completed_on']}, {claims['score_percent']} %)")
    from exams.credentials import IDENTITY_WORDS, REVIEW_WORDS

    if claims["identity_verification"] in IDENTITY_WORDS and claims.get("identity_verified_on"):
        click.echo(f"identity verified on {claims['identity_verified_on']} "
                   f"({IDENTITY_WORDS[claims['identity_verification']]})")
    else:
        click.echo("identity not checked")
    if claims["supervision"] == "recorded":
        click.echo(f"supervised with recording; review: {REVIEW_WORDS.get(claims['review'], claims['review'])}")
    else:
        click.echo("supervised live, without recording" if claims["supervision"] == "live" else "not supervised")
    click.echo("Revocation is not checked offline; see the verification page.")


def _verify_jsonld(text: str, jwks_path: Path | None) -> None:
    """Check an Open Badges JSON-LD credential's Data Integrity proof offline (packaged contexts only)."""
    from exams.certificates import public_keys
    from exams.credentials import load_jwks
    from exams.dataintegrity import ProofInvalid, verify_proof

    try:
        document = json.loads(text)
        method = str(document["proof"]["verificationMethod"])
    except (ValueError, KeyError, TypeError):
        click.echo("INVALID (malformed): not a JSON-LD credential with a proof", err=True)
        sys.exit(1)
    keys = load_jwks(jwks_path.read_text()) if jwks_path else public_keys()
    did = method.split("#", 1)[0]
    try:
        verify_proof(document, {f"{did}#{kid}": key for kid, key in keys.items()})
    except ProofInvalid as err:
        click.echo(f"INVALID ({err.reason}): {err.detail}", err=True)
        sys.exit(1)
    subject = document.get("credentialSubject", {})
    holder = next((i.get("identityHash", "") for i in subject.get("identifier", [])), "")
    click.echo(f"VALID proof (eddsa-rdfc-2022): {document.get('id')} {holder} - {document.get('name')} "
               f"issued by {document.get('issuer', {}).get('name', '')}")
    click.echo("Revocation is not checked offline; see the verification page or the status list.")


@certificates_cli.command("rotate-key")
def rotate_key_cmd() -> None:
    """Make a new signing key active; old keys stay published so issued certificates keep verifying."""
    from exams.certificates import rotate_signing_key

    click.echo(f"new signing key {rotate_signing_key()}")


@certificates_cli.command("export")
@click.argument("public_id")
@click.option("--format", "fmt", type=click.Choice(["jsonld", "jwt", "jws"]), default="jsonld", show_default=True,
              help="jsonld: Open Badges 3.0 with Data Integrity proof; jwt: Open Badges JWT (ES256); jws: EdDSA JWS.")
def export_cmd_certificate(public_id: str, fmt: str) -> None:
    """Print a certificate's credential (by default the Open Badges JSON-LD with its proof)."""
    from sqlalchemy import select

    from exams.credentials import InvalidCertificateId, normalize_certificate_id
    from exams.issuer import openbadge, openbadge_jwt
    from exams.models import Certificate
    from kernel.db import db

    try:
        normalized = normalize_certificate_id(public_id)
    except InvalidCertificateId as err:
        raise click.ClickException(err.message) from None
    cert = db.session.scalar(select(Certificate).where(Certificate.public_id == normalized))
    if cert is None:
        raise click.ClickException(f"no certificate {normalized}")
    if fmt == "jsonld":
        click.echo(json.dumps(openbadge(cert), ensure_ascii=False, indent=2))
    elif fmt == "jwt":
        click.echo(openbadge_jwt(cert))
    else:
        click.echo(cert.credential)
