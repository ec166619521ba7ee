"""Idempotency-Key support (IETF httpapi draft): a retried POST gets the first answer, not a second report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.errors import SemanticViolation, Violation
from registry.models import IdempotencyRecord, utcnow


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str
    location: str | None


def recall(session: Session, org_id: str, key: str, fingerprint: str, ttl_hours: int) -> StoredAnswer | None:
    """The stored answer for this key, None if the key is new; refuse a key reused for a different request."""
    record = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.key == key))
    if record is None:
        return None
    if record.created_at < utcnow() - timedelta(hours=ttl_hours):
        return None
    if record.request_sha256 != fingerprint:
        raise SemanticViolation(
            "This Idempotency-Key was already used for a different request.",
            [Violation("", "Idempotency-Key reused with another method, path or body; use a new key")],
        )
    return StoredAnswer(record.status, record.body, record.location)


def remember(session: Session, org_id: str, key: str, fingerprint: str, method: str, path: str,
             status: int, body: str, location: str | None, ttl_hours: int) -> None:
    """Stage the answer in the caller's transaction, so it commits if and only if the write does."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.org_id == org_id, IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < utcnow() - timedelta(hours=ttl_hours),
        )
    )
    session.add(IdempotencyRecord(org_id=org_id, key=key, method=method, path=path, request_sha256=fingerprint,
                                  status=status, body=body, location=location))
