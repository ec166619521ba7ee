"""What people do with the pages, in a real browser: search, read a matrix, verify, export, switch language, review."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect

from tests.browser.conftest import log_in, shoot

MAKER = ("maker@voltaris.example", "voltaris-demo-2026")
REGULATOR = ("regulator@authority.example", "regulator-demo-2026")


def test_search_then_product_then_matrix_cell_then_explanation(page, live_server, artifacts, csp_violations):
    page.goto(live_server)
    shoot(page, artifacts, "01-home")
    search = page.get_by_label("Report number, manufacturer, model, lab, standard or certificate number")
    search.fill("沃塔瑞斯")  # the maker's Chinese name
    search.press("Enter")
    expect(page.locator(".result-count")).to_contain_text("reports found")
    expect(page.locator(".result").first).to_be_visible()
    shoot(page, artifacts, "02-search")
    # narrow by a facet, then open the product
    page.locator(".facets").get_by_role("link", name=re.compile("Shanghai Huadong")).click()
    expect(page.locator(".chip")).to_contain_text("Shanghai Huadong")
    page.locator(".result-product").get_by_role("link", name="VT-DC600L").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("VT-DC600L")
    matrix = page.locator("table.matrix")
    expect(matrix.locator("tbody tr")).to_have_count(8)  # CN, EU and the six ASEAN members decided
    shoot(page, artifacts, "03-product")
    # a matrix cell: the EU's "still owed" count opens the per-requirement explanation
    eu_row = matrix.locator("tbody tr", has=page.get_by_role("link", name=re.compile(r"^EU ·")))
    eu_row.get_by_role("link", name=re.compile("still owed in EU")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("European Union")
    expect(page.locator("nav.tabs a[aria-current]")).to_contain_text("still owed")
    first = page.locator("section.requirement").first
    expect(first.locator(".verdict-box")).to_contain_text(re.compile("No result is accepted|No result for this test"))
    expect(page.get_by_role("heading", name=re.compile("Delta test plan for European Union"))).to_be_visible()
    shoot(page, artifacts, "04-explanation")
    # the recognized ones say which result and which rule
    page.get_by_role("link", name=re.compile(r"^conditional \(")).click()
    expect(page.locator("section.requirement").first).to_contain_text("Accepted by rule")
    expect(page.locator("section.requirement").first).to_contain_text("Using the result of")
    assert csp_violations == []


def test_verify_a_report_number_and_its_qr_link(page, live_server, artifacts, csp_violations):
    page.goto(f"{live_server}/search?q=VT-DC600L")
    page.locator(".result-title a").first.click()
    number = page.get_by_role("heading", level=1).inner_text().split()[2]
    expect(page.locator(".qr img")).to_be_visible()
    shoot(page, artifacts, "05-report")
    qr_link = page.locator("a.verify-url").get_attribute("href")
    # what the QR code encodes: the verification pinned to this document
    page.goto(qr_link)
    expect(page.locator(".verdict").first).to_contain_text("matches revision")
    expect(page.locator(".verdict h2").first).to_contain_text("Authentic")
    # and by hand: type the number printed on the report
    page.get_by_role("link", name="Verify a report").first.click()
    page.get_by_label("Report number as printed on the report").fill(number)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".verdict h2").first).to_contain_text(number)
    expect(page.get_by_role("heading", name="What changed since issue").first).to_be_visible()
    shoot(page, artifacts, "06-verify")
    page.get_by_label("Report number as printed on the report").fill("FAKE-0001")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".verdict-bad h2")).to_contain_text("Not found")
    assert csp_violations == []


def test_withdrawn_reports_say_so_on_every_page(page, live_server, artifacts):
    page.goto(f"{live_server}/search?q=co&status=withdrawn")
    expect(page.locator(".result .badge-withdrawn").first).to_have_text("withdrawn")
    page.locator(".result-title a").first.click()
    expect(page.get_by_role("heading", name="Withdrawal notice")).to_be_visible()
    shoot(page, artifacts, "07-withdrawn-report")


def test_a_maker_logs_in_and_exports_csv(page, live_server, artifacts, csp_violations):
    log_in(page, live_server, *MAKER)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Voltaris")
    expect(page.locator("table.dashboard-matrix tbody tr")).to_have_count(5)
    expect(page.get_by_role("heading", name="Expiring in the next 90 days")).to_be_visible()
    expect(page.locator("svg.hbar").first).to_be_visible()
    shoot(page, artifacts, "08-dashboard")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the matrix (CSV)").click()
    download = info.value
    path = artifacts / download.suggested_filename
    download.save_as(str(path))
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][:4] == ["product_id", "model", "market", "verdict"] and len(rows) == 1 + 5 * 8
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Delta test plan of VT-DC600L for SG")).click()
    plan = info.value
    plan_path = artifacts / plan.suggested_filename
    plan.save_as(str(plan_path))
    plan_rows = list(csv.reader(io.StringIO(plan_path.read_text(encoding="utf-8-sig"))))
    assert plan_rows[0][3] == "requirement_id" and all(r[2] == "SG" for r in plan_rows[1:])
    # a maker sees only its own dashboard
    response = page.goto(f"{live_server}/manufacturers/mfr-de-rheinwerk/dashboard")
    assert response.status == 403
    assert csp_violations == []


def test_switch_to_chinese_and_it_stays(page, live_server, artifacts, csp_violations):
    page.goto(f"{live_server}/search?q=VT-DC600L")
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("查询")
    page.locator(".result-product a").first.click()
    expect(page.get_by_role("heading", name="各市场承认情况")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("深圳沃塔瑞斯电力科技有限公司")
    expect(page.locator("table.matrix caption")).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"))
    shoot(page, artifacts, "09-product-zh")
    page.locator("table.matrix tbody tr").nth(1).locator("th a").click()
    expect(page.locator("body")).to_contain_text("补充测试计划")
    shoot(page, artifacts, "10-explanation-zh")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert csp_violations == []


def test_a_regulator_reviews_a_draft_rulebooks_impact_and_publishes_it(page, live_server, artifacts, csp_violations):
    log_in(page, live_server, *REGULATOR)
    expect(page.get_by_role("heading", level=1)).to_have_text("Coverage between markets")
    expect(page.locator("svg.heat")).to_have_count(2)
    shoot(page, artifacts, "11-coverage")
    page.locator("svg.heat").first.locator('a[href="/coverage/CN/EU"]').click()
    expect(page.get_by_role("heading", name="Requirements that block or need conditions")).to_be_visible()
    shoot(page, artifacts, "12-coverage-pair")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rulebook").click()
    shoot(page, artifacts, "13-rulebook")
    page.get_by_role("link", name="differences").last.click()
    expect(page.locator(".diff-added", has_text="Added: ASEAN-A-040 v1")).to_be_visible()
    shoot(page, artifacts, "14-rulebook-diff")
    page.get_by_role("link", name=re.compile("See the impact of draft")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("What if version 2 replaced version 1?")
    expect(page.locator("svg.hbar")).to_be_visible()
    expect(page.locator(".stat").first).to_contain_text("product-market pairs gain access")
    shoot(page, artifacts, "15-impact")
    page.get_by_role("button", name="Publish version 2").click()  # not confirmed: the form refuses to go
    expect(page.locator("input#confirm:invalid")).to_have_count(1)
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("draft")
    page.get_by_label("I have reviewed this draft's differences and impact").check()
    page.get_by_role("button", name="Publish version 2").click()
    expect(page.locator(".flash")).to_contain_text("Version 2 is published")
    expect(page.locator("tbody tr").first).to_contain_text("in force")
    assert csp_violations == []


def test_keyboard_reaches_the_search_and_focus_is_visible(page, live_server):
    page.goto(live_server)
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    reached = []
    for _ in range(15):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if reached[-1] == "q":
            break
    assert "q" in reached, reached
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_print_stylesheet_keeps_the_record_and_drops_the_controls(page, live_server, artifacts):
    page.goto(f"{live_server}/search?q=VT-DC600L")
    page.locator(".result-title a").first.click()
    page.emulate_media(media="print")
    expect(page.locator(".main-nav")).to_be_hidden()
    expect(page.locator(".qr img")).to_be_visible()
    shoot(page, artifacts, "16-report-print")
    page.pdf(path=str(artifacts / "report.pdf"))


def test_api_reference_still_renders_under_its_own_policy(page, live_server, csp_violations):
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.get_by_role("heading", name=re.compile("Charging-certification mutual-recognition registry"))
           ).to_be_visible(timeout=15000)
    # Redoc's "powered by" logo lives on a CDN: the policy blocks it, as it blocks anything from another host.
    assert [v for v in csp_violations if "cdn.redoc.ly" not in v] == []
