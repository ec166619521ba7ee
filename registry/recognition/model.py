"""Immutable inputs and outputs of the recognition engine (frozen dataclasses and enums, standard library only).

The engine never sees the database: `registry.services` translates rows into these objects (the only
DB -> engine translation) and stores the `MarketDecision` it gets back. Mappings are wrapped in
`MappingProxyType` so that nothing handed to or returned by the engine can be changed in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from types import MappingProxyType
from typing import Any

from registry.recognition.canonical import digest


class RecognitionError(ValueError):
    """Base class of the engine's own errors (bad rulebook data, unknown market)."""


class RulebookError(RecognitionError):
    """The rulebook document cannot be turned into rules (unknown operator, bad parameter, duplicate id...)."""


class UnknownMarket(RecognitionError):
    """The rulebook says nothing about this market, directly or through its bloc."""


class Status(str, Enum):
    """Outcome of one requirement of a market."""

    RECOGNIZED = "recognized"  # an existing result is accepted as it is
    CONDITIONAL = "conditional"  # an existing result is accepted once the listed extra steps are done
    RETEST = "retest"  # results exist, none is acceptable: test again
    MISSING = "missing"  # no result for this test item at all


class Verdict(str, Enum):
    """Outcome of a whole market."""

    ACCESSIBLE = "accessible"
    ACCESSIBLE_WITH_CONDITIONS = "accessible_with_conditions"
    BLOCKED = "blocked"


class RuleKind(str, Enum):
    """Exclusion rules veto a result; acceptance rules accept it."""

    ACCEPTANCE = "acceptance"
    EXCLUSION = "exclusion"


class Outcome(str, Enum):
    """What an acceptance rule grants when its condition passes."""

    FULL = "full"
    CONDITIONAL = "conditional"


def frozen_mapping(value: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """Return a read-only copy of `value` (empty when None)."""
    return MappingProxyType(dict(value or {}))


def _freeze(instance: Any, name: str) -> None:
    object.__setattr__(instance, name, frozen_mapping(getattr(instance, name)))


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ResultEvidence:
    """One clause verdict of one report revision, with the facts about its lab that held on the test date."""

    report_id: int
    report_number: str
    revision: int
    lab_id: str
    report_status: str  # 'valid' | 'withdrawn'
    withdrawn_on: date | None
    issued_on: date
    standard: str
    clause: str | None
    test_item: str
    verdict: str  # pass | fail | not_applicable | inconclusive
    performed_on: date
    accredited: bool  # the lab was accredited for `standard` on `performed_on`
    lab_schemes: frozenset[str]  # schemes the lab or its accreditation body stood in on `performed_on`
    lab_country: str
    ambient_min_c: float | None = None
    ambient_max_c: float | None = None
    supply_frequency_hz: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lab_schemes", frozenset(self.lab_schemes))

    @property
    def citation(self) -> tuple[int, str, int, str, str | None]:
        """Return the `(report_id, report_number, revision, standard, clause)` a decision cites."""
        return (self.report_id, self.report_number, self.revision, self.standard, self.clause)

    @property
    def label(self) -> str:
        """Return a short human label, e.g. `report CN-25-0412 rev 1, GB 39752-2024 7`."""
        where = f"{self.standard} {self.clause}" if self.clause else self.standard
        return f"report {self.report_number} rev {self.revision}, {where}"


@dataclass(frozen=True)
class ProductFacts:
    """The product being assessed, as far as the rules need it."""

    product_id: int
    category: str  # dc_charger | power_cabinet | dispenser | ac_charger | cable_assembly | connector
    max_power_kw: float
    connectors: frozenset[str]  # CCS1, CCS2, GBT_DC, CHAOJI, CHADEMO, MCS, NACS, TYPE2, GBT_AC
    cooling: str  # natural_air | forced_air | liquid
    liquid_cooled_cable: bool
    input_frequency_hz: float | None = None
    ip_code: str | None = None
    certificates: frozenset[tuple[str, str]] = frozenset()  # (scheme, number)

    def __post_init__(self) -> None:
        object.__setattr__(self, "connectors", frozenset(self.connectors))
        object.__setattr__(self, "certificates", frozenset(tuple(c) for c in self.certificates))


@dataclass(frozen=True)
class StandardFacts:
    """One standard edition from the catalogue, with its adoption link and supersession as of the decision."""

    id: str
    region: str | None = None
    issued_on: date | None = None
    adoption_of: str | None = None
    adoption_degree: str | None = None  # IDT | MOD | NEQ | EQV | unknown | None
    superseded_by: str | None = None
    superseded_on: date | None = None
    transition_ends_on: date | None = None


@dataclass(frozen=True)
class CatalogueFacts:
    """What the engine needs from the catalogue: standards, which test items are interface-bound, blocs."""

    standards: Mapping[str, StandardFacts]
    interface_bound: frozenset[str]  # test item ids
    market_bloc: Mapping[str, str | None]  # market code -> bloc code (SG -> ASEAN, DE -> EU, CN -> None)
    test_item_categories: Mapping[str, str] = field(default_factory=dict)  # test item -> category (groups)
    # Derived: standard id -> ids of the standards that adopt it (the reverse adoption links).
    adopted_by: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    # Derived: sha256 of the canonical facts, so a decision can name the catalogue it was computed from.
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _freeze(self, "standards")
        _freeze(self, "market_bloc")
        _freeze(self, "test_item_categories")
        object.__setattr__(self, "interface_bound", frozenset(self.interface_bound))
        reverse: dict[str, list[str]] = {}
        for facts in self.standards.values():
            if facts.adoption_of:
                reverse.setdefault(facts.adoption_of, []).append(facts.id)
        object.__setattr__(self, "adopted_by", frozen_mapping({k: tuple(sorted(v)) for k, v in reverse.items()}))
        object.__setattr__(self, "digest", digest(self))


@dataclass(frozen=True)
class LabFacts:
    """A lab as the delta test plan needs it: which standards it may test to on the decision date."""

    lab_id: str
    name: str
    country: str
    scope: frozenset[str]  # standard ids in valid accreditation on as_of
    schemes: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", frozenset(self.scope))
        object.__setattr__(self, "schemes", frozenset(self.schemes))


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Reason:
    """One rule evaluated against one result. `passed` is True when the result got through that rule:
    for an acceptance rule, its condition held; for an exclusion rule, its veto did not apply.
    `rule_id`/`version` are None only for checks the engine makes itself (no evidence, no rule)."""

    rule_id: str | None
    version: int | None
    passed: bool
    message_en: str
    message_zh: str | None = None


@dataclass(frozen=True)
class RequirementDecision:
    """The status of one market requirement, the rule that decided it, and why."""

    requirement_id: str
    test_item: str
    status: Status
    rule_id: str | None
    rule_version: int | None
    evidence: tuple[tuple[int, str, int, str, str | None], ...]  # (report_id, number, revision, standard, clause)
    reasons: tuple[Reason, ...]
    extra_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeltaTestItem:
    """A test still owed for a requirement, priced from the rulebook's cost table."""

    requirement_id: str
    test_item: str
    standards: tuple[str, ...]  # standards the market accepts for it on the decision date
    cost_min: int
    cost_max: int
    currency: str
    lead_time_days: int
    labs: tuple[str, ...]  # labs accredited (on the decision date) for one of `standards`


@dataclass(frozen=True)
class DeltaTestPlan:
    """Every retest/missing requirement, priced. Tests are assumed to run in parallel (one sample set per
    test item, different labs or benches), so `lead_time_days` is the longest single lead time, not a sum."""

    items: tuple[DeltaTestItem, ...]
    total_cost_min: int
    total_cost_max: int
    currency: str | None
    lead_time_days: int
    groups: Mapping[str, tuple[DeltaTestItem, ...]]  # test-item category -> items

    def __post_init__(self) -> None:
        _freeze(self, "groups")


@dataclass(frozen=True)
class Savings:
    """Tests not needed thanks to existing results. `days_avoided` is the longest avoided lead time
    (the avoided tests would have run in parallel, as in the delta test plan)."""

    tests_avoided: int
    cost_min: int
    cost_max: int
    days_avoided: int


@dataclass(frozen=True)
class MarketDecision:
    """Everything decided for one product in one market on one date; shown as is on pages and dashboards."""

    market: str
    as_of: date
    rulebook_version: int
    verdict: Verdict
    requirements: tuple[RequirementDecision, ...]
    delta_test_plan: DeltaTestPlan
    savings: Savings  # from recognized requirements
    conditional_savings: Savings  # from conditional requirements (extra steps still to do)
    inputs_digest: str  # sha256 of the canonical inputs (see engine.inputs_digest)

    def requirement(self, requirement_id: str) -> RequirementDecision:
        """Return the decision for `requirement_id` (KeyError when the market has no such requirement)."""
        for decision in self.requirements:
            if decision.requirement_id == requirement_id:
                return decision
        raise KeyError(requirement_id)
