"""The one error hierarchy of the platform.

Domain code raises a :class:`DomainError` subclass; the web layer (``app/errors.py``) renders it as
``{"error": {"code", "message"}}`` for JSON clients and an HTML page for browsers.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user may see; carries an HTTP status and a code."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or self.default_message())
        if code is not None:
            self.code = code

    @classmethod
    def default_message(cls) -> str:
        """The message used when none is given."""
        return "The request could not be processed."

    @property
    def message(self) -> str:
        """The user-facing message."""
        return str(self.args[0])


class ValidationFailed(DomainError):
    """Input failed validation; ``fields`` maps field names to messages."""

    status = 400
    code = "validation_failed"

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message or "Some fields are not valid.")
        self.fields = dict(fields or {})


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know it exists."""

    status = 404
    code = "not_found"

    @classmethod
    def default_message(cls) -> str:
        return "Not found."


class Forbidden(DomainError):
    """The caller is known but not allowed to do this."""

    status = 403
    code = "forbidden"

    @classmethod
    def default_message(cls) -> str:
        return "You are not allowed to do this."


class Conflict(DomainError):
    """The request clashes with the current state (e.g. an attempt already closed)."""

    status = 409
    code = "conflict"


class Gone(DomainError):
    """The resource existed but has been purged under its retention rule."""

    status = 410
    code = "gone"

    @classmethod
    def default_message(cls) -> str:
        return "This data has been deleted under its retention rule."


class TooManyRequests(DomainError):
    """Rate limit or login throttle hit."""

    status = 429
    code = "too_many_requests"

    @classmethod
    def default_message(cls) -> str:
        return "Too many attempts. Please wait and try again."


# What a 500 says (no detail of ours reaches the user; the log has it).
INTERNAL_MESSAGE = "Something went wrong on our side. Nothing you saved is lost; please try again."


class ServiceUnavailable(DomainError):
    """A service we depend on (database, job queue) is briefly unreachable; the same request may be retried."""

    status = 503
    code = "service_unavailable"
    retry_after = 5  # seconds, sent as Retry-After

    @classmethod
    def default_message(cls) -> str:
        return "The service is briefly unavailable. Please try again in a moment."


def outage_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean "the database or Redis cannot be reached right now", not a bug of ours."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import InterfaceError, OperationalError

    # OperationalError: connection refused or cut, server shutting down or starting up, SQLite busy.
    # InterfaceError: the driver's connection object is already closed.
    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
