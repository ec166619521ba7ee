"""Who gets what on every page: 200, 302 to the log-in, 403 or 404 — decided by the services, per role."""

from __future__ import annotations

from datetime import date

import pytest

from registry.services import rulebooks
from registry.services.demo import draft_rulebook_document
from registry.services.permissions import Principal
from tests.web.conftest import csrf_token, log_in

ROLES = [None, "maker", "other_maker", "lab", "other_lab", "regulator"]
PUBLIC = {role: 200 for role in ROLES}
LOGIN = "login"  # 302 to /login?next=...
REGULATORS_ONLY = {None: LOGIN, "maker": 403, "other_maker": 403, "lab": 403, "other_lab": 403, "regulator": 200}
OWN_MAKER = {None: LOGIN, "maker": 200, "other_maker": 403, "lab": 403, "other_lab": 403, "regulator": 200}

PAGES = [
    ("/", PUBLIC),
    ("/search?q=voltaris", PUBLIC),
    ("/search?q=zz&market=SG&status=revised&page=3", PUBLIC),
    ("/products/{pid}", PUBLIC),
    ("/products/{pid}/markets/SG", PUBLIC),
    ("/products/{pid}/markets/EU?status=owed", PUBLIC),
    ("/reports/{rid}", PUBLIC),
    ("/reports/{rid}?revision=1", PUBLIC),
    ("/reports/{rid}/qr.svg", PUBLIC),
    ("/labs", PUBLIC),
    ("/labs/lab-cn-sh-evtc", PUBLIC),
    ("/verify", PUBLIC),
    ("/verify?number={number}", PUBLIC),
    ("/login", PUBLIC),
    ("/products/999999", {role: 404 for role in ROLES}),
    ("/products/{pid}/markets/XX", {role: 404 for role in ROLES}),
    ("/reports/999999", {role: 404 for role in ROLES}),
    ("/reports/{rid}?revision=9", {role: 404 for role in ROLES}),
    ("/labs/lab-nowhere", {role: 404 for role in ROLES}),
    ("/search?market=XX", {role: 422 for role in ROLES}),
    ("/dashboard", {None: LOGIN, "maker": 302, "other_maker": 302, "lab": 403, "other_lab": 403, "regulator": 302}),
    ("/manufacturers", REGULATORS_ONLY),
    ("/manufacturers/{maker}/dashboard", OWN_MAKER),
    ("/manufacturers/{maker}/matrix.csv", OWN_MAKER),
    ("/manufacturers/{maker}/products/{pid}/plans/SG.csv", OWN_MAKER),
    ("/manufacturers/{other_maker}/products/{pid}/plans/SG.csv",
     {None: LOGIN, "maker": 403, "other_maker": 404, "lab": 403, "other_lab": 403, "regulator": 404}),
    ("/manufacturers/mfr-nobody/dashboard",
     {None: LOGIN, "maker": 403, "other_maker": 403, "lab": 403, "other_lab": 403, "regulator": 404}),
    ("/coverage", REGULATORS_ONLY),
    ("/coverage/CN/EU", REGULATORS_ONLY),
    ("/coverage/CN/XX", {None: LOGIN, "maker": 403, "other_maker": 403, "lab": 403, "other_lab": 403, "regulator": 404}),
    ("/rulebook", REGULATORS_ONLY),
    ("/rulebook/diff?from=1&to={draft}", REGULATORS_ONLY),
    ("/rulebook/{draft}/impact", REGULATORS_ONLY),
    ("/rulebook/99/impact", {None: LOGIN, "maker": 403, "other_maker": 403, "lab": 403, "other_lab": 403, "regulator": 404}),
]


@pytest.fixture
def draft(session, world):
    row = rulebooks.create_draft(session, Principal("reg-test", "regulator"),
                                 draft_rulebook_document(date.today()), prefix="")
    return row.version


def _fill(url: str, world, draft: int) -> str:
    return url.format(pid=world.cn.product_id, rid=world.cn.id, number=world.cn.report_number,
                      maker=world.cn.manufacturer_id, other_maker=world.de.manufacturer_id, draft=draft)


@pytest.mark.parametrize("url,expected", PAGES, ids=[p[0] for p in PAGES])
def test_page_permissions(app, session, world, draft, url, expected):
    target = _fill(url, world, draft)
    wrong = []
    for role in ROLES:
        client = app.test_client()
        log_in(client, session, world, role)
        response = client.get(target)
        wanted = expected[role]
        if wanted == LOGIN:
            if response.status_code != 302 or not response.headers["Location"].startswith("/login?next="):
                wrong.append((role, response.status_code, "want 302 to /login"))
        elif response.status_code != wanted:
            wrong.append((role, response.status_code, f"want {wanted}"))
    assert not wrong, (target, wrong)


def test_dashboard_sends_each_role_to_its_own_page(client, session, world):
    log_in(client, session, world, "maker")
    assert client.get("/dashboard").headers["Location"] == f"/manufacturers/{world.cn.manufacturer_id}/dashboard"
    log_in(client, session, world, "regulator")
    assert client.get("/dashboard").headers["Location"] == "/manufacturers"


def test_login_redirect_keeps_the_page_asked_for(client, session, world):
    response = client.get("/coverage/CN/EU?x=1")
    assert response.headers["Location"] == "/login?next=/coverage/CN/EU?x%3D1"


@pytest.mark.parametrize("role,expected", [(None, LOGIN), ("maker", 403), ("lab", 403), ("regulator", 302)],
                         ids=["anonymous", "maker", "lab", "regulator"])
def test_publishing_a_draft(client, session, world, draft, role, expected):
    log_in(client, session, world, role)
    token = csrf_token(client, "/login")
    response = client.post(f"/rulebook/{draft}/publish", data={"csrf_token": token, "confirm": "y"})
    if expected == LOGIN:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    else:
        assert response.status_code == expected
    published = rulebooks.get_version(session, draft).status == "published"
    assert published == (role == "regulator")


@pytest.mark.parametrize("role,expected", [(None, LOGIN), ("maker", 403), ("regulator", 302)],
                         ids=["anonymous", "maker", "regulator"])
def test_uploading_a_draft(client, session, world, role, expected):
    import io
    import json

    log_in(client, session, world, role)
    token = csrf_token(client, "/login")
    document = draft_rulebook_document(date.today())
    response = client.post("/rulebook/drafts", data={
        "csrf_token": token, "title": "Uploaded in a test",
        "document": (io.BytesIO(json.dumps(document).encode()), "draft.json")}, content_type="multipart/form-data")
    if expected == LOGIN:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    else:
        assert response.status_code == expected
    titles = [v.title for v in rulebooks.list_versions(session)]
    assert ("Uploaded in a test" in titles) == (role == "regulator")


def test_every_form_needs_its_csrf_token(client, session, world, draft):
    log_in(client, session, world, "regulator")
    assert client.post(f"/rulebook/{draft}/publish", data={"confirm": "y"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.post("/login", data={"email": "regulator@example.org", "password": "x"}).status_code == 400
    assert rulebooks.get_version(session, draft).status == "draft"
