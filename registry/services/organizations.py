"""Organizations and their API keys. A key is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry.db import Prebuilt
from registry.errors import Conflict, NotFound, SemanticViolation, Unauthenticated, Violation
from registry.models import ApiKey, OrgKind, Organization, utcnow
from registry.services.permissions import ANONYMOUS, Principal, require

KEY_PREFIX = "crr_"
ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 resists guessing; a slow hash would only cost latency.
    return hashlib.sha256(key.encode()).hexdigest()


def create_org(
    session: Session, principal: Principal, *, org_id: str, kind: str, name: str, name_zh: str | None = None,
    country: str | None = None, demo: bool = False,
) -> Organization:
    """Register an organization (lab, manufacturer, regulator or admin)."""
    require(principal, "org:manage")
    problems = []
    if not ORG_ID.match(org_id):
        problems.append(Violation("/id", "lower-case letters, digits and '-', 2 to 63 characters"))
    if kind not in {k.value for k in OrgKind}:
        problems.append(Violation("/kind", f"one of: {', '.join(k.value for k in OrgKind)}"))
    if country is not None and not re.match(r"^[A-Z]{2}$", country):
        problems.append(Violation("/country", "an ISO 3166-1 alpha-2 code such as CN, DE, SG"))
    if problems:
        raise SemanticViolation("Invalid organization.", problems)
    if session.get(Organization, org_id) is not None:
        raise Conflict(f"Organization '{org_id}' already exists.", [Violation("/id", "already exists")])
    org = Organization(id=org_id, kind=kind, name_en=name, name_zh=name_zh, country=country, demo=demo)
    session.add(org)
    session.commit()
    return org


def create_key(
    session: Session, principal: Principal, org_id: str, *, label: str | None = None, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a new API key for an organization; returns the stored record and the key (shown only now)."""
    require(principal, "org:manage")
    if session.get(Organization, org_id) is None:
        raise NotFound(f"No organization '{org_id}'.")
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}{secret}"
    record = ApiKey(org_id=org_id, prefix=key[:12], key_hash=hash_key(key), label=label, expires_at=expires_at)
    session.add(record)
    session.commit()
    return record, key


def list_keys(session: Session, principal: Principal, org_id: str | None = None) -> list[ApiKey]:
    require(principal, "org:manage")
    query = select(ApiKey).order_by(ApiKey.id)
    if org_id:
        query = query.where(ApiKey.org_id == org_id)
    return list(session.scalars(query))


def revoke_key(session: Session, principal: Principal, key_id: int) -> ApiKey:
    require(principal, "org:manage")
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFound(f"No API key {key_id}.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.commit()
    return record


# Prebuilt: every authenticated API request runs it.
_KEY_OWNER = Prebuilt(
    select(ApiKey.__table__.c.org_id, Organization.__table__.c.kind, ApiKey.__table__.c.revoked_at,
           ApiKey.__table__.c.expires_at)
    .join(Organization.__table__, Organization.__table__.c.id == ApiKey.__table__.c.org_id)
    .where(ApiKey.__table__.c.key_hash == bindparam("key_hash"))
)


def principal_for_key(session: Session, key: str | None) -> Principal:
    """Resolve a bearer key to its organization; no key is the anonymous public."""
    if key is None:
        return ANONYMOUS
    row = _KEY_OWNER.first(session.connection(), {"key_hash": hash_key(key)})
    org_id, kind, revoked_at, expires_at = row if row is not None else (None,) * 4
    if org_id is None or revoked_at is not None or (expires_at is not None and expires_at <= utcnow()):
        raise Unauthenticated("The API key is unknown, revoked or expired.")
    return Principal(org_id=org_id, kind=kind)


def key_view(record: ApiKey) -> dict[str, Any]:
    return {
        "id": record.id, "org": record.org_id, "prefix": record.prefix, "label": record.label,
        "created_at": record.created_at, "expires_at": record.expires_at, "revoked_at": record.revoked_at,
    }
