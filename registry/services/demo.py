"""The demo data set: fictional manufacturers and charger models with real-world-shaped ratings (facts.md §5),
and 100+ reports filed through the real submission service by the catalogue's demo labs.

Reports are built from the three published example reports (GB/T, IEC/EN, TR 25) as templates: same standards,
clauses and test items, with the product, lab, dates and measured values varied. Everything goes through
`submit_report` / `revise_report` / `withdraw_report`, so the demo obeys every rule a real lab's submission does.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.config import PROJECT_DIR
from registry.errors import RegistryError
from registry.models import Organization, Report, RulebookVersion, User
from registry.rulebook import load_seed_rulebook
from registry.services import accounts, rulebooks
from registry.services import reports as report_service
from registry.services.accreditation import lab_standing
from registry.services.permissions import SYSTEM, Principal

TEMPLATES = {
    "gbt": "cn-gbt-report.json",
    "iec": "de-iec-report.json",
    "tr25": "sg-tr25-report.json",
}
# Which demo labs file which regime's reports (ids from registry/catalogue/labs.yaml).
LABS_BY_REGIME = {
    "gbt": ["lab-cn-sh-evtc", "lab-cn-sz-nepower"],
    "iec": ["lab-de-rheinmain-emob", "lab-de-elbe-emv", "lab-fr-lyon-irve", "lab-cn-sz-nepower"],
    "tr25": ["lab-sg-jurong-evlab", "lab-my-shahalam-evtest", "lab-th-bangna-evtl", "lab-cn-sh-evtc"],
}


@dataclass(frozen=True)
class DemoManufacturer:
    id: str
    name: str
    name_zh: str | None
    country: str


MANUFACTURERS = [
    DemoManufacturer("mfr-cn-voltaris", "Shenzhen Voltaris Power Technology Co., Ltd.", "深圳沃塔瑞斯电力科技有限公司", "CN"),
    DemoManufacturer("mfr-cn-lumen", "Hangzhou Lumen EV Equipment Co., Ltd.", "杭州流明电动汽车设备有限公司", "CN"),
    DemoManufacturer("mfr-cn-tianyu", "Jiangsu Tianyu Charging Technology Co., Ltd.", "江苏天域充电科技有限公司", "CN"),
    DemoManufacturer("mfr-de-rheinwerk", "Rheinwerk Ladesysteme GmbH", None, "DE"),
    DemoManufacturer("mfr-fr-loire", "Électrons de Loire SAS", None, "FR"),
    DemoManufacturer("mfr-sg-straits", "Straits Charging Systems Pte. Ltd.", None, "SG"),
]

# (manufacturer, model, kW, V, A, category, connectors, cooling, liquid cable, regimes). Shapes from facts.md §5:
# 600 kW liquid-cooled terminals, 480/640/800 kW car chargers, 1.2 MW cabinets, 360 kW multi-output, 180 kW units.
MODELS: list[tuple] = [
    ("mfr-cn-voltaris", "VT-DC600L", 600, 1000, 600, "dc_charger", ["GBT_DC"], "liquid", True, ["gbt"]),
    ("mfr-cn-voltaris", "VT-DC640L", 640, 1000, 765, "dc_charger", ["GBT_DC", "CHAOJI"], "liquid", True, ["gbt"]),
    ("mfr-cn-voltaris", "VT-DC800L", 800, 1000, 800, "dc_charger", ["CHAOJI"], "liquid", True, ["gbt"]),
    ("mfr-cn-voltaris", "VT-PC1200", 1200, 1000, 1200, "power_cabinet", ["GBT_DC", "CCS2"], "liquid", False, ["gbt", "iec"]),
    ("mfr-cn-voltaris", "VT-DC360E", 360, 920, 500, "dc_charger", ["CCS2"], "forced_air", False, ["iec", "tr25"]),
    ("mfr-cn-lumen", "LM-HPC180", 180, 920, 250, "dc_charger", ["CCS2"], "forced_air", False, ["tr25", "iec"]),
    ("mfr-cn-lumen", "LM-HPC240", 240, 1000, 300, "dc_charger", ["CCS2", "CHADEMO"], "forced_air", False, ["tr25"]),
    ("mfr-cn-lumen", "LM-DC480L", 480, 1000, 670, "dc_charger", ["GBT_DC"], "liquid", True, ["gbt"]),
    ("mfr-cn-lumen", "LM-DP500L", 500, 1000, 650, "dispenser", ["GBT_DC"], "liquid", True, ["gbt"]),
    ("mfr-cn-tianyu", "TY-SC120", 120, 750, 250, "dc_charger", ["GBT_DC"], "forced_air", False, ["gbt"]),
    ("mfr-cn-tianyu", "TY-SC160", 160, 1000, 250, "dc_charger", ["GBT_DC"], "forced_air", False, ["gbt"]),
    ("mfr-cn-tianyu", "TY-MC1200", 1200, 1250, 1000, "power_cabinet", ["MCS", "CCS2"], "liquid", False, ["iec"]),
    ("mfr-cn-tianyu", "TY-DC400E", 400, 1000, 500, "dc_charger", ["CCS2"], "liquid", True, ["iec", "tr25"]),
    ("mfr-de-rheinwerk", "RW-HPC400", 400, 1000, 500, "dispenser", ["CCS2"], "liquid", True, ["iec"]),
    ("mfr-de-rheinwerk", "RW-HPC600", 600, 1000, 600, "dispenser", ["CCS2"], "liquid", True, ["iec"]),
    ("mfr-de-rheinwerk", "RW-PU1200", 1200, 920, 1500, "power_cabinet", ["CCS2", "MCS"], "liquid", False, ["iec"]),
    ("mfr-de-rheinwerk", "RW-SAT300", 300, 920, 500, "dispenser", ["CCS2"], "forced_air", False, ["iec", "tr25"]),
    ("mfr-fr-loire", "EL-Borne350", 350, 920, 500, "dc_charger", ["CCS2"], "liquid", True, ["iec"]),
    ("mfr-fr-loire", "EL-Borne150", 150, 920, 250, "dc_charger", ["CCS2", "CHADEMO"], "forced_air", False, ["iec"]),
    ("mfr-fr-loire", "EL-Hub720", 720, 1000, 800, "power_cabinet", ["CCS2"], "liquid", False, ["iec"]),
    ("mfr-sg-straits", "SC-Tropic200", 200, 1000, 300, "dc_charger", ["CCS2"], "forced_air", False, ["tr25"]),
    ("mfr-sg-straits", "SC-Tropic400L", 400, 1000, 500, "dc_charger", ["CCS2"], "liquid", True, ["tr25", "iec"]),
]

REGULATOR = ("reg-demo-authority", "Demo Market Surveillance Authority")

# People who log in to the demo (README "Web pages"). Fixed passwords: demo data only, never a real deployment.
DEMO_USERS = [
    ("maker@voltaris.example", "Wang Fang (Voltaris compliance)", "mfr-cn-voltaris", "voltaris-demo-2026"),
    ("regulator@authority.example", "Alex Morgan (market surveillance)", "reg-demo-authority", "regulator-demo-2026"),
    ("lab@evtc.example", "Li Wei (EVTC report desk)", "lab-cn-sh-evtc", "lab-evtc-demo-2026"),
]

# Certificates some demo products already hold elsewhere, valid for this many days after the seed (so the
# dashboard's "expires within 90 days" list has something to show whenever the demo is loaded).
CERTIFICATES = {
    "VT-DC600L": [("CCC", "2025010701765432", "CQC", -300, 45)],
    "VT-DC360E": [("IECEE_CB", "DE 1-234567", "VDE Testing and Certification Institute", -200, 75)],
    "LM-HPC180": [("LTA_TYPE_APPROVAL", "LTA-EVC-2025-0183", "Land Transport Authority", -150, 400)],
    "RW-HPC400": [("IECEE_CB", "DE 1-345678", "VDE Testing and Certification Institute", -100, 600)],
}


def _template(name: str) -> dict[str, Any]:
    return json.loads((PROJECT_DIR / "schemas" / "examples" / "valid" / TEMPLATES[name]).read_text())


def _shift(day: str, delta: timedelta) -> str:
    return (date.fromisoformat(day) + delta).isoformat()


def _product_block(template: dict[str, Any], maker: DemoManufacturer, model: tuple, today: date) -> dict[str, Any]:
    _m, name, kw, volts, amps, category, connectors, cooling, liquid_cable, _regimes = model
    product = copy.deepcopy(template["product"])
    product["manufacturer"] = {"name": maker.name, "country": maker.country, "registry_id": maker.id}
    if maker.name_zh:
        product["manufacturer"]["name_zh"] = maker.name_zh
    product.update(model=name, trademark=name.split("-")[0], category=category, connectors=connectors, cooling=cooling,
                   liquid_cooled_cable=liquid_cable, variants=[], certificates=[])
    for scheme, number, issuer, issued, valid in CERTIFICATES.get(name, []):
        product["certificates"].append({
            "scheme": scheme, "number": number, "issuer": issuer,
            "issued_on": (today + timedelta(days=issued)).isoformat(),
            "valid_until": (today + timedelta(days=valid)).isoformat(),
        })
    product["ratings"] = dict(product["ratings"], max_power_kw=kw, max_output_voltage_v=volts, max_output_current_a=amps)
    if kw >= 400:
        product["variants"] = [{"model": f"{name}-{kw // 2}", "max_power_kw": kw // 2, "notes": "half the power modules"}]
    return product


def _vary_measurements(results: list[dict[str, Any]], rng: random.Random, fail_one: bool) -> None:
    """Jitter measured values inside their limits; optionally make one result fail against its limit."""
    failed = False
    for result in results:
        for m in result.get("measurements", []):
            limit = m.get("limit") or {}
            value = m["value"]
            factor = rng.uniform(0.97, 1.03)
            candidate = round(value * factor, 4) if isinstance(value, float) else value
            lo, hi = limit.get("min"), limit.get("max")
            if (lo is None or candidate >= lo) and (hi is None or candidate <= hi):
                m["value"] = candidate
            if fail_one and not failed and result["verdict"] == "pass" and hi is not None and hi > 0:
                m["value"] = round(hi * 1.08, 4)
                result["verdict"] = "fail"
                failed = True


def _build(template_name: str, lab_id: str, number: str, product: dict[str, Any], issued_on: date,
           rng: random.Random) -> dict[str, Any]:
    document = _template(template_name)
    delta = issued_on - date.fromisoformat(document["issued_on"])
    document["report_number"] = number
    document["lab"] = lab_id
    document["issued_on"] = issued_on.isoformat()
    document["test_period"] = {k: _shift(v, delta) for k, v in document["test_period"].items()}
    for s in document["signatories"]:
        if "signed_on" in s:
            s["signed_on"] = _shift(s["signed_on"], delta)
    for r in document["results"]:
        r["performed_on"] = _shift(r["performed_on"], delta)
    for a in document.get("attachments", []):
        a["name"] = f"{number}-{a['name'].split('-')[-1]}"
        a["sha256"] = "%064x" % rng.getrandbits(256)
    document["product"] = product
    _vary_measurements(document["results"], rng, fail_one=rng.random() < 0.12)
    return document


def seed(session: Session, target_reports: int = 120, today: date | None = None) -> str:
    """Load the demo set once; a second run changes nothing."""
    today = today or date.today()
    if session.get(Organization, MANUFACTURERS[0].id) is not None:
        count = session.scalar(select(func.count()).select_from(Report))
        people = seed_people(session)
        extra = f" Demo users added: {people}." if people else ""
        return f"Demo data already loaded ({count} reports); nothing changed.{extra}"
    rng = random.Random(2026)
    for maker in MANUFACTURERS:
        session.add(Organization(id=maker.id, kind="manufacturer", name_en=maker.name, name_zh=maker.name_zh,
                                 country=maker.country, demo=True, source="demo data"))
    session.add(Organization(id=REGULATOR[0], kind="regulator", name_en=REGULATOR[1], demo=True, source="demo data"))
    session.commit()
    makers = {m.id: m for m in MANUFACTURERS}
    templates = {name: _template(name) for name in TEMPLATES}
    standings = {lab: lab_standing(session, lab) for labs in LABS_BY_REGIME.values() for lab in labs
                 if session.get(Organization, lab) is not None}

    # Template dates are shifted to issue dates between mid-2024 and a month ago, as long as every standard the
    # template cites was issued before the shifted test period (facts.md: GB 44263-2024 issued 2024-07-24).
    earliest = date(2024, 11, 1)
    latest = today - timedelta(days=30)
    span = (latest - earliest).days
    filed: list[tuple[Report, dict[str, Any]]] = []
    sequence = 0
    attempts = 0
    while len(filed) < target_reports and attempts < target_reports * 5:
        attempts += 1
        model = MODELS[sequence % len(MODELS)]
        regime = model[9][(sequence // len(MODELS)) % len(model[9])]
        lab_id = LABS_BY_REGIME[regime][rng.randrange(len(LABS_BY_REGIME[regime]))]
        sequence += 1
        if lab_id not in standings:
            continue
        issued_on = earliest + timedelta(days=rng.randrange(max(span, 1)))
        if not standings[lab_id].active_on(issued_on):
            continue  # the lab was suspended or expired then: it could not have filed
        product = _product_block(templates[regime], makers[model[0]], model, today)
        number = f"{lab_id.split('-')[1].upper()}{issued_on:%y}-{regime.upper()}-{sequence:04d}"
        document = _build(regime, lab_id, number, product, issued_on, rng)
        try:
            report = report_service.submit_report(
                session, Principal(org_id=lab_id, kind="lab"), document, today=issued_on + timedelta(days=3)
            )
        except RegistryError:
            session.rollback()
            continue
        filed.append((report, document))

    revised = withdrawn = 0
    for report, document in filed[5::9]:  # about one in nine corrected
        corrected = copy.deepcopy(document)
        corrected["product"]["firmware_version"] = corrected["product"]["firmware_version"] + "a"
        corrected["remarks"] = "Revision: firmware version corrected after the sample was re-inspected."
        report_service.revise_report(session, Principal(org_id=report.lab_id, kind="lab"), report.id, corrected,
                                     "firmware version misprinted on the first issue",
                                     today=date.fromisoformat(document["issued_on"]) + timedelta(days=20))
        revised += 1
    for report, document in filed[7::17]:  # a few withdrawn
        when = min(date.fromisoformat(document["issued_on"]) + timedelta(days=40), today)
        report_service.withdraw_report(
            session, Principal(org_id=report.lab_id, kind="lab"), report.id,
            "tested sample did not match the production configuration", effective_on=when, today=when,
        )
        withdrawn += 1
    products = len({r.product_id for r, _d in filed})
    people = seed_people(session)
    draft = seed_draft_rulebook(session, today)
    return (f"Demo data loaded: {len(MANUFACTURERS)} manufacturers, {products} products, {len(filed)} reports "
            f"({revised} revised, {withdrawn} withdrawn); {people} demo users"
            + (f"; draft rulebook version {draft} to review." if draft else "."))


def seed_people(session: Session) -> int:
    """Create the demo users that do not exist yet (idempotent); returns how many were created."""
    created = 0
    for email, name, org_id, password in DEMO_USERS:
        if session.get(Organization, org_id) is None or session.scalar(select(User.id).where(User.email == email)):
            continue
        accounts.create_user(session, SYSTEM, email=email, name=name, org_id=org_id, password=password)
        created += 1
    return created


def draft_rulebook_document(today: date) -> dict[str, Any]:
    """A draft a regulator might table: ASEAN accepts GB/T EMC results on conditions, and tightens report age.

    Both changes are illustrations for the demo, not facts: they exist so the what-if page has gains and losses.
    """
    document = load_seed_rulebook()
    document["title"] = "Draft: ASEAN accepts GB/T EMC results on conditions; 24-month report age"
    document["description"] = {
        "en": "Demo draft. ASEAN members accept GB/T and NB/T EMC results from ILAC/APAC MRA labs after an EMC "
              "delta review; lab results must now be at most 24 months old (was 36).",
        "zh": "演示草案：东盟成员国在EMC差异评审后采信ILAC/APAC MRA实验室出具的GB/T、NB/T电磁兼容结果；"
              "结果有效期由36个月缩短为24个月。",
    }
    asean = document["markets"]["ASEAN"]
    start = today.isoformat()
    base = next(r for r in asean["rules"] if r["id"] == "ASEAN-A-010")
    tightened = copy.deepcopy(base)
    tightened.update(version=base.get("version", 1) + 1, valid_from=start)
    tightened["when"] = copy.deepcopy(base["when"])
    for condition in tightened["when"]["all"]:
        if isinstance(condition, dict) and condition.get("op") == "not_older_than":
            condition["months"] = 24
    tightened["description"] = {
        "en": base["description"]["en"].replace("36 months", "24 months"),
        "zh": base["description"]["zh"].replace("36个月", "24个月"),
    }
    asean["rules"].append(tightened)
    asean["rules"].append({
        "id": "ASEAN-A-040", "version": 1, "kind": "acceptance", "valid_from": start, "outcome": "conditional",
        "verified": False, "applies_to": {"test_items": ["emc_emission", "emc_immunity", "harmonics_flicker"]},
        "description": {
            "en": "Accept GB/T 18487.2 and NB/T 33008.1 EMC results from ILAC MRA / APAC MRA labs, at most 24 months "
                  "old, after an EMC delta review against IEC 61851-21-2 (demo draft).",
            "zh": "采信ILAC MRA/APAC MRA实验室24个月内出具的GB/T 18487.2、NB/T 33008.1电磁兼容结果，"
                  "须对照IEC 61851-21-2进行差异评审（演示草案）。",
        },
        "source": "demo draft for the what-if page; not a fact from facts.md",
        "when": {"all": [
            {"op": "standard_in", "ids": ["GB/T 18487.2-2017", "NB/T 33008.1-2018"]},
            {"op": "lab_accredited"},
            {"op": "lab_in_scheme", "any_of": ["ILAC_MRA", "APAC_MRA"]},
            {"op": "not_older_than", "months": 24},
        ]},
        "extra_steps": ["EMC delta review of the GB/T report against IEC 61851-21-2 (limits, test levels, set-up)"],
    })
    return document


def seed_draft_rulebook(session: Session, today: date) -> int | None:
    """Table the demo draft (as the demo regulator) unless a draft already exists."""
    if session.scalar(select(RulebookVersion.version).where(RulebookVersion.status == "draft")):
        return None
    row = rulebooks.create_draft(session, Principal(org_id=REGULATOR[0], kind="regulator"),
                                 draft_rulebook_document(today), prefix="")
    return row.version
