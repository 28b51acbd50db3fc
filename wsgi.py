"""Production WSGI entry point: ``gunicorn 'wsgi:app'`` (background jobs run in `flask jobs worker`)."""

from app import create_app

app = create_app()
# Each worker compiles its page templates now, not while the first candidates of an exam wait for their pages (a
# 60-item exam page's templates took some 70 ms on first use, in each worker).
for _name in app.jinja_env.list_templates():
    app.jinja_env.get_template(_name)
