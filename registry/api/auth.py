"""Authentication only: a bearer API key becomes a Principal. Authorization is the services' business."""

from __future__ import annotations

from flask import g, request

from registry.api import bp
from registry.db import get_session
from registry.errors import NotFound, Unauthenticated

# Registry ids are 32-bit integers on PostgreSQL: a larger one names nothing (and must not reach the database).
MAX_ID = 2**31 - 1
from registry.services.organizations import principal_for_key


def bearer_key() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <API key>'.")
    return key.strip()


@bp.before_request
def authenticate() -> None:
    g.principal = principal_for_key(get_session(), bearer_key())


@bp.before_request
def refuse_impossible_ids() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise NotFound(f"No such {name.replace('_', ' ')}: {value}.")
