"""Serve the published JSON Schemas read-only, so labs can validate before submitting."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request

from registry import contracts
from registry.errors import NotFound

bp = Blueprint("schemas", __name__, url_prefix="/schemas")


@bp.get("/")
def index():
    names = contracts.schema_names()
    return {"schemas": [{"name": n, "url": f"/schemas/{n}.json", "$id": contracts.schema_document(n).get("$id")} for n in names]}


@bp.get("/<path:name>.json")
def schema(name: str):
    if name not in contracts.schema_names():
        raise NotFound(f"No published schema '{name}'.")
    payload = contracts.schema_bytes(name)
    etag = hashlib.sha256(payload).hexdigest()[:32]
    response = Response(status=304) if request.if_none_match.contains(etag) else Response(payload, mimetype="application/schema+json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
