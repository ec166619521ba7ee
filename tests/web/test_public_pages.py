"""What a person checks on the public pages: search, product matrix, explanations, report, lab, verification."""

from __future__ import annotations

import copy
import re

from registry.services import reports
from tests import factories
from tests.factories import as_org
from tests.web.conftest import log_in


def page(client, url: str) -> str:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_one_box_finds_a_report_by_any_name(client, world):
    for query in [world.cn.report_number, "VT-DC600L", "沃塔瑞斯", "沃塔", "2025010701765432",
                  "Huadong", "GB/T 18487.1-2023"]:
        html = page(client, f"/search?q={query}")
        assert f'href="/reports/{world.cn.id}"' in html, query
        assert f'href="/products/{world.cn.product_id}"' in html, query


def test_a_standard_edition_or_a_lab_typed_in_the_box_becomes_its_facet(client, world):
    response = client.get("/search?q=gb/t+18487.1-2023")
    assert response.status_code == 302
    assert response.headers["Location"] == "/search?standard=GB%2FT+18487.1-2023"
    html = page(client, response.headers["Location"])
    assert f'href="/reports/{world.cn.id}"' in html and f'href="/reports/{world.de.id}"' not in html
    assert 'class="chip" href="/search"' in html
    assert client.get("/search?q=Jurong+EV+Charger+Test+Laboratory+Pte+Ltd+(demo)").headers["Location"] == \
        "/search?lab=lab-sg-jurong-evlab"


def test_results_carry_status_badges_facets_and_a_permalink(client, session, world):
    lab = as_org(session, world.sg.lab_id)
    reports.withdraw_report(session, lab, world.sg.id, "sample did not match production", today=factories.TODAY)
    html = page(client, "/search?q=co.,+ltd")
    assert 'class="badge badge-withdrawn">withdrawn' in html
    assert 'class="badge badge-valid">valid' in html
    assert "superseded edition" in html  # the CN example cites GB/T 34657.1-2017, superseded in 2026
    # facets are links that put the filter in the URL, and the chip removes it again
    assert '/search?q=co.%2C+ltd&amp;lab=lab-sg-jurong-evlab' in html
    narrowed = page(client, "/search?q=co.,+ltd&lab=lab-sg-jurong-evlab")
    assert f'href="/reports/{world.sg.id}"' in narrowed and f'href="/reports/{world.cn.id}"' not in narrowed
    assert 'class="chip" href="/search?q=co.%2C+ltd"' in narrowed
    assert "1 report found" in narrowed


def test_no_match_proposes_near_model_names(client, world):
    html = page(client, "/search?q=VT-DC6000L")
    assert "0 reports found" in html and "Did you mean" in html
    assert f'<a href="/products/{world.cn.product_id}">VT-DC600L</a>' in html


def test_search_pages_are_numbered_permalinks(client, session, world):
    for n in range(25):
        factories.submit(session, factories.report_document("cn"))
    first = page(client, "/search?q=VT-DC600L")
    assert "26 reports found" in first and "Page 1 of 2" in first and 'rel="next"' in first
    second = page(client, "/search?q=VT-DC600L&page=2")
    assert "Page 2 of 2" in second and second.count('class="result"') == 6


def test_product_page_shows_ratings_variants_reports_and_the_matrix(client, world):
    html = page(client, f"/products/{world.cn.product_id}")
    assert "VT-DC600L" in html and "600 kW" in html and "200–1,000 V DC" in html
    assert "VT-DC480L" in html  # the declared variant
    assert "2025010701765432" in html and "CQC" in html  # certificate held elsewhere
    assert f'href="/reports/{world.cn.id}"' in html
    for market in ["CN", "EU", "ID", "MY", "PH", "SG", "TH", "VN"]:
        assert f'href="/products/{world.cn.product_id}/markets/{market}"' in html
        assert f'href="/products/{world.cn.product_id}/markets/{market}?status=owed"' in html
    assert "Rulebook version 1" in html


def test_a_matrix_cell_explains_each_requirement(client, world):
    html = page(client, f"/products/{world.cn.product_id}/markets/EU")
    # insulation resistance: accepted on conditions, naming the rule, the result and the conditions
    section = html[html.index('id="req-EU-SAF-INS"'):]
    section = section[:section.index("</section>")]
    assert 'badge-conditional' in section and "Accepted by rule EU-A-030 (version 1)" in section
    assert world.cn.report_number in section and "Conditions to fulfil" in section
    # a GB/T coupler result is refused for the EU's CCS requirement, and the page says by which rule and why
    refused = html[html.index('id="req-EU-IF-CONN-LOCK"'):]
    refused = refused[:refused.index("</section>")]
    assert "No result is accepted" in refused and "EU-X-030" in refused
    assert "Delta test plan for European Union" in html and "€" in html
    only_owed = page(client, f"/products/{world.cn.product_id}/markets/EU?status=owed")
    assert 'id="req-EU-SAF-INS"' not in only_owed and 'id="req-EU-IF-CONN-LOCK"' in only_owed


def test_report_page_summary_history_withdrawal_and_qr(client, session, world):
    lab = as_org(session, world.cn.lab_id)
    revised = copy.deepcopy(factories.example("cn"))
    revised["report_number"] = world.cn.report_number
    revised["product"]["firmware_version"] = "FW 3.4.13"
    reports.revise_report(session, lab, world.cn.id, revised, "firmware version misprinted", today=factories.TODAY)
    reports.withdraw_report(session, lab, world.cn.id, "sample did not match production", today=factories.TODAY)
    html = page(client, f"/reports/{world.cn.id}")
    assert "Withdrawal notice" in html and "sample did not match production" in html
    assert "firmware version misprinted" in html and "Revision history" in html
    assert f'href="/reports/{world.cn.id}?revision=1"' in html
    old = page(client, f"/reports/{world.cn.id}?revision=1")
    assert "You are reading revision 1. The current revision is 2." in old
    assert f'src="/reports/{world.cn.id}/qr.svg?revision=2"' in html
    qr = client.get(f"/reports/{world.cn.id}/qr.svg")
    assert qr.mimetype == "image/svg+xml" and b"<svg" in qr.data


def test_report_details_only_for_the_lab_the_maker_and_regulators(app, session, world):
    attachment_hash = factories.example("cn")["attachments"][0]["sha256"]
    for role, sees in [(None, False), ("other_maker", False), ("other_lab", False), ("lab", True), ("maker", True),
                       ("regulator", True)]:
        client = app.test_client()
        log_in(client, session, world, role)
        html = page(client, f"/reports/{world.cn.id}")
        assert (attachment_hash in html) == sees, role
        assert ("Full details" in html) == sees, role
        assert world.cn.report_number in html  # the public summary for everyone


def test_lab_page_shows_accreditations_scope_and_validity(client, world):
    html = page(client, "/labs/lab-de-rheinmain-emob")
    assert "DAKKS" in html or "DAkkS" in html
    assert "IEC 61851-23:2023" in html and "Valid until" in html and "History" in html
    assert "lab-de-rheinmain-emob" in page(client, "/labs")
    elbe = page(client, "/labs/lab-de-elbe-emv")  # suspended 2025-03-01, restored 2025-09-01 (catalogue)
    assert "surveillance assessment found nonconformities" in elbe and "restored" in elbe


def test_verify_a_report_number(client, session, world):
    html = page(client, f"/verify?number={world.cn.report_number.lower()}")
    assert f"Authentic: {world.cn.report_number} is registered and valid" in html
    assert "Nothing: the report is as it was issued." in html
    assert "Not found" in page(client, "/verify?number=NO-SUCH-REPORT")
    # the QR code's link pins the document: a matching hash prefix is authentic, another is not
    report_html = page(client, f"/reports/{world.cn.id}")
    link = re.search(r'class="verify-url">([^<]+)<', report_html).group(1).replace("&amp;", "&")
    assert "sha=" in link and "rev=1" in link
    pinned = page(client, link.replace("http://localhost", ""))
    assert "matches revision 1" in pinned
    forged = page(client, re.sub(r"sha=[0-9a-f]+", "sha=0123456789abcdef", link.replace("http://localhost", "")))
    assert "Not authentic" in forged and "matches no registered revision" in forged
    reports.withdraw_report(session, as_org(session, world.cn.lab_id), world.cn.id, "fraud suspected",
                            today=factories.TODAY)
    withdrawn = page(client, f"/verify?number={world.cn.report_number}")
    assert "Registered, but withdrawn" in withdrawn and "fraud suspected" in withdrawn
