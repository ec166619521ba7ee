"""Typed SQLAlchemy models.

Reports are append-only: `ReportRevision`, `TestResult` and `ReportEvent` rows are only ever inserted (database
triggers refuse UPDATE and DELETE on them); the `Report` row is the head that points at the current revision and
carries the derived status so lists can filter without replaying events.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import event
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from registry.db import Base


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_SPACES = re.compile(r"\s+")


def name_key(text: str | None) -> str | None:
    """How the registry compares names a report declares (a maker's, a model's): 'ACME  Power' is 'acme power',
    and full-width letters are their ASCII forms."""
    if text is None:
        return None
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _name_key_of(column: str):
    """A column default: the key of the row's `column`, for inserts that do not go through the ORM."""
    def default(context) -> str | None:
        return name_key(context.get_current_parameters().get(column))
    return default


class UTCDateTime(TypeDecorator):
    """Timestamps stored in UTC and always returned timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Closed sets are Python enums, stored as plain strings for portability between SQLite and PostgreSQL.
class Status(str, enum.Enum):
    """One status vocabulary for standards, accreditations, scheme memberships and reports."""

    VALID = "valid"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class OrgKind(str, enum.Enum):
    LAB = "lab"
    MANUFACTURER = "manufacturer"
    REGULATOR = "regulator"
    ADMIN = "admin"


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    INCONCLUSIVE = "inconclusive"


# ---------------------------------------------------------------------------------------------------- catalogue


class Market(Base):
    __tablename__ = "markets"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    bloc_code: Mapped[str | None] = mapped_column(ForeignKey("markets.code"))
    grid_voltage_v: Mapped[float | None] = mapped_column(Float)
    grid_frequency_hz: Mapped[float | None] = mapped_column(Float)
    regulator: Mapped[str | None] = mapped_column(Text)
    researched: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)


class TestItem(Base):
    __tablename__ = "test_items"
    __test__ = False

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    interface_bound: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)


class Unit(Base):
    __tablename__ = "units"

    symbol: Mapped[str] = mapped_column(String(16), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(60))


class Standard(Base):
    __tablename__ = "standards"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    body: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(60))
    edition: Mapped[str | None] = mapped_column(String(40))
    title_en: Mapped[str | None] = mapped_column(Text)
    title_zh: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(8))
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_on: Mapped[date | None] = mapped_column(Date)
    effective_from: Mapped[date | None] = mapped_column(Date)
    adoption_of: Mapped[str | None] = mapped_column(ForeignKey("standards.id"))
    adoption_degree: Mapped[str | None] = mapped_column(String(10))
    adoption_verified: Mapped[bool | None] = mapped_column(Boolean)
    adoption_source: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)

    clauses: Mapped[list[Clause]] = relationship(back_populates="standard", order_by="Clause.id")
    status_events: Mapped[list[StandardStatusEvent]] = relationship(
        order_by="(StandardStatusEvent.effective_on, StandardStatusEvent.id)",
        foreign_keys="StandardStatusEvent.standard_id",
    )


class StandardStatusEvent(Base):
    __tablename__ = "standard_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[str] = mapped_column(ForeignKey("standards.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    acting_org: Mapped[str | None] = mapped_column(String(120))
    superseded_by: Mapped[str | None] = mapped_column(ForeignKey("standards.id"))
    transition_ends_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)


class Clause(Base):
    """A clause of a standard and the test items it defines; `clause` is None where the sources give no number."""

    __tablename__ = "clauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[str] = mapped_column(ForeignKey("standards.id"), index=True)
    clause: Mapped[str | None] = mapped_column(String(40))
    clause_known: Mapped[bool] = mapped_column(Boolean)
    title_en: Mapped[str | None] = mapped_column(Text)
    title_zh: Mapped[str | None] = mapped_column(Text)
    test_items: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)

    standard: Mapped[Standard] = relationship(back_populates="clauses")


class AccreditationBody(Base):
    __tablename__ = "accreditation_bodies"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)


class RecognitionScheme(Base):
    __tablename__ = "recognition_schemes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    relies_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)


class SchemeMembershipEvent(Base):
    """A body's or lab's standing in a scheme changes only by events, so any past standing can be answered."""

    __tablename__ = "scheme_membership_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[str] = mapped_column(ForeignKey("recognition_schemes.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    member_kind: Mapped[str] = mapped_column(String(20))  # accreditation_body | lab
    role: Mapped[str | None] = mapped_column(String(200))
    scope: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    # None: the sources confirm the standing but not since when (facts.md §2.2 gives no dates for several bodies).
    effective_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    acting_org: Mapped[str | None] = mapped_column(String(120))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogueLoad(Base):
    """Each catalogue load that changed something; the newest id versions the in-process catalogue cache."""

    __tablename__ = "catalogue_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)


# ---------------------------------------------------------------------------------------------------- organizations


class Organization(Base):
    """A lab, manufacturer, regulator or the registry's admin; API keys and (later) people belong to one."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A report names its maker, not its registry id: these find the maker by an index instead of comparing every
    # maker of the country in Python. Kept by `_set_name_keys` (ORM) and by the column defaults (Core inserts).
    name_key: Mapped[str | None] = mapped_column(String(200), default=_name_key_of("name_en"))
    name_zh_key: Mapped[str | None] = mapped_column(String(200), default=_name_key_of("name_zh"))

    accreditations: Mapped[list[Accreditation]] = relationship(back_populates="lab", order_by="Accreditation.id")

    __table_args__ = (
        Index("ix_organizations_country_name_key", "country", "name_key"),
        Index("ix_organizations_country_name_zh_key", "country", "name_zh_key"),
    )

    @validates("name_en", "name_zh")
    def _set_name_keys(self, attribute: str, value: str | None) -> str | None:
        setattr(self, "name_key" if attribute == "name_en" else "name_zh_key", name_key(value))
        return value


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organization] = relationship()


class Accreditation(Base):
    """A lab's accreditation by an accreditation body; status and scope change only through events."""

    __tablename__ = "accreditations"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("accreditation_bodies.id"))
    number: Mapped[str] = mapped_column(String(80))
    basis: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)

    lab: Mapped[Organization] = relationship(back_populates="accreditations")
    events: Mapped[list[AccreditationEvent]] = relationship(
        back_populates="accreditation", order_by="(AccreditationEvent.effective_on, AccreditationEvent.id)"
    )

    __table_args__ = (UniqueConstraint("body_id", "number"),)


class AccreditationEvent(Base):
    """Grant, suspension, restoration, withdrawal, expiry or rescope, with its effective date and reason."""

    __tablename__ = "accreditation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    accreditation_id: Mapped[int] = mapped_column(ForeignKey("accreditations.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # grant | suspend | restore | withdraw | expire | rescope
    status: Mapped[str] = mapped_column(String(20))
    scope: Mapped[list[str] | None] = mapped_column(JSON)  # the full scope from this event on; None: unchanged
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    acting_org: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(Text)

    accreditation: Mapped[Accreditation] = relationship(back_populates="events")


# ---------------------------------------------------------------------------------------------------- products


class Product(Base):
    """A charger model of one manufacturer; created the first time a report names it."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique (manufacturer_id, model_key) index answers lookups by manufacturer.
    manufacturer_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    model: Mapped[str] = mapped_column(String(120))
    model_key: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20))
    description: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    manufacturer: Mapped[Organization] = relationship()
    identifiers: Mapped[list[ProductIdentifier]] = relationship(order_by="ProductIdentifier.id")

    __table_args__ = (UniqueConstraint("manufacturer_id", "model_key"),)


class ProductIdentifier(Base):
    """A certificate number the product already holds elsewhere (CB, CCC, LTA ...), so it can be found by it."""

    __tablename__ = "product_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str | None] = mapped_column(String(200))
    first_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))

    __table_args__ = (UniqueConstraint("scheme", "number", "product_id"), Index("ix_product_identifiers_number", "number"))


# ---------------------------------------------------------------------------------------------------- reports


class Report(Base):
    """The head of one lab's report: identity, current revision and the status derived from its events."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    report_number: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.VALID.value)
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    issued_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    lab: Mapped[Organization] = relationship(foreign_keys=[lab_id])
    product: Mapped[Product] = relationship()
    revisions: Mapped[list[ReportRevision]] = relationship(order_by="ReportRevision.revision")
    events: Mapped[list[ReportEvent]] = relationship(order_by="ReportEvent.id")

    __table_args__ = (
        UniqueConstraint("lab_id", "report_number"),
        Index("ix_reports_status_id", "status", "id"),
        Index("ix_reports_issued_on", "issued_on"),
    )


class ReportRevision(Base):
    """One accepted version of a report, the document exactly as the lab sent it. Never updated."""

    __tablename__ = "report_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))  # indexed by unique (report_id, revision)
    revision: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    document_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "revision"),)


class TestResult(Base):
    """One test performed, as reported in one revision; `accredited` is the lab's scope on the test date."""

    __tablename__ = "test_results"
    __test__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    standard_id: Mapped[str] = mapped_column(ForeignKey("standards.id"))
    clause: Mapped[str | None] = mapped_column(String(40))
    clause_verified: Mapped[bool] = mapped_column(Boolean)
    test_item_id: Mapped[str] = mapped_column(ForeignKey("test_items.id"))
    verdict: Mapped[str] = mapped_column(String(20))
    performed_on: Mapped[date] = mapped_column(Date)
    sample_id: Mapped[str] = mapped_column(String(64))
    accredited: Mapped[bool] = mapped_column(Boolean)
    conditions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Measurements stay in the revision's document only (migration 0010): nothing reads them from a result row.


class ReportEvent(Base):
    """What happened to a report: submitted, revised, withdrawn; with who, when and why. Never updated."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_org: Mapped[str] = mapped_column(String(64))
    effective_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The answer given to a POST carrying an Idempotency-Key, replayed when the same request comes again."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "key"),)


# ---------------------------------------------------------------------------------------------------- recognition


class RulebookVersion(Base):
    """One version of the rulebook: a draft until published, immutable once published (a trigger refuses edits)."""

    __tablename__ = "rulebook_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20))  # draft | published
    title: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    document_sha256: Mapped[str] = mapped_column(String(64))
    based_on: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Decision(Base):
    """The materialized recognition decision of one product in one market, so lookups and dashboards are reads.

    Recomputed in the transaction that changes the product's evidence, and in batches when a rulebook is
    published; `inputs_digest` and `rulebook_version` say exactly what it was computed from.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))  # indexed by unique (product_id, market)
    market: Mapped[str] = mapped_column(String(8))
    rulebook_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    verdict: Mapped[str] = mapped_column(String(30))
    recognized: Mapped[int] = mapped_column(Integer)
    conditional: Mapped[int] = mapped_column(Integer)
    owed: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs_digest: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("product_id", "market"), Index("ix_decisions_market_verdict", "market", "verdict"))


# ---------------------------------------------------------------------------------------------------- append-only

# Nothing is lost: the database itself refuses to change or delete these rows, whatever code runs against it.
APPEND_ONLY_TABLES = ("report_revisions", "test_results", "report_events", "accreditation_events")
NO_DELETE_TABLES = ("reports",)


def append_only_ddl(dialect: str) -> list[str]:
    """The statements that make the append-only tables refuse UPDATE/DELETE (and `reports` refuse DELETE)."""
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION registry_refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION USING MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' is refused, the registry is append-only'; "
            "END $$ LANGUAGE plpgsql"
        )
        for table in APPEND_ONLY_TABLES:
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION registry_refuse_change()"
            )
        for table in NO_DELETE_TABLES:
            statements.append(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION registry_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{op} on {table} is refused, the registry is append-only'); END"
                )
        for table in NO_DELETE_TABLES:
            statements.append(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'DELETE on {table} is refused, the registry is append-only'); END"
            )
    return statements


def drop_append_only_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        drops = [f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in APPEND_ONLY_TABLES]
        drops += [f"DROP TRIGGER IF EXISTS {t}_no_delete ON {t}" for t in NO_DELETE_TABLES]
        return drops + ["DROP FUNCTION IF EXISTS registry_refuse_change()"]
    drops = [f"DROP TRIGGER IF EXISTS {t}_no_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete")]
    return drops + [f"DROP TRIGGER IF EXISTS {t}_no_delete" for t in NO_DELETE_TABLES]


def frozen_rulebook_ddl(dialect: str) -> list[str]:
    """A published rulebook version is immutable: refuse UPDATE and DELETE of a published row."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION registry_refuse_published() RETURNS trigger AS $$ BEGIN "
            "IF OLD.status = 'published' THEN RAISE EXCEPTION USING MESSAGE = "
            "'a published rulebook version is immutable, the registry is append-only'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER rulebook_versions_frozen BEFORE UPDATE OR DELETE ON rulebook_versions "
            "FOR EACH ROW EXECUTE FUNCTION registry_refuse_published()",
        ]
    return [
        f"CREATE TRIGGER rulebook_versions_frozen_{op.lower()} BEFORE {op} ON rulebook_versions "
        "WHEN OLD.status = 'published' BEGIN SELECT RAISE(ABORT, "
        "'a published rulebook version is immutable, the registry is append-only'); END"
        for op in ("UPDATE", "DELETE")
    ]


def drop_frozen_rulebook_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS rulebook_versions_frozen ON rulebook_versions",
                "DROP FUNCTION IF EXISTS registry_refuse_published()"]
    return [f"DROP TRIGGER IF EXISTS rulebook_versions_frozen_{op}" for op in ("update", "delete")]


@event.listens_for(Base.metadata, "after_create")
def _install_append_only(target, connection, **kw) -> None:
    # Tests build their throw-away schema with create_all; give it the same guards the migrations install.
    for statement in append_only_ddl(connection.dialect.name) + frozen_rulebook_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


# ---------------------------------------------------------------------------------------------------- people


class User(Base):
    """A person who logs in to the web pages: an e-mail, an argon2 password hash, and the organization they act for.

    Their role is the organization's kind (lab, manufacturer, regulator, admin); API keys stay with organizations.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------------------------------------------- search


class SearchDocument(Base):
    """One report as the public search sees it: facet columns and the normalized text the engine's index covers.

    Derived data, refreshed in the transaction that changes the report's product (services.search). The text index
    itself is engine-specific DDL (`search_ddl`): an FTS5 trigram table on SQLite, trigram and tsvector GIN indexes
    on PostgreSQL.
    """

    __tablename__ = "search_documents"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    lab_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    issued_on: Mapped[date] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(Text)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchStandard(Base):
    """The standard editions a report's current revision cites (the search's standard facet)."""

    __tablename__ = "search_standards"

    report_id: Mapped[int] = mapped_column(ForeignKey("search_documents.report_id", ondelete="CASCADE"),
                                           primary_key=True)
    standard_id: Mapped[str] = mapped_column(String(80), primary_key=True)

    __table_args__ = (Index("ix_search_standards_standard_report", "standard_id", "report_id"),)


class DecisionPlan(Base):
    """What a dashboard needs of one stored decision: its delta test plan and savings (a few KB of its detail).

    A decision's `detail` holds every requirement's reasons (often 100 KB); parsing it for each of a maker's
    products x markets made the dashboard slow. The rows are written with the decisions they copy, in the same
    transaction (services.decisions.store), and go with them.
    """

    __tablename__ = "decision_plans"

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    savings: Mapped[dict[str, Any]] = mapped_column(JSON)
    conditional_savings: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        ForeignKeyConstraint(["product_id", "market"], ["decisions.product_id", "decisions.market"],
                             ondelete="CASCADE"),
    )


# Engine-specific text indexes; the models above cannot express them, so migrations and create_all install them by
# these statements and Alembic's comparison ignores them (search_object_filter).
SEARCH_FTS_TABLES = ("search_fts", "search_models_fts")
SEARCH_PG_INDEXES = ("ix_search_documents_terms_trgm", "ix_search_documents_terms_tsv", "ix_products_model_key_trgm")
SEARCH_SQLITE_TRIGGERS = ("search_documents_ai", "search_documents_ad", "search_documents_au")


def search_ddl(dialect: str) -> list[str]:
    """The statements that build the search's text indexes on this engine."""
    if dialect == "sqlite":
        # FTS5's trigram tokenizer (SQLite >= 3.34) matches any substring of three characters or more, Chinese
        # included; shorter words are indexed padded with '|' (services.search) so they reach three characters too.
        # External content: the text lives once, in search_documents; triggers keep the index in step with it.
        return [
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(terms, content='search_documents', "
            "content_rowid='report_id', tokenize='trigram')",
            "CREATE TRIGGER IF NOT EXISTS search_documents_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, terms) VALUES (new.report_id, new.terms); END",
            "CREATE TRIGGER IF NOT EXISTS search_documents_ad AFTER DELETE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.report_id, old.terms); END",
            "CREATE TRIGGER IF NOT EXISTS search_documents_au AFTER UPDATE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.report_id, old.terms); "
            "INSERT INTO search_fts(rowid, terms) VALUES (new.report_id, new.terms); END",
            # Model names alone, for "did you mean" suggestions by shared trigrams (rowid = product id).
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_models_fts USING fts5(model_key, tokenize='trigram')",
        ]
    if dialect == "postgresql":
        # pg_trgm GIN: substring (LIKE) search of three characters or more and similarity for near-miss model
        # names; a tsvector GIN over the same text answers one- and two-character words (Chinese bigrams).
        return [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE INDEX IF NOT EXISTS ix_search_documents_terms_trgm ON search_documents "
            "USING gin (terms gin_trgm_ops)",
            "CREATE INDEX IF NOT EXISTS ix_search_documents_terms_tsv ON search_documents "
            "USING gin (to_tsvector('simple', terms))",
            "CREATE INDEX IF NOT EXISTS ix_products_model_key_trgm ON products USING gin (model_key gin_trgm_ops)",
        ]
    return []


def drop_search_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return ([f"DROP TRIGGER IF EXISTS {name}" for name in SEARCH_SQLITE_TRIGGERS]
                + [f"DROP TABLE IF EXISTS {name}" for name in SEARCH_FTS_TABLES])
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS {name}" for name in SEARCH_PG_INDEXES]
    return []


def search_object_filter(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic `include_object`: leave the engine-specific search structures out of model comparisons."""
    if type_ == "table" and name and name.startswith(SEARCH_FTS_TABLES):
        return False
    if type_ == "index" and name in SEARCH_PG_INDEXES:
        return False
    return True


@event.listens_for(Base.metadata, "after_create")
def _install_search_indexes(target, connection, **kw) -> None:
    for statement in search_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Base.metadata, "before_drop")
def _drop_search_indexes(target, connection, **kw) -> None:
    for statement in drop_search_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)
