"""The maker's dashboard and CSV exports; the regulators' coverage heat map, rulebook diff, impact and publication."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from registry.services import rulebooks
from registry.services.demo import draft_rulebook_document
from registry.services.permissions import Principal
from tests import factories
from tests.web.conftest import csrf_token, log_in

MARKETS = ["CN", "EU", "ID", "MY", "PH", "SG", "TH", "VN"]


def _csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_dashboard_shows_products_by_market_owed_tests_savings_and_charts(client, session, world):
    log_in(client, session, world, "maker")
    html = client.get(f"/manufacturers/{world.cn.manufacturer_id}/dashboard").get_data(as_text=True)
    assert "VT-DC600L" in html and "RW-HPC400-D" not in html  # only its own products
    for market in MARKETS:
        assert f'href="/products/{world.cn.product_id}/markets/{market}"' in html
    assert "Savings to date" in html and "tests not repeated" in html
    assert "Tests still owed, by market" in html and "Accredited labs that can do it" in html
    assert html.count("<svg") >= 2 and 'role="img"' in html  # server-rendered charts, described
    assert "Expiring in the next 90 days" in html


def test_dashboard_lists_what_expires_within_90_days(client, session, world):
    soon = (date.today() + timedelta(days=30)).isoformat()
    document = factories.report_document("cn")
    document["product"]["certificates"] = [{"scheme": "IECEE_CB", "number": "DE 1-999999", "issuer": "VDE",
                                            "issued_on": "2025-01-01", "valid_until": soon}]
    factories.submit(session, document)
    log_in(client, session, world, "maker")
    html = client.get(f"/manufacturers/{world.cn.manufacturer_id}/dashboard").get_data(as_text=True)
    expiring = html[html.index("Expiring in the next 90 days"):]
    assert "IECEE_CB DE 1-999999" in expiring and "certificate expires" in expiring and "in 30 days" in expiring


def test_matrix_and_plan_exports(client, session, world):
    log_in(client, session, world, "maker")
    rows = _csv(client.get(f"/manufacturers/{world.cn.manufacturer_id}/matrix.csv"))
    assert rows[0][:4] == ["product_id", "model", "market", "verdict"]
    assert {r[2] for r in rows[1:]} == set(MARKETS) and all(r[1] == "VT-DC600L" for r in rows[1:])
    plan = _csv(client.get(f"/manufacturers/{world.cn.manufacturer_id}/products/{world.cn.product_id}/plans/EU.csv"))
    assert plan[0][:5] == ["product_id", "model", "market", "requirement_id", "test_item"]
    assert len(plan) > 1 and all(r[2] == "EU" for r in plan[1:])
    assert any(r[6] for r in plan[1:])  # the Chinese test-item names travel with the plan
    owed = client.get(f"/products/{world.cn.product_id}/markets/EU?status=owed").get_data(as_text=True)
    assert f"/manufacturers/{world.cn.manufacturer_id}/products/{world.cn.product_id}/plans/EU.csv" in owed


def test_coverage_heat_map_and_blocking_requirements(client, session, world):
    log_in(client, session, world, "regulator")
    html = client.get("/coverage").get_data(as_text=True)
    assert html.count('class="heat"') == 2 and 'href="/coverage/CN/EU"' in html
    assert "heat-5" in html  # a regime always covers its own market
    pair = client.get("/coverage/CN/EU").get_data(as_text=True)
    assert "Requirements that block or need conditions" in pair and "EU-X-030" in pair


def test_rulebook_versions_diff_impact_and_publication(client, session, world):
    draft = rulebooks.create_draft(session, Principal("reg-test", "regulator"), draft_rulebook_document(date.today()),
                                   prefix="").version
    log_in(client, session, world, "regulator")
    listing = client.get("/rulebook").get_data(as_text=True)
    assert f'href="/rulebook/{draft}/impact"' in listing and "in force" in listing
    diff = client.get(f"/rulebook/diff?from=1&to={draft}").get_data(as_text=True)
    assert "Added: ASEAN-A-040 v1" in diff and "Added: ASEAN-A-010 v2" in diff and "<ins>" in diff
    impact = client.get(f"/rulebook/{draft}/impact").get_data(as_text=True)
    assert "What if version" in impact and 'class="hbar"' in impact and "tests saved" in impact
    assert f'action="/rulebook/{draft}/publish"' in impact
    token = csrf_token(client, f"/rulebook/{draft}/impact")
    unconfirmed = client.post(f"/rulebook/{draft}/publish", data={"csrf_token": token})
    assert unconfirmed.status_code == 302 and rulebooks.get_version(session, draft).status == "draft"
    published = client.post(f"/rulebook/{draft}/publish", data={"csrf_token": token, "confirm": "y"},
                            follow_redirects=True)
    assert f"Version {draft} is published" in published.get_data(as_text=True)
    assert rulebooks.current(session).version == draft
    assert f'action="/rulebook/{draft}/publish"' not in client.get(f"/rulebook/{draft}/impact").get_data(as_text=True)


def test_decision_plans_are_written_and_replaced_with_their_decisions(session, world):
    from sqlalchemy import select

    from registry.models import Decision, DecisionPlan
    from registry.services import decisions

    def pairs():
        stored = {(d.product_id, d.market): d.detail for d in session.scalars(select(Decision))}
        plans = {(p.product_id, p.market): p for p in session.scalars(select(DecisionPlan))}
        return stored, plans

    stored, plans = pairs()
    assert stored and set(stored) == set(plans)
    for key, detail in stored.items():
        assert plans[key].plan == detail["delta_test_plan"] and plans[key].savings == detail["savings"]
    decisions.recompute_products(session, [world.cn.product_id])  # delete + insert: the plans follow
    session.expire_all()
    stored, plans = pairs()
    assert set(stored) == set(plans)
