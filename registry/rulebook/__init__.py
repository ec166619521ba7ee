"""The seed recognition rulebook as YAML files, and the one function that reads them.

The files under `seed/` are data: `rulebook.yaml` (version, title, published), one file per market group
(`cn.yaml`, `eu.yaml`, `asean.yaml` and the ASEAN member overrides) holding `markets: {CODE: {...}}`, and
`costs.yaml` holding `cost_table`. Validation (schemas/rulebook/v1.json) and parsing
(`registry.recognition.parse_rulebook`) are the caller's job.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

SEED_DIR = Path(__file__).resolve().parent / "seed"
HEADER = "rulebook.yaml"
COSTS = "costs.yaml"


def _json_ready(value: Any) -> Any:
    """Turn YAML dates into ISO strings, so the document is plain JSON data for the schema validator."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


def _read(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: a rulebook file holds a mapping")
    return _json_ready(document)


def load_seed_rulebook(folder: str | Path = SEED_DIR) -> dict[str, Any]:
    """Read the seed rulebook files and return them merged into one rulebook document (not yet validated).

    Raises:
        ValueError: two files define the same market, or a market file holds anything but `markets`.
    """
    folder = Path(folder)
    document = _read(folder / HEADER)
    document["markets"] = {}
    document["cost_table"] = _read(folder / COSTS).get("cost_table", [])
    for path in sorted(folder.glob("*.yaml")):
        if path.name in (HEADER, COSTS):
            continue
        part = _read(path)
        if set(part) != {"markets"}:
            raise ValueError(f"{path.name}: a market file holds only `markets`")
        for code, section in part["markets"].items():
            if code in document["markets"]:
                raise ValueError(f"{path.name}: market {code} is already defined in another file")
            document["markets"][code] = section
    return document
