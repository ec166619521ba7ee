"""A product's first report: decisions and search rows are derived from the document in hand, not read back.

What the fast path writes must be exactly what the general path (read the product's evidence from the database)
writes, or lookups would change after the next recompute.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import Decision, DecisionPlan, SearchDocument, SearchStandard
from registry.services import decisions, search
from tests.factories import report_document, submit


def _decisions(session, product_id):
    rows = session.scalars(select(Decision).where(Decision.product_id == product_id).order_by(Decision.market)).all()
    plans = session.scalars(
        select(DecisionPlan).where(DecisionPlan.product_id == product_id).order_by(DecisionPlan.market)).all()
    return ([(r.market, r.verdict, r.recognized, r.conditional, r.owed, r.rulebook_version, r.as_of, r.inputs_digest,
              r.detail) for r in rows],
            [(p.market, p.plan, p.savings, p.conditional_savings) for p in plans])


def _search_rows(session, product_id):
    documents = session.scalars(select(SearchDocument).where(SearchDocument.product_id == product_id)).all()
    standards = session.scalars(select(SearchStandard).where(
        SearchStandard.report_id.in_([d.report_id for d in documents])).order_by(SearchStandard.standard_id)).all()
    return ([(d.report_id, d.lab_id, d.status, d.revision, d.issued_on, d.terms) for d in documents],
            [(s.report_id, s.standard_id) for s in standards])


@pytest.mark.parametrize("base", ["cn", "de", "sg"])
def test_first_report_of_a_product_derives_what_a_rebuild_derives(session, base):
    document = report_document(base)
    document["product"]["model"] = f"FAST-PATH-{document['report_number']}"
    document["product"].setdefault("certificates", []).append({"scheme": "IECEE_CB", "number": f"CB-{base}-77", "issuer": "TEST"})
    filed = submit(session, document)

    stored_decisions = _decisions(session, filed.product_id)
    stored_search = _search_rows(session, filed.product_id)
    assert len(stored_decisions[0]) == len(decisions.target_markets(session)) > 0
    assert stored_search[0] and stored_search[1]

    decisions.recompute_products(session, [filed.product_id])
    search.refresh_products(session, [filed.product_id])
    session.flush()
    session.expire_all()

    assert _decisions(session, filed.product_id) == stored_decisions
    assert _search_rows(session, filed.product_id) == stored_search


def test_second_report_of_the_product_takes_the_general_path(session):
    first = report_document("cn")
    first["product"]["model"] = "FAST-PATH-TWICE"
    submit(session, first)
    second = report_document("de")
    second["product"] = dict(first["product"])
    filed = submit(session, second)
    stored = _decisions(session, filed.product_id)
    # Both reports' results count: the product's decisions cite evidence from each report.
    cited = {e["report_number"] for row in stored[0]
             for r in decisions.served_document(row[8])["requirements"] for e in r["evidence"]}
    assert {first["report_number"], second["report_number"]} <= cited
    assert len(_search_rows(session, filed.product_id)[0]) == 2


def _submit_with_preparer(session, monkeypatch, tamper, document=None):
    """Submit a report with the decisions preparer's result passed through `tamper`."""
    from registry.services import reports

    original = decisions.prepare_submission

    def preparer(session_, change):
        prepared = original(session_, change)["decisions"]
        tamper(prepared)
        return {"decisions": prepared}

    monkeypatch.setattr(reports, "evidence_preparers", [preparer])
    if document is None:
        document = report_document("cn")
        document["product"]["model"] = f"PREPARED-{document['report_number']}"
    return submit(session, document)


def _rebuilt(session, product_id):
    decisions.recompute_products(session, [product_id])
    session.flush()
    session.expire_all()
    return {row[0]: row for row in _decisions(session, product_id)[0]}


def test_decisions_prepared_before_the_lock_are_stored_with_the_real_ids(session, monkeypatch):
    seen = {}

    def mark(prepared):
        seen["verdicts"] = {market: document["verdict"] for market, document in prepared.documents.items()}
        prepared.documents["CN"]["verdict"] = "prepared-outside-the-lock"  # marks the prepared copy

    filed = _submit_with_preparer(session, monkeypatch, mark)
    stored = {row[0]: row for row in _decisions(session, filed.product_id)[0]}
    assert stored["CN"][8]["verdict"] == "prepared-outside-the-lock"
    cited = {e["report_id"] for row in stored.values()
             for r in decisions.served_document(row[8])["requirements"] for e in r["evidence"]}
    assert cited == {filed.id}, "citations carry the report id assigned under the lock, not the placeholder"
    rebuilt = _rebuilt(session, filed.product_id)
    assert {m: row[7] for m, row in rebuilt.items()} == {m: row[7] for m, row in stored.items()}, "same digests"
    assert {m: row[8]["verdict"] for m, row in rebuilt.items()} == seen["verdicts"]


def test_a_later_report_of_a_known_product_is_prepared_with_the_products_evidence(session, monkeypatch):
    first = report_document("de")
    first["product"]["model"] = "PREPARED-KNOWN"
    submit(session, first)
    second = report_document("cn")
    second["product"] = dict(first["product"], certificates=[{"scheme": "CCC", "number": "2026-PREP-1", "issuer": "CQC"}])

    def mark(prepared):
        assert prepared.product_id != 0 and len(prepared.evidence) > len(second["results"])
        prepared.documents["EU"]["verdict"] = "prepared-outside-the-lock"

    filed = _submit_with_preparer(session, monkeypatch, mark, second)
    stored = {row[0]: row for row in _decisions(session, filed.product_id)[0]}
    assert stored["EU"][8]["verdict"] == "prepared-outside-the-lock"
    rebuilt = _rebuilt(session, filed.product_id)
    assert {m: row[7] for m, row in rebuilt.items()} == {m: row[7] for m, row in stored.items()}, "same digests"
    del stored["EU"], rebuilt["EU"]
    assert {m: row[8] for m, row in rebuilt.items()} == {m: row[8] for m, row in stored.items()}


@pytest.mark.parametrize("stale", ["inputs", "product"])
def test_decisions_prepared_on_what_changed_since_are_recomputed(session, monkeypatch, stale):
    import dataclasses

    def outdate(prepared):
        prepared.documents["CN"]["verdict"] = "stale"
        if stale == "inputs":
            prepared.inputs = dataclasses.replace(prepared.inputs)  # an equal copy is not the inputs in force
        else:
            prepared.reports_state = (99, None)  # as if another report of the product was filed meanwhile

    document = None
    if stale == "product":
        first = report_document("de")
        first["product"]["model"] = "PREPARED-STALE"
        submit(session, first)
        document = report_document("cn")
        document["product"] = dict(first["product"])
    filed = _submit_with_preparer(session, monkeypatch, outdate, document)
    stored = {row[0]: row for row in _decisions(session, filed.product_id)[0]}
    assert stored["CN"][8]["verdict"] != "stale"
    assert {m: row[8] for m, row in _rebuilt(session, filed.product_id).items()} == {m: row[8] for m, row in stored.items()}


@pytest.mark.parametrize("new_certificate", [False, True, None])
def test_a_later_report_adds_its_search_row_as_a_rebuild_would(session, new_certificate):
    """None: the later report declares no certificate; its row still carries those the product holds."""
    first = report_document("cn")
    first["product"]["model"] = f"SEARCH-LATER-{new_certificate}"
    submit(session, first)
    second = report_document("de")
    second["product"] = dict(first["product"])
    if new_certificate:
        second["product"]["certificates"] = [{"scheme": "IECEE_CB", "number": "DE-CB-4242", "issuer": "TEST"}]
    elif new_certificate is None:
        second["product"].pop("certificates", None)
    filed = submit(session, second)
    stored = _search_rows(session, filed.product_id)
    search.refresh_products(session, [filed.product_id])
    session.flush()
    session.expire_all()
    assert _search_rows(session, filed.product_id) == stored
    assert len(stored[0]) == 2
