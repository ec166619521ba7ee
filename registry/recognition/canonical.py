"""A canonical JSON form of engine values, so equal inputs always hash to the same digest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import Any


def plain(value: Any) -> Any:
    """Return `value` as plain JSON data: dataclasses and mappings become objects with sorted keys, sets
    become sorted lists, tuples lists, dates ISO strings, enums their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=_sort_key)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of `value` (sorted keys, no whitespace, UTF-8 characters kept)."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: Any) -> str:
    """Return the sha256 hex digest of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
