"""Rulebook review for regulators: the versions, a readable diff between two, a draft's impact, and publication."""

from __future__ import annotations

import json
from typing import Any

import yaml
from sqlalchemy.orm import Session

from registry.errors import SemanticViolation, Violation
from registry.models import Product
from registry.services import decisions, lookup, rulebooks
from registry.services.permissions import Principal, can, require

REQUIREMENT_FIELDS = ("test_item", "categories", "accepted_standards", "parameters", "applies_if", "valid_from",
                      "valid_until", "description", "verified", "source")
RULE_FIELDS = ("version", "kind", "outcome", "valid_from", "valid_until", "applies_to", "when", "extra_steps",
               "description", "verified", "source")
COST_FIELDS = ("cost_min", "cost_max", "currency", "lead_time_days", "verified", "source")
MAX_DRAFT_BYTES = 1024 * 1024


def versions(session: Session, principal: Principal) -> dict[str, Any]:
    """Every rulebook version, newest first, with what the caller may do with the drafts."""
    require(principal, "rulebook:read")
    rows = rulebooks.list_versions(session)
    current = rulebooks.current(session).version
    return {
        "versions": [dict(rulebooks.version_view(r), current=r.version == current) for r in reversed(rows)],
        "current": current,
        "can_draft": can(principal, "rulebook:draft"),
        "can_publish": can(principal, "rulebook:publish"),
    }


def render(value: Any) -> str:
    """A rule value as one readable line (JSON with the keys in their order, Chinese kept as is)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _by_id(items: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    # Rules are versioned under one id (a new version is added, never edited in place): key them by id and version.
    return {(f"{item.get(key)} v{item['version']}" if key == "id" and "version" in item else item.get(key)): item
            for item in items if isinstance(item, dict)}


def _changes(before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"field": f, "before": render(before.get(f)), "after": render(after.get(f))}
            for f in fields if before.get(f) != after.get(f)]


def _section(before: list[dict], after: list[dict], fields: tuple[str, ...], key: str = "id") -> dict[str, list]:
    old, new = _by_id(before, key), _by_id(after, key)
    return {
        "added": [{"id": k, "fields": [{"field": f, "value": render(new[k].get(f))} for f in fields if f in new[k]]}
                  for k in sorted(new.keys() - old.keys())],
        "removed": [{"id": k} for k in sorted(old.keys() - new.keys())],
        "changed": [{"id": k, "changes": c} for k in sorted(old.keys() & new.keys())
                    if (c := _changes(old[k], new[k], fields))],
    }


def diff(session: Session, principal: Principal, old: int, new: int) -> dict[str, Any]:
    """What changed from one version to another: per market, requirements and rules added, removed, changed."""
    require(principal, "rulebook:read")
    a, b = rulebooks.get_version(session, old), rulebooks.get_version(session, new)
    da, db = a.document, b.document
    names = lookup.market_names(session)
    markets = []
    for code in sorted(set(da.get("markets", {})) | set(db.get("markets", {}))):
        ma, mb = da.get("markets", {}).get(code), db.get("markets", {}).get(code)
        entry = {"code": code, "name": names.get(code, {}).get("name", lookup.bilingual(code, None)),
                 "added": ma is None, "removed": mb is None}
        ma, mb = ma or {}, mb or {}
        entry["requirements"] = _section(ma.get("requirements", []), mb.get("requirements", []), REQUIREMENT_FIELDS)
        entry["rules"] = _section(ma.get("rules", []), mb.get("rules", []), RULE_FIELDS)
        dropped_a, dropped_b = set(ma.get("drop", [])), set(mb.get("drop", []))
        entry["drop_added"], entry["drop_removed"] = sorted(dropped_b - dropped_a), sorted(dropped_a - dropped_b)
        entry["description"] = _changes(ma, mb, ("description", "source"))
        entry["changed"] = bool(entry["added"] or entry["removed"] or entry["drop_added"] or entry["drop_removed"]
                                or entry["description"]
                                or any(entry[s][k] for s in ("requirements", "rules") for k in ("added", "removed", "changed")))
        markets.append(entry)
    costs = _section(da.get("cost_table", []), db.get("cost_table", []), COST_FIELDS, key="test_item")
    header = _changes(da, db, ("title", "description", "published"))
    return {"old": rulebooks.version_view(a), "new": rulebooks.version_view(b),
            "markets": [m for m in markets if m["changed"]], "unchanged": [m["code"] for m in markets if not m["changed"]],
            "costs": costs, "header": header,
            "identical": a.document_sha256 == b.document_sha256}


def impact(session: Session, principal: Principal, version: int) -> dict[str, Any]:
    """The what-if of a draft against the published rulebook, with product names for the examples."""
    view = decisions.impact(session, principal, version)
    names = lookup.market_names(session)
    models = {}
    ids = sorted({c["product_id"] for c in view["changes"]})
    for pid in ids:
        product = session.get(Product, pid)
        models[pid] = product.model if product else str(pid)
    view["markets"] = [dict(stats, market=names.get(code, {"code": code, "name": lookup.bilingual(code, None)}))
                       for code, stats in view["markets"].items()]
    view["changes"] = [dict(c, model=models.get(c["product_id"]), market_name=names.get(c["market"], {}).get("name"))
                       for c in view["changes"]]
    row = rulebooks.get_version(session, version)
    view["version"] = rulebooks.version_view(row)
    view["can_publish"] = row.status == "draft" and can(principal, "rulebook:publish")
    return view


def publish(session: Session, principal: Principal, version: int) -> dict[str, Any]:
    """Publish a draft; every stored decision is recomputed with it."""
    return decisions.publish(session, principal, version)


def upload_draft(session: Session, principal: Principal, raw: bytes, title: str | None = None):
    """Store an uploaded rulebook document (JSON or YAML) as the next draft."""
    require(principal, "rulebook:draft")
    if len(raw) > MAX_DRAFT_BYTES:
        raise SemanticViolation("The rulebook file is too large.", [Violation("/file", "at most 1 MiB")])
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SemanticViolation("The file is neither JSON nor YAML.", [Violation("/file", str(exc)[:200])]) from exc
    return rulebooks.create_draft(session, principal, document, title or None, prefix="")
