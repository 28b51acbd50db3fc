"""Import and export of exams as YAML or JSON, with line-precise error reports.

An exam file is parsed into plain data while recording the line of every key and
list item, validated against :data:`EXAM_SCHEMA` (JSON Schema 2020-12) and then
by semantic checks that a schema cannot express (unique ids, exactly one correct
option, window order...). Every problem found is reported at once as
``line N: path: message`` in one :class:`ExamImportError`; nothing else escapes
:func:`load_exam`, whatever the input text.

YAML notes: timestamps are read as text (they are parsed by us, with a required
timezone); anchors/aliases, duplicate keys and non-text keys are rejected.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import jsonschema
import yaml

from exams.itemtypes import GAP_RE, Area, Criterion, Gap, Level, Premise
from exams.questions import DIFFICULTIES, DrawRule, ExamSpec, Option, QuestionKind, QuestionSpec, Stimulus, Window
from kernel.errors import ValidationFailed

__all__ = [
    "EXAM_SCHEMA",
    "ExamImportError",
    "Format",
    "ImportProblem",
    "dump_exam",
    "exam_from_data",
    "exam_to_data",
    "format_for_filename",
    "load_exam",
    "schema_problems",
]

Format = Literal["yaml", "json"]
Path = tuple[str | int, ...]

MAX_TEXT_CHARS = 1_000_000
MAX_DEPTH = 32
MIN_YEAR, MAX_YEAR = 2000, 2100
_ID = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_CHOICE = {"single_choice", "multiple_choice"}
# Not a bare `False`: jsonschema reports errors of a False subschema without the property's path.
_FORBIDDEN: dict[str, Any] = {"not": {}}

_OPTION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "text"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
        "correct": {"type": "boolean"},
    },
}

_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}
_NUM = {"type": "number", "minimum": 0, "maximum": 100000}
_GAP: dict[str, Any] = {
    "type": "object", "required": ["id"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "accepted": {"type": "array", "minItems": 1, "maxItems": 50, "items": _TEXT},
        "case_sensitive": {"type": "boolean"},
        "options": {"type": "array", "minItems": 2, "maxItems": 26, "items": _OPTION},
    },
}
_PREMISE: dict[str, Any] = {
    "type": "object", "required": ["id", "text", "match"], "additionalProperties": False,
    "properties": {"id": {"type": "string", "pattern": _ID}, "text": _TEXT,
                   "match": {"type": "string", "pattern": _ID}},
}
_AREA: dict[str, Any] = {
    "type": "object", "required": ["shape", "x", "y"], "additionalProperties": False,
    "properties": {"shape": {"enum": ["rect", "circle"]}, "x": _NUM, "y": _NUM, "width": _NUM, "height": _NUM,
                   "r": _NUM, "correct": {"type": "boolean"}},
}
_MEDIA: dict[str, Any] = {
    "type": "object", "required": ["id", "alt"], "additionalProperties": False,
    "properties": {"id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                   "alt": {"type": "string", "minLength": 1, "maxLength": 2000},
                   "transcript": {"type": "string", "maxLength": 20000},
                   "plays": {"type": "integer", "minimum": 1, "maximum": 20}},
}
_CRITERION: dict[str, Any] = {
    "type": "object", "required": ["id", "name", "levels"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": _ID}, "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "levels": {"type": "array", "minItems": 2, "maxItems": 12, "items": {
            "type": "object", "required": ["id", "label", "points"], "additionalProperties": False,
            "properties": {"id": {"type": "string", "pattern": _ID},
                           "label": {"type": "string", "minLength": 1, "maxLength": 500},
                           "points": {"type": "integer", "minimum": 0, "maximum": 100}}}},
    },
}

#: Which fields beyond id, type, prompt and points each question type takes (the others are refused).
FIELDS_BY_TYPE: dict[str, set[str]] = {
    "single_choice": {"options"}, "multiple_choice": {"options"},
    "numeric": {"answer", "tolerance"},
    "free_text": set(), "oral": set(),
    "gap_text": {"text", "gaps"}, "matching": {"premises", "options"}, "ordering": {"options", "scoring"},
    "short_text": {"accepted", "case_sensitive"}, "hotspot": {"image", "image_alt", "areas"},
    "upload": set(), "essay": {"min_words", "max_words", "rubric"},
    "spoken": {"preparation_seconds", "answer_seconds", "retry", "rubric"},
}
_REQUIRED_BY_TYPE: dict[str, list[str]] = {
    "single_choice": ["options"], "multiple_choice": ["options"], "numeric": ["answer"],
    "gap_text": ["text", "gaps"], "matching": ["premises", "options"], "ordering": ["options"],
    "short_text": ["accepted"], "hotspot": ["image", "image_alt", "areas"], "spoken": ["answer_seconds"],
}
_SPECIFIC = set().union(*FIELDS_BY_TYPE.values())
_TOPIC = {"type": "string", "minLength": 1, "maxLength": 100}
_DRAW_RULE: dict[str, Any] = {
    "type": "object", "required": ["count"], "additionalProperties": False,
    "properties": {"count": {"type": "integer", "minimum": 1, "maximum": 500}, "topic": _TOPIC,
                   "difficulty": {"enum": list(DIFFICULTIES)}},
}

_QUESTION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "prompt"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "type": {"enum": [k.value for k in QuestionKind]},
        "prompt": {"type": "string", "minLength": 1, "maxLength": 20000},
        "points": {"type": "integer", "minimum": 1, "maximum": 1000},
        "options": {"type": "array", "minItems": 2, "maxItems": 26, "items": _OPTION},
        "answer": {"type": "number"},
        "tolerance": {"type": "number", "minimum": 0},
        "text": {"type": "string", "minLength": 1, "maxLength": 20000},
        "gaps": {"type": "array", "minItems": 1, "maxItems": 50, "items": _GAP},
        "premises": {"type": "array", "minItems": 2, "maxItems": 26, "items": _PREMISE},
        "scoring": {"enum": ["partial", "all_or_nothing"]},
        "accepted": {"type": "array", "minItems": 1, "maxItems": 50, "items": _TEXT},
        "case_sensitive": {"type": "boolean"},
        "image": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
        "image_alt": {"type": "string", "minLength": 1, "maxLength": 2000},
        "areas": {"type": "array", "minItems": 1, "maxItems": 50, "items": _AREA},
        "min_words": {"type": "integer", "minimum": 0, "maximum": 100000},
        "max_words": {"type": "integer", "minimum": 1, "maximum": 100000},
        "rubric": {"type": "array", "minItems": 1, "maxItems": 20, "items": _CRITERION},
        "preparation_seconds": {"type": "integer", "minimum": 0, "maximum": 1800},
        "answer_seconds": {"type": "integer", "minimum": 5, "maximum": 1800},
        "retry": {"type": "boolean"},
        "topic": _TOPIC,
        "difficulty": {"enum": list(DIFFICULTIES)},
        "media": _MEDIA,  # any type: an image, audio or video shown with the prompt (exams.itemmedia)
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": kind}}},
            "then": {"required": _REQUIRED_BY_TYPE.get(kind, []),
                     "properties": {f: _FORBIDDEN for f in sorted(_SPECIFIC - allowed)}},
        }
        for kind, allowed in FIELDS_BY_TYPE.items()
    ],
}

#: The JSON Schema every exam file must satisfy (before the semantic checks).
EXAM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "aufsicht exam",
    "type": "object",
    "required": ["title", "duration_minutes", "window", "pass_mark_percent", "questions"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 20000},
        "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
        "window": {
            "type": "object",
            "required": ["opens_at", "closes_at"],
            "additionalProperties": False,
            "properties": {
                "opens_at": {"type": "string", "maxLength": 64},
                "closes_at": {"type": "string", "maxLength": 64},
            },
        },
        "pass_mark_percent": {"type": "number", "minimum": 0, "maximum": 100},
        "minimum_age": {"type": ["integer", "null"], "minimum": 0, "maximum": 130},
        "identity_check_required": {"type": "boolean"},
        "proctoring_required": {"type": "boolean"},
        "shuffle_questions": {"type": "boolean"},
        "shuffle_options": {"type": "boolean"},
        "screen_capture": {"type": "boolean"},
        "room_scan_required": {"type": "boolean"},
        "second_camera": {"type": "boolean"},  # a phone beside the candidate (proctoring.phone)
        # Safe Exam Browser (exams.lockdown): required, and the Browser Exam Keys of the SEB builds allowed.
        "seb_required": {"type": "boolean"},
        "seb_browser_exam_keys": {
            "type": "array", "maxItems": 50, "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        "proctors": {
            "type": "array",
            "maxItems": 100,
            "items": {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"},
        },
        # Every candidate gets these; may be empty when a pool's draw gives the items (checked below).
        "questions": {"type": "array", "maxItems": 500, "items": _QUESTION},
        # Items drawn per attempt (exams.questions.draw_items): the pool, and the rules that draw from it.
        "pool": {"type": "array", "maxItems": 2000, "items": _QUESTION},
        "draw": {"type": "array", "maxItems": 100, "items": _DRAW_RULE},
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(EXAM_SCHEMA)


class ImportProblem(NamedTuple):
    """One problem in an exam file: 1-based line, dotted path and message."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"


class ExamImportError(ValidationFailed):
    """The exam file is not valid; ``problems`` lists every problem, sorted by line."""

    code = "exam_import_failed"

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = sorted(set(problems))
        fields: dict[str, str] = {}
        for p in self.problems:
            text = f"line {p.line}: {p.message}"
            fields[p.path] = f"{fields[p.path]}; {text}" if p.path in fields else text
        count = len(self.problems)
        summary = f"The exam file has {count} problem{'s' if count != 1 else ''}:\n"
        super().__init__(summary + "\n".join(str(p) for p in self.problems), fields=fields)


class _FatalError(Exception):
    """A problem that stops parsing (syntax errors)."""

    def __init__(self, line: int, path: Path, message: str) -> None:
        super().__init__(message)
        self.problem = ImportProblem(line, _fmt_path(path), message)


def _fmt_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- YAML -------------------------------------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as text: we parse them ourselves, insisting on a timezone."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_error_line(err: yaml.YAMLError, text: str) -> int:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(err, "position", None)  # ReaderError: a character offset
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _yaml_message(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    text = ", ".join(p for p in parts if p)
    return f"YAML syntax error: {text or str(err).splitlines()[0]}"


def _parse_yaml(text: str) -> tuple[Any, dict[Path, int]]:
    try:
        loader = _YamlLoader(text)  # the reader rejects control characters already here
    except yaml.YAMLError as err:
        raise _FatalError(_yaml_error_line(err, text), (), _yaml_message(err)) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as err:
            raise _FatalError(_yaml_error_line(err, text), (), _yaml_message(err)) from None
        except RecursionError:
            raise _FatalError(1, (), "the document is nested too deeply") from None
        if node is None:
            raise _FatalError(1, (), "the file is empty")
        lines: dict[Path, int] = {(): node.start_mark.line + 1}
        data = _yaml_node(loader, node, (), lines, set(), 0)
    finally:
        loader.dispose()
    return data, lines


def _yaml_node(loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: dict[Path, int], seen: set[int],
               depth: int) -> Any:
    line = lines.get(path, node.start_mark.line + 1)
    if id(node) in seen:  # an alias; refusing them also rules out "billion laughs" documents
        raise _FatalError(line, path, "YAML anchors and aliases (&name / *name) are not supported")
    seen.add(id(node))
    if depth > MAX_DEPTH:
        raise _FatalError(line, path, "the document is nested too deeply")
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _FatalError(key_line, path, "keys must be plain text")
            key = _yaml_scalar(loader, key_node, path)
            if not isinstance(key, str):
                raise _FatalError(key_line, path, f"keys must be text, not {_short(key)}")
            if key in result:
                raise _FatalError(key_line, (*path, key), f"duplicate key (first on line {lines[(*path, key)]})")
            lines[(*path, key)] = key_line
            result[key] = _yaml_node(loader, value_node, (*path, key), lines, seen, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_yaml_node(loader, item, (*path, index), lines, seen, depth + 1))
        return items
    return _yaml_scalar(loader, node, path)


def _yaml_scalar(loader: yaml.SafeLoader, node: yaml.Node, path: Path) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as err:  # bad tags, 5000-digit ints...
        message = _yaml_message(err) if isinstance(err, yaml.YAMLError) else f"not a valid value: {err}"
        raise _FatalError(node.start_mark.line + 1, path, message) from None


# --- JSON -------------------------------------------------------------------------------------------------------

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_JSON_WS = " \t\n\r"


class _JsonParser:
    """A small strict JSON parser (RFC 8259) that records the line of every key and array item."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.lines: dict[Path, int] = {}

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def skip(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in _JSON_WS:
            pos += 1
        return pos

    def fail(self, pos: int, path: Path, message: str) -> _FatalError:
        return _FatalError(self.line(pos), path, f"JSON syntax error: {message}")

    def parse_with_lines(self) -> tuple[Any, dict[Path, int]]:
        """Parse the whole text; returns the data and the line of every path."""
        return self.parse(), self.lines

    def parse(self) -> Any:
        pos = self.skip(0)
        if pos == len(self.text):
            raise _FatalError(1, (), "the file is empty")
        self.lines[()] = self.line(pos)
        value, pos = self.value(pos, (), 0)
        pos = self.skip(pos)
        if pos != len(self.text):
            raise self.fail(pos, (), "unexpected text after the end of the document")
        return value

    def string(self, pos: int, path: Path) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as err:
            raise self.fail(err.pos, path, err.msg) from None

    def value(self, pos: int, path: Path, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise self.fail(pos, path, "the document is nested too deeply")
        text = self.text
        ch = text[pos] if pos < len(text) else ""
        if ch == "{":
            return self.object(pos, path, depth)
        if ch == "[":
            return self.array(pos, path, depth)
        if ch == '"':
            return self.string(pos, path)
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                return literal, pos + len(word)
        match = _JSON_NUMBER.match(text, pos)
        if match:
            number = match.group()
            try:
                parsed: int | float = float(number) if match.group(1) or match.group(2) else int(number)
            except ValueError:  # more digits than int() accepts
                raise self.fail(pos, path, "number too long") from None
            return parsed, match.end()
        raise self.fail(pos, path, "expected a value" if ch else "unexpected end of file")

    def object(self, pos: int, path: Path, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        pos = self.skip(pos + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            if not self.text.startswith('"', pos):
                raise self.fail(pos, path, "expected a key in double quotes")
            key_pos = pos
            key, pos = self.string(pos, path)
            if key in result:
                raise _FatalError(self.line(key_pos), (*path, key),
                             f"duplicate key (first on line {self.lines[(*path, key)]})")
            self.lines[(*path, key)] = self.line(key_pos)
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                raise self.fail(pos, (*path, key), "expected ':' after the key")
            result[key], pos = self.value(self.skip(pos + 1), (*path, key), depth + 1)
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos = self.skip(pos + 1)
            elif self.text.startswith("}", pos):
                return result, pos + 1
            else:
                raise self.fail(pos, path, "expected ',' or '}'")

    def array(self, pos: int, path: Path, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        pos = self.skip(pos + 1)
        if self.text.startswith("]", pos):
            return items, pos + 1
        while True:
            item_path = (*path, len(items))
            self.lines[item_path] = self.line(pos)
            item, pos = self.value(pos, item_path, depth + 1)
            items.append(item)
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos = self.skip(pos + 1)
            elif self.text.startswith("]", pos):
                return items, pos + 1
            else:
                raise self.fail(pos, path, "expected ',' or ']'")


# --- validation -------------------------------------------------------------------------------------------------


def _line_of(lines: dict[Path, int], path: Path) -> int:
    while path not in lines:
        path = path[:-1]
    return lines[path]


def _nonfinite(data: Any, path: Path) -> Iterator[Path]:
    if isinstance(data, float) and not math.isfinite(data):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _nonfinite(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _nonfinite(value, (*path, index))


_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping of fields", "array": "a list", "null": "empty"}


def _schema_problems(data: Any, lines: dict[Path, int]) -> Iterator[ImportProblem]:
    for err in _VALIDATOR.iter_errors(data):
        path: Path = tuple(err.absolute_path)
        where = _line_of(lines, path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
            for key in err.instance:
                if key not in known:
                    yield ImportProblem(_line_of(lines, (*path, key)), _fmt_path((*path, key)), "unknown field")
            continue
        if err.validator == "required":
            message = f"missing required field {err.message.split(' is a required')[0]}"
        elif err.validator == "not" and err.validator_value == {}:
            message = f"not allowed for this question type (found {_short(err.instance)})"
        elif err.validator == "type":
            wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            names = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in wanted)
            message = f"must be {names}, not {_short(err.instance)}"
        elif err.validator == "pattern" and path and path[-1] == "id":
            message = f"{_short(err.instance)} is not a valid id (letters, digits, '_', '-', '.'; at most 64)"
        elif err.validator == "pattern" and "seb_browser_exam_keys" in path:
            message = f"{_short(err.instance)} is not a Browser Exam Key (64 hexadecimal characters, lower case)"
        elif err.validator == "pattern":
            message = f"{_short(err.instance)} is not a valid e-mail address"
        elif err.validator == "enum":
            message = f"{_short(err.instance)} is not one of {', '.join(map(str, err.validator_value))}"
        elif err.validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
            bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
            message = f"must be {bound[str(err.validator)]} {err.validator_value}, not {_short(err.instance)}"
        else:
            message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
        yield ImportProblem(where, _fmt_path(path), message)


def _parse_moment(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None or moment.utcoffset() is None:
            return None
        # Years far out are typos, and year 1 / 9999 overflow once converted to UTC for the database.
        return moment if MIN_YEAR <= moment.astimezone(dt.UTC).year <= MAX_YEAR else None
    except (ValueError, OverflowError):
        return None


def _semantic_problems(data: dict[str, Any], lines: dict[Path, int]) -> Iterator[ImportProblem]:
    def problem(path: Path, message: str) -> ImportProblem:
        return ImportProblem(_line_of(lines, path), _fmt_path(path), message)

    if data.get("seb_required") and data.get("screen_capture"):
        # SEB for iPad cannot share the screen and SEB for Windows picks it without asking: under SEB its lockdown
        # takes the place of the screen recording (README, "Lockdown with Safe Exam Browser").
        yield problem(("screen_capture",), "an exam in Safe Exam Browser does not record the screen (SEB's lockdown "
                                           "takes its place); set screen_capture to false or seb_required to false")
    if data.get("room_scan_required") and data.get("proctoring_required") is False:
        # the scan is shown on the recorded webcam (proctoring.roomscan): an unsupervised exam has none
        yield problem(("room_scan_required",), "a room scan needs a supervised exam (the webcam is recorded); set "
                                               "proctoring_required to true or room_scan_required to false")
    if data.get("proctoring_required") is False:
        # a spoken answer is a span of the webcam's recording (exams.spoken): an unsupervised exam records nothing
        for spath, item in _all_items(data):
            if item.get("type") == "spoken":
                yield problem((*spath, "type"), "a spoken answer is recorded by the supervision's media engine; "
                                                "set proctoring_required to true or remove the spoken item")
    if data.get("second_camera") and data.get("proctoring_required") is False:
        # The phone's stream goes to the media engine with the webcam's: without supervision there is none.
        yield problem(("second_camera",), "a second camera needs a supervised exam; set proctoring_required to true "
                                          "or second_camera to false")
    window = data["window"]
    moments: dict[str, dt.datetime] = {}
    for key in ("opens_at", "closes_at"):
        moment = _parse_moment(window[key])
        if moment is None:
            yield problem(("window", key), f"{_short(window[key])} is not an ISO 8601 date and time with a timezone "
                                           f"between {MIN_YEAR} and {MAX_YEAR} (e.g. 2026-03-01T09:00:00+01:00)")
        else:
            moments[key] = moment
    if len(moments) == 2:
        length = moments["closes_at"] - moments["opens_at"]
        if length <= dt.timedelta(0):
            yield problem(("window", "closes_at"), "the window must close after it opens")
        elif length < dt.timedelta(minutes=data["duration_minutes"]):
            yield problem(("duration_minutes",), f"the exam takes {data['duration_minutes']} minutes but the window "
                                                 f"is open for only {int(length.total_seconds() // 60)} minutes")

    seen_proctors: dict[str, int] = {}
    for index, email in enumerate(data.get("proctors", [])):
        if email.lower() in seen_proctors:
            first_index = seen_proctors[email.lower()]
            yield problem(("proctors", index), f"{email} is listed twice (first at proctors[{first_index}])")
        seen_proctors.setdefault(email.lower(), index)

    seen_questions: dict[str, Path] = {}
    for qpath, question in _all_items(data):
        if question["id"] in seen_questions:
            first = _line_of(lines, (*seen_questions[question["id"]], "id"))
            yield problem((*qpath, "id"), f"duplicate question id {_short(question['id'])} (first on line {first})")
        seen_questions.setdefault(question["id"], qpath)
        options = question.get("options", [])
        seen_ids: dict[str, int] = {}
        seen_texts: dict[str, int] = {}
        for oi, option in enumerate(options):
            opath: Path = (*qpath, "options", oi)
            if option["id"] in seen_ids:
                first = _line_of(lines, (*qpath, "options", seen_ids[option["id"]], "id"))
                yield problem((*opath, "id"), f"duplicate option id {_short(option['id'])} (first on line {first})")
            seen_ids.setdefault(option["id"], oi)
            text = option["text"].strip().casefold()
            if text in seen_texts:
                first = _line_of(lines, (*qpath, "options", seen_texts[text], "text"))
                yield problem((*opath, "text"), f"two options have the same text (first on line {first})")
            seen_texts.setdefault(text, oi)
        correct = sum(1 for o in options if o.get("correct", False))
        if question["type"] == "single_choice" and correct != 1:
            yield problem((*qpath, "options"),
                          f"a single choice question needs exactly one correct option, found {correct}")
        if question["type"] == "multiple_choice" and correct == 0:
            yield problem((*qpath, "options"), "a multiple choice question needs at least one correct option")
        yield from _item_problems(question, qpath, problem)
    yield from _draw_problems(data, problem)


def _all_items(data: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every item of the file with its path: the questions, then the pool."""
    for key in ("questions", "pool"):
        for index, item in enumerate(data.get(key, [])):
            yield (key, index), item


def _draw_problems(data: dict[str, Any], problem: Any) -> Iterator[ImportProblem]:
    """The pool and its draw rules: every pool item drawn by exactly one rule, each rule possible, equal points."""
    pool, rules = data.get("pool", []), data.get("draw", [])
    if not data["questions"] and not rules:
        yield problem(("questions",), "an exam needs at least one question (in questions, or drawn from a pool)")
    if pool and not rules:
        yield problem(("pool",), "a pool needs draw rules (draw: [{count: 2, topic: ..., difficulty: ...}])")
    taken_by: dict[int, int] = {}
    for ri, rule in enumerate(rules):
        rpath: Path = ("draw", ri)
        what = ", ".join(f"{k} {rule[k]!r}" for k in ("topic", "difficulty") if k in rule) or "any topic"
        matching = [pi for pi, item in enumerate(pool)
                    if all(item.get(k) == rule[k] for k in ("topic", "difficulty") if k in rule)]
        if len(matching) < rule["count"]:
            yield problem((*rpath, "count"), f"draws {rule['count']} items of {what}, but the pool has only "
                                             f"{len(matching)} such items")
        for pi in matching:
            if pi in taken_by:
                yield problem(("pool", pi), f"item {_short(pool[pi]['id'])} is drawn by draw[{taken_by[pi]}] and "
                                            f"draw[{ri}]; give the rules topics or difficulties that do not overlap")
            taken_by.setdefault(pi, ri)
        points = {_item_points(pool[pi]) for pi in matching}
        if len(points) > 1:
            found = ", ".join(f"{pool[pi]['id']}: {_item_points(pool[pi])}" for pi in matching)
            yield problem(rpath, f"the items a rule draws from must carry equal points, so every candidate can "
                                 f"reach the same maximum ({found})")
    for pi, item in enumerate(pool):
        if rules and pi not in taken_by:
            yield problem(("pool", pi), f"no draw rule takes item {_short(item['id'])} (check its topic and "
                                        f"difficulty)")
        if item["type"] == "oral":
            yield problem(("pool", pi, "type"), "oral items are asked in the call and cannot be drawn from a pool")


def _item_points(item: dict[str, Any]) -> int:
    """An item's points as :func:`exam_from_data` sets them (its default where the file leaves them out)."""
    if "points" in item:
        return int(item["points"])
    if item.get("rubric"):
        return sum(max(level["points"] for level in c["levels"]) for c in item["rubric"])
    if item["type"] == "gap_text":
        return len(item["gaps"])
    if item["type"] == "matching":
        return len(item["premises"])
    return 1


def _item_problems(question: dict[str, Any], qpath: Path, problem: Any) -> Iterator[ImportProblem]:
    """Checks of the item types of exams.itemtypes that the schema cannot express."""
    kind = question["type"]
    if kind == "gap_text":
        placed = GAP_RE.findall(question["text"])
        ids = [g["id"] for g in question["gaps"]]
        for gi, gap in enumerate(question["gaps"]):
            gpath: Path = (*qpath, "gaps", gi)
            if ids.count(gap["id"]) > 1 and ids.index(gap["id"]) != gi:
                yield problem((*gpath, "id"), f"duplicate gap id {_short(gap['id'])}")
            if placed.count(gap["id"]) != 1:
                yield problem((*gpath, "id"), f"the text must hold {{{{{gap['id']}}}}} exactly once "
                                              f"(found {placed.count(gap['id'])} times)")
            if ("accepted" in gap) == ("options" in gap):
                yield problem(gpath, "a gap has either accepted (typed) or options (drop-down), not both or neither")
            elif "options" in gap:
                if sum(1 for o in gap["options"] if o.get("correct", False)) != 1:
                    yield problem((*gpath, "options"), "a drop-down gap needs exactly one correct option")
                oids = [o["id"] for o in gap["options"]]
                if len(set(oids)) != len(oids):
                    yield problem((*gpath, "options"), "two options of the gap have the same id")
        for gap_id in sorted(set(placed) - set(ids)):
            yield problem((*qpath, "text"), f"{{{{{gap_id}}}}} has no gap in gaps")
    if kind in ("matching", "ordering") and any("correct" in o for o in question["options"]):
        where = "the premises say which response is right" if kind == "matching" else "their order is the solution"
        yield problem((*qpath, "options"), f"options of a {kind} item take no correct flag ({where})")
    if kind == "matching":
        responses = {o["id"] for o in question["options"]}
        pids: set[str] = set()
        for pi, premise in enumerate(question["premises"]):
            if premise["id"] in pids or premise["id"] in responses:
                yield problem((*qpath, "premises", pi, "id"), f"duplicate id {_short(premise['id'])}")
            pids.add(premise["id"])
            if premise["match"] not in responses:
                yield problem((*qpath, "premises", pi, "match"), f"{_short(premise['match'])} is not a response id")
    if kind == "short_text" and not any(a.strip() for a in question["accepted"]):
        yield problem((*qpath, "accepted"), "at least one accepted answer must have text")
    if kind == "hotspot":
        for ai, area in enumerate(question["areas"]):
            needs = ("r",) if area["shape"] == "circle" else ("width", "height")
            wrong = ("width", "height") if area["shape"] == "circle" else ("r",)
            for key in needs:
                if not area.get(key):
                    yield problem((*qpath, "areas", ai), f"a {area['shape']} needs {key} (more than 0)")
            for key in wrong:
                if key in area:
                    yield problem((*qpath, "areas", ai, key), f"a {area['shape']} takes no {key}")
        if not any(a.get("correct", True) for a in question["areas"]):
            yield problem((*qpath, "areas"), "a hotspot item needs at least one correct area")
    if kind == "essay":
        low, high = question.get("min_words"), question.get("max_words")
        if low is not None and high is not None and low > high:
            yield problem((*qpath, "min_words"), f"min_words ({low}) is more than max_words ({high})")
    if kind in ("essay", "spoken"):
        rubric = question.get("rubric")
        if rubric:
            best = sum(max(level["points"] for level in c["levels"]) for c in rubric)
            if "points" in question and question["points"] != best:
                yield problem((*qpath, "points"), f"the rubric gives at most {best} points; leave points out or "
                                                  f"set it to {best}")
            if best < 1:
                yield problem((*qpath, "rubric"), "the rubric's best levels must give at least 1 point")
            cids = [c["id"] for c in rubric]
            if len(set(cids)) != len(cids):
                yield problem((*qpath, "rubric"), "two criteria have the same id")
            for ci, c in enumerate(rubric):
                lids = [level["id"] for level in c["levels"]]
                if len(set(lids)) != len(lids):
                    yield problem((*qpath, "rubric", ci, "levels"), "two levels have the same id")


def _number(value: int | float | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _item_from_data(q: dict[str, Any]) -> QuestionSpec:
    """One validated item as its spec."""
    kind = QuestionKind(q["type"])
    rubric = tuple(Criterion(c["id"], c["name"], tuple(Level(lv["id"], lv["label"], lv["points"])
                                                      for lv in c["levels"])) for c in q.get("rubric", []))
    return QuestionSpec(
        id=q["id"],
        kind=kind,
        prompt=q["prompt"],
        points=_item_points(q),
        options=tuple(Option(o["id"], o["text"], o.get("correct", False)) for o in q.get("options", [])),
        answer=_number(q["answer"]) if kind is QuestionKind.NUMERIC else None,
        tolerance=_number(q.get("tolerance", 0)),
        text=q.get("text", ""),
        gaps=tuple(Gap(g["id"], tuple(g.get("accepted", [])),
                       tuple((o["id"], o["text"], o.get("correct", False)) for o in g.get("options", [])),
                       g.get("case_sensitive", False)) for g in q.get("gaps", [])),
        premises=tuple(Premise(p["id"], p["text"], p["match"]) for p in q.get("premises", [])),
        all_or_nothing=q.get("scoring") == "all_or_nothing",
        accepted=tuple(q.get("accepted", [])),
        case_sensitive=q.get("case_sensitive", False),
        image=q.get("image", ""),
        image_alt=q.get("image_alt", ""),
        areas=tuple(Area(a["shape"], _number(a["x"]), _number(a["y"]), _number(a.get("width", 0)),
                         _number(a.get("height", 0)), _number(a.get("r", 0)), a.get("correct", True))
                    for a in q.get("areas", [])),
        min_words=q.get("min_words"),
        max_words=q.get("max_words"),
        rubric=rubric,
        preparation_seconds=q.get("preparation_seconds", 0),
        answer_seconds=q.get("answer_seconds", 0),
        retry=q.get("retry", False),
        topic=q.get("topic", ""),
        difficulty=q.get("difficulty", ""),
        media=Stimulus(q["media"]["id"], q["media"]["alt"], q["media"].get("transcript", ""),
                       q["media"].get("plays")) if q.get("media") else None,
    )


def exam_from_data(data: dict[str, Any]) -> ExamSpec:
    """Build an ExamSpec from data that has passed validation (use :func:`load_exam` for files)."""
    questions = [_item_from_data(q) for q in data["questions"]]
    window = data["window"]
    return ExamSpec(
        title=data["title"],
        description=data.get("description") or "",
        duration_minutes=data["duration_minutes"],
        window=Window(dt.datetime.fromisoformat(window["opens_at"]), dt.datetime.fromisoformat(window["closes_at"])),
        pass_mark_percent=_number(data["pass_mark_percent"]),
        minimum_age=data.get("minimum_age"),
        identity_check_required=data.get("identity_check_required", True),
        proctoring_required=data.get("proctoring_required", True),
        shuffle_questions=data.get("shuffle_questions", False),
        shuffle_options=data.get("shuffle_options", False),
        screen_capture=data.get("screen_capture", False),
        room_scan_required=data.get("room_scan_required", False),
        seb_required=data.get("seb_required", False),
        second_camera=data.get("second_camera", False),
        seb_browser_exam_keys=tuple(data.get("seb_browser_exam_keys", [])),
        proctors=tuple(data.get("proctors", [])),
        questions=tuple(questions),
        pool=tuple(_item_from_data(q) for q in data.get("pool") or []),
        draws=tuple(DrawRule(r["count"], r.get("topic", ""), r.get("difficulty", "")) for r in data.get("draw") or []),
    )


def load_exam(text: str, fmt: Format) -> ExamSpec:
    """Parse and validate an exam file; raises ExamImportError listing every problem with its line."""
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown exam format {fmt!r}")
    if len(text) > MAX_TEXT_CHARS:
        raise ExamImportError([ImportProblem(1, "(top level)", f"the file is larger than {MAX_TEXT_CHARS} characters")])
    try:
        data, lines = _parse_yaml(text) if fmt == "yaml" else _JsonParser(text).parse_with_lines()
    except _FatalError as fatal:
        raise ExamImportError([fatal.problem]) from None
    problems = [ImportProblem(_line_of(lines, p), _fmt_path(p), "must be a finite number")
                for p in _nonfinite(data, ())]
    problems += _schema_problems(data, lines)
    if not problems:
        problems += _semantic_problems(data, lines)
    if problems:
        raise ExamImportError(problems)
    return exam_from_data(data)


def schema_problems(data: dict[str, Any]) -> list[ImportProblem]:
    """Every problem of exam data built in memory (the editor's form), as :func:`load_exam` finds them (line 1)."""
    lines: dict[Path, int] = {(): 1}
    problems = [ImportProblem(1, _fmt_path(p), "must be a finite number") for p in _nonfinite(data, ())]
    problems += _schema_problems(data, lines)
    if not problems:
        problems += _semantic_problems(data, lines)
    return problems


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def exam_to_data(spec: ExamSpec) -> dict[str, Any]:
    """The exam as plain data in file layout (the inverse of :func:`exam_from_data`)."""
    questions = [_item_to_data(q) for q in spec.questions]
    data: dict[str, Any] = {
        "title": spec.title,
        "description": spec.description,
        "duration_minutes": spec.duration_minutes,
        "window": {"opens_at": spec.window.opens_at.isoformat(), "closes_at": spec.window.closes_at.isoformat()},
        "pass_mark_percent": _plain_number(spec.pass_mark_percent),
    }
    if spec.minimum_age is not None:
        data["minimum_age"] = spec.minimum_age
    data.update({
        "identity_check_required": spec.identity_check_required,
        "proctoring_required": spec.proctoring_required,
        "shuffle_questions": spec.shuffle_questions,
        "shuffle_options": spec.shuffle_options,
        "screen_capture": spec.screen_capture,
        "room_scan_required": spec.room_scan_required,
        "seb_required": spec.seb_required,
        "second_camera": spec.second_camera,
        "seb_browser_exam_keys": list(spec.seb_browser_exam_keys),
        "proctors": list(spec.proctors),
        "questions": questions,
    })
    if spec.pool or spec.draws:
        data["pool"] = [_item_to_data(q) for q in spec.pool]
        data["draw"] = [{"count": r.count, **({"topic": r.topic} if r.topic else {}),
                         **({"difficulty": r.difficulty} if r.difficulty else {})} for r in spec.draws]
    return data


def _item_to_data(q: QuestionSpec) -> dict[str, Any]:
    """One item in file layout."""
    item: dict[str, Any] = {"id": q.id, "type": q.kind.value, "prompt": q.prompt, "points": q.points}
    if q.topic:
        item["topic"] = q.topic
    if q.difficulty:
        item["difficulty"] = q.difficulty
    if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        item["options"] = [{"id": o.id, "text": o.text, "correct": o.correct} for o in q.options]
    if q.kind is QuestionKind.NUMERIC and q.answer is not None:
        item["answer"] = _plain_number(q.answer)
        item["tolerance"] = _plain_number(q.tolerance)
    item.update(_item_data(q))
    if q.media is not None:
        media: dict[str, Any] = {"id": q.media.id, "alt": q.media.alt}
        if q.media.transcript:
            media["transcript"] = q.media.transcript
        if q.media.plays is not None:
            media["plays"] = q.media.plays
        item["media"] = media
    return item


def _item_data(q: QuestionSpec) -> dict[str, Any]:
    """The fields of the item types of exams.itemtypes in file layout."""
    kind = q.kind
    if kind is QuestionKind.GAP_TEXT:
        gaps: list[dict[str, Any]] = []
        for g in q.gaps:
            if g.dropdown:
                gaps.append({"id": g.id, "options": [{"id": i, "text": t, "correct": c} for i, t, c in g.options]})
            else:
                gaps.append({"id": g.id, "accepted": list(g.accepted), "case_sensitive": g.case_sensitive})
        return {"text": q.text, "gaps": gaps}
    if kind is QuestionKind.MATCHING:
        return {"premises": [{"id": p.id, "text": p.text, "match": p.match} for p in q.premises],
                "options": [{"id": o.id, "text": o.text} for o in q.options]}
    if kind is QuestionKind.ORDERING:
        return {"options": [{"id": o.id, "text": o.text} for o in q.options],
                "scoring": "all_or_nothing" if q.all_or_nothing else "partial"}
    if kind is QuestionKind.SHORT_TEXT:
        return {"accepted": list(q.accepted), "case_sensitive": q.case_sensitive}
    if kind is QuestionKind.HOTSPOT:
        areas = []
        for a in q.areas:
            area: dict[str, Any] = {"shape": a.shape, "x": _plain_number(a.x), "y": _plain_number(a.y)}
            if a.shape == "circle":
                area["r"] = _plain_number(a.r)
            else:
                area.update(width=_plain_number(a.width), height=_plain_number(a.height))
            area["correct"] = a.correct
            areas.append(area)
        return {"image": q.image, "image_alt": q.image_alt, "areas": areas}
    if kind in (QuestionKind.ESSAY, QuestionKind.SPOKEN):
        out: dict[str, Any] = {}
        if kind is QuestionKind.SPOKEN:
            out.update(preparation_seconds=q.preparation_seconds, answer_seconds=q.answer_seconds, retry=q.retry)
        if q.min_words is not None:
            out["min_words"] = q.min_words
        if q.max_words is not None:
            out["max_words"] = q.max_words
        if q.rubric:
            out["rubric"] = [{"id": c.id, "name": c.name,
                              "levels": [{"id": lv.id, "label": lv.label, "points": lv.points} for lv in c.levels]}
                             for c in q.rubric]
        return out
    return {}


class _YamlDumper(yaml.SafeDumper):
    """SafeDumper that double-quotes text with Unicode line breaks.

    PyYAML with ``allow_unicode`` writes NEL (U+0085) raw inside single quotes, where
    reading folds it into a space; double quotes escape it as ``\\N``.
    """


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if any(c in data for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_YamlDumper.add_representer(str, _represent_text)


def dump_exam(spec: ExamSpec, fmt: Format) -> str:
    """Serialise an exam as YAML or JSON such that ``load_exam(dump_exam(s, f), f) == s``."""
    data = exam_to_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.dump(data, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                         width=100)
    raise ValueError(f"unknown exam format {fmt!r}")


def format_for_filename(name: str) -> Format:
    """The exam format for a file name by its extension (.yaml, .yml or .json)."""
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    if lowered.endswith(".json"):
        return "json"
    raise ValidationFailed("Exam files must end in .yaml, .yml or .json.", fields={"file": "unknown file type"})
