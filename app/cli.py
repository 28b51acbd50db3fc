"""Flask CLI commands of the platform: ``flask seed-demo``, ``flask serve``, ``flask users ...``, ``flask jobs ...``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from accounts.models import Institution, Role
from accounts.services import create_user, get_institution_by_slug
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
    from lti.cli import lti_cli

    app.cli.add_command(lti_cli)

    from oversight.cli import oversight_cli

    app.cli.add_command(oversight_cli)
    from qti.cli import qti_cli

    app.cli.add_command(qti_cli)


@click.command("seed-demo")
def seed_demo() -> None:
    """On an empty database, seed the demo institution (see app/demo.py); print the logins once."""
    if db.session.scalar(select(Institution).limit(1)) is not None:
        click.echo("Database already has data; demo not seeded.")
        return
    from app.demo import seed

    # The services translate their messages eagerly, which needs a request; the demo is German.
    with current_app.test_request_context(headers={"Accept-Language": "de"}):
        demo = seed(utcnow())
    click.echo("Demo seeded. These logins are shown only now:")
    for role_name, email, pw in demo.logins:
        click.echo(f"  {role_name:<10} {email:<28} {pw}")
    click.echo(f"Demo exam to take now (questions of every type, proctor assigned): /candidate/exams/{demo.exam_id}")
    click.echo(f"Demo certificate (a released pass): {demo.certificate_id} - try /verify/{demo.certificate_id}")
    click.echo("Admin, staff and proctor set up a second factor (an authenticator app) at their first login.")
    click.echo("Without SMTP (AUFSICHT_MAIL_SMTP_HOST) mails such as password resets land in instance/outbox/.")


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
@click.option("--cert", default=None, help="TLS certificate (PEM) of this engine")
@click.option("--key", default=None, help="its private key (PEM)")
@click.option("--url", default=None, help="this engine's URL as MEDIA_ENGINES lists it (default: scheme://host:port)")
def media_serve(host: str, port: int, cert: str | None, key: str | None, url: str | None) -> None:
    """Run one media engine process: the engine's internal API for web workers (one process per engine).

    Web workers reach it when its URL is listed in MEDIA_ENGINES; each call carries a grant they signed
    (checked with MEDIA_GRANT_PUBLIC_KEYS) for this engine's URL (--url, MEDIA_ENGINE_URL), good once. Records
    into the configured storage, raises flags in the database. Serves the engine API only. With --cert and
    --key it speaks TLS.
    """
    from werkzeug.serving import run_simple

    from app.views.engine_api import EngineOnly
    from proctoring.live import engine

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.config["MEDIA_ENGINE_API"] = True
    scheme = "https" if cert else "http"
    # grants name the engine they are for: one for another engine is refused here
    app.config["MEDIA_ENGINE_URL"] = url or app.config.get("MEDIA_ENGINE_URL") or f"{scheme}://{host}:{port}"
    engine(app)  # start the loop now, not on the first offer
    click.echo(f"aufsicht media engine on {scheme}://{host}:{port}")
    run_simple(host, port, EngineOnly(app), threaded=True, use_reloader=False,
               ssl_context=(cert, key) if cert and key else None)


@media_cli.command("grant-key")
def media_grant_key() -> None:
    """Print the public key of this host's media grant key (for MEDIA_GRANT_PUBLIC_KEYS on engine hosts)."""
    from proctoring.grants import public_key_text
    from proctoring.media import grant_seed

    click.echo(public_key_text(grant_seed(current_app._get_current_object())))  # type: ignore[attr-defined]

