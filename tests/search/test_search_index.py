"""The search index: what a person types finds the report, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm, tsvector)."""

from __future__ import annotations

import copy

from sqlalchemy import select, text

from registry.models import SearchDocument, SearchStandard
from registry.services import reports, search
from registry.services.search import SearchFilters
from tests import factories
from tests.factories import as_org


def _find(session, query, **filters):
    return search.run_search(session, search.query_tokens(query), SearchFilters(**filters), 0, 50)


def test_terms_hold_padded_short_words_and_compact_identifiers():
    terms = search.index_terms(["深圳沃塔瑞斯电力", "VT"], ["VT-DC600L", "GB/T 18487.1-2023"])
    assert "vt-dc600l" in terms and "vtdc600l" in terms and "gbt1848712023" in terms
    assert "|沃塔|" in terms and "|沃|" in terms and "|vt|" in terms
    assert search.fts5_query(["天域", "dc600"]) == '"|天域|" AND "dc600"'
    assert search.query_tokens('  ＶＴ-DC600L, "IEC"  ') == ["vt-dc600l", "iec"]
    assert search.similarity("vt-dc600l", "vt-dc600l") == 1.0 and search.similarity("abc", "xyz") == 0.0


def test_every_way_of_naming_a_report_finds_it(session):
    filed = factories.submit(session, factories.report_document("cn"))
    for query in [filed.report_number, filed.report_number.lower(), "VT-DC600L", "vtdc600l", "dc600",
                  "Voltaris", "深圳沃塔瑞斯", "沃塔", "沃", "Huadong", "上海华东", "GB/T 18487.1-2023",
                  "2025010701765432", "CCC", "lab-cn-sh-evtc", "VT DC600L"]:
        found = _find(session, query)
        assert filed.id in found.report_ids, query


def test_a_query_matches_all_its_words_and_nothing_else(session):
    cn = factories.submit(session, factories.report_document("cn"))
    de = factories.submit(session, factories.report_document("de"))
    assert _find(session, "Voltaris Rheinwerk").total == 0
    rheinwerk = _find(session, "Rheinwerk HPC400")
    assert de.id in rheinwerk.report_ids and cn.id not in rheinwerk.report_ids
    assert _find(session, "no-such-charger-anywhere").total == 0


def test_facets_count_and_narrow(session):
    cn = factories.submit(session, factories.report_document("cn"))
    sg = factories.submit(session, factories.report_document("sg"))
    everything = _find(session, "co., ltd")
    assert {cn.id, sg.id} <= set(everything.report_ids)
    labs = dict(everything.facets["lab"])
    assert labs["lab-cn-sh-evtc"] >= 1 and labs["lab-sg-jurong-evlab"] >= 1
    assert dict(everything.facets["standard"])["GB/T 18487.1-2023"] >= 1
    only_sg = _find(session, "co., ltd", lab="lab-sg-jurong-evlab")
    assert sg.id in only_sg.report_ids and cn.id not in only_sg.report_ids
    by_standard = _find(session, "co., ltd", standard="GB/T 18487.1-2023")
    assert cn.id in by_standard.report_ids and sg.id not in by_standard.report_ids


def test_the_index_follows_revisions_and_withdrawals(session):
    filed = factories.submit(session, factories.report_document("cn"))
    lab = as_org(session, filed.lab_id)
    document = session.scalar(select(SearchDocument).where(SearchDocument.report_id == filed.id))
    assert document.status == "valid" and document.revision == 1
    revised = copy.deepcopy(factories.example("cn"))
    revised["report_number"] = filed.report_number
    revised["product"]["model"] = "VT-DC600L-R2"
    reports.revise_report(session, lab, filed.id, revised, "model name corrected", today=factories.TODAY)
    assert filed.id in _find(session, "DC600L-R2").report_ids
    assert _find(session, "DC600L-R2", status="revised").report_ids == [filed.id]
    reports.withdraw_report(session, lab, filed.id, "sample mismatch", today=factories.TODAY)
    assert _find(session, "DC600L-R2", status="withdrawn").report_ids == [filed.id]
    assert _find(session, "DC600L-R2", status="valid").report_ids == []
    # the standards facet rows follow the current revision, one row per standard
    cited = session.scalars(select(SearchStandard.standard_id).where(SearchStandard.report_id == filed.id)).all()
    assert len(cited) == len(set(cited)) and "GB/T 18487.1-2023" in cited


def test_near_miss_model_names_are_suggested(session):
    filed = factories.submit(session, factories.report_document("cn"))
    assert _find(session, "VT-DC6000L").total == 0
    suggested = dict(search.near_models(session, "VT-DC6000L"))
    assert suggested.get(filed.product_id) == "VT-DC600L"
    assert search.near_models(session, "qq") == []


def test_reindex_rebuilds_what_is_missing(session):
    filed = factories.submit(session, factories.report_document("cn"))
    session.execute(SearchStandard.__table__.delete())
    session.execute(SearchDocument.__table__.delete())
    assert _find(session, "VT-DC600L").total == 0
    assert search.reindex_missing(session) >= 1
    assert filed.id in _find(session, "VT-DC600L").report_ids


def _plan(session, query: str) -> str:
    statement = search._filtered(session, search.query_tokens(query), SearchFilters())
    if session.get_bind().dialect.name != "sqlite":
        statement = statement.order_by(None)  # on a near-empty table the planner would walk the primary key instead
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if session.get_bind().dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    session.execute(text("SET LOCAL enable_seqscan = off"))  # a near-empty table would otherwise be scanned
    return " ".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))


def test_the_engine_text_index_answers_not_a_scan(session):
    """The query plan uses the FTS5 table (SQLite) or the GIN indexes (PostgreSQL), never a scan of the text."""
    factories.submit(session, factories.report_document("cn"))
    if session.get_bind().dialect.name == "sqlite":
        plan = _plan(session, "VT-DC600L 沃塔")
        assert "VIRTUAL TABLE INDEX" in plan and "search_fts" in plan, plan
        return
    long_plan, short_plan = _plan(session, "VT-DC600L"), _plan(session, "沃塔")
    assert "ix_search_documents_terms_trgm" in long_plan and "Seq Scan" not in long_plan, long_plan
    assert "ix_search_documents_terms_tsv" in short_plan and "Seq Scan" not in short_plan, short_plan
