"""Flask CLI commands of the platform: ``flask seed-demo``, ``flask serve``, ``flask users ...``, ``flask jobs ...``."""

from __future__ import annotations

import datetime as dt
import secrets

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from accounts.models import Institution, Role, User
from accounts.services import create_institution, create_user, get_institution_by_slug
from kernel.clock import utcnow
from kernel.db import db

users_cli = AppGroup("users", help="Manage accounts.")
jobs_cli = AppGroup("jobs", help="Background jobs.")
media_cli = AppGroup("media", help="Media engine processes.")


def register_cli(app: Flask) -> None:
    """Attach every CLI command to ``app``."""
    app.cli.add_command(seed_demo)
    app.cli.add_command(serve)
    app.cli.add_command(users_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(media_cli)
    from storage.cli import storage_cli

    app.cli.add_command(storage_cli)
    from idcheck.cli import idcheck_cli

    app.cli.add_command(idcheck_cli)
    from exams.cli import certificates_cli, exams_cli

    app.cli.add_command(exams_cli)
    app.cli.add_command(certificates_cli)


@click.command("seed-demo")
def seed_demo() -> None:
    """On an empty database, create a demo institution, exam and one account per role; print logins once."""
    if db.session.scalar(select(Institution).limit(1)) is not None:
        click.echo("Database already has data; demo not seeded.")
        return
    from exams.models import Exam

    inst = create_institution("Sprachschule Demo", "demo")
    now = utcnow()
    logins = []
    for role, email, name in [
        (Role.ADMIN, "admin@demo.example", "Ada Admin"),
        (Role.STAFF, "staff@demo.example", "Stefan Staff"),
        (Role.PROCTOR, "proctor@demo.example", "Paula Proctor"),
    ]:
        pw = secrets.token_urlsafe(12)
        create_user(email, pw, role, name, None if role == Role.ADMIN else inst)
        logins.append((role.value, email, pw))
    cand_pw = secrets.token_urlsafe(12)
    candidate = _seed_candidate(inst, cand_pw)
    logins.append((Role.CANDIDATE.value, "candidate@demo.example", cand_pw))
    exam = Exam(institution=inst, title="Deutsch B1 – Probeprüfung", description="Demo exam.", duration_minutes=30,
                opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=30), pass_mark_percent=60,
                identity_check_required=True, proctoring_required=True, questions=[])
    db.session.add(exam)
    db.session.commit()
    public_id = _seed_certificate(inst, candidate, now)
    click.echo("Demo seeded. These logins are shown only now:")
    for role_name, email, pw in logins:
        click.echo(f"  {role_name:<10} {email:<28} {pw}")
    click.echo(f"Demo certificate (a released pass): {public_id} - try /verify/{public_id}")
    click.echo("Admin, staff and proctor set up a second factor (an authenticator app) at their first login.")
    click.echo("Without SMTP (AUFSICHT_MAIL_SMTP_HOST) mails such as password resets land in instance/outbox/.")


def _seed_certificate(inst: Institution, candidate: User, now: dt.datetime) -> str:
    """A past exam the demo candidate passed, its result released and its certificate issued."""
    from exams.attempts import record_event
    from exams.certificates import issue_certificate
    from exams.models import Answer, Attempt, AttemptStatus, Exam

    question = {"id": "q1", "type": "single_choice", "prompt": "Wie heißt die Hauptstadt Deutschlands?", "points": 2,
                "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]}
    exam = Exam(institution=inst, title="Deutsch A2 – Abschlussprüfung (Demo)", description="Demo exam, already taken.",
                duration_minutes=30, opens_at=now - dt.timedelta(days=14), closes_at=now - dt.timedelta(days=7),
                pass_mark_percent=60, identity_check_required=False, proctoring_required=False, questions=[question])
    started = now - dt.timedelta(days=10)
    attempt = Attempt(exam=exam, user=candidate, status=AttemptStatus.SUBMITTED, started_at=started,
                      deadline_at=started + dt.timedelta(minutes=30), ended_at=started + dt.timedelta(minutes=12),
                      seed=1, layout={"questions": ["q1"]}, points=2, max_points=2, percent=100, passed=True,
                      result_released_at=now - dt.timedelta(days=9))
    db.session.add(attempt)
    db.session.flush()
    db.session.add(Answer(attempt_id=attempt.id, question_id="q1", value="a",
                          saved_at=started + dt.timedelta(minutes=5)))
    record_event(attempt, "result_released", now - dt.timedelta(days=9))
    db.session.commit()
    return issue_certificate(attempt, now - dt.timedelta(days=9)).public_id


def _seed_candidate(inst: Institution, password: str) -> User:
    from accounts.services import register_candidate
    from accounts.validation import Registration

    reg = Registration(email="candidate@demo.example", password=password, salutation="ms", first_name="Clara",
                       last_name="Candidate", street="Musterstraße 1", postal_code="10115", city="Berlin",
                       country="DE", phone="+49301234567", date_of_birth=dt.date(1995, 5, 17),
                       place_of_birth="Hamburg", gender=None, id_document_number="L01X00T47")
    cand = register_candidate(inst, reg, current_app.config["PRIVACY_NOTICE_VERSION"])
    cand.email_verified_at = utcnow()  # a demo address receives no mail; the candidate can start the exam at once
    db.session.commit()
    return cand


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the whole platform in one process: web app, in-process jobs and the media engine."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    from app.services import start_services

    start_services(app)
    click.echo(f"aufsicht is serving on http://{host}:{port}")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@users_cli.command("create")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.argument("email")
@click.option("--name", default="")
@click.option("--institution", "slug", default=None, help="Short name of the institution (not for admins).")
@click.password_option()
def create_user_cmd(role: str, email: str, name: str, slug: str | None, password: str) -> None:
    """Create an admin, staff or proctor account."""
    inst = get_institution_by_slug(slug) if slug else None
    create_user(email, password, Role(role), name or email, inst)
    click.echo(f"created {role} {email}")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def jobs_worker(burst: bool) -> None:
    """Run a Redis queue worker plus the periodic scheduler (needs REDIS_URL)."""
    import threading

    from kernel.jobs import RedisRunner, runner

    r = runner()
    if not isinstance(r, RedisRunner):
        raise click.ClickException("REDIS_URL is not set: jobs run in-process inside `flask serve`.")
    if not burst:
        threading.Thread(target=r.schedule_forever, daemon=True, name="scheduler").start()
    r.work(burst=burst)


@jobs_cli.command("run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run one registered job now, in this process."""
    from kernel.jobs import run_job

    click.echo(repr(run_job(name, {})))


@media_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5101, type=int)
def media_serve(host: str, port: int) -> None:
    """Run one media engine process: the engine's internal API for web workers (one process per engine).

    Web workers reach it when its URL is listed in MEDIA_ENGINES; they authenticate with
    MEDIA_ENGINE_TOKEN. Records into the configured storage, raises flags in the database.
    """
    from werkzeug.serving import run_simple

    from proctoring.live import engine

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.config["MEDIA_ENGINE_API"] = True
    engine(app)  # start the loop now, not on the first offer
    click.echo(f"aufsicht media engine on http://{host}:{port}")
    run_simple(host, port, app, threaded=True, use_reloader=False)

