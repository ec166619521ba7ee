"""Authentication only: a bearer API key becomes a Principal. Authorization is the services' business."""

from __future__ import annotations

from flask import g, request

from registry.api import bp
from registry.db import get_session
from registry.errors import Unauthenticated
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

