"""The recognition engine: which test results a market accepts, requirement by requirement.

Pure: it imports only the standard library and its own modules (tests/test_architecture.py checks this).
`registry.services` builds the inputs from the database and the rulebook files, calls `evaluate`, and stores
the `MarketDecision` with the rulebook version.

    decision = evaluate(product, evidence, rulebook, catalogue, labs, market="SG", as_of=date(2026, 3, 1))
"""

from registry.recognition.engine import current_evidence, evaluate, evaluate_markets, inputs_digest, inputs_digests
from registry.recognition.model import (
    CatalogueFacts,
    DeltaTestItem,
    DeltaTestPlan,
    LabFacts,
    MarketDecision,
    Outcome,
    ProductFacts,
    Reason,
    RecognitionError,
    RequirementDecision,
    ResultEvidence,
    RuleKind,
    RulebookError,
    Savings,
    StandardFacts,
    Status,
    UnknownMarket,
    Verdict,
)
from registry.recognition.operators import OPERATORS, Context
from registry.recognition.rulebook import (
    CostEntry,
    RecognitionRule,
    Requirement,
    Rulebook,
    Text,
    market_requirements,
    market_rules,
    parse_condition,
    parse_rulebook,
)

__all__ = [
    "OPERATORS",
    "CatalogueFacts",
    "Context",
    "CostEntry",
    "DeltaTestItem",
    "DeltaTestPlan",
    "LabFacts",
    "MarketDecision",
    "Outcome",
    "ProductFacts",
    "Reason",
    "RecognitionError",
    "RecognitionRule",
    "Requirement",
    "RequirementDecision",
    "ResultEvidence",
    "RuleKind",
    "Rulebook",
    "RulebookError",
    "Savings",
    "StandardFacts",
    "Status",
    "Text",
    "UnknownMarket",
    "Verdict",
    "current_evidence",
    "evaluate",
    "evaluate_markets",
    "inputs_digest",
    "inputs_digests",
    "market_requirements",
    "market_rules",
    "parse_condition",
    "parse_rulebook",
]
