"""Plain builder functions for engine inputs with sensible defaults (tests only)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from registry.recognition import (
    CatalogueFacts,
    Context,
    ProductFacts,
    Requirement,
    ResultEvidence,
    StandardFacts,
    Text,
)

AS_OF = date(2026, 3, 1)


def result(**overrides: Any) -> ResultEvidence:
    """A passing IEC 61851-23:2023 insulation result from an accredited DAkkS lab, tested 2025-11-20."""
    base = ResultEvidence(
        report_id=1,
        report_number="RM-25-1107",
        revision=1,
        lab_id="lab-de-rheinmain-emob",
        report_status="valid",
        withdrawn_on=None,
        issued_on=date(2025, 12, 5),
        standard="IEC 61851-23:2023",
        clause=None,
        test_item="insulation_resistance",
        verdict="pass",
        performed_on=date(2025, 11, 20),
        accredited=True,
        lab_schemes=frozenset({"EA_MLA", "ILAC_MRA", "IECEE_CB"}),
        lab_country="DE",
        ambient_min_c=25.0,
        ambient_max_c=40.0,
        supply_frequency_hz=50.0,
    )
    return replace(base, **overrides)


def product(**overrides: Any) -> ProductFacts:
    """A 400 kW air-cooled CCS2 charger rated IP55."""
    base = ProductFacts(
        product_id=2,
        category="dc_charger",
        max_power_kw=400.0,
        connectors=frozenset({"CCS2"}),
        cooling="forced_air",
        liquid_cooled_cable=False,
        input_frequency_hz=50.0,
        ip_code="IP55",
        certificates=frozenset({("IECEE_CB", "DE 1-234567")}),
    )
    return replace(base, **overrides)


def requirement(**overrides: Any) -> Requirement:
    """An EU-style insulation requirement on IEC 61851-23:2023."""
    base = Requirement(
        id="EU-SAF-INS",
        market="EU",
        categories=frozenset({"dc_charger"}),
        test_item="insulation_resistance",
        accepted_standards=(("IEC 61851-23:2023", None),),
        parameters={},
        valid_from=date(2023, 12, 1),
        valid_until=None,
        source="facts.md §1.2.1",
        description=Text("Insulation resistance to IEC 61851-23:2023."),
    )
    return replace(base, **overrides)


def small_catalogue(**overrides: Any) -> CatalogueFacts:
    """A few standards with adoption links and a supersession, enough for operator tests."""
    standards = [
        StandardFacts("IEC 61851-23:2014", "INT", superseded_by="IEC 61851-23:2023", superseded_on=date(2023, 12, 1)),
        StandardFacts("IEC 61851-23:2023", "INT"),
        StandardFacts("EN 61851-23:2014", "EU", adoption_of="IEC 61851-23:2014", adoption_degree="IDT"),
        StandardFacts("IEC 61851-21-2:2018", "INT"),
        StandardFacts("EN IEC 61851-21-2:2021", "EU", adoption_of="IEC 61851-21-2:2018", adoption_degree="IDT"),
        StandardFacts("TCVN 13078-21-2:2020", "VN", adoption_of="IEC 61851-21-2:2018", adoption_degree="IDT"),
        StandardFacts("GB/T 18487.2-2017", "CN", adoption_of="IEC 61851-21-2:2018", adoption_degree="unknown"),
        StandardFacts("XX 61851-21-2-MOD", "XX", adoption_of="IEC 61851-21-2:2018", adoption_degree="MOD"),
        StandardFacts("XX 61851-21-2-NEQ", "XX", adoption_of="IEC 61851-21-2:2018", adoption_degree="NEQ"),
        StandardFacts(
            "TR 25:2016",
            "SG",
            superseded_by="TR 25:2022",
            superseded_on=date(2022, 2, 28),
            transition_ends_on=date(2024, 2, 28),
        ),
        StandardFacts("TR 25:2022", "SG"),
        StandardFacts("GB 44263-2024", "CN"),
        StandardFacts("GB/T 20234.1-2023", "CN"),
        StandardFacts("IEC 62196-3:2022", "INT"),
        StandardFacts("ISO 15118-4:2018", "INT"),
    ]
    fields = dict(
        standards={s.id: s for s in standards},
        interface_bound=frozenset({"connector_dimensions", "control_pilot_sequence", "communication_conformance_iso15118"}),
        market_bloc={"EU": None, "CN": None, "ASEAN": None, "SG": "ASEAN", "PH": "ASEAN"},
        test_item_categories={"insulation_resistance": "electrical_safety", "connector_dimensions": "connector"},
    )
    fields.update(overrides)
    return CatalogueFacts(**fields)


def context(
    req: Requirement | None = None,
    prod: ProductFacts | None = None,
    catalogue: CatalogueFacts | None = None,
    market: str = "EU",
    as_of: date = AS_OF,
) -> Context:
    """An operator context with the defaults above."""
    return Context(
        requirement=req or requirement(),
        product=prod or product(),
        catalogue=catalogue or small_catalogue(),
        market=market,
        as_of=as_of,
    )
