"""The set-up commands as an operator runs them, on a fresh database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry import create_app
from registry.db import get_session
from registry.models import ApiKey, Organization, Report, ReportEvent, Standard


@pytest.fixture
def fresh_app(tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "SECRET_KEY": "t"})


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["registry", *args])
    return result


def test_init_migrates_and_loads_the_catalogue_idempotently(fresh_app):
    first = run(fresh_app, "init")
    assert first.exit_code == 0, first.output
    assert "catalogue loaded" in first.output
    second = run(fresh_app, "init")
    assert second.exit_code == 0 and "unchanged" in second.output
    with fresh_app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Standard)) > 50


def test_organizations_and_keys(fresh_app):
    assert run(fresh_app, "init").exit_code == 0
    created = run(fresh_app, "create-org", "--id", "mfr-acme", "--kind", "manufacturer", "--name", "Acme", "--country", "CN")
    assert created.exit_code == 0, created.output
    duplicate = run(fresh_app, "create-org", "--id", "mfr-acme", "--kind", "manufacturer", "--name", "Acme")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad = run(fresh_app, "create-org", "--id", "Bad Id", "--kind", "lab", "--name", "X")
    assert bad.exit_code != 0 and "/id" in bad.output

    issued = run(fresh_app, "create-key", "--org", "mfr-acme", "--label", "ci", "--expires", "2030-01-01")
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip().splitlines()[0]
    assert key.startswith("crr_") and len(key) > 40
    with fresh_app.app_context():
        stored = get_session().scalars(select(ApiKey)).all()
        assert len(stored) == 1 and key not in (stored[0].key_hash, stored[0].prefix)
        key_id = stored[0].id
    listing = run(fresh_app, "list-keys")
    assert "mfr-acme" in listing.output and key not in listing.output
    assert run(fresh_app, "revoke-key", str(key_id)).exit_code == 0
    assert "revoked" in run(fresh_app, "list-keys").output
    assert run(fresh_app, "create-key", "--org", "nobody").exit_code != 0


def test_accreditation_event_from_the_cli(fresh_app):
    assert run(fresh_app, "init").exit_code == 0
    with fresh_app.app_context():
        lab = get_session().get(Organization, "lab-cn-sh-evtc")
        accreditation_id = lab.accreditations[0].id
    result = run(fresh_app, "accreditation-event", "--lab", "lab-cn-sh-evtc", "--accreditation", str(accreditation_id),
                 "--action", "suspend", "--effective", "2026-11-01", "--reason", "surveillance finding",
                 "--acting-org", "CNAS")
    assert result.exit_code == 0, result.output
    assert "suspended from 2026-11-01" in result.output
    again = run(fresh_app, "accreditation-event", "--lab", "lab-cn-sh-evtc", "--accreditation", str(accreditation_id),
                "--action", "restore", "--effective", "2026-10-01", "--reason", "too early")
    assert again.exit_code != 0 and "/effective_on" in again.output


def test_seed_demo_loads_a_realistic_set_once(fresh_app):
    assert run(fresh_app, "init").exit_code == 0
    result = run(fresh_app, "seed-demo")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        session = get_session()
        reports = session.scalar(select(func.count()).select_from(Report))
        kinds = dict(session.execute(select(ReportEvent.kind, func.count()).group_by(ReportEvent.kind)).all())
        makers = session.scalar(select(func.count()).select_from(Organization).where(Organization.kind == "manufacturer"))
        products = session.scalar(select(func.count(func.distinct(Report.product_id))))
        labs = session.scalar(select(func.count(func.distinct(Report.lab_id))))
    assert reports >= 100 and kinds["revised"] >= 5 and kinds["withdrawn"] >= 3
    assert makers >= 5 and products >= 20 and labs >= 6
    second = run(fresh_app, "seed-demo")
    assert second.exit_code == 0 and "nothing changed" in second.output


def test_recompute_stale_refreshes_only_decisions_not_made_for_today(fresh_app):
    from datetime import date, timedelta

    from sqlalchemy import update

    from registry.models import Decision
    from registry.services import decisions, reports
    from registry.services.permissions import Principal
    from tests.factories import report_document

    assert run(fresh_app, "init").exit_code == 0
    with fresh_app.app_context():
        session = get_session()
        filed = [reports.submit_report(session, Principal(org_id="lab-cn-sh-evtc", kind="lab"),
                                       dict(report_document("cn"), product=dict(report_document("cn")["product"],
                                                                                model=f"STALE-{i}")))
                 for i in range(3)]
        assert decisions.stale_products(session) == []
        yesterday = date.today() - timedelta(days=1)
        session.execute(update(Decision).where(Decision.product_id == filed[1].product_id).values(as_of=yesterday))
        session.commit()
        assert decisions.stale_products(session) == [filed[1].product_id]

    result = run(fresh_app, "recompute", "--stale")
    assert result.exit_code == 0, result.output
    assert "for 1 product(s)" in result.output
    with fresh_app.app_context():
        session = get_session()
        assert decisions.stale_products(session) == []
        assert set(session.scalars(select(Decision.as_of).where(Decision.product_id == filed[1].product_id))) == {
            date.today()}
    assert "for 0 product(s)" in run(fresh_app, "recompute", "--stale").output
