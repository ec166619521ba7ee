"""The closed vocabulary of the rule language: a dict of pure predicates (json-logic's `operations` table).

Every operator has the signature `(result, ctx, **params) -> (passed, message)`: `result` is one
`ResultEvidence`, `ctx` the `Context` of the requirement being decided, and `params` the keyword
parameters written next to `op` in the rulebook. Parameters are checked against the function signature
when the rulebook is parsed, so a misspelt parameter is a parse error, not a silent default.
Where a parameter is omitted, the operator reads the requirement's own data (accepted standards,
`parameters`), so one generic rule can serve many requirements.

Adding an operator means adding a function here, its entry in `OPERATORS`, its schema in
`schemas/rulebook/v1.json` and a unit test; nothing else may extend the vocabulary.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING

from registry.recognition.model import CatalogueFacts, ProductFacts, ResultEvidence, StandardFacts

if TYPE_CHECKING:  # the rulebook module imports this one; the annotation is all we need from it
    from registry.recognition.rulebook import Requirement


@dataclass(frozen=True)
class Context:
    """What an operator may look at besides the result."""

    requirement: Requirement
    product: ProductFacts
    catalogue: CatalogueFacts
    market: str
    as_of: date

    @cached_property
    def open_standards(self) -> tuple[str, ...]:
        """The requirement's accepted standards still open on `as_of` (half-open `accepted_until`)."""
        return tuple(
            sid for sid, until in self.requirement.accepted_standards if until is None or self.as_of < until
        )


Check = tuple[bool, str]

# Connector families whose interface tests never transfer to one another (facts.md §0 finding 2, §3.2,
# §3.4 "Any coupler test on GB/T 20234.3 -> CCS2 requirement: REDO", §6 item 5). AC-only connectors
# (TYPE2, GBT_AC) and NACS are deliberately left out: the sources give no DC family for them.
CONNECTOR_FAMILY: MappingProxyType[str, str] = MappingProxyType(
    {
        "GBT_DC": "GBT",
        "CHAOJI": "GBT",
        "CCS1": "CCS",
        "CCS2": "CCS",
        "MCS": "CCS",
        "CHADEMO": "CHADEMO",
    }
)

# Standards (by number, without edition) that belong to one interface family (facts.md §1.1.1, §1.1.2,
# §1.2.3, §3.1). Standards that cover several families (IEC 62196-3, IEC 61851-1, TR 25, ...) are not
# listed: their family is read from the clause (below) or from the product's connectors.
STANDARD_FAMILY: MappingProxyType[str, str] = MappingProxyType(
    {
        "GB/T 18487.5": "GBT",
        "GB/T 20234.1": "GBT",
        "GB/T 20234.2": "GBT",
        "GB/T 20234.3": "GBT",
        "GB/T 20234.4": "GBT",
        "GB/T 27930": "GBT",
        "GB/T 27930.2": "GBT",
        "GB/T 34657.1": "GBT",
        "GB/T 34658": "GBT",
        "ISO 15118-2": "CCS",
        "ISO 15118-4": "CCS",
        "ISO 15118-5": "CCS",
        "ISO 15118-20": "CCS",
        "EN ISO 15118-4": "CCS",
        "EN ISO 15118-20": "CCS",
        "DIN SPEC 70121": "CCS",
    }
)

# Clauses that pin a family inside a multi-family standard. IEC 61851-23 Annex CC = CCS is sourced
# (facts.md §1.2.1, Phoenix Contact manual); Annex AA = CHAdeMO and BB = GB/T are inferred there
# (unverified). GB/T 18487.1 Appendix B/C and GB 44263 Appendix A are the GB/T DC pilot (§1.1.1, §1.1.4).
CLAUSE_FAMILY: MappingProxyType[tuple[str, str], str] = MappingProxyType(
    {
        ("IEC 61851-23", "Annex CC"): "CCS",
        ("IEC 61851-23", "Annex AA"): "CHADEMO",
        ("IEC 61851-23", "Annex BB"): "GBT",
        ("EN 61851-23", "Annex CC"): "CCS",
        ("GB/T 18487.1", "Appendix B"): "GBT",
        ("GB/T 18487.1", "Appendix C"): "GBT",
        ("GB 44263", "Appendix A"): "GBT",
    }
)

# Degree of correspondence, strongest first (facts.md §1.0: ISO/IEC Guide 21, GB/T 1.2-2020; EQV legacy).
_DEGREE_RANK = {"IDT": 0, "MOD": 1, "EQV": 1, "unknown": 2, "NEQ": 3}


@lru_cache(maxsize=4096)
def standard_number(standard_id: str) -> str:
    """Return the standard's number without its edition: `IEC 61851-23:2023` -> `IEC 61851-23`,
    `GB/T 18487.1-2023` -> `GB/T 18487.1`, `DIN SPEC 70121:2014-12` -> `DIN SPEC 70121`, `IEC 60529` as is."""
    if ":" in standard_id:
        return standard_id.rsplit(":", 1)[0]
    head, _, tail = standard_id.rpartition("-")
    if head and len(tail) == 4 and tail.isdigit() and " " in head:
        return head
    return standard_id


@lru_cache(maxsize=1024, typed=True)  # pure; asked with the decision date for every result
def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: day 28 exists in every month


def _open_standards(ctx: Context) -> tuple[str, ...]:
    return ctx.open_standards


def _listing(values: Iterable[str]) -> str:
    if type(values) in (tuple, frozenset):  # parameters, open standards, lab schemes: asked again and again
        try:
            return _listing_of(values)
        except TypeError:
            pass
    return ", ".join(sorted(values)) or "none"


@lru_cache(maxsize=4096)
def _listing_of(values: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(sorted(values)) or "none"


@lru_cache(maxsize=1024)
def _families(connectors: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The DC families of `connectors` (connectors without one are left out)."""
    return frozenset(CONNECTOR_FAMILY[c] for c in connectors if c in CONNECTOR_FAMILY)


@lru_cache(maxsize=1024)
def _product_families(connectors: frozenset[str]) -> frozenset[str | None]:
    """`CONNECTOR_FAMILY.get` of every connector (None for those without a DC family)."""
    return frozenset(CONNECTOR_FAMILY.get(c) for c in connectors)


def _families_of(connectors: Iterable[str]) -> frozenset[str] | set[str]:
    if type(connectors) in (tuple, frozenset):
        try:
            return _families(connectors)
        except TypeError:
            pass
    return {CONNECTOR_FAMILY[c] for c in connectors if c in CONNECTOR_FAMILY}


# --------------------------------------------------------------------------- the operators


def standard_in(result: ResultEvidence, ctx: Context, *, ids: list[str] | None = None) -> Check:
    """Pass when the result's standard is one of `ids` (default: the requirement's accepted standards
    still open on the decision date)."""
    accepted = tuple(ids) if ids is not None else _open_standards(ctx)
    if result.standard in accepted:
        return True, f"{result.standard} is an accepted standard"
    if ids is None:
        closed = [sid for sid, until in ctx.requirement.accepted_standards if sid == result.standard]
        if closed:
            until = dict(ctx.requirement.accepted_standards)[result.standard]
            return False, f"{result.standard} was accepted only until {until.isoformat()}"
    return False, f"{result.standard} is not among the accepted standards ({_listing(accepted)})"


def _edges(catalogue: CatalogueFacts, standard_id: str) -> Iterable[tuple[str, str]]:
    """Adoption edges touching `standard_id`, both directions: (other standard, degree)."""
    facts = catalogue.standards.get(standard_id)
    if facts is not None and facts.adoption_of:
        yield facts.adoption_of, facts.adoption_degree or "unknown"
    for other_id in catalogue.adopted_by.get(standard_id, ()):
        yield other_id, catalogue.standards[other_id].adoption_degree or "unknown"


def _weaker(a: str, b: str) -> str:
    if a != "IDT" and b != "IDT":
        return "NEQ"  # two non-identical steps: no sourced correspondence left
    return a if _DEGREE_RANK.get(a, 3) >= _DEGREE_RANK.get(b, 3) else b


_correspondents_memo: dict[tuple[str, str], Mapping[str, str]] = {}


def correspondents(catalogue: CatalogueFacts, standard_id: str) -> Mapping[str, str]:
    """Return every standard that corresponds to `standard_id` with the degree: direct adoption links in
    either direction, and two links through a shared original (the weaker degree of the two).

    Memoized per catalogue digest: the answer depends on the catalogue alone, and rules ask it constantly."""
    key = (catalogue.digest, standard_id)
    memo = _correspondents_memo.get(key)
    if memo is None:
        if len(_correspondents_memo) > 50_000:
            _correspondents_memo.clear()
        memo = _correspondents_memo[key] = MappingProxyType(_correspondents(catalogue, standard_id))
    return memo


def _correspondents(catalogue: CatalogueFacts, standard_id: str) -> dict[str, str]:
    found: dict[str, str] = {}

    def keep(other: str, degree: str) -> None:
        if other == standard_id:
            return
        current = found.get(other)
        if current is None or _DEGREE_RANK.get(degree, 3) < _DEGREE_RANK.get(current, 3):
            found[other] = degree

    for middle, first in _edges(catalogue, standard_id):
        keep(middle, first)
        for other, second in _edges(catalogue, middle):
            keep(other, _weaker(first, second))
    return found


def adoption_degree(catalogue: CatalogueFacts, source: str, target: str) -> str | None:
    """Return the degree of correspondence between two standards: `IDT` when equal, else as found by
    `correspondents`, or None when the catalogue links them in no way."""
    if source == target:
        return "IDT"
    return correspondents(catalogue, source).get(target)


def adopts(
    result: ResultEvidence,
    ctx: Context,
    *,
    degrees: list[str],
    of: list[str] | None = None,
    except_clauses: list[str] | None = None,
) -> Check:
    """Pass when the result's standard corresponds, through catalogue adoption links in either direction,
    to one of `of` (default: the requirement's open accepted standards) with a degree in `degrees`.
    IDT counts as the original. MOD/EQV pass only outside `except_clauses` (the declared national
    differences) and only with a known clause when such clauses are listed. NEQ never passes
    (GB/T 1.2-2020: only IDT and MOD are adoptions; facts.md §1.0, §6 item 2)."""
    targets = tuple(of) if of is not None else _open_standards(ctx)
    excluded = set(except_clauses or ())
    refusals: list[str] = []
    found: Mapping[str, str] | None = None
    for target in sorted(targets):
        # adoption_degree(ctx.catalogue, result.standard, target), with one correspondents lookup per call
        if result.standard == target:
            degree: str | None = "IDT"
        else:
            if found is None:
                found = correspondents(ctx.catalogue, result.standard)
            degree = found.get(target)
        if degree is None:
            continue
        if degree == "NEQ" or degree not in degrees:
            refusals.append(f"{result.standard} corresponds to {target} only as {degree}")
            continue
        if degree in ("MOD", "EQV") and excluded:
            if result.clause is None:
                refusals.append(f"{result.standard} is {degree} of {target} and the result cites no clause")
                continue
            if result.clause in excluded:
                refusals.append(f"clause {result.clause} is a national difference of {result.standard} ({degree})")
                continue
        return True, f"{result.standard} is a {degree} correspondent of {target}"
    if refusals:
        return False, "; ".join(refusals)
    return False, f"{result.standard} has no adoption link to {_listing(targets)}"


def lab_accredited(result: ResultEvidence, ctx: Context) -> Check:
    """Pass when the lab was accredited for the result's standard on the test date."""
    if result.accredited:
        return True, f"lab {result.lab_id} was accredited for {result.standard} on {result.performed_on.isoformat()}"
    return False, (
        f"lab {result.lab_id} was not accredited for {result.standard} on {result.performed_on.isoformat()}"
        " (outside its scope, suspended, withdrawn or expired)"
    )


def lab_in_scheme(result: ResultEvidence, ctx: Context, *, any_of: list[str]) -> Check:
    """Pass when the lab (or its accreditation body) stood in one of `any_of` on the test date."""
    shared = result.lab_schemes.intersection(any_of)
    if shared:
        return True, f"lab {result.lab_id} was in {_listing(shared)} on {result.performed_on.isoformat()}"
    return False, (
        f"lab {result.lab_id} was in none of {_listing(any_of)} on {result.performed_on.isoformat()}"
        f" (it was in: {_listing(result.lab_schemes)})"
    )


def not_older_than(result: ResultEvidence, ctx: Context, *, months: int) -> Check:
    """Pass when the test was performed at most `months` calendar months before the decision date."""
    oldest = _add_months(ctx.as_of, -months)
    if result.performed_on >= oldest:
        return True, f"tested on {result.performed_on.isoformat()}, within {months} months"
    return False, f"tested on {result.performed_on.isoformat()}, more than {months} months before {ctx.as_of.isoformat()}"


def verdict_is(result: ResultEvidence, ctx: Context, *, values: list[str]) -> Check:
    """Pass when the result's verdict is one of `values`."""
    if result.verdict in values:
        return True, f"verdict {result.verdict}"
    return False, f"verdict {result.verdict}, not {' or '.join(sorted(values))}"


def covers_ambient(
    result: ResultEvidence, ctx: Context, *, min_c: float | None = None, max_c: float | None = None
) -> Check:
    """Pass when the result's ambient range covers the required one (default: the requirement's
    `ambient_min_c` / `ambient_max_c` parameters); pass trivially when nothing is required."""
    params = ctx.requirement.parameters
    low = min_c if min_c is not None else params.get("ambient_min_c")
    high = max_c if max_c is not None else params.get("ambient_max_c")
    if low is None and high is None:
        return True, "no ambient range required"
    gaps: list[str] = []
    if low is not None and (result.ambient_min_c is None or result.ambient_min_c > low):
        gaps.append(f"lowest ambient {_c(result.ambient_min_c)} does not reach {low:g} °C")
    if high is not None and (result.ambient_max_c is None or result.ambient_max_c < high):
        gaps.append(f"highest ambient {_c(result.ambient_max_c)} does not reach {high:g} °C")
    if gaps:
        return False, "; ".join(gaps)
    return True, f"ambient {_c(result.ambient_min_c)} to {_c(result.ambient_max_c)} covers the required range"


def _c(value: float | None) -> str:
    return "not recorded" if value is None else f"{value:g} °C"


def supply_frequency_is(result: ResultEvidence, ctx: Context, *, hz: float | None = None) -> Check:
    """Pass when the test supply frequency equals `hz` (default: the requirement's `supply_frequency_hz`);
    pass trivially when nothing is required."""
    wanted = hz if hz is not None else ctx.requirement.parameters.get("supply_frequency_hz")
    if wanted is None:
        return True, "no supply frequency required"
    if result.supply_frequency_hz is None:
        return False, f"supply frequency not recorded ({wanted:g} Hz required)"
    if result.supply_frequency_hz == wanted:
        return True, f"tested at {wanted:g} Hz"
    return False, f"tested at {result.supply_frequency_hz:g} Hz, {wanted:g} Hz required"


def result_family(result: ResultEvidence, product: ProductFacts) -> tuple[str | None, str]:
    """Return the interface family a result is about and how that was read (standard, clause or product)."""
    number = standard_number(result.standard)
    family = STANDARD_FAMILY.get(number)
    if family:
        return family, f"{number} is a {family} standard"
    if result.clause is not None:
        family = CLAUSE_FAMILY.get((number, result.clause))
        if family:
            return family, f"{number} {result.clause} is the {family} part"
    families = _families_of(product.connectors)
    if len(families) == 1:
        (family,) = families
        return family, f"{number} covers several families; the product's only DC family is {family}"
    if not families:
        return None, f"{number} covers several families and the product has no DC connector family"
    return None, f"{number} covers several families and the product has several ({_listing(families)})"


def interface_family(result: ResultEvidence, ctx: Context, *, connectors: list[str] | None = None) -> Check:
    """For an interface-bound test item, pass only when the result is about the same connector family as the
    market requires (`connectors`, default: the requirement's `connectors` parameter) and the product has
    such a connector. GB/T (GBT_DC, CHAOJI), CCS (CCS1, CCS2, MCS) and CHADEMO tests are never equivalent
    (facts.md §0 finding 2, §3.3, §3.4). Pass trivially for a test item that is not interface-bound."""
    item = ctx.requirement.test_item
    if item not in ctx.catalogue.interface_bound:
        return True, f"{item} is not interface-bound"
    wanted = connectors if connectors is not None else ctx.requirement.parameters.get("connectors")
    if not wanted:
        return False, f"the requirement names no connector family for interface-bound {item}"
    families = _families_of(wanted)
    family, how = result_family(result, ctx.product)
    if family is None:
        return False, f"interface family of the result cannot be told: {how}"
    if family not in families:
        return False, f"{how}; the market requires {_listing(families)} ({item} does not transfer across families)"
    have = ctx.product.connectors
    have_families = _product_families(have) if type(have) is frozenset else {CONNECTOR_FAMILY.get(c) for c in have}
    if not have_families & families:
        return False, f"{how}, but the product has no {_listing(families)} connector ({_listing(ctx.product.connectors)})"
    return True, f"{how}, as required"


def _standard(ctx: Context, standard_id: str) -> StandardFacts | None:
    return ctx.catalogue.standards.get(standard_id)


def edition_current_on_test_date(result: ResultEvidence, ctx: Context) -> Check:
    """Pass when the result's edition was in force on the test date (not yet superseded, or inside its
    transition period then)."""
    facts = _standard(ctx, result.standard)
    if facts is None:
        return False, f"{result.standard} is not in the catalogue"
    day = result.performed_on
    if facts.superseded_on is None or day < facts.superseded_on:
        return True, f"{result.standard} was current on {day.isoformat()}"
    if facts.transition_ends_on is not None and day < facts.transition_ends_on:
        return True, f"{result.standard} was in its transition period on {day.isoformat()}"
    return False, (
        f"{result.standard} had been superseded by {facts.superseded_by or 'a newer edition'}"
        f" on {facts.superseded_on.isoformat()} when tested ({day.isoformat()})"
    )


def within_transition(result: ResultEvidence, ctx: Context) -> Check:
    """Pass when the result's edition is still current on the decision date, or superseded but still inside
    its transition period. A superseded edition without a recorded transition end no longer passes."""
    facts = _standard(ctx, result.standard)
    if facts is None:
        return False, f"{result.standard} is not in the catalogue"
    day = ctx.as_of
    if facts.superseded_on is None or day < facts.superseded_on:
        return True, f"{result.standard} is current on {day.isoformat()}"
    successor = facts.superseded_by or "a newer edition"
    if facts.transition_ends_on is None:
        return False, (
            f"{result.standard} was superseded by {successor} on {facts.superseded_on.isoformat()}"
            " and no transition period is recorded"
        )
    if day < facts.transition_ends_on:
        return True, f"{result.standard} is superseded but inside its transition (ends {facts.transition_ends_on.isoformat()})"
    return False, (
        f"{result.standard} was superseded by {successor}; its transition ended on"
        f" {facts.transition_ends_on.isoformat()}"
    )


def report_valid(result: ResultEvidence, ctx: Context) -> Check:
    """Pass when the report is not withdrawn on the decision date."""
    if result.withdrawn_on is not None:
        withdrawn = result.withdrawn_on <= ctx.as_of  # withdrawn after the decision date: still valid then
    else:
        withdrawn = result.report_status == "withdrawn"
    if withdrawn:
        when = f" on {result.withdrawn_on.isoformat()}" if result.withdrawn_on else ""
        return False, f"report {result.report_number} rev {result.revision} was withdrawn{when}"
    return True, f"report {result.report_number} rev {result.revision} is valid"


def ip_code_at_least(result: ResultEvidence, ctx: Context, *, code: str | None = None) -> Check:
    """Pass when the product's IP code is at least `code` (default: the requirement's `min_ip_code`) in both
    digits; pass trivially when nothing is required. `X` (not specified) never meets a requirement."""
    wanted = code if code is not None else ctx.requirement.parameters.get("min_ip_code")
    if wanted is None:
        return True, "no minimum IP code required"
    have = ctx.product.ip_code
    if have is None:
        return False, f"the product declares no IP code ({wanted} required)"
    for position, label in ((2, "solids"), (3, "water")):
        need, got = wanted[position : position + 1], have[position : position + 1]
        if need in ("", "X"):
            continue
        if not got.isdigit() or int(got) < int(need):
            return False, f"product {have} is below {wanted} ({label})"
    return True, f"product {have} meets {wanted}"


def certificate_held(result: ResultEvidence, ctx: Context, *, scheme: str) -> Check:
    """Pass when the product holds a certificate of `scheme` (e.g. IECEE_CB)."""
    numbers = sorted(number for held, number in ctx.product.certificates if held == scheme)
    if numbers:
        return True, f"product holds {scheme} certificate {numbers[0]}"
    return False, f"product holds no {scheme} certificate"


Operator = Callable[..., Check]

OPERATORS: MappingProxyType[str, Operator] = MappingProxyType(
    {
        "standard_in": standard_in,
        "adopts": adopts,
        "lab_accredited": lab_accredited,
        "lab_in_scheme": lab_in_scheme,
        "not_older_than": not_older_than,
        "verdict_is": verdict_is,
        "covers_ambient": covers_ambient,
        "supply_frequency_is": supply_frequency_is,
        "interface_family": interface_family,
        "edition_current_on_test_date": edition_current_on_test_date,
        "within_transition": within_transition,
        "report_valid": report_valid,
        "ip_code_at_least": ip_code_at_least,
        "certificate_held": certificate_held,
    }
)


def _signature(fn: Operator) -> tuple[frozenset[str], frozenset[str]]:
    params = list(inspect.signature(fn).parameters.values())[2:]  # after (result, ctx)
    names = frozenset(p.name for p in params)
    required = frozenset(p.name for p in params if p.default is inspect.Parameter.empty)
    return names, required


# name -> (allowed parameter names, required parameter names); read by the rulebook parser.
PARAMETERS: MappingProxyType[str, tuple[frozenset[str], frozenset[str]]] = MappingProxyType(
    {name: _signature(fn) for name, fn in OPERATORS.items()}
)

# What an operator reads besides the result: every operator may read `ctx.product`, `ctx.catalogue` and
# `ctx.as_of`, which are the same for every requirement of one engine pass. Those listed here never read
# `ctx.requirement` or `ctx.market`, so the engine may share their answer for one result between requirements;
# those in `_REQUIREMENT_FREE_WITH` only when every listed parameter is given (otherwise they fall back to the
# requirement's own data). An operator missing from both is never shared: adding one here is a promise about
# its code, checked by tests/recognition/test_operators.py.
_REQUIREMENT_FREE = frozenset(
    {
        "lab_accredited",
        "lab_in_scheme",
        "not_older_than",
        "verdict_is",
        "edition_current_on_test_date",
        "within_transition",
        "report_valid",
        "certificate_held",
    }
)
_REQUIREMENT_FREE_WITH: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "standard_in": ("ids",),
        "adopts": ("of",),
        "covers_ambient": ("min_c", "max_c"),
        "supply_frequency_is": ("hz",),
        "ip_code_at_least": ("code",),
    }
)


def requirement_free(name: str, params: Mapping[str, object]) -> bool:
    """Return True when operator `name` called with `params` reads neither `ctx.requirement` nor `ctx.market`."""
    if name in _REQUIREMENT_FREE:
        return True
    needed = _REQUIREMENT_FREE_WITH.get(name)
    return needed is not None and all(params.get(key) is not None for key in needed)
