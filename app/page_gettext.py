"""Translations looked up once per string per render: a long page (the exam page of 60 items asks for some 235
strings, most of them the same few per item) paid about 13 µs a lookup through Flask-Babel, which walks the request
context each time: 3 ms of a 19 ms page. ``page_translations()``, installed for every render by the app's context
processor, gives the template its own ``_``, ``gettext`` and ``ngettext`` that ask Flask-Babel once per string and keep
the answer for that render, with Jinja's newstyle semantics (the result marked safe where the template escapes, the
variables escaped into it and formatted with ``%``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup


def page_translations() -> dict[str, Callable[..., Any]]:
    """``_``, ``gettext`` and ``ngettext`` for one render (a context processor's variables); the translations are
    those of the locale in force when the render starts, taken once."""
    translations = get_translations()
    singular: dict[str, str] = {}
    plural: dict[tuple[str, str, int], str] = {}

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, string: str, **variables: Any) -> str:
        found = singular.get(string)
        if found is None:
            found = singular[string] = translations.ugettext(string)
        text: str = Markup(found) if eval_ctx.autoescape else found  # noqa: S704 - our catalogue, as Jinja marks it
        return text % variables

    @pass_eval_context
    def ngettext(eval_ctx: EvalContext, string: str, plural_form: str, num: int, **variables: Any) -> str:
        key = (string, plural_form, num)
        found = plural.get(key)
        if found is None:
            found = plural[key] = translations.ungettext(string, plural_form, num)
        text: str = Markup(found) if eval_ctx.autoescape else found  # noqa: S704 - our catalogue, as Jinja marks it
        variables.setdefault("num", num)
        return text % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}
