"""Stored decisions are written compact and served whole: what a lookup serves must be exactly what the engine said."""

from __future__ import annotations

import gc
from datetime import date

import pytest
from sqlalchemy import select

from registry.models import Decision
from registry.services import decisions, evidence
from tests.factories import report_document, submit


def _live(session, product_id):
    inputs = decisions.engine_inputs(session, date.today())
    facts = evidence.product_facts(session, [product_id])[product_id]
    found = evidence.evidence_for(session, [product_id], inputs.timeline, inputs.standings)[product_id]
    return decisions.decide(inputs, facts, found)


def test_a_stored_decision_is_served_exactly_as_the_engine_explained_it(session):
    # A report number holding ": " (the separator the compact form splits texts on) and a second lab's report.
    first = report_document("cn", report_number="QA: 2026: 17")
    first["product"]["model"] = "STORED-FORM-1"
    filed = submit(session, first)
    second = report_document("sg")
    second["product"] = dict(first["product"])
    submit(session, second)

    stored = {d.market: d.detail for d in session.scalars(select(Decision).where(Decision.product_id == filed.product_id))}
    live = {market: decisions.decision_document(d) for market, d in _live(session, filed.product_id).items()}
    assert stored and set(stored) == set(live)
    for market, detail in stored.items():
        assert detail["format"] == decisions.STORED_FORMAT
        assert decisions.served_document(detail) == live[market]
    texts = [x["message"]["en"] for d in live.values() for r in d["requirements"] for x in r["reasons"]]
    assert any("QA: 2026: 17" in t for t in texts) and any(": " not in t for t in texts)


def test_the_compact_form_is_smaller_and_the_api_serves_the_whole_one(session, client):
    document = report_document("de")
    document["product"]["model"] = "STORED-FORM-2"
    filed = submit(session, document)
    import orjson

    row = session.scalar(select(Decision).where(Decision.product_id == filed.product_id, Decision.market == "EU"))
    served = decisions.served_document(row.detail)
    assert len(orjson.dumps(row.detail)) < 0.75 * len(orjson.dumps(served))
    answer = client.get(f"/api/v1/products/{filed.product_id}/recognition?market=EU").get_json()
    assert answer["computed"] == "stored"
    assert answer["decision"] == orjson.loads(orjson.dumps(served))


def test_decisions_stored_before_the_compact_form_are_served_as_they_are():
    whole = {"market": "EU", "requirements": [{"requirement_id": "EU-R-1", "reasons": [{"message": {"en": "a: b"}}]}]}
    assert decisions.served_document(whole) is whole



def test_a_recompute_batch_runs_with_the_cycle_collector_paused(session, monkeypatch):
    """Batches pause the collector (it took half a recompute's time; tests/test_collector.py covers resuming it)."""
    product_id = submit(session, report_document("cn")).product_id
    seen = []
    compute = decisions.compute
    monkeypatch.setattr(decisions, "compute", lambda *args: seen.append(gc.isenabled()) or compute(*args))
    decisions.recompute_batch(session, [product_id], date.today())
    assert seen and not any(seen)
    assert gc.isenabled()
