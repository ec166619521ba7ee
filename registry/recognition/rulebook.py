"""Turn an already-validated rulebook document (plain dicts, see schemas/rulebook/v1.json) into frozen objects,
and resolve which requirements and rules apply to a market (bloc inheritance, overrides, windows, versions).

The JSON Schema is the contract for shape; this module still refuses what would make the engine wrong
(unknown operators or parameters, duplicate ids, a requirement without a price), raising `RulebookError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from datetime import date
from itertools import count
from typing import Any

from registry.recognition.canonical import digest
from registry.recognition.model import (
    Outcome,
    ResultEvidence,
    RuleKind,
    RulebookError,
    UnknownMarket,
    frozen_mapping,
)
from registry.recognition.operators import OPERATORS, PARAMETERS, Check, Context, requirement_free


@dataclass(frozen=True)
class Text:
    """Bilingual text; `zh` only where a Chinese text was written by a person."""

    en: str
    zh: str | None = None


# --------------------------------------------------------------------------- conditions
#
# Besides `evaluate`, every condition has `check(result, ctx, memo)`, the engine's fast path with the same
# answer: a condition that reads neither the requirement nor the market (see operators.requirement_free) has
# a token, equal for equal conditions, and `check` keeps its answer in `memo` (one dict per result and engine
# pass, where product, catalogue and date are fixed), so it is computed once per result whatever the rule or
# requirement asking. Conditions without a token are evaluated every time.

_TOKENS: dict[tuple, int] = {}
_next_token = count(1).__next__
_PLAIN_TYPES = (str, int, float, bool, type(None))


def _signature_value(value: Any) -> tuple:
    """A hashable stand-in for a parameter value that tells apart what operators tell apart (1, 1.0, True,
    0.0, -0.0); TypeError for anything but JSON scalars and lists."""
    if type(value) in (tuple, list):
        return (type(value), tuple(_signature_value(v) for v in value))
    if type(value) in _PLAIN_TYPES:
        return (type(value), repr(value))
    raise TypeError(type(value).__name__)


def _token(signature: tuple) -> int:
    token = _TOKENS.get(signature)
    if token is None:
        if len(_TOKENS) > 100_000:  # tokens are never reused, so forgetting old ones is safe
            _TOKENS.clear()
        token = _TOKENS.setdefault(signature, _next_token())
    return token


def _member(member: Any) -> tuple[int | None, Any, bool]:
    """How a composite calls a member without going through its `check`: (token, callable, takes memo)."""
    if isinstance(member, Op):
        return member._token, member._call, False
    return member._token, member.check, True


def _composite_token(kind: str, members: Sequence[Any]) -> int | None:
    tokens = tuple(member._token for member in members)
    return None if None in tokens else _token((kind, tokens))


@dataclass(frozen=True)
class Op:
    """A call of one operator of the closed vocabulary with its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", frozen_mapping(self.params))
        # Bound once: the engine calls each operator hundreds of thousands of times in a full recompute.
        object.__setattr__(self, "_call", partial(OPERATORS[self.name], **self.params))
        token = None
        if requirement_free(self.name, self.params):
            try:
                params = tuple(sorted((key, _signature_value(value)) for key, value in self.params.items()))
            except TypeError:
                pass
            else:
                token = _token(("op", self.name, params))
        object.__setattr__(self, "_token", token)

    def evaluate(self, result: ResultEvidence, ctx: Context) -> Check:
        """Run the operator on one result."""
        return self._call(result, ctx)

    def check(self, result: ResultEvidence, ctx: Context, memo: dict[int, Check]) -> Check:
        """`evaluate`, answered from `memo` when the operator does not depend on the requirement."""
        token = self._token
        if token is None:
            return self._call(result, ctx)
        found = memo.get(token)
        if found is None:
            found = memo[token] = self._call(result, ctx)
        return found


@dataclass(frozen=True)
class AllOf:
    """Passes when every member passes; the message lists the failures (or every success)."""

    members: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_token", _composite_token("all", self.members))
        object.__setattr__(self, "_members", tuple(_member(member) for member in self.members))

    def evaluate(self, result: ResultEvidence, ctx: Context) -> Check:
        """Evaluate every member (no short cut, so the explanation names every failed condition)."""
        checks = [member.evaluate(result, ctx) for member in self.members]
        failed = [message for passed, message in checks if not passed]
        if failed:
            return False, "; ".join(failed)
        return True, "; ".join(message for _, message in checks)

    def check(self, result: ResultEvidence, ctx: Context, memo: dict[int, Check]) -> Check:
        """`evaluate` through the members' `check`, answered from `memo` when it has a token."""
        # The member lookup is written out here and in AnyOf.check: a shared helper cost 4-6 % of evaluate_markets.
        token = self._token
        if token is not None:
            found = memo.get(token)
            if found is not None:
                return found
        checks = []
        for member_token, call, takes_memo in self._members:
            if member_token is None:
                checks.append(call(result, ctx, memo) if takes_memo else call(result, ctx))
                continue
            check = memo.get(member_token)
            if check is None:
                check = memo[member_token] = call(result, ctx, memo) if takes_memo else call(result, ctx)
            checks.append(check)
        failed = [message for passed, message in checks if not passed]
        found = (False, "; ".join(failed)) if failed else (True, "; ".join([message for _, message in checks]))
        if token is not None:
            memo[token] = found
        return found


@dataclass(frozen=True)
class AnyOf:
    """Passes when one member passes; the message is that member's (or every failure)."""

    members: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_token", _composite_token("any", self.members))
        object.__setattr__(self, "_members", tuple(_member(member) for member in self.members))

    def evaluate(self, result: ResultEvidence, ctx: Context) -> Check:
        """Evaluate members in order and stop at the first that passes."""
        failures = []
        for member in self.members:
            passed, message = member.evaluate(result, ctx)
            if passed:
                return True, message
            failures.append(message)
        return False, " / ".join(failures)

    def check(self, result: ResultEvidence, ctx: Context, memo: dict[int, Check]) -> Check:
        """`evaluate` through the members' `check`, answered from `memo` when it has a token."""
        # The member lookup is written out here and in AllOf.check: a shared helper cost 4-6 % of evaluate_markets.
        token = self._token
        if token is not None:
            found = memo.get(token)
            if found is not None:
                return found
        failures = []
        for member_token, call, takes_memo in self._members:
            if member_token is None:
                passed, message = call(result, ctx, memo) if takes_memo else call(result, ctx)
            else:
                check = memo.get(member_token)
                if check is None:
                    check = memo[member_token] = call(result, ctx, memo) if takes_memo else call(result, ctx)
                passed, message = check
            if passed:
                found = (True, message)
                break
            failures.append(message)
        else:
            found = (False, " / ".join(failures))
        if token is not None:
            memo[token] = found
        return found


@dataclass(frozen=True)
class NotOf:
    """Passes when its member fails; the member's own message explains either way."""

    member: Condition

    def __post_init__(self) -> None:
        object.__setattr__(self, "_token", _composite_token("not", (self.member,)))

    def evaluate(self, result: ResultEvidence, ctx: Context) -> Check:
        """Negate the member."""
        passed, message = self.member.evaluate(result, ctx)
        return not passed, message

    def check(self, result: ResultEvidence, ctx: Context, memo: dict[int, Check]) -> Check:
        """`evaluate` through the member's `check`, answered from `memo` when it has a token."""
        token = self._token
        if token is not None:
            found = memo.get(token)
            if found is not None:
                return found
        passed, message = self.member.check(result, ctx, memo)
        found = (not passed, message)
        if token is not None:
            memo[token] = found
        return found


Condition = Op | AllOf | AnyOf | NotOf


def parse_condition(node: Any, where: str = "when") -> Condition:
    """Build a condition tree from `{"all": [...]}`, `{"any": [...]}`, `{"not": ...}` or `{"op": name, ...}`."""
    if not isinstance(node, Mapping) or not node:
        raise RulebookError(f"{where}: a condition is an object with all, any, not or op")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        members = node[key]
        if len(node) != 1 or not isinstance(members, Sequence) or isinstance(members, str) or not members:
            raise RulebookError(f"{where}: {key} takes a non-empty list and nothing else")
        parsed = tuple(parse_condition(m, f"{where}/{key}/{i}") for i, m in enumerate(members))
        return AllOf(parsed) if key == "all" else AnyOf(parsed)
    if "not" in node:
        if len(node) != 1:
            raise RulebookError(f"{where}: not takes one condition and nothing else")
        return NotOf(parse_condition(node["not"], f"{where}/not"))
    name = node.get("op")
    if name not in OPERATORS:
        raise RulebookError(f"{where}: unknown operator {name!r} (known: {', '.join(sorted(OPERATORS))})")
    allowed, required = PARAMETERS[name]
    params = {k: v for k, v in node.items() if k != "op"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise RulebookError(f"{where}: operator {name} has no parameter {', '.join(unknown)}")
    missing = sorted(required - set(params))
    if missing:
        raise RulebookError(f"{where}: operator {name} needs {', '.join(missing)}")
    return Op(name, {k: _freeze_value(v) for k, v in params.items()})


def _freeze_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze_value(v) for v in value)
    return value


# --------------------------------------------------------------------------- requirements, rules, costs


@dataclass(frozen=True)
class Requirement:
    """What a market requires for one test item, and which standards it accepts evidence to."""

    id: str
    market: str  # where it is defined (a bloc for inherited requirements)
    categories: frozenset[str]  # product categories it applies to
    test_item: str
    accepted_standards: tuple[tuple[str, date | None], ...]  # (standard id, accepted until, half-open)
    parameters: Mapping[str, Any]  # min_ip_code, ambient_min_c, ambient_max_c, supply_frequency_hz, connectors
    valid_from: date
    valid_until: date | None
    source: str
    description: Text
    applies_if: Mapping[str, Any] = field(default_factory=dict)  # liquid_cooled_cable, min_power_kw
    verified: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", frozen_mapping(self.parameters))
        object.__setattr__(self, "applies_if", frozen_mapping(self.applies_if))

    def in_force(self, day: date) -> bool:
        """Return True when `day` lies in [valid_from, valid_until)."""
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


@dataclass(frozen=True)
class RecognitionRule:
    """One versioned, time-bounded rule (CertLogic rule metadata plus a condition tree)."""

    id: str
    version: int
    market: str
    kind: RuleKind
    valid_from: date
    valid_until: date | None
    description: Text
    source: str
    when: Condition
    outcome: Outcome | None  # acceptance rules only
    extra_steps: tuple[str, ...] = ()
    requirements: frozenset[str] | None = None  # scope: these requirement ids only (None: all)
    test_items: frozenset[str] | None = None  # scope: these test items only (None: all)
    verified: bool = True

    def in_force(self, day: date) -> bool:
        """Return True when `day` lies in [valid_from, valid_until)."""
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def covers(self, requirement: Requirement) -> bool:
        """Return True when the rule's scope includes `requirement`."""
        if self.requirements is not None and requirement.id not in self.requirements:
            return False
        return self.test_items is None or requirement.test_item in self.test_items


@dataclass(frozen=True)
class CostEntry:
    """Typical price and lead time of one test item."""

    test_item: str
    cost_min: int
    cost_max: int
    currency: str
    lead_time_days: int
    source: str
    verified: bool = False


@dataclass(frozen=True)
class Rulebook:
    """A published rulebook: requirements and rules per market (as written, before inheritance) and prices."""

    version: int
    title: str
    requirements: Mapping[str, tuple[Requirement, ...]]
    rules: Mapping[str, tuple[RecognitionRule, ...]]
    cost_table: Mapping[str, CostEntry]
    dropped: Mapping[str, frozenset[str]] = field(default_factory=dict)  # market -> bloc requirement ids it drops
    published: date | None = None
    digest: str = ""  # sha256 of the canonical source document

    def __post_init__(self) -> None:
        for name in ("requirements", "rules", "cost_table", "dropped"):
            object.__setattr__(self, name, frozen_mapping(getattr(self, name)))

    @property
    def markets(self) -> frozenset[str]:
        """Return the market codes the rulebook writes requirements or rules for."""
        return frozenset(self.requirements) | frozenset(self.rules)


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RulebookError(f"{where}: {value!r} is not an ISO date")


def _optional_date(value: Any, where: str) -> date | None:
    return None if value is None else _date(value, where)


def _text(node: Mapping[str, Any]) -> Text:
    return Text(en=node["en"], zh=node.get("zh"))


def _requirement(market: str, node: Mapping[str, Any], where: str) -> Requirement:
    accepted = tuple(
        (entry["standard"], _optional_date(entry.get("accepted_until"), f"{where}/accepted_standards"))
        for entry in node["accepted_standards"]
    )
    if len({sid for sid, _ in accepted}) != len(accepted):
        raise RulebookError(f"{where}: a standard is listed twice in accepted_standards")
    parameters = dict(node.get("parameters") or {})
    if "connectors" in parameters:
        parameters["connectors"] = tuple(parameters["connectors"])
    return Requirement(
        id=node["id"],
        market=market,
        categories=frozenset(node["categories"]),
        test_item=node["test_item"],
        accepted_standards=accepted,
        parameters={k: v for k, v in parameters.items() if k not in ("verified", "note") and v is not None},
        applies_if=dict(node.get("applies_if") or {}),
        valid_from=_date(node["valid_from"], f"{where}/valid_from"),
        valid_until=_optional_date(node.get("valid_until"), f"{where}/valid_until"),
        source=node["source"],
        description=_text(node["description"]),
        verified=bool(node.get("verified", True)),
    )


def _rule(market: str, node: Mapping[str, Any], where: str) -> RecognitionRule:
    kind = RuleKind(node["kind"])
    outcome = node.get("outcome")
    if kind is RuleKind.ACCEPTANCE and outcome is None:
        raise RulebookError(f"{where}: an acceptance rule needs an outcome")
    if kind is RuleKind.EXCLUSION and (outcome is not None or node.get("extra_steps")):
        raise RulebookError(f"{where}: an exclusion rule has no outcome or extra steps")
    extra = tuple(node.get("extra_steps") or ())
    if outcome == Outcome.CONDITIONAL.value and not extra:
        raise RulebookError(f"{where}: a conditional acceptance must list its extra steps")
    scope = node.get("applies_to") or {}
    return RecognitionRule(
        id=node["id"],
        version=int(node["version"]),
        market=market,
        kind=kind,
        valid_from=_date(node["valid_from"], f"{where}/valid_from"),
        valid_until=_optional_date(node.get("valid_until"), f"{where}/valid_until"),
        description=_text(node["description"]),
        source=node["source"],
        when=parse_condition(node["when"], f"{where}/when"),
        outcome=Outcome(outcome) if outcome is not None else None,
        extra_steps=extra,
        requirements=frozenset(scope["requirements"]) if "requirements" in scope else None,
        test_items=frozenset(scope["test_items"]) if "test_items" in scope else None,
        verified=bool(node.get("verified", True)),
    )


def parse_rulebook(document: Mapping[str, Any]) -> Rulebook:
    """Build a `Rulebook` from a document that already passed schemas/rulebook/v1.json.

    Raises:
        RulebookError: unknown operator or parameter, duplicate requirement id or (rule id, version) in a
            market, a requirement whose test item has no cost entry, or more than one currency.
    """
    requirements: dict[str, tuple[Requirement, ...]] = {}
    rules: dict[str, tuple[RecognitionRule, ...]] = {}
    dropped: dict[str, frozenset[str]] = {}
    for market, body in sorted(document["markets"].items()):
        where = f"/markets/{market}"
        reqs = tuple(_requirement(market, n, f"{where}/requirements/{i}") for i, n in enumerate(body.get("requirements", ())))
        ids = [r.id for r in reqs]
        if len(ids) != len(set(ids)):
            raise RulebookError(f"{where}: duplicate requirement id")
        market_rules = tuple(_rule(market, n, f"{where}/rules/{i}") for i, n in enumerate(body.get("rules", ())))
        keys = [(r.id, r.version) for r in market_rules]
        if len(keys) != len(set(keys)):
            raise RulebookError(f"{where}: duplicate (rule id, version)")
        requirements[market] = tuple(sorted(reqs, key=lambda r: r.id))
        rules[market] = tuple(sorted(market_rules, key=lambda r: (r.id, r.version)))
        dropped[market] = frozenset(body.get("drop", ()))
    costs: dict[str, CostEntry] = {}
    for i, node in enumerate(document["cost_table"]):
        entry = CostEntry(
            test_item=node["test_item"],
            cost_min=int(node["cost_min"]),
            cost_max=int(node["cost_max"]),
            currency=node["currency"],
            lead_time_days=int(node["lead_time_days"]),
            source=node["source"],
            verified=bool(node.get("verified", False)),
        )
        if entry.test_item in costs:
            raise RulebookError(f"/cost_table/{i}: {entry.test_item} is priced twice")
        if entry.cost_min > entry.cost_max:
            raise RulebookError(f"/cost_table/{i}: cost_min is above cost_max")
        costs[entry.test_item] = entry
    if len({c.currency for c in costs.values()}) > 1:
        raise RulebookError("/cost_table: one currency per rulebook, so that totals add up")
    unpriced = sorted({r.test_item for reqs in requirements.values() for r in reqs} - set(costs))
    if unpriced:
        raise RulebookError(f"/cost_table: no price for {', '.join(unpriced)}")
    return Rulebook(
        version=int(document["version"]),
        title=document["title"],
        published=_optional_date(document.get("published"), "/published"),
        requirements=requirements,
        rules=rules,
        cost_table=costs,
        dropped=dropped,
        digest=digest(document),
    )


# --------------------------------------------------------------------------- resolution for one market


def market_chain(market: str, market_bloc: Mapping[str, str | None]) -> tuple[str, ...]:
    """Return the market and its blocs, outermost bloc first: `SG` -> `("ASEAN", "SG")`."""
    chain = [market]
    while (bloc := market_bloc.get(chain[-1])) and bloc not in chain:
        chain.append(bloc)
    return tuple(reversed(chain))


def _known(rulebook: Rulebook, chain: tuple[str, ...], market: str) -> None:
    if not any(code in rulebook.markets for code in chain):
        raise UnknownMarket(f"rulebook v{rulebook.version} has no requirements for {market} or its bloc")


def market_requirements(
    rulebook: Rulebook, market: str, market_bloc: Mapping[str, str | None], as_of: date | None = None
) -> tuple[Requirement, ...]:
    """Return the market's requirements: the bloc's, minus those the member drops, with the member's own
    requirement replacing the bloc's one of the same id. With `as_of`, only requirements in force that day,
    the most specific market's version of each id winning (so a member's override that starts later leaves
    the bloc's requirement in place until then). Sorted by id."""
    chain = market_chain(market, market_bloc)
    _known(rulebook, chain, market)
    by_id: dict[str, Requirement] = {}
    for code in chain:
        for dropped in rulebook.dropped.get(code, ()):
            by_id.pop(dropped, None)
        for requirement in rulebook.requirements.get(code, ()):
            if as_of is None or requirement.in_force(as_of):
                by_id[requirement.id] = requirement
    return tuple(by_id[key] for key in sorted(by_id))


def market_rules(
    rulebook: Rulebook, market: str, market_bloc: Mapping[str, str | None], as_of: date
) -> tuple[RecognitionRule, ...]:
    """Return the rules that apply in `market` on `as_of`, CertLogic-style: rules in force on `as_of`, the
    latest version per rule id, a member's rule replacing the bloc's rule of the same id (while the member's
    is in force), sorted by rule id."""
    chain = market_chain(market, market_bloc)
    _known(rulebook, chain, market)
    by_id: dict[str, RecognitionRule] = {}
    for code in chain:
        latest: dict[str, RecognitionRule] = {}
        for rule in rulebook.rules.get(code, ()):
            if rule.in_force(as_of) and (rule.id not in latest or rule.version > latest[rule.id].version):
                latest[rule.id] = rule
        by_id.update(latest)
    return tuple(by_id[key] for key in sorted(by_id))
