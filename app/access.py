"""Access rules as named decorators and helpers, checked in one place per resource."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask_login import current_user, login_required

from accounts.models import Role, User
from kernel.errors import Forbidden, NotFound

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Allow the view only to logged-in users with one of ``roles``; records the roles on the view."""
    allowed = frozenset(Role(r) for r in roles)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                raise Forbidden()
            return view(*args, **kwargs)

        protected = login_required(wrapper)
        protected.required_roles = allowed
        return protected

    return decorate


def user() -> User:
    """The logged-in user, typed."""
    return current_user._get_current_object()


def same_institution(institution_id: int | None) -> None:
    """Refuse (as not found, so IDs of other tenants reveal nothing) a resource of another institution."""
    u = user()
    if u.role == Role.ADMIN:
        return
    if institution_id is None or u.institution_id != institution_id:
        raise NotFound()
