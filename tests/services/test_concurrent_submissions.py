"""Reports of one product filed at the same moment, each in its own transaction, as two server workers do.

On PostgreSQL nothing serializes two submissions but the database; on SQLite the writer lock does. Either way all
must be accepted, name one manufacturer and one product, and leave decisions and search rows that include every
report (nothing computed from a snapshot that missed one).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.config import PACKAGE_DIR
from registry.db import Base, make_engine
from registry.models import Decision, Organization, Product, Report, SearchDocument
from registry.services import catalogue, decisions, reports, rulebooks
from registry.services.permissions import Principal
from tests.factories import TODAY, report_document
from tests.scratch import scratch_postgres_database

WRITERS = 6


@contextmanager
def _own_database(tmp_path):
    """A database of the test's own (transactions here commit for real), schema and reference data loaded."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        with scratch_postgres_database(base, "concurrency") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"


@pytest.fixture
def own_engine(tmp_path):
    with _own_database(tmp_path) as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)  # a throw-away database: the suite's own setup does the same
        with Session(engine) as session:
            catalogue.load_catalogue(session, PACKAGE_DIR / "catalogue")
            rulebooks.seed_rulebook(session)
            session.commit()
        yield engine
        engine.dispose()


def test_simultaneous_reports_of_a_new_product_are_all_kept_and_decided_together(own_engine, monkeypatch):
    documents = []
    for _ in range(WRITERS):
        document = report_document("cn")
        document["product"]["manufacturer"] = {"name": "Concurrent Charging Works", "country": "CN"}
        document["product"]["model"] = "RACE-600"
        documents.append(document)
    start = threading.Barrier(WRITERS)
    # Widen the window the race needs: the writers joining the product the first one registered wait, their report
    # inserted, (at most a second) for each other before deriving anything. Where the product lock orders them, only
    # one gets there at a time.
    inserted = threading.Barrier(WRITERS - 1, timeout=1)

    def wait_for_the_others(_session, change):
        if change.created:
            return
        try:
            inserted.wait()
        except threading.BrokenBarrierError:
            pass

    monkeypatch.setattr(reports, "evidence_listeners", [wait_for_the_others, *reports.evidence_listeners])
    failures: list[BaseException] = []

    def file(document):
        try:
            with Session(own_engine, expire_on_commit=False) as session:
                start.wait()
                reports.submit_report(session, Principal(org_id=document["lab"], kind="lab"), document, today=TODAY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=file, args=(d,)) for d in documents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures

    with Session(own_engine) as session:
        makers = session.scalars(select(Organization.id).where(Organization.name_en == "Concurrent Charging Works")).all()
        assert len(makers) == 1
        products = session.scalars(select(Product.id).where(Product.manufacturer_id == makers[0])).all()
        assert len(products) == 1
        product_id = products[0]
        assert session.scalar(select(func.count()).select_from(Report).where(Report.product_id == product_id)) == WRITERS
        assert session.scalar(
            select(func.count()).select_from(SearchDocument).where(SearchDocument.product_id == product_id)) == WRITERS
        stored = {d.market: (d.inputs_digest, d.detail) for d in
                  session.scalars(select(Decision).where(Decision.product_id == product_id))}
        # The inputs digest covers every result the decision was computed from: a rebuild from all the reports
        # now stored must give the very same decisions.
        decisions.recompute_products(session, [product_id])
        session.flush()
        rebuilt = {d.market: (d.inputs_digest, d.detail) for d in
                   session.scalars(select(Decision).where(Decision.product_id == product_id)).unique()}
        session.rollback()
    assert stored and stored == rebuilt


def test_a_report_filed_while_a_recompute_batch_decides_is_not_lost(own_engine, monkeypatch):
    first = report_document("cn")
    first["product"]["model"] = "RACE-RECOMPUTE"
    with Session(own_engine, expire_on_commit=False) as session:
        product_id = reports.submit_report(session, Principal(org_id=first["lab"], kind="lab"), first,
                                           today=TODAY).product_id
    second = report_document("de")
    second["product"] = dict(first["product"])
    filing = threading.Thread(target=lambda: _file_in_own_session(own_engine, second))
    original = decisions.compute

    def compute_then_let_a_report_in(session, inputs, product_ids, markets=None):
        decided = original(session, inputs, product_ids, markets)
        if not filing.is_alive() and filing.ident is None:
            # The batch has decided; a lab files a report of the same product now. Where the batch holds the
            # product (PostgreSQL) the filing waits for it; elsewhere it commits right away.
            filing.start()
            filing.join(1)
        return decided

    monkeypatch.setattr(decisions, "compute", compute_then_let_a_report_in)
    with Session(own_engine, expire_on_commit=False) as session:
        decisions.recompute_batch(session, [product_id], date.today())
    filing.join(60)
    monkeypatch.setattr(decisions, "compute", original)

    with Session(own_engine) as session:
        assert session.scalar(select(func.count()).select_from(Report).where(Report.product_id == product_id)) == 2
        stored = {d.market: (d.inputs_digest, d.detail) for d in
                  session.scalars(select(Decision).where(Decision.product_id == product_id))}
        decisions.recompute_products(session, [product_id])
        session.flush()
        rebuilt = {d.market: (d.inputs_digest, d.detail) for d in
                   session.scalars(select(Decision).where(Decision.product_id == product_id))}
        session.rollback()
    assert stored == rebuilt, "the stored decisions must include the report filed during the batch"


def _file_in_own_session(engine, document):
    with Session(engine, expire_on_commit=False) as session:
        reports.submit_report(session, Principal(org_id=document["lab"], kind="lab"), document, today=TODAY)
