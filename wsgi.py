"""Production WSGI entry point: ``gunicorn 'wsgi:app'`` (background jobs run in `flask jobs worker`)."""

import gc

from app import create_app

app = create_app()
# Each worker compiles its page templates now, not while the first candidates of an exam wait for their pages (a
# 60-item exam page's templates took some 70 ms on first use, in each worker).
for _name in app.jinja_env.list_templates():
    app.jinja_env.get_template(_name)
# What the boot made (modules, the app, its compiled templates: some 230,000 objects) lives as long as the worker:
# moved out of the garbage collector's reach, so that a full collection during a start burst (50 pages rendered at
# once) walks the requests' objects only, not the whole heap (~130 ms each on a 2-core host).
gc.freeze()
