"""Scripts and styles: named with their content's hash, answered before the app and cached for good; an address
without the current hash is revalidated; nothing outside the static folder is served."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import event

from kernel.db import db


def _named(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', page)


def test_pages_name_versioned_files_that_are_cached_for_good(app, client):
    names = _named(client.get("/login").get_data(as_text=True))
    assert names and all(re.search(r"\?v=[0-9a-f]{16}$", n) for n in names)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for name in names:
            got = client.get(name)
            assert got.status_code == 200 and got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert got.headers["X-Content-Type-Options"] == "nosniff" and "default-src 'self'" in \
                got.headers["Content-Security-Policy"]
            path, _, version = name.partition("?v=")
            assert got.data == Path(app.static_folder, path.removeprefix("/static/")).read_bytes()
            assert got.headers["ETag"] == f'"{version}"'
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []  # no session, no database for a public file


def test_an_old_or_bare_address_is_revalidated(app, client):
    bare = client.get("/static/js/api.js")
    assert bare.status_code == 200 and bare.headers["Cache-Control"] == "no-cache"
    old = client.get("/static/js/api.js?v=0123456789abcdef")
    assert old.headers["Cache-Control"] == "no-cache" and old.data == bare.data  # today's bytes, not cached
    same = client.get("/static/js/api.js", headers={"If-None-Match": bare.headers["ETag"]})
    assert same.status_code == 304 and same.data == b""
    assert client.head("/static/js/api.js").headers["Content-Length"] == str(len(bare.data))


def test_a_changed_file_gets_a_new_name(app, client, tmp_path, monkeypatch):
    from app import static_files
    from app.static_files import StaticFiles

    monkeypatch.setattr(static_files, "RECHECK_SECONDS", 0.0)
    (tmp_path / "a.js").write_text("one")
    files = StaticFiles(app.wsgi_app, str(tmp_path))
    first = files.version("a.js")
    assert files.version("a.js") == first
    (tmp_path / "a.js").write_text("two!")
    os.utime(tmp_path / "a.js", ns=(1, 10**18))  # a new modification time whatever the file system's resolution
    assert files.version("a.js") not in (None, first)


def test_nothing_outside_the_static_folder(app, client):
    for path in ("/static/../__init__.py", "/static/%2e%2e/__init__.py", "/static/js/../../__init__.py",
                 "/static/", "/static/js", "/static/nope.js"):
        got = client.get(path)
        assert got.status_code == 404, path
    assert client.post("/static/js/api.js").status_code in (400, 405)
