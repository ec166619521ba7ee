"""The published JSON Schemas: load them once, validate documents against them, report RFC 6901 pointers.

Two validators answer the same question. `validate` is the fast path (jsonschema-rs, compiled Rust);
`validate_reference` is the reference path (the `jsonschema` library). Both turn their native errors into
the same `Violation(pointer, message)` list, so a lab sees the same answer whichever path ran, and
`tests/test_contracts.py` checks that they agree on randomly mutated reports.

Where the two libraries read a document differently, the reference path is bent to the fast path's reading,
which is the one JSON Schema specifies:

- `pattern` / `patternProperties` use ECMA-262 regular expressions (JSON Schema 2020-12 §6.4): `$` matches only
  at the very end (Python's `$` also matches before a final newline) and `\\d`, `\\w` are ASCII-only.
- `format: date` is RFC 3339 `full-date`, where year 0000 exists (Python's `date.fromisoformat` rejects it).
- NaN and ±Infinity are not JSON numbers; jsonschema-rs sees them as `null`, and so does the reference path.

Both paths expect JSON data as a strict parser returns it (the API parses with orjson): `str` keys, and strings
that are Unicode text. A string holding an unpaired UTF-16 surrogate (which `json.loads` lets through from a
`"\\ud800"` escape) is not I-JSON (RFC 7493 §2.1). The reference path refuses such a document with one violation
per bad string and checks nothing else. jsonschema-rs reads strings lazily: it raises on some and skips others,
and a full scan would cost several times the validation itself, so the fast path gives the same answer only when
jsonschema-rs notices (it never raises out of `validate`).

jsonschema-rs reports two kinds of member names wrongly in its instance paths: it drops empty names ("") and
turns digit-only names into integers ("01" -> 1). `_instance_path` puts the true names back from the document.

Locations are normalised in both paths: `required` points at the missing member (`/results/0/verdict`),
`additionalProperties` at each extra member (`/product/colour`), and `anyOf`/`oneOf` at the errors of the
alternative that came closest (see `_closest_alternative`). Messages are written here from the keyword and
its value, not taken from either library, so both paths also give the same words.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from registry.errors import ContractViolation, NotFound, Violation

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_ROOT = Path(__file__).resolve().parent.parent / "schemas"
DEFAULT_SCHEMA = "test-report/v1"
_URN_PREFIX = "urn:ev-charging-registry:schemas:"
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_NOT_SCHEMAS = {"examples"}  # schemas/examples/ holds documents, not schemas


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Schema:
    name: str
    uri: str
    raw: bytes
    document: dict[str, Any]


@dataclass(frozen=True)
class _Catalogue:
    schemas: dict[str, _Schema]
    registry: Registry
    rs_registry: jsonschema_rs.Registry


_lock = threading.Lock()
_loaded: _Catalogue | None = None
_fast: dict[str, jsonschema_rs.Validator] = {}
_reference: dict[str, jsonschema.protocols.Validator] = {}


class SchemaFileError(ValueError):
    """A file under schemas/ is not a draft 2020-12 JSON Schema (a release that must not start)."""


def _load() -> _Catalogue:
    """Read, check and register every schema file under `SCHEMA_ROOT`, once per process."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _read_catalogue(SCHEMA_ROOT)
    return _loaded


def _read_catalogue(root: Path) -> _Catalogue:
    schemas: dict[str, _Schema] = {}
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root)
        if _NOT_SCHEMAS.intersection(relative.parts):
            continue
        name = relative.with_suffix("").as_posix()
        raw = path.read_bytes()
        document = json.loads(raw)
        declared = document.get("$schema", _DRAFT_2020_12) if isinstance(document, dict) else None
        if declared != _DRAFT_2020_12:
            raise SchemaFileError(f"{relative}: a published schema must be draft 2020-12")
        try:
            jsonschema_rs.meta.validate(document)
        except jsonschema_rs.ValidationError as error:
            raise SchemaFileError(f"{relative}: not a valid JSON Schema: {error.message}") from error
        # A file without `$id` still gets a stable URI; tests/test_contracts.py insists on `$id` anyway.
        uri = document.get("$id") or _URN_PREFIX + name.replace("/", ":")
        schemas[name] = _Schema(name=name, uri=uri, raw=raw, document=document)
    registry = Registry().with_resources(
        (s.uri, Resource.from_contents(s.document, default_specification=DRAFT202012)) for s in schemas.values()
    ).crawl()
    rs_registry = jsonschema_rs.Registry(
        [(s.uri, s.document) for s in schemas.values()], draft=jsonschema_rs.Draft202012
    )
    return _Catalogue(schemas=schemas, registry=registry, rs_registry=rs_registry)


def _schema(name: str) -> _Schema:
    try:
        return _load().schemas[name]
    except KeyError:
        raise NotFound(f"There is no published schema named {name!r}.") from None


def schema_names() -> list[str]:
    """Return the names of the published schemas, e.g. `["catalogue/v1", "test-report/v1"]`."""
    return sorted(_load().schemas)


def schema_document(name: str) -> dict[str, Any]:
    """Return a copy of the parsed schema `name` (a copy, so callers cannot alter the compiled one)."""
    return copy.deepcopy(_schema(name).document)


def schema_bytes(name: str) -> bytes:
    """Return the schema file's bytes exactly as published (hash them for an ETag)."""
    return _schema(name).raw


# --------------------------------------------------------------------------- compiled validators


def _fast_validator(name: str) -> jsonschema_rs.Validator:
    validator = _fast.get(name)
    if validator is None:
        catalogue, schema = _load(), _schema(name)
        with _lock:
            validator = _fast.get(name)
            if validator is None:
                validator = jsonschema_rs.Draft202012Validator(
                    schema.document,
                    validate_formats=True,
                    registry=catalogue.rs_registry,
                    base_uri=schema.uri,
                    offline=True,  # every `$ref` must resolve inside schemas/; never fetch
                )
                _fast[name] = validator
    return validator


def _reference_validator(name: str) -> jsonschema.protocols.Validator:
    validator = _reference.get(name)
    if validator is None:
        catalogue, schema = _load(), _schema(name)
        with _lock:
            validator = _reference.get(name)
            if validator is None:
                validator_class, format_checker = _reference_kit()
                validator = validator_class(schema.document, registry=catalogue.registry, format_checker=format_checker)
                _reference[name] = validator
    return validator


# ----- the reference validator, bent to ECMA-262 / RFC 3339 / JSON readings (see the module docstring)


@lru_cache(maxsize=256)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile an ECMA-262 pattern with Python's `re`: `$` is end of input, `\\d` and `\\w` are ASCII."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escape = pattern[i + 1]
            if escape in "dw":
                ascii_set = "0-9" if escape == "d" else "A-Za-z0-9_"
                out.append(ascii_set if in_class else f"[{ascii_set}]")
            elif escape in "DW" and not in_class:
                out.append("[^0-9]" if escape == "D" else "[^A-Za-z0-9_]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return re.compile("".join(out))


def _is_number(checker: Any, instance: object) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, float):
        return math.isfinite(instance)
    return isinstance(instance, int)


def _is_integer(checker: Any, instance: object) -> bool:
    if isinstance(instance, float):
        return math.isfinite(instance) and instance.is_integer()
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_null(checker: Any, instance: object) -> bool:
    return instance is None or (isinstance(instance, float) and not math.isfinite(instance))


_RFC3339_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _is_rfc3339_date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    match = _RFC3339_DATE.fullmatch(instance)
    if not match:
        return False
    year, month, day = (int(group) for group in match.groups())
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


@lru_cache(maxsize=None)
def _reference_kit() -> tuple[type, Any]:
    """The reference validator class and its format checker, built on first use.

    Importing `jsonschema` with its format extras takes seconds (a URI grammar is compiled at import), and only the
    tests and the benchmark use the reference path: the registry's processes, CLI included, no longer pay for it.
    """
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

    format_checker = FormatChecker()
    format_checker.checks("date")(_is_rfc3339_date)

    def _pattern(validator: Any, pattern: str, instance: object, schema: Mapping) -> Iterator[ValidationError]:
        if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")

    def _pattern_properties(validator: Any, patterns: Mapping, instance: object, schema: Mapping):
        if not validator.is_type(instance, "object"):
            return
        for pattern, subschema in patterns.items():
            regex = _ecma_regex(pattern)
            for key, value in instance.items():
                if regex.search(key):
                    yield from validator.descend(value, subschema, path=key, schema_path=pattern)

    def _additional_properties(validator: Any, additional: Any, instance: object, schema: Mapping):
        # One error per extra member, located at the member (jsonschema reports one error at the object).
        if not validator.is_type(instance, "object"):
            return
        known = schema.get("properties", {})
        regexes = [_ecma_regex(p) for p in schema.get("patternProperties", {})]
        for key, value in instance.items():
            if key in known or any(r.search(key) for r in regexes):
                continue
            if additional is False:
                yield ValidationError(f"{key!r} is not allowed", path=[key], instance=value)
            elif validator.is_type(additional, "object"):
                yield from validator.descend(value, additional, path=key)

    def _required(validator: Any, required: Sequence[str], instance: object, schema: Mapping):
        if validator.is_type(instance, "object"):
            for key in required:
                if key not in instance:
                    yield ValidationError(f"{key!r} is a required property", path=[key])

    def _dependent_required(validator: Any, dependencies: Mapping, instance: object, schema: Mapping):
        if validator.is_type(instance, "object"):
            for trigger, keys in dependencies.items():
                if trigger in instance:
                    for key in keys:
                        if key not in instance:
                            yield ValidationError(f"{key!r} is required with {trigger!r}", path=[key])

    validator_class = jsonschema.validators.extend(
        Draft202012Validator,
        validators={
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
            "required": _required,
            "dependentRequired": _dependent_required,
        },
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
            {"number": _is_number, "integer": _is_integer, "null": _is_null}
        ),
    )
    return validator_class, format_checker


# --------------------------------------------------------------------------- normalised errors


@dataclass(frozen=True)
class _Issue:
    """A library-neutral error: where (path into the instance), which keyword, and the keyword's value."""

    path: tuple[str | int, ...]
    keyword: str
    value: Any = None


def _closest_alternative(branches: Sequence[list[_Issue]], own_path: tuple) -> list[_Issue]:
    """Pick the failing anyOf/oneOf alternative the instance came closest to, and return its issues.

    Closest: its errors are not a type mismatch at the combinator's own location, they reach deepest into
    the instance, they are fewest, and it comes first. Both paths apply this same rule.
    """

    def distance(indexed: tuple[int, list[_Issue]]) -> tuple:
        index, issues = indexed
        wrong_type = any(i.keyword == "type" and i.path == own_path for i in issues)
        depth = max((len(i.path) for i in issues), default=0)
        return (wrong_type, -depth, len(issues), index)

    candidates = [(index, issues) for index, issues in enumerate(branches) if issues]
    return min(candidates, key=distance)[1] if candidates else []


def _issues_from_reference(errors: Iterable[ValidationError]) -> Iterator[_Issue]:
    for error in errors:
        path = tuple(error.absolute_path)
        keyword = error.validator
        if keyword in ("anyOf", "oneOf") and error.context:
            branches: dict[int, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            count = len(error.validator_value)
            converted = [list(_issues_from_reference(branches.get(index, []))) for index in range(count)]
            yield from _closest_alternative(converted, path) or [_Issue(path, keyword)]
        elif keyword == "oneOf":
            yield _Issue(path, "oneOf")
        elif keyword in ("required", "dependentRequired"):
            yield _Issue(path, "required")
        elif keyword == "additionalProperties":
            yield _Issue(path, "additionalProperties")
        elif keyword is None:  # a `false` subschema
            yield _Issue(path, "falseSchema")
        elif keyword == "items" and error.validator_value is False:
            # jsonschema reports `items: false` once at the array; jsonschema-rs at each extra item.
            for index in range(len(error.schema.get("prefixItems", ())), len(error.instance)):
                yield _Issue(path + (index,), "falseSchema")
        else:
            yield _Issue(path, keyword, _freeze(error.validator_value))


_RS_VALUE = {
    "type": "types",
    "enum": "options",
    "const": "expected_value",
    "pattern": "pattern",
    "format": "format",
    "multipleOf": "multiple_of",
}


def _issues_from_fast(errors: Iterable[jsonschema_rs.ValidationError], root: Any) -> Iterator[_Issue]:
    for error in errors:
        path = _instance_path(root, error.instance_path, error.instance)
        kind = error.kind
        keyword = kind.name
        if keyword in ("anyOf", "oneOf") and any(kind.context):
            converted = [list(_issues_from_fast(branch, root)) for branch in kind.context]
            yield from _closest_alternative(converted, path) or [_Issue(path, keyword)]
        elif keyword == "oneOf":
            yield _Issue(path, "oneOf")
        elif keyword == "required":
            yield _Issue(path + (kind.property,), "required")
        elif keyword == "additionalProperties":
            for key in kind.unexpected:
                yield _Issue(path + (key,), "additionalProperties")
        elif keyword == "propertyNames":
            # jsonschema reports the failing keyword of `propertyNames` itself, at the object.
            for issue in _issues_from_fast([kind.error], root):
                yield _Issue(path, issue.keyword, issue.value)
        else:
            attribute = _RS_VALUE.get(keyword, "limit")
            yield _Issue(path, keyword, _freeze(getattr(kind, attribute, None)))


def _instance_path(root: Any, reported: Sequence[str | int], value: Any) -> tuple[str | int, ...]:
    """Return the true path of a jsonschema-rs error, repairing two losses in the paths it reports.

    jsonschema-rs drops empty member names ("") and turns digit-only member names into integers ("01" -> 1).
    A path that passes no "" member and whose integers land on arrays is exact. Otherwise, among the paths the
    reported one could stand for, take the one with fewest inserted "" names whose value is the failing instance.
    """
    path = tuple(reported)
    node = root
    exact = True
    for part in path:
        if isinstance(node, dict) and ("" in node or not isinstance(part, str)):
            exact = False
            break
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return path
    if exact and not (isinstance(node, dict) and "" in node):
        return path

    def candidates(node: Any, rest: tuple, budget: int) -> Iterator[tuple[int, tuple]]:
        if not rest:
            yield 0, ()
        elif isinstance(node, dict):
            part = rest[0]
            names = [part] if isinstance(part, str) else [k for k in node if _decimal(k) == part]
            for name in names:
                if name in node:
                    for inserted, tail in candidates(node[name], rest[1:], budget):
                        yield inserted, (name,) + tail
        elif isinstance(node, list) and isinstance(rest[0], int) and rest[0] < len(node):
            for inserted, tail in candidates(node[rest[0]], rest[1:], budget):
                yield inserted, (rest[0],) + tail
        if budget and isinstance(node, dict) and "" in node:
            for inserted, tail in candidates(node[""], rest, budget - 1):
                yield inserted + 1, ("",) + tail

    for _, candidate in sorted(candidates(root, path, 4), key=lambda found: found[0]):
        node = _value_at(root, candidate)
        if node == value and type(node) is type(value):
            return candidate
    return path


def _decimal(name: str) -> int | None:
    """The integer jsonschema-rs makes of a member name, or None (Rust's usize parse: digits, optional "+")."""
    digits = name[1:] if name.startswith("+") else name
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


# --------------------------------------------------------------------------- messages and pointers


def _pointer(path: Iterable[str | int]) -> str:
    """Return the RFC 6901 JSON pointer for a path of member names and array indexes ("" is the root)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "number": "a number",
            "integer": "an integer", "boolean": "a boolean", "null": "null",
            "non-finite": "NaN or Infinity, which JSON does not allow"}


def _json_type(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "non-finite"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    return "array" if isinstance(value, (list, tuple)) else type(value).__name__


def _value_at(instance: Any, path: tuple) -> Any:
    for part in path:
        try:
            instance = instance[part]
        except (KeyError, IndexError, TypeError):
            return None
    return instance


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


_TEXTS: dict[str, Callable[[Any], str]] = {
    "required": lambda _: "Required member is missing.",
    "enum": lambda options: f"Must be one of {', '.join(_show(option) for option in options)}.",
    "const": lambda value: f"Must be {_show(value)}.",
    "format": lambda name: "Must be a calendar date that exists, written YYYY-MM-DD."
    if name == "date"
    else f"Must be a valid {name}.",
    "minimum": lambda limit: f"Must be at least {_show(limit)}.",
    "maximum": lambda limit: f"Must be at most {_show(limit)}.",
    "exclusiveMinimum": lambda limit: f"Must be greater than {_show(limit)}.",
    "exclusiveMaximum": lambda limit: f"Must be less than {_show(limit)}.",
    "multipleOf": lambda step: f"Must be a multiple of {_show(step)}.",
    "minLength": lambda limit: f"Must be at least {_plural(limit, 'character')} long.",
    "maxLength": lambda limit: f"Must be at most {_plural(limit, 'character')} long.",
    "minItems": lambda limit: f"Must have at least {_plural(limit, 'item')}.",
    "maxItems": lambda limit: f"Must have at most {_plural(limit, 'item')}.",
    "minProperties": lambda limit: f"Must have at least {_plural(limit, 'member')}.",
    "maxProperties": lambda limit: f"Must have at most {_plural(limit, 'member')}.",
    "pattern": lambda pattern: f"Does not match the pattern {pattern}.",
    "uniqueItems": lambda _: "Items must not repeat.",
    "oneOf": lambda _: "Matches more than one of the allowed forms.",
    "anyOf": lambda _: "Matches none of the allowed forms.",
    "contains": lambda _: "No item has the required form.",
    "not": lambda _: "Has a form that is not allowed here.",
    "falseSchema": lambda _: "No value is allowed here.",
    "unevaluatedProperties": lambda _: "Has members that are not allowed here.",
    "unevaluatedItems": lambda _: "Has items that are not allowed here.",
}


def _message(issue: _Issue, instance: Any) -> str:
    """Word one issue from its keyword and the keyword's value, the same way for both validators."""
    if issue.keyword == "additionalProperties":
        return f"Unknown member {_show(issue.path[-1])} is not allowed here."
    if issue.keyword == "type":
        wanted = sorted([issue.value] if isinstance(issue.value, str) else list(issue.value or ()))
        got = _json_type(_value_at(instance, issue.path))
        return f"Expected {' or '.join(_ARTICLE.get(t, t) for t in wanted)}, got {_ARTICLE.get(got, got)}."
    text = _TEXTS.get(issue.keyword)
    return text(issue.value) if text else f"Breaks the {issue.keyword!r} rule."


def _violations(issues: Iterable[_Issue], instance: Any) -> list[Violation]:
    return sorted({Violation(_pointer(issue.path), _message(issue, instance)) for issue in issues})


def _unreadable_strings(instance: Any, path: tuple = ()) -> Iterator[_Issue]:
    """Yield an issue for every string or member name holding an unpaired surrogate (not Unicode text)."""
    if isinstance(instance, str):
        try:
            instance.encode("utf-8")
        except UnicodeEncodeError:
            yield _Issue(path, "unicode")
    elif isinstance(instance, Mapping):
        for key, value in instance.items():
            try:
                str(key).encode("utf-8")
            except UnicodeEncodeError:
                # Point at the object: a pointer naming the member would itself not be Unicode text.
                yield _Issue(path, "unicode_name")
                continue
            yield from _unreadable_strings(value, path + (key,))
    elif isinstance(instance, (list, tuple)):
        for index, value in enumerate(instance):
            yield from _unreadable_strings(value, path + (index,))


def _unicode_violations(issues: Iterable[_Issue]) -> list[Violation]:
    messages = {
        "unicode": "Is not valid Unicode text (it holds an unpaired UTF-16 surrogate).",
        "unicode_name": "Has a member name that is not valid Unicode text (an unpaired UTF-16 surrogate).",
    }
    return sorted({Violation(_pointer(issue.path), messages[issue.keyword]) for issue in issues})


# --------------------------------------------------------------------------- public validation API


def validate(instance: Any, name: str = DEFAULT_SCHEMA) -> list[Violation]:
    """Validate `instance` against schema `name` with jsonschema-rs; return violations sorted by pointer."""
    validator = _fast_validator(name)
    try:
        if validator.is_valid(instance):
            return []
        issues = list(_issues_from_fast(validator.iter_errors(instance), instance))
    except UnicodeEncodeError:
        return _unicode_violations(_unreadable_strings(instance))
    return _violations(issues, instance)


def validate_reference(instance: Any, name: str = DEFAULT_SCHEMA) -> list[Violation]:
    """Validate `instance` with the `jsonschema` library; same pointers and messages as `validate`, slower."""
    validator = _reference_validator(name)
    unreadable = list(_unreadable_strings(instance))
    if unreadable:
        return _unicode_violations(unreadable)
    return _violations(_issues_from_reference(validator.iter_errors(instance)), instance)


def require_valid(instance: Any, name: str = DEFAULT_SCHEMA) -> None:
    """Raise `ContractViolation` listing every violation when `instance` does not conform to schema `name`."""
    violations = validate(instance, name)
    if violations:
        raise ContractViolation(
            f"The document does not conform to schema {name!r}: {_plural(len(violations), 'violation')}.",
            violations,
        )


def nul_pointer(value: Any) -> str | None:
    """The JSON pointer of the first string (or member name) holding U+0000, which PostgreSQL text cannot store.

    Walks with a stack of its own, not recursion: a body may nest as deep as the parser allows (1,024 levels).
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        pointer, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return pointer
        elif isinstance(item, dict):
            members = []
            for key, member in item.items():
                at = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
                if "\x00" in str(key):
                    return at
                members.append((at, member))
            stack.extend(reversed(members))  # document order: the first NUL found is the first in the text
        elif isinstance(item, list):
            stack.extend(reversed([(f"{pointer}/{i}", member) for i, member in enumerate(item)]))
    return None
