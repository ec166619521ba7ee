"""Who may do what: one table from action to predicate, consulted by every service function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from registry.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Principal:
    """The caller as the services see it: an organization and its kind, or anonymous."""

    org_id: str | None
    kind: str | None  # lab | manufacturer | regulator | admin | None for the public

    @property
    def authenticated(self) -> bool:
        return self.org_id is not None


ANONYMOUS = Principal(org_id=None, kind=None)
SYSTEM = Principal(org_id="registry", kind="admin")


def _is(*kinds: str) -> Callable[..., bool]:
    return lambda p, **_: p.kind in kinds


def _own_lab(p: Principal, *, lab_id: str | None = None, **_) -> bool:
    return p.kind == "lab" and p.org_id == lab_id


def _sees_report_details(p: Principal, *, lab_id: str | None = None, manufacturer_id: str | None = None, **_) -> bool:
    # Measurements and attachments: the submitting lab, the product's manufacturer, regulators (issue 2).
    if p.kind in ("regulator", "admin"):
        return True
    if p.kind == "lab":
        return p.org_id == lab_id
    if p.kind == "manufacturer":
        return p.org_id == manufacturer_id
    return False


def _anyone(_p: Principal, **_) -> bool:
    return True


def _own_manufacturer_or_regulator(p: Principal, *, manufacturer_id: str | None = None, **_) -> bool:
    # A maker's dashboard (costs owed, savings, what expires) is its own business; regulators oversee every maker.
    if p.kind in ("regulator", "admin"):
        return True
    return p.kind == "manufacturer" and p.org_id == manufacturer_id


RULES: dict[str, Callable[..., bool]] = {
    "catalogue:read": _anyone,
    "report:read_summary": _anyone,
    "report:read_details": _sees_report_details,
    "report:submit": _own_lab,
    "report:revise": _own_lab,
    "report:withdraw": _own_lab,
    "accreditation:change": _is("regulator", "admin"),
    "org:manage": _is("admin"),
    "rulebook:draft": _is("regulator", "admin"),
    "rulebook:publish": _is("regulator", "admin"),
    "rulebook:impact": _is("regulator", "admin"),
    "recognition:precheck": _is("lab", "manufacturer", "regulator", "admin"),
    "recognition:recompute": _is("admin"),
    "dashboard:read": _own_manufacturer_or_regulator,
    "coverage:read": _is("regulator", "admin"),
    "rulebook:read": _is("regulator", "admin"),
    "user:manage": _is("admin"),
}

# Actions an anonymous caller may never attempt: they get 401 (log in), not 403.
NEEDS_LOGIN = {"report:submit", "report:revise", "report:withdraw", "accreditation:change", "org:manage",
               "rulebook:draft", "rulebook:publish", "rulebook:impact", "recognition:precheck", "recognition:recompute",
               "dashboard:read", "coverage:read", "rulebook:read", "user:manage"}


def can(principal: Principal, action: str, **facts) -> bool:
    """Answer whether the principal may do the action, given the facts the rule needs."""
    return RULES[action](principal, **facts)


def require(principal: Principal, action: str, **facts) -> None:
    """Raise unless the principal may do the action."""
    if action in NEEDS_LOGIN and not principal.authenticated:
        raise Unauthenticated("This action needs an API key (Authorization: Bearer ...).")
    if not can(principal, action, **facts):
        raise Forbidden(f"Your organization may not perform '{action}' here.")
