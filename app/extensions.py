"""The Flask extensions of the web layer, created unbound; ``create_app`` binds them.

The database handle lives in ``kernel.db`` (domains import it from there); it is re-exported here.
"""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from kernel.db import Base, db

__all__ = ["Base", "babel", "csrf", "db", "login_manager", "migrate"]

login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
babel = Babel()
