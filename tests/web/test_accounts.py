"""People log in with an e-mail and password; sessions are signed, HttpOnly and SameSite; the CLI creates users."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.errors import Conflict, Forbidden, SemanticViolation
from registry.models import User
from registry.services import accounts
from registry.services.permissions import SYSTEM, Principal
from tests.web.conftest import PASSWORD, csrf_token, log_in


def _log_in(client, email, password, next_url=""):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password, "next": next_url})


def test_passwords_are_stored_as_argon2id_hashes(session, world):
    user = session.get(User, world.users["maker"])
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_log_in_goes_to_the_dashboard_with_a_safe_cookie(client, world):
    response = _log_in(client, "Maker@Example.org ", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/manufacturers/{world.cn.manufacturer_id}/dashboard"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("registry_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Log out" in html and "Maker" in html


def test_log_in_follows_next_but_only_on_this_site(client, world):
    assert _log_in(client, "regulator@example.org", PASSWORD, "/rulebook").headers["Location"] == "/rulebook"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/rulebook")})
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
        response = _log_in(client, "regulator@example.org", PASSWORD, evil)
        assert response.headers["Location"] == "/coverage", evil


def test_wrong_password_or_unknown_e_mail_is_refused_alike(client, world):
    for email, password in [("maker@example.org", "wrong password!"), ("nobody@example.org", PASSWORD)]:
        response = _log_in(client, email, password)
        assert response.status_code == 401
        assert "The e-mail address or the password is wrong." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_repeated_failures_are_throttled(client, world, monkeypatch):
    from registry.web import auth

    monkeypatch.setattr(auth, "_failures", {})
    for _ in range(auth.FAILURE_LIMIT):
        assert _log_in(client, "maker@example.org", "not the password").status_code == 401
    # even the right password waits now
    assert _log_in(client, "maker@example.org", PASSWORD).status_code == 429


def test_log_out_ends_the_session(client, session, world):
    log_in(client, session, world, "maker")
    assert client.get("/dashboard").status_code == 302
    token = csrf_token(client, f"/manufacturers/{world.cn.manufacturer_id}/dashboard")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/manufacturers/{world.cn.manufacturer_id}/dashboard").headers["Location"].startswith("/login")


def test_a_password_change_ends_other_sessions(client, session, world):
    log_in(client, session, world, "regulator")
    assert client.get("/coverage").status_code == 200
    accounts.set_password(session, SYSTEM, "regulator@example.org", "a brand new password")
    assert client.get("/coverage").status_code == 302


def test_deactivated_people_cannot_log_in(client, session, world):
    user = session.get(User, world.users["maker"])
    user.active = False
    session.commit()
    assert _log_in(client, "maker@example.org", PASSWORD).status_code == 401


def test_create_user_checks_its_input(session, world):
    with pytest.raises(Forbidden):
        accounts.create_user(session, Principal("reg-test", "regulator"), email="a@b.org", name="A",
                             org_id="reg-test", password=PASSWORD)
    with pytest.raises(SemanticViolation) as bad:
        accounts.create_user(session, SYSTEM, email="not-an-email", name="", org_id="reg-test", password="short")
    assert {v.pointer for v in bad.value.violations} == {"/email", "/name", "/password"}
    with pytest.raises(Conflict):
        accounts.create_user(session, SYSTEM, email="MAKER@example.org", name="Again", org_id="reg-test",
                             password=PASSWORD)


def test_cli_create_user(app, session, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["registry", "create-user", "--email", "inspector@example.org", "--name",
                                 "Inspector", "--org", "reg-test"], input="inspector-password\ninspector-password\n")
    assert result.exit_code == 0, result.output
    assert "Created user inspector@example.org for 'reg-test'" in result.output
    assert session.scalar(select(User.org_id).where(User.email == "inspector@example.org")) == "reg-test"
    again = runner.invoke(args=["registry", "create-user", "--email", "inspector@example.org", "--name", "X",
                                "--org", "reg-test", "--password", "inspector-password"])
    assert again.exit_code != 0 and "/email" in again.output
