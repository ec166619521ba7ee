"""Recognition benchmarks: `.venv/bin/python -m bench.recognition`. Prints figures; asserts nothing.

1. Engine: evaluations per second (product x market) for products with 50 and 300 results, on the seed rulebook.
2. A generated corpus of N products (default 10,000; each with one GB/T, IEC/EN or TR 25 report built from the
   published examples) in a scratch SQLite file and a scratch PostgreSQL database:
   - full recompute of every product across all markets (the CLI's `registry recompute`);
   - what-if impact of a draft (one added EU rule) over the whole corpus;
   - server time of one product's recognition at the API (all markets, and one market's detail).
"""

from __future__ import annotations

import argparse
import copy
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

from sqlalchemy import insert, select  # noqa: E402

from bench.__main__ import ScratchDatabase, pg_available  # noqa: E402

TEMPLATES = {"gbt": "cn-gbt-report.json", "iec": "de-iec-report.json", "tr25": "sg-tr25-report.json"}
LABS = {"gbt": ["lab-cn-sh-evtc", "lab-cn-sz-nepower"], "iec": ["lab-de-rheinmain-emob", "lab-fr-lyon-irve"],
        "tr25": ["lab-sg-jurong-evlab", "lab-my-shahalam-evtest"]}


def template(name: str) -> dict:
    return json.loads((ROOT / "schemas" / "examples" / "valid" / TEMPLATES[name]).read_text())


# ---------------------------------------------------------------------------------------------------- engine


def engine_figures(db: ScratchDatabase, seconds: float = 3.0) -> dict[str, float]:
    from registry import create_app
    from registry.db import get_session
    from registry.recognition import ResultEvidence, evaluate, evaluate_markets
    from registry.services import decisions, evidence

    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    figures = {}
    with app.app_context():
        session = get_session()
        inputs = decisions.engine_inputs(session, date.today())
        timeline = evidence.scheme_timeline(session)
        from registry.services.accreditation import lab_standing

        pool = []
        for regime, labs in LABS.items():
            doc = template(regime)
            for lab in labs:
                standing = lab_standing(session, lab)
                for i, r in enumerate(doc["results"]):
                    performed = date.fromisoformat(r["performed_on"])
                    pool.append(ResultEvidence(
                        report_id=len(pool), report_number=f"{lab}-{regime}", revision=1, lab_id=lab,
                        report_status="valid", withdrawn_on=None, issued_on=date.fromisoformat(doc["issued_on"]),
                        standard=r["standard"], clause=r["clause"], test_item=r["test_item"], verdict=r["verdict"],
                        performed_on=performed, accredited=standing.accredited_for(r["standard"], performed),
                        lab_schemes=evidence.lab_schemes_on(standing, timeline, r["standard"], performed),
                        lab_country=lab.split("-")[1].upper(), ambient_min_c=None, ambient_max_c=None,
                        supply_frequency_hz=None,
                    ))
        from registry.recognition import ProductFacts

        product = ProductFacts(product_id=1, category="dc_charger", max_power_kw=600, connectors=frozenset({"GBT_DC", "CCS2"}),
                               cooling="liquid", liquid_cooled_cable=True, input_frequency_hz=50, ip_code="IP55")
        rng = random.Random(7)
        for size in (50, 300):
            evidence_set = []
            while len(evidence_set) < size:
                r = rng.choice(pool)
                evidence_set.append(ResultEvidence(**{**r.__dict__, "report_id": len(evidence_set) // 30,
                                                      "report_number": f"R{len(evidence_set) // 30}"}))
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                for market in inputs.markets:
                    evaluate(product, evidence_set, inputs.rulebook, inputs.catalogue, inputs.labs, market, inputs.as_of)
                    n += 1
            figures[f"evaluate_{size}_per_s"] = n / (time.perf_counter() - start)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                evaluate_markets(product, evidence_set, inputs.rulebook, inputs.catalogue, inputs.labs, inputs.markets,
                                 inputs.as_of)
                n += len(inputs.markets)
            figures[f"evaluate_markets_{size}_per_s"] = n / (time.perf_counter() - start)
    return figures


# ---------------------------------------------------------------------------------------------------- corpus


def build_corpus(db: ScratchDatabase, products: int) -> float:
    """Insert N products, each with one report (a template's results), by bulk Core inserts; returns seconds."""
    from registry import create_app
    from registry.db import get_session
    from registry.models import Organization, Product, Report, ReportEvent, ReportRevision, TestResult, utcnow
    from registry.services.accreditation import lab_standing

    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    rng = random.Random(2026)
    started = time.perf_counter()
    with app.app_context():
        session = get_session()
        standings = {lab: lab_standing(session, lab) for labs in LABS.values() for lab in labs}
        templates = {k: template(k) for k in TEMPLATES}
        makers = [dict(id=f"mfr-bench-{i:03d}", kind="manufacturer", name_en=f"Bench Maker {i}", country="CN",
                       demo=True, created_at=utcnow()) for i in range(200)]
        session.execute(insert(Organization.__table__), makers)
        now = utcnow()
        batch = 1000
        report_id = 0
        for start in range(0, products, batch):
            count = min(batch, products - start)
            product_rows, report_rows, revision_rows, result_rows, event_rows = [], [], [], [], []
            first_product = session.scalar(select(Product.id).order_by(Product.id.desc()).limit(1)) or 0
            first_revision = session.scalar(select(ReportRevision.id).order_by(ReportRevision.id.desc()).limit(1)) or 0
            for k in range(count):
                pid = first_product + k + 1
                regime = rng.choice(list(TEMPLATES))
                doc = templates[regime]
                product = doc["product"]
                product_rows.append(dict(
                    id=pid, manufacturer_id=makers[pid % len(makers)]["id"], model=f"BENCH-{pid:05d}",
                    model_key=f"bench-{pid:05d}", category=product["category"],
                    description={k2: v for k2, v in product.items() if k2 not in ("manufacturer", "certificates")},
                    created_at=now, updated_at=now,
                ))
                report_id += 1
                lab = rng.choice(LABS[regime])
                revision_id = first_revision + k + 1
                report_rows.append(dict(id=report_id, lab_id=lab, report_number=f"BENCH-{report_id:06d}",
                                        product_id=pid, status="valid", current_revision=1,
                                        issued_on=date.fromisoformat(doc["issued_on"]), created_at=now, updated_at=now))
                # The stored document omits the results here (they are rows below): recompute never reads it.
                revision_rows.append(dict(id=revision_id, report_id=report_id, revision=1,
                                          document={k2: v for k2, v in doc.items() if k2 != "results"},
                                          document_sha256="0" * 64, submitted_by=lab, submitted_at=now))
                event_rows.append(dict(report_id=report_id, kind="submitted", revision=1, actor_org=lab,
                                       effective_on=date.fromisoformat(doc["issued_on"]) + timedelta(days=3),
                                       recorded_at=now))
                for i, r in enumerate(doc["results"]):
                    performed = date.fromisoformat(r["performed_on"])
                    result_rows.append(dict(
                        revision_id=revision_id, position=i, standard_id=r["standard"], clause=r["clause"],
                        clause_verified=r["clause"] is not None, test_item_id=r["test_item"], verdict=r["verdict"],
                        performed_on=performed, sample_id=r["sample_id"],
                        accredited=standings[lab].accredited_for(r["standard"], performed),
                        conditions=r.get("conditions"),
                    ))
            session.execute(insert(Product.__table__), product_rows)
            session.execute(insert(Report.__table__), report_rows)
            session.execute(insert(ReportRevision.__table__), revision_rows)
            session.execute(insert(ReportEvent.__table__), event_rows)
            session.execute(insert(TestResult.__table__), result_rows)
            session.commit()
    return time.perf_counter() - started


def corpus_figures(db: ScratchDatabase, products: int, workers: int) -> dict[str, float]:
    from registry import create_app
    from registry.db import get_session
    from registry.services import decisions, rulebooks
    from registry.services.permissions import Principal

    figures = {"build_s": build_corpus(db, products)}
    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = get_session()
        markets = len(decisions.target_markets(session))
        start = time.perf_counter()
        decisions.recompute_all(session, workers=1)
        figures["recompute_1_worker_s"] = time.perf_counter() - start
        if workers > 1:
            start = time.perf_counter()
            decisions.recompute_all(session, workers=workers)
            figures[f"recompute_{workers}_workers_s"] = time.perf_counter() - start
        figures["product_markets"] = products * markets

        regulator = Principal(org_id="bench-regulator", kind="regulator")
        document = copy.deepcopy(rulebooks.current(session).document)
        document["markets"]["EU"]["rules"].append({
            "id": "EU-A-900", "version": 1, "kind": "acceptance", "valid_from": "2023-12-01", "outcome": "conditional",
            "applies_to": {"test_items": ["climatic_damp_heat"]},
            "description": {"en": "Bench draft: accept GB/T 20234.1-2023 damp heat results on a document review."},
            "source": "benchmark draft", "verified": False,
            "when": {"all": [{"op": "standard_in", "ids": ["GB/T 20234.1-2023"]}, {"op": "lab_accredited"}]},
            "extra_steps": ["Document review"],
        })
        draft = rulebooks.create_draft(session, regulator, document, "bench draft")
        start = time.perf_counter()
        impact = decisions.impact(session, regulator, draft.version, workers=workers)
        figures["what_if_s"] = time.perf_counter() - start
        figures["what_if_tests_saved_eu"] = impact["markets"]["EU"]["tests_saved"]

    client = app.test_client()
    samples_all, samples_one = [], []
    rng = random.Random(3)
    for _ in range(200):
        pid = rng.randrange(1, products + 1)
        t0 = time.perf_counter()
        assert client.get(f"/api/v1/products/{pid}/recognition").status_code == 200
        samples_all.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        assert client.get(f"/api/v1/products/{pid}/recognition?market=SG").status_code == 200
        samples_one.append((time.perf_counter() - t0) * 1000)
    for name, samples in (("api_all_markets_ms", samples_all), ("api_one_market_detail_ms", samples_one)):
        samples.sort()
        figures[name + "_p50"] = statistics.median(samples)
        figures[name + "_p95"] = samples[int(len(samples) * 0.95) - 1]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e == "sqlite" or pg_available()]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, engine in enumerate(engines):
            db = ScratchDatabase(engine, Path(tmp))
            try:
                if i == 0:
                    figures = engine_figures(db)
                    print("== engine (seed rulebook, all target markets) ==")
                    for k, v in figures.items():
                        print(f"  {k:<32} {v:>10.0f}")
                    results["engine"] = figures
                figures = corpus_figures(db, args.products, args.workers)
                print(f"== {engine}: corpus of {args.products} products ==")
                for k, v in figures.items():
                    print(f"  {k:<32} {v:>10.2f}")
                results[engine] = figures
            finally:
                db.drop()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "recognition.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
