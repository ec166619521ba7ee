"""Web fixtures: three filed reports (CN, DE, SG examples), people of every role, and log-in helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from registry.services import accounts
from registry.services.permissions import SYSTEM
from tests import factories

PASSWORD = "correct horse battery"


@dataclass
class World:
    cn: object  # Filed: the Chinese lab's report (maker = the CN example's manufacturer)
    de: object
    sg: object
    users: dict[str, int]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    # argon2id with the production cost takes ~0.1 s a hash; tests hash dozens of passwords.
    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(session) -> World:
    cn = factories.submit(session, factories.report_document("cn"))
    de = factories.submit(session, factories.report_document("de"))
    sg = factories.submit(session, factories.report_document("sg"))
    factories.make_org(session, "reg-test", "regulator", "Test Market Authority")
    people = {
        "maker": cn.manufacturer_id, "other_maker": de.manufacturer_id, "lab": "lab-cn-sh-evtc",
        "other_lab": "lab-de-rheinmain-emob", "regulator": "reg-test",
    }
    users = {}
    for role, org in people.items():
        user = accounts.create_user(session, SYSTEM, email=f"{role}@example.org", name=role.title(), org_id=org,
                                    password=PASSWORD)
        users[role] = user.id
    return World(cn, de, sg, users)


def log_in(client, session, world: World, role: str | None) -> None:
    """Put a signed session for this role's user in the client's cookie jar (no role: stay anonymous)."""
    if role is None:
        return
    account = accounts.authenticate(session, f"{role}@example.org", PASSWORD)
    with client.session_transaction() as s:
        s["uid"] = account.user_id
        s["tok"] = account.session_token


def csrf_token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)
