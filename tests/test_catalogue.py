"""Every message a page can show has its German words (issue 30, "catch the next ones automatically").

The messages are extracted the way pybabel does (``babel.cfg``: templates and every Python module), from the web
layer and from the domain packages, whose messages reach pages as errors (``gettext``), labels (``lazy_gettext``
as ``_l``, ``lazy_pgettext``) and image reasons (``N_``). Each must be in the German catalogue with a translation
that is neither empty nor fuzzy; a message only in the code shows in English on a German page.
"""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app/translations/de/LC_MESSAGES/messages.po"
# Our lazy markers besides pybabel's defaults (which already know _, gettext, ngettext, pgettext and N_).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2),
            "lazy_ngettext": (1, 2)}
# Not shipped code: no page shows their strings.
NOT_SHIPPED = {"tests", "bench", "migrations", "deploy", "docs", "node_modules", "instance"}


def _shipped(dirpath: str) -> bool:
    parts = Path(dirpath).relative_to(ROOT).parts
    return not parts or not (parts[0].startswith(".") or parts[0] in NOT_SHIPPED or "node_modules" in parts)


def extracted() -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> the first place it is used, for every message in code and templates."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[tuple[str | None, str], str] = {}
    with redirect_stderr(io.StringIO()):  # pybabel's notes on f-string arguments, not problems
        for filename, lineno, message, _comments, context in extract_from_dir(
                str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=_shipped):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault((context, msgid), f"{filename}:{lineno}")
    return found


def untranslated(found: dict[tuple[str | None, str], str], po_text: bytes) -> list[str]:
    """The places of messages that the catalogue lacks, leaves empty or marks fuzzy."""
    catalogue = read_po(io.BytesIO(po_text))
    missing = []
    for (context, msgid), where in sorted(found.items(), key=lambda item: item[1]):
        entry = catalogue.get(msgid, context=context)
        strings = (entry.string if isinstance(entry.string, tuple) else (entry.string,)) if entry else ()
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {msgid!r}" + (f" (context {context!r})" if context else ""))
    return missing


def test_every_message_in_code_and_templates_has_its_german_words():
    """No message of a page, a view or a domain package is missing, empty or fuzzy in the German catalogue."""
    found = extracted()
    missing = untranslated(found, CATALOGUE.read_bytes())
    assert not missing, "untranslated in messages.po:\n" + "\n".join(missing)


def test_the_extraction_reaches_domain_messages_and_the_check_finds_a_gap():
    """The test above sees domain code's lazy labels with their context, and fails on an entry it lacks."""
    found = extracted()
    assert len(found) > 1000
    assert (None, "The date of birth differs from the ID document.") in found  # idcheck, lazy_gettext as _l
    assert ("review", "Flag dismissed") in found  # proctoring, lazy_pgettext with its context
    assert (None, "The image is too small.") in found  # idcheck, N_
    assert any(where.startswith("app/templates/") for where in found.values())
    po = CATALOGUE.read_bytes()
    cut = re.sub(rb'(msgctxt "review"\nmsgid "Flag dismissed"\nmsgstr )"[^"\n]+"', rb'\1""', po)
    assert cut != po
    assert any("Flag dismissed" in line for line in untranslated(found, cut))
    fuzzy = po.replace(b'msgid "The image is too small."', b'#, fuzzy\nmsgid "The image is too small."', 1)
    assert any("The image is too small." in line for line in untranslated(found, fuzzy))
