"""Page benchmarks: `.venv/bin/python -m bench.pages`. Prints figures; asserts nothing.

Server time (Flask test client, the whole WSGI stack including templates and gzip) of the public search, the
product page and a manufacturer's dashboard, on a generated corpus of 10,000 products and 100,000 reports in a
scratch SQLite file and a scratch PostgreSQL database (created and dropped here).

The corpus is written by bulk Core INSERTs (executemany), not through the submission service: 400 manufacturers
(English and Chinese names), 10,000 products, 10 reports each (5 % withdrawn, 10 % revised), one current revision
per report holding the product declaration, certificates held elsewhere for one product in ten, the search index
rows built by the production code (`services.search.index_terms`), and synthetic but full-shaped decisions (every
requirement with a status and a reason, a delta test plan, savings) for 8 markets per product. Test-result rows
are not generated: none of the three pages reads them.

Search requests mix what people type: a report number, a full and a partial model name, a manufacturer in English
and a two-character Chinese name, a lab (about 12,000 matches), a standard edition (about 30,000), a certificate
number, a misspelled model (no match: the near-miss suggestions run), a market facet and a deep page.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bench.__main__ import ScratchDatabase, pg_available  # noqa: E402

MARKETS = ["CN", "EU", "ID", "MY", "PH", "SG", "TH", "VN"]
REGIMES = {
    "gbt": {"labs": ["lab-cn-sh-evtc", "lab-cn-sz-nepower"], "connectors": ["GBT_DC"],
            "standards": ["GB 44263-2024", "GB/T 18487.1-2023", "GB/T 18487.2-2017", "GB/T 20234.1-2023",
                          "GB/T 34657.1-2017", "GB/T 34658-2017", "NB/T 33008.1-2018"]},
    "iec": {"labs": ["lab-de-rheinmain-emob", "lab-de-elbe-emv", "lab-fr-lyon-irve"], "connectors": ["CCS2"],
            "standards": ["IEC 61851-23:2023", "EN IEC 61851-21-2:2021", "EN IEC 62196-3:2023",
                          "DIN SPEC 70121:2014-12", "ISO 15118-4:2018", "IEC 60529"]},
    "tr25": {"labs": ["lab-sg-jurong-evlab", "lab-my-shahalam-evtest", "lab-th-bangna-evtl"], "connectors": ["CCS2"],
             "standards": ["TR 25:2022", "IEC 61851-23:2014", "IEC 61851-21-2:2018"]},
}
SYLLABLES = ["vol", "ta", "ris", "lu", "men", "tian", "yu", "rhein", "werk", "loire", "strait", "kai", "hua", "xin",
             "neng", "bo", "sheng", "ke", "da", "long", "feng", "guang", "ming", "jie", "an", "tong", "xing", "zhi"]
HANZI = "沃塔瑞斯流明天域华新能博盛科达龙风光明杰安通星智源电力充储恒泰瑞德兴宏远昌盈"
TEST_ITEMS = ["insulation_resistance", "dielectric_withstand", "protective_earth_continuity", "short_circuit",
              "emergency_stop", "insulation_monitoring", "touch_current", "temperature_rise", "emc_emission",
              "emc_immunity", "harmonics_flicker", "connector_dimensions", "connector_locking",
              "communication_conformance_din70121", "climatic_cold", "climatic_dry_heat", "climatic_damp_heat",
              "ip_code", "ik_impact", "control_pilot", "output_accuracy", "efficiency", "power_factor", "salt_mist"]


def _decision_detail(rng: random.Random, market: str, today: date) -> tuple[dict, str, int, int, int]:
    """A full-shaped decision document: every requirement with status, evidence and reasons; plan; savings."""
    requirements, items = [], []
    counts = {"recognized": 0, "conditional": 0, "owed": 0}
    # A third of product-market pairs accessible, a fifth on conditions, the rest blocked by a few tests.
    verdict = rng.choices(["accessible", "accessible_with_conditions", "blocked"], [30, 20, 50])[0]
    for n, item in enumerate(TEST_ITEMS):
        if verdict == "accessible":
            status = "recognized"
        elif verdict == "accessible_with_conditions":
            status = rng.choices(["recognized", "conditional"], [3, 1])[0]
        else:
            status = rng.choices(["recognized", "conditional", "retest", "missing"], [5, 2, 3, 1])[0]
        counts["owed" if status in ("retest", "missing") else status] += 1
        requirement_id = f"{market}-{item.upper()[:12]}-{n}"
        # Shaped as the engine writes them (each candidate result with each rule's check) but with one result per
        # requirement: about 15 KB a decision, where the demo data averages 70 KB. None of the three pages parses
        # `detail` (the dashboard reads decision_plans), so the size only changes how long the corpus takes to build.
        reasons = [{"rule_id": f"{market}-{kind}-0{r}0", "version": 1, "passed": status == "recognized",
                    "message": {"en": f"report BENCH-{e:06d} rev 1, IEC 61851-23:2023 12: "
                                      f"{'accepted' if status == 'recognized' else 'not accepted'} by {market}-{kind}-0{r}0: "
                                      "IEC 61851-23:2023 is among the accepted standards; the lab stands in ILAC_MRA; "
                                      "the report is 14 months old",
                                "zh": "采信获认可实验室按所要求标准出具的结果。"}}
                   for e in range(1) for r, kind in enumerate(["X", "A"])]
        requirements.append({"requirement_id": requirement_id, "test_item": item, "status": status,
                             "rule_id": f"{market}-A-010", "rule_version": 1,
                             "evidence": [{"report_id": e, "report_number": f"BENCH-{e:06d}", "revision": 1,
                                           "standard": "IEC 61851-23:2023", "clause": "12"} for e in range(1)],
                             "reasons": reasons, "extra_steps": ["Document review"] if status == "conditional" else []})
        if status in ("retest", "missing"):
            low = rng.choice([500, 800, 1500, 3000, 8000])
            items.append({"requirement_id": requirement_id, "test_item": item, "standards": ["IEC 61851-23:2023"],
                          "cost_min": low, "cost_max": low * 2, "currency": "EUR",
                          "lead_time_days": rng.choice([10, 14, 21, 28]),
                          "labs": rng.sample(["lab-cn-sh-evtc", "lab-de-elbe-emv", "lab-sg-jurong-evlab",
                                              "lab-fr-lyon-irve"], 2)})
    verdict = "blocked" if counts["owed"] else ("accessible_with_conditions" if counts["conditional"] else "accessible")
    saved = counts["recognized"]
    detail = {
        "market": market, "as_of": today.isoformat(), "rulebook_version": 1, "verdict": verdict,
        "requirements": requirements,
        "delta_test_plan": {"items": items, "total_cost_min": sum(i["cost_min"] for i in items),
                            "total_cost_max": sum(i["cost_max"] for i in items), "currency": "EUR",
                            "lead_time_days": max([i["lead_time_days"] for i in items] or [0]), "groups": {}},
        "savings": {"tests_avoided": saved, "cost_min": saved * 1000, "cost_max": saved * 2000,
                    "days_avoided": saved * 3},
        "conditional_savings": {"tests_avoided": counts["conditional"], "cost_min": 0, "cost_max": 0,
                                "days_avoided": 0},
        "inputs_digest": "0" * 64,
    }
    return detail, verdict, counts["recognized"], counts["conditional"], counts["owed"]


def build_corpus(db: ScratchDatabase, products: int, reports_per_product: int, makers: int) -> dict:
    """Bulk-insert the corpus; returns counts, the sample keys the requests use, and the time it took."""
    from registry import create_app
    from registry.db import get_session
    from registry.models import (Decision, DecisionPlan, Organization, Product, ProductIdentifier, Report, ReportEvent,
                                 ReportRevision, SearchDocument, SearchStandard, utcnow)
    from registry.services import accounts, search
    from registry.services.permissions import SYSTEM

    rng = random.Random(2026)
    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    started = time.perf_counter()
    today = date.today()
    now = utcnow()
    samples: dict[str, list] = {"report_numbers": [], "models": [], "makers": [], "makers_zh": [], "certificates": []}
    with app.app_context():
        session = get_session()
        lab_names = dict(session.execute(text("SELECT id, name_en FROM organizations WHERE kind = 'lab'")).all())
        maker_rows = []
        for i in range(makers):
            word = "".join(rng.sample(SYLLABLES, 2)).capitalize() + f"{i:03d}"
            zh = "".join(rng.sample(HANZI, 4))
            maker_rows.append(dict(id=f"mfr-bench-{i:03d}", kind="manufacturer",
                                   name_en=f"Shenzhen {word} Power Technology Co., Ltd.",
                                   name_zh=f"深圳{zh}电力科技有限公司" if i % 2 == 0 else None, country="CN",
                                   demo=True, created_at=now))
        session.execute(insert(Organization.__table__), maker_rows)
        session.execute(insert(Organization.__table__), [dict(id="reg-bench", kind="regulator", name_en="Bench Authority",
                                                              demo=True, created_at=now)])
        accounts.create_user(session, SYSTEM, email="regulator@bench.example", name="Bench", org_id="reg-bench",
                             password="bench-password-123")
        report_id = revision_id = 0
        batch = 500
        sqlite = db.kind == "sqlite"
        for start in range(0, products, batch):
            rows = {k: [] for k in ("products", "identifiers", "reports", "revisions", "events", "search",
                                    "standards", "decisions", "models")}
            for pid in range(start + 1, min(start + batch, products) + 1):
                maker = maker_rows[pid % makers]
                regime = rng.choice(list(REGIMES))
                spec = REGIMES[regime]
                kw = rng.choice([120, 160, 180, 240, 360, 400, 480, 600, 640, 800, 1200])
                trademark = maker["name_en"].split()[1][:2].upper()
                model = f"{trademark}-DC{kw}{'L' if kw >= 400 else 'E'}-{pid:05d}"
                certificates = []
                if pid % 10 == 0:
                    certificates = [{"scheme": "IECEE_CB", "number": f"DE 1-{pid:06d}", "issuer": "VDE",
                                     "issued_on": "2025-01-01",
                                     "valid_until": (today + timedelta(days=rng.randrange(30, 900))).isoformat()}]
                    rows["identifiers"].append(dict(product_id=pid, scheme="IECEE_CB", number=f"DE 1-{pid:06d}",
                                                    issuer="VDE"))
                    samples["certificates"].append(f"DE 1-{pid:06d}")
                declaration = {"model": model, "trademark": trademark, "category": "dc_charger",
                               "ratings": {"max_power_kw": kw, "max_output_voltage_v": 1000,
                                           "max_output_current_a": kw, "outputs": 1},
                               "connectors": spec["connectors"], "cooling": "liquid" if kw >= 400 else "forced_air",
                               "liquid_cooled_cable": kw >= 400, "variants": [], "ip_code": "IP55"}
                rows["products"].append(dict(id=pid, manufacturer_id=maker["id"], model=model,
                                             model_key=search.normalize(model), category="dc_charger",
                                             description=declaration, created_at=now, updated_at=now))
                rows["models"].append({"id": pid, "key": search.normalize(model)})
                if pid % 97 == 0:
                    samples["models"].append(model)
                    samples["makers"].append(maker["name_en"].split()[1])
                    if maker["name_zh"]:
                        samples["makers_zh"].append(maker["name_zh"][2:4])
                for _ in range(reports_per_product):
                    report_id += 1
                    revision_id += 1
                    lab = rng.choice(spec["labs"])
                    issued = today - timedelta(days=rng.randrange(30, 900))
                    number = f"{lab.split('-')[1].upper()}{issued:%y}-{regime.upper()}-{report_id:06d}"
                    status = "withdrawn" if rng.random() < 0.05 else "valid"
                    revision = 2 if rng.random() < 0.10 else 1
                    rows["reports"].append(dict(id=report_id, lab_id=lab, report_number=number, product_id=pid,
                                                status=status, current_revision=revision, issued_on=issued,
                                                created_at=now, updated_at=now))
                    document = {"report_number": number, "lab": lab, "issued_on": issued.isoformat(),
                                "product": dict(declaration, certificates=certificates,
                                                manufacturer={"name": maker["name_en"], "country": "CN"}),
                                "results": []}
                    rows["revisions"].append(dict(id=revision_id, report_id=report_id, revision=revision,
                                                  document=document, document_sha256="0" * 64, submitted_by=lab,
                                                  submitted_at=now))
                    rows["events"].append(dict(report_id=report_id, kind="submitted", revision=1, actor_org=lab,
                                               effective_on=issued, recorded_at=now))
                    cited = rng.sample(spec["standards"], k=min(len(spec["standards"]), rng.randrange(3, 6)))
                    rows["search"].append(dict(
                        report_id=report_id, product_id=pid, lab_id=lab, status=status, revision=revision,
                        issued_on=issued, indexed_at=now,
                        terms=search.index_terms(
                            [lab, lab_names.get(lab), None, maker["id"], maker["name_en"], maker["name_zh"], trademark,
                             "IECEE_CB" if certificates else ""],
                            [number, model, *cited, *[c["number"] for c in certificates]]),
                    ))
                    rows["standards"].extend(dict(report_id=report_id, standard_id=s) for s in sorted(set(cited)))
                    if report_id % 211 == 0:
                        samples["report_numbers"].append(number)
                for market in MARKETS:
                    detail, verdict, recognized, conditional, owed = _decision_detail(rng, market, today)
                    rows["decisions"].append(dict(product_id=pid, market=market, rulebook_version=1, as_of=today,
                                                  verdict=verdict, recognized=recognized, conditional=conditional,
                                                  owed=owed, detail=detail, inputs_digest="0" * 64, computed_at=now))
            session.execute(insert(Product.__table__), rows["products"])
            if rows["identifiers"]:
                session.execute(insert(ProductIdentifier.__table__), rows["identifiers"])
            session.execute(insert(Report.__table__), rows["reports"])
            session.execute(insert(ReportRevision.__table__), rows["revisions"])
            session.execute(insert(ReportEvent.__table__), rows["events"])
            session.execute(insert(SearchDocument.__table__), rows["search"])
            session.execute(insert(SearchStandard.__table__), rows["standards"])
            session.execute(insert(Decision.__table__), rows["decisions"])
            session.execute(insert(DecisionPlan.__table__), [
                dict(product_id=d["product_id"], market=d["market"], plan=d["detail"]["delta_test_plan"],
                     savings=d["detail"]["savings"], conditional_savings=d["detail"]["conditional_savings"])
                for d in rows["decisions"]
            ])
            if sqlite:
                session.execute(text("INSERT INTO search_models_fts(rowid, model_key) VALUES (:id, :key)"),
                                rows["models"])
            session.commit()
        session.commit()
    # Statistics (and, on PostgreSQL, the visibility map that index-only scans rely on) as a database in steady
    # service has them: autovacuum on PostgreSQL, `PRAGMA optimize` or ANALYZE on SQLite.
    engine = app.extensions["registry.engine"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if db.kind == "postgresql" else "ANALYZE")
    return {"build_s": time.perf_counter() - started, "samples": samples, "products": products,
            "reports": report_id, "makers": makers}


def _timed(client, url: str, headers: dict) -> float:
    t0 = time.perf_counter()
    # A standard edition or a lab typed in the box redirects to its facet: the time is both requests.
    response = client.get(url, headers=headers, follow_redirects=True)
    elapsed = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p95": ordered[max(0, int(len(ordered) * 0.95) - 1)],
            "max": ordered[-1], "n": len(ordered)}


def page_figures(db: ScratchDatabase, corpus: dict, requests: int) -> dict:
    from registry import create_app
    from registry.db import get_session
    from registry.services import accounts

    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    rng = random.Random(9)
    s = corpus["samples"]
    headers = {"Accept-Encoding": "gzip", "Accept-Language": "en"}
    queries = {
        "report number": lambda: f"/search?q={rng.choice(s['report_numbers'])}",
        "model": lambda: f"/search?q={rng.choice(s['models'])}",
        "partial model": lambda: f"/search?q={rng.choice(s['models']).split('-')[1]}",
        "maker (en)": lambda: f"/search?q={rng.choice(s['makers'])}",
        "maker (zh, 2 chars)": lambda: f"/search?q={rng.choice(s['makers_zh'])}",
        "lab (~12k hits)": lambda: "/search?q=Jurong",
        "standard (~30k hits)": lambda: "/search?q=IEC+61851-23:2023",
        "certificate": lambda: f"/search?q={rng.choice(s['certificates'])}",
        "misspelt model": lambda: f"/search?q={rng.choice(s['models']).replace('-DC', '-DCC')}",
        "facet + page 5": lambda: "/search?q=Shenzhen&market=SG&page=5",
    }
    figures: dict = {"search_by_query": {}}
    client = app.test_client()
    for make in queries.values():  # warm the caches and the connection pool
        client.get(make(), headers=headers)
    all_search = []
    for name, make in queries.items():
        samples = [_timed(client, make(), headers) for _ in range(max(1, requests // len(queries)))]
        figures["search_by_query"][name] = _percentiles(samples)
        all_search.extend(samples)
    figures["search"] = _percentiles(all_search)
    figures["product"] = _percentiles(
        [_timed(client, f"/products/{rng.randrange(1, corpus['products'] + 1)}", headers) for _ in range(requests)])
    with app.app_context():
        account = accounts.authenticate(get_session(), "regulator@bench.example", "bench-password-123")
    with client.session_transaction() as cookie:
        cookie["uid"], cookie["tok"] = account.user_id, account.session_token
    figures["dashboard"] = _percentiles(
        [_timed(client, f"/manufacturers/mfr-bench-{rng.randrange(corpus['makers']):03d}/dashboard", headers)
         for _ in range(requests)])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--reports-per-product", type=int, default=10)
    parser.add_argument("--makers", type=int, default=400)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e == "sqlite" or pg_available()]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            db = ScratchDatabase(engine, Path(tmp))
            try:
                corpus = build_corpus(db, args.products, args.reports_per_product, args.makers)
                figures = page_figures(db, corpus, args.requests)
            finally:
                db.drop()
            print(f"== {engine}: {corpus['products']:,} products, {corpus['reports']:,} reports, "
                  f"{args.makers} makers (built in {corpus['build_s']:.0f} s) — server time, ms ==")
            for page in ("search", "product", "dashboard"):
                f = figures[page]
                print(f"  {page:<28} p50 {f['p50']:7.1f}   p95 {f['p95']:7.1f}   max {f['max']:7.1f}   n={f['n']}")
            for name, f in figures["search_by_query"].items():
                print(f"    search: {name:<22} p50 {f['p50']:7.1f}   p95 {f['p95']:7.1f}")
            results[engine] = {"build_s": corpus["build_s"], **figures}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
