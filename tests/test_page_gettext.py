"""A page's own translations (app/page_gettext.py) say exactly what Flask-Babel's say, escaping included."""

from __future__ import annotations

import pytest

from app.page_gettext import page_translations

CASES = [
    '{{ _("Time left") }}',
    '{{ _("Handed in: %(name)s", name=name) }}',
    '{{ _("Gap %(n)d", n=3) }}',
    '{{ ngettext("%(num)d point", "%(num)d points", 1) }} {{ ngettext("%(num)d point", "%(num)d points", 4) }}',
    '{{ _("Move up: %(item)s", item=name) }}|{{ _("Move up: %(item)s", item="plain") }}',
    '{{ _("a string not in the catalogue: %(x)s", x=name) }}',
]


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("source", CASES)
def test_same_text_as_flask_babel(app, language, source):
    name = '<script>alert("x")</script> & Müller'
    with app.test_request_context("/", headers={"Accept-Language": language}):
        # escaping as in our .html templates
        template = app.jinja_env.from_string("{% autoescape true %}" + source + "{% endautoescape %}")
        expected = template.render(name=name)
        assert template.render(name=name, **page_translations()) == expected
        assert "<script>" not in expected
        if language == "de" and "Time left" in source:
            assert expected != "Time left"  # translated


def test_without_autoescape_nothing_is_escaped(app):
    from jinja2 import Environment

    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=False)  # noqa: S701 - a plain-text mail
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        text = env.from_string('{{ _("Handed in: %(name)s", name=name) }}').render(name="a & b", **page_translations())
    assert "a & b" in text and "&amp;" not in text


def test_every_render_speaks_the_locale_in_force_when_it_starts(app):
    """The context processor gives every render its own lookups: a mail rendered under force_locale in a German
    request is in the mail's language, and the page after it German again."""
    from flask import render_template_string
    from flask_babel import force_locale

    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        german = render_template_string('{{ _("Time left") }}')
        with force_locale("en"):
            assert render_template_string('{{ _("Time left") }}') == "Time left"
        assert render_template_string('{{ _("Time left") }}') == german != "Time left"
