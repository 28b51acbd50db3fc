"""Ids in URLs and forms: whole numbers our key columns can hold (shared by the views and the API description)."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

# The largest id our INTEGER key columns hold (32-bit signed in PostgreSQL); a larger number in a URL
# or a form is no id of ours (PostgreSQL would refuse to compare it: a 500 instead of a 404).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` limited to what the database can compare: a larger number is no match (404), not a 500."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def id_arg(text: str) -> int:
    """``type=`` for ids and cursors in query strings and forms: a whole number the database can take.

    Raises ValueError otherwise, so ``request.args.get(..., type=id_arg)`` falls back to its default.
    """
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise ValueError("out of range")
    return value
