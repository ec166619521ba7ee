"""Factories: plain functions that create data through the services, so test data obeys real invariants."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import date
from typing import Any

from registry.config import PROJECT_DIR
from registry.models import Organization
from registry.services import organizations, reports
from registry.services.permissions import SYSTEM, Principal

EXAMPLES = PROJECT_DIR / "schemas" / "examples"
EXAMPLE_FILES = {"cn": "cn-gbt-report.json", "de": "de-iec-report.json", "sg": "sg-tr25-report.json"}
TODAY = date(2026, 1, 15)  # a fixed "today" after every example's dates, inside the demo labs' accreditations
_numbers = itertools.count(1)


def example(name: str) -> dict[str, Any]:
    """A fresh copy of a published example report ('cn', 'de', 'sg')."""
    return json.loads((EXAMPLES / "valid" / EXAMPLE_FILES[name]).read_text())


def report_document(base: str = "cn", **changes: Any) -> dict[str, Any]:
    """An example report with a unique report number; `changes` replace top-level members."""
    document = example(base)
    document["report_number"] = f"{document['report_number']}-T{next(_numbers)}"
    document.update(copy.deepcopy(changes))
    return document


def make_org(session, org_id: str, kind: str, name: str | None = None, country: str | None = "CN") -> Organization:
    existing = session.get(Organization, org_id)
    if existing is not None:
        return existing
    return organizations.create_org(session, SYSTEM, org_id=org_id, kind=kind, name=name or org_id, country=country)


def make_key(session, org_id: str, **kwargs) -> str:
    """Issue an API key for an organization (created on the fly unless it is a catalogue lab)."""
    if session.get(Organization, org_id) is None:
        make_org(session, org_id, kwargs.pop("kind", "manufacturer"))
    _record, key = organizations.create_key(session, SYSTEM, org_id, **kwargs)
    return key


def as_org(session, org_id: str) -> Principal:
    org = session.get(Organization, org_id)
    return Principal(org_id=org.id, kind=org.kind)


def submit(session, document: dict[str, Any], today: date = TODAY):
    """Submit a report through the service as the lab it names."""
    return reports.submit_report(session, as_org(session, document["lab"]), document, today=today)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
