"""Rulebook versions: the seed, drafts uploaded by regulators, and publication (published versions are immutable)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import contracts
from registry.db import begin_write
from registry.errors import Conflict, ContractViolation, NotFound, SemanticViolation, Violation
from registry.models import Market, RulebookVersion, Standard, TestItem, utcnow
from registry.recognition import Rulebook, RulebookError, parse_rulebook
from registry.rulebook import load_seed_rulebook
from registry.services.permissions import Principal, require

_parsed: dict[tuple[str, int, str], Rulebook] = {}
_lock = threading.Lock()


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _check(session: Session, document: Any, prefix: str = "") -> Rulebook:
    """Validate a rulebook document: the published schema, the rule language, and the catalogue's ids."""
    violations = contracts.validate(document, "rulebook/v1")
    if violations:
        raise ContractViolation(
            "The rulebook does not conform to schemas/rulebook/v1.json.",
            [Violation(prefix + v.pointer, v.message) for v in violations],
        )
    known_standards = set(session.scalars(select(Standard.id)))
    known_items = set(session.scalars(select(TestItem.id)))
    known_markets = set(session.scalars(select(Market.code)))
    problems = []
    for market, block in (document.get("markets") or {}).items():
        if market not in known_markets:
            problems.append(Violation(f"{prefix}/markets/{market}", f"unknown market '{market}'"))
        for i, requirement in enumerate(block.get("requirements", [])):
            at = f"{prefix}/markets/{market}/requirements/{i}"
            if requirement.get("test_item") not in known_items:
                problems.append(Violation(f"{at}/test_item", f"unknown test item '{requirement.get('test_item')}'"))
            for j, accepted in enumerate(requirement.get("accepted_standards", [])):
                standard = accepted.get("standard") if isinstance(accepted, dict) else accepted
                if standard not in known_standards:
                    problems.append(Violation(f"{at}/accepted_standards/{j}", f"unknown standard '{standard}'"))
    if problems:
        raise SemanticViolation("The rulebook names things the catalogue does not know.", problems)
    try:
        return parse_rulebook(document)
    except RulebookError as exc:
        raise SemanticViolation("The rulebook's rules cannot be read.", [Violation(prefix, str(exc))]) from exc


def seed_rulebook(session: Session) -> int | None:
    """Publish the seed rulebook as version 1 when no version exists yet (idempotent)."""
    if session.scalar(select(func.count()).select_from(RulebookVersion)):
        return None
    document = load_seed_rulebook()
    rulebook = _check(session, document)
    now = utcnow()
    session.add(RulebookVersion(
        version=rulebook.version, status="published", title=document.get("title", "Seed rulebook"),
        document=document, document_sha256=_digest(document), created_by="registry", created_at=now,
        published_by="registry", published_at=now,
    ))
    session.flush()
    return rulebook.version


def parsed(row: RulebookVersion) -> Rulebook:
    """The parsed rules of a stored version (cached: published versions never change)."""
    key = (row.status, row.version, row.document_sha256)
    cached = _parsed.get(key)
    if cached is None:
        cached = parse_rulebook(row.document)
        with _lock:
            _parsed[key] = cached
    return cached


def current(session: Session) -> RulebookVersion:
    """The latest published version."""
    row = session.scalar(
        select(RulebookVersion).where(RulebookVersion.status == "published").order_by(RulebookVersion.version.desc()).limit(1)
    )
    if row is None:
        raise NotFound("No rulebook is published yet: run `flask --app app registry init`.")
    return row


def get_version(session: Session, version: int) -> RulebookVersion:
    row = session.get(RulebookVersion, version)
    if row is None:
        raise NotFound(f"No rulebook version {version}.")
    return row


def list_versions(session: Session) -> list[RulebookVersion]:
    return list(session.scalars(select(RulebookVersion).order_by(RulebookVersion.version)))


def create_draft(session: Session, principal: Principal, document: Any, title: str | None = None,
                 prefix: str = "/document") -> RulebookVersion:
    """Store an uploaded rulebook as the next version, a draft; its `version` member is assigned by the registry."""
    require(principal, "rulebook:draft")
    begin_write(session)
    if not isinstance(document, dict):
        raise SemanticViolation("A rulebook is a JSON object.", [Violation(prefix, "expected an object")])
    latest = session.scalar(select(func.max(RulebookVersion.version))) or 0
    based_on = current(session).version
    document = dict(document, version=latest + 1)
    _check(session, document, prefix)
    row = RulebookVersion(
        version=latest + 1, status="draft", title=title or document.get("title") or f"Draft {latest + 1}",
        document=document, document_sha256=_digest(document), based_on=based_on, created_by=principal.org_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()
    return row


def mark_published(session: Session, principal: Principal, version: int) -> RulebookVersion:
    """Publish a draft; decisions are recomputed by the caller (services.decisions.publish)."""
    require(principal, "rulebook:publish")
    begin_write(session)
    row = get_version(session, version)
    if row.status == "published":
        raise Conflict(f"Version {version} is already published; published versions are immutable.",
                       [Violation("", "already published")])
    if version < current(session).version:
        raise Conflict(f"Version {version} is older than the published version.", [Violation("", "stale draft")])
    row.status = "published"
    row.published_by = principal.org_id
    row.published_at = utcnow()
    session.flush()
    return row


def version_view(row: RulebookVersion, with_document: bool = False) -> dict[str, Any]:
    view = {
        "version": row.version, "status": row.status, "title": row.title, "document_sha256": row.document_sha256,
        "based_on": row.based_on, "created_by": row.created_by, "created_at": row.created_at,
        "published_by": row.published_by, "published_at": row.published_at,
    }
    if with_document:
        view["document"] = row.document
    return view
