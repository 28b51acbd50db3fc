"""Production WSGI entry point: ``gunicorn 'wsgi:app'`` (background jobs run in `flask jobs worker`)."""

from app import create_app

app = create_app()
