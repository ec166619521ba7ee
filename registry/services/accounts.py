"""People who log in to the web pages: e-mail, argon2 password hash, and the organization (hence role) they act for."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import Conflict, NotFound, SemanticViolation, Violation
from registry.models import Organization, User, utcnow
from registry.services.permissions import ANONYMOUS, Principal, require

# argon2id with the library's defaults (RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4).
hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Verified against when the e-mail is unknown, so a wrong address costs the same time as a wrong password.
_DUMMY_HASH = hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class Account:
    """A logged-in person as the pages see them."""

    user_id: int
    email: str
    name: str
    org_id: str
    org_name: str
    org_name_zh: str | None
    kind: str  # the organization's kind: lab | manufacturer | regulator | admin
    session_token: str  # changes with the password, so a password change ends every other session

    @property
    def principal(self) -> Principal:
        return Principal(org_id=self.org_id, kind=self.kind)


def _token(user: User) -> str:
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:32]


def _account(user: User, org: Organization) -> Account:
    return Account(user.id, user.email, user.name, org.id, org.name_en, org.name_zh, org.kind, _token(user))


def create_user(session: Session, principal: Principal, *, email: str, name: str, org_id: str,
                password: str) -> User:
    """Register a person for an organization with a password (stored as an argon2id hash)."""
    require(principal, "user:manage")
    email = email.strip().lower()
    problems = []
    if not EMAIL.match(email):
        problems.append(Violation("/email", "an e-mail address such as name@example.org"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Violation("/password", f"at least {MIN_PASSWORD_LENGTH} characters"))
    if not name.strip():
        problems.append(Violation("/name", "required"))
    if problems:
        raise SemanticViolation("Invalid user.", problems)
    if session.get(Organization, org_id) is None:
        raise NotFound(f"No organization '{org_id}'.")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with e-mail {email} already exists.", [Violation("/email", "already registered")])
    user = User(email=email, name=name.strip(), org_id=org_id, password_hash=hasher.hash(password), active=True,
                created_at=utcnow())
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str) -> Account | None:
    """The account for this e-mail and password, or None (unknown, wrong password, or deactivated)."""
    row = session.execute(
        select(User, Organization).join(Organization, Organization.id == User.org_id)
        .where(User.email == email.strip().lower())
    ).first()
    if row is None:
        try:
            hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    user, org = row
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    session.commit()
    return _account(user, org)


def account_for_session(session: Session, user_id: object, token: object) -> Account | None:
    """The account a signed session cookie names, if the user is still active and the password unchanged."""
    if not isinstance(user_id, int) or not isinstance(token, str):
        return None
    row = session.execute(
        select(User, Organization).join(Organization, Organization.id == User.org_id).where(User.id == user_id)
    ).first()
    if row is None or not row[0].active:
        return None
    account = _account(*row)
    return account if hmac.compare_digest(account.session_token, token) else None


def principal_of(account: Account | None) -> Principal:
    return account.principal if account is not None else ANONYMOUS


def set_password(session: Session, principal: Principal, email: str, password: str) -> User:
    """Replace a person's password (ends their other sessions)."""
    require(principal, "user:manage")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SemanticViolation("Password too short.", [Violation("/password", f"at least {MIN_PASSWORD_LENGTH} characters")])
    user.password_hash = hasher.hash(password)
    session.commit()
    return user


def user_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
