"""Lab accreditation as time-bounded facts: state on any date, and changes recorded as events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from registry.db import begin_write
from registry.errors import Conflict, NotFound, SemanticViolation, Violation
from registry.models import Accreditation, AccreditationEvent, Organization, Standard
from registry.services.permissions import Principal, require


@dataclass(frozen=True)
class AccreditationState:
    """An accreditation as it stood on one day."""

    accreditation_id: int
    body_id: str
    number: str
    status: str | None
    scope: frozenset[str]

    @property
    def active(self) -> bool:
        return self.status == "valid"


def state_on(accreditation: "Accreditation | AccreditationRecord", day: date) -> AccreditationState:
    """Replay the accreditation's events up to `day`. Before its grant the status is None (not yet accredited)."""
    status, scope = _replay(accreditation, day)
    return AccreditationState(accreditation.id, accreditation.body_id, accreditation.number, status,
                              frozenset(scope))


def _replay(accreditation: "Accreditation | AccreditationRecord", day: date) -> tuple[str | None, Sequence[str]]:
    """The status and scope on `day`, the scope as its event holds it (callers asking often skip the frozenset)."""
    status: str | None = None
    scope: Sequence[str] = ()
    for event in accreditation.events:  # ordered by (effective_on, id)
        if event.effective_on > day:
            break
        status = event.status
        if event.scope is not None:
            scope = event.scope
    if day < accreditation.valid_from:
        status = None
    elif accreditation.valid_until is not None and day > accreditation.valid_until and status == "valid":
        status = "expired"
    return status, scope


@dataclass(frozen=True)
class EventRecord:
    action: str
    status: str
    scope: list[str] | None
    effective_on: date
    reason: str
    acting_org: str
    recorded_at: Any


@dataclass(frozen=True)
class AccreditationRecord:
    """An accreditation and its events as plain data, read in one query (submissions ask on every request)."""

    id: int
    body_id: str
    number: str
    basis: str
    valid_from: date
    valid_until: date | None
    events: tuple[EventRecord, ...]


@dataclass(frozen=True)
class LabStanding:
    """A lab's accreditations, queried once per submission and asked about any date."""

    lab_id: str
    accreditations: tuple[AccreditationRecord, ...]
    # Per day, the standards of its accreditations active then (None: none active). A report's ~30 results fall on
    # a few test days, each asked about for several standards.
    _scopes: dict[date, frozenset[str] | None] = field(default_factory=dict, repr=False, compare=False)

    def _scope_on(self, day: date) -> frozenset[str] | None:
        try:
            return self._scopes[day]
        except KeyError:
            pass
        active: frozenset[str] | None = None
        for accreditation in self.accreditations:
            # Replayed without building a state object: a report asks about dozens of days.
            status, scope = _replay(accreditation, day)
            if status == "valid":
                active = (active or frozenset()).union(scope)
        self._scopes[day] = active
        return active

    def active_on(self, day: date) -> bool:
        return self._scope_on(day) is not None

    def accredited_for(self, standard_id: str, day: date) -> bool:
        scope = self._scope_on(day)
        return scope is not None and standard_id in scope


_accreditations = Accreditation.__table__
_accreditation_events = AccreditationEvent.__table__
STANDING = (
    select(
        _accreditations.c.id, _accreditations.c.body_id, _accreditations.c.number, _accreditations.c.basis,
        _accreditations.c.valid_from, _accreditations.c.valid_until, _accreditation_events.c.action,
        _accreditation_events.c.status, _accreditation_events.c.scope, _accreditation_events.c.effective_on,
        _accreditation_events.c.reason, _accreditation_events.c.acting_org, _accreditation_events.c.recorded_at,
    )
    .outerjoin(_accreditation_events, _accreditation_events.c.accreditation_id == _accreditations.c.id)
    .where(_accreditations.c.lab_id == bindparam("lab_id"))
    .order_by(_accreditations.c.id, _accreditation_events.c.effective_on, _accreditation_events.c.id)
)


def lab_standing(session: Session, lab_id: str) -> LabStanding:
    # Prebuilt: every submission asks (see services.reports, which adds a column to it).
    return standing_of(lab_id, session.connection().execute(STANDING, {"lab_id": lab_id}).all())


_STANDING_WIDTH = len(STANDING.selected_columns)


def standing_of(lab_id: str, rows: Sequence[Sequence[Any]]) -> LabStanding:
    """A lab's standing from the rows of STANDING (columns a caller added after them are ignored)."""
    heads: dict[int, tuple] = {}
    events: dict[int, list[EventRecord]] = {}
    for row in rows:
        heads.setdefault(row[0], row[:6])
        if row[6] is not None:
            events.setdefault(row[0], []).append(EventRecord(*row[6:_STANDING_WIDTH]))
    return LabStanding(
        lab_id, tuple(AccreditationRecord(*head, events=tuple(events.get(i, ()))) for i, head in heads.items())
    )


# Called with (session, lab_id) inside the transaction that changes a lab's accreditation (decisions follow).
lab_listeners: list[Callable[[Session, str], None]] = []


# Which action may follow which status (the CCC-style state machine of facts.md §4.3, applied to accreditation).
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "suspend": ({"valid"}, "suspended"),
    "restore": ({"suspended"}, "valid"),
    "withdraw": ({"valid", "suspended"}, "withdrawn"),
    "expire": ({"valid", "suspended"}, "expired"),
    "rescope": ({"valid", "suspended"}, ""),  # keeps the status, replaces the scope
}


def record_accreditation_event(
    session: Session, principal: Principal, lab_id: str, change: dict[str, Any]
) -> AccreditationEvent:
    """Suspend, restore, withdraw, expire or rescope one of a lab's accreditations, effective on a date.

    Events are appended in effective-date order: an event dated before the latest recorded one is refused,
    so the replayed history never changes retroactively under a report already judged on it.
    """
    require(principal, "accreditation:change", lab_id=lab_id)
    begin_write(session)
    lab = session.get(Organization, lab_id)
    if lab is None or lab.kind != "lab":
        raise NotFound(f"No lab '{lab_id}'.")
    accreditation = session.scalar(
        select(Accreditation)
        .where(Accreditation.lab_id == lab_id, Accreditation.id == change["accreditation_id"])
        .options(selectinload(Accreditation.events))
    )
    if accreditation is None:
        raise SemanticViolation(
            "Unknown accreditation for this lab.",
            [Violation("/accreditation_id", f"lab '{lab_id}' has no accreditation {change['accreditation_id']}")],
        )
    action, effective_on = change["action"], change["effective_on"]
    last = accreditation.events[-1] if accreditation.events else None
    if last is not None and effective_on < last.effective_on:
        raise SemanticViolation(
            "Events are recorded in date order.",
            [Violation("/effective_on", f"must be on or after the latest event's date {last.effective_on.isoformat()}")],
        )
    current = state_on(accreditation, effective_on)
    allowed_from, new_status = TRANSITIONS[action]
    if current.status not in allowed_from:
        raise Conflict(
            f"Cannot {action} an accreditation that is {current.status or 'not yet granted'} on {effective_on.isoformat()}.",
            [Violation("/action", f"'{action}' is allowed only from: {', '.join(sorted(allowed_from))}")],
        )
    scope = None
    if action == "rescope":
        scope = list(dict.fromkeys(change.get("scope") or []))
        if not scope:
            raise SemanticViolation("A rescope needs the new scope.", [Violation("/scope", "must list at least one standard")])
        known = set(session.scalars(select(Standard.id).where(Standard.id.in_(scope))))
        bad = [Violation(f"/scope/{i}", f"unknown standard '{s}'") for i, s in enumerate(scope) if s not in known]
        if bad:
            raise SemanticViolation("The new scope names unknown standards.", bad)
    event = AccreditationEvent(
        accreditation_id=accreditation.id, action=action, status=new_status or current.status, scope=scope,
        effective_on=effective_on, reason=change["reason"], acting_org=principal.org_id or "registry",
        source=f"recorded by {principal.org_id}",
    )
    session.add(event)
    session.flush()
    for listener in lab_listeners:
        listener(session, lab_id)
    session.commit()
    return event


def lab_view(session: Session, lab_id: str, as_of: date) -> dict[str, Any]:
    """A lab with each accreditation's state on `as_of` and its full event history."""
    lab = session.get(Organization, lab_id)
    if lab is None or lab.kind != "lab":
        raise NotFound(f"No lab '{lab_id}'.")
    standing = lab_standing(session, lab_id)
    return {
        "id": lab.id,
        "name": {"en": lab.name_en, "zh": lab.name_zh},
        "country": lab.country,
        "demo": lab.demo,
        "active": standing.active_on(as_of),
        "as_of": as_of,
        "accreditations": [_accreditation_view(a, as_of) for a in standing.accreditations],
    }


def _accreditation_view(a: "AccreditationRecord", as_of: date) -> dict[str, Any]:
    state = state_on(a, as_of)
    return {
        "id": a.id,
        "body": a.body_id,
        "number": a.number,
        "basis": a.basis,
        "valid_from": a.valid_from,
        "valid_until": a.valid_until,
        "status": state.status,
        "scope": sorted(state.scope),
        "events": [
            {
                "action": e.action, "status": e.status, "effective_on": e.effective_on, "reason": e.reason,
                "acting_org": e.acting_org, "scope": e.scope, "recorded_at": e.recorded_at,
            }
            for e in a.events
        ],
    }


def list_labs(session: Session, as_of: date, country: str | None = None) -> list[dict[str, Any]]:
    query = select(Organization.id).where(Organization.kind == "lab").order_by(Organization.id)
    if country:
        query = query.where(Organization.country == country.upper())
    return [lab_view(session, lab_id, as_of) for lab_id in session.scalars(query)]

