"""`flask --app app registry ...`: set-up, organizations and keys, accreditation changes, demo data."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

from registry.config import PROJECT_DIR
from registry.db import get_session
from registry.errors import RegistryError
from registry.services import accounts, accreditation, catalogue, decisions, organizations, rulebooks, search
from registry.services.permissions import SYSTEM

group = AppGroup("registry", help="Registry administration.")


def alembic_config(url: str) -> Config:
    """Alembic configured for this app's database (the same URL the app uses)."""
    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def _fail(exc: RegistryError) -> None:
    lines = [exc.detail] + [f"  {v.pointer or '/'}: {v.message}" for v in exc.violations]
    raise click.ClickException("\n".join(lines))


@group.command("init")
def init_command() -> None:
    """Migrate the database to the latest schema and load the standards catalogue (idempotent)."""
    upgrade_database(current_app.config["DATABASE_URL"])
    session = get_session()
    try:
        counts = catalogue.load_catalogue(session, current_app.config["CATALOGUE_PATH"])
        seeded = rulebooks.seed_rulebook(session)
        session.commit()
    except RegistryError as exc:
        session.rollback()
        _fail(exc)
    if counts is None:
        click.echo("Database at the latest migration; catalogue unchanged.")
    else:
        click.echo("Database at the latest migration; catalogue loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if seeded is not None:
        click.echo(f"Seed rulebook published as version {seeded}.")
    if counts is not None or seeded is not None:
        _recompute(session)
    indexed = search.reindex_missing(session)
    if indexed:
        click.echo(f"Search index: {indexed} products indexed.")


def _recompute(session, only_stale: bool = False) -> int:
    total = len(decisions.stale_products(session)) if only_stale else decisions.product_count(session)
    if not total:
        return 0
    with click.progressbar(length=total, label="Recomputing recognition decisions") as bar:
        return decisions.recompute_all(session, progress=bar.update, workers=min(2, os.cpu_count() or 1),
                                       only_stale=only_stale)


@group.command("recompute")
@click.option("--stale", is_flag=True,
              help="Only products whose decisions are not today's under the current rulebook (for a daily job).")
def recompute_command(stale: bool) -> None:
    """Recompute every product's recognition decisions with the published rulebook (in batches)."""
    done = _recompute(get_session(), only_stale=stale)
    click.echo(f"Decisions recomputed for {done} product(s).")


@group.command("rulebook-draft")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--title", default=None)
@click.option("--acting-org", default="registry")
def rulebook_draft_command(path: str, title: str | None, acting_org: str) -> None:
    """Upload a rulebook document (JSON or YAML) as the next draft version."""
    import yaml

    from registry.services.permissions import Principal

    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        row = rulebooks.create_draft(get_session(), Principal(org_id=acting_org, kind="admin"), document, title, prefix="")
    except RegistryError as exc:
        _fail(exc)
    click.echo(f"Draft version {row.version} stored.")


@group.command("rulebook-publish")
@click.argument("version", type=int)
@click.option("--acting-org", default="registry")
def rulebook_publish_command(version: int, acting_org: str) -> None:
    """Publish a draft rulebook version and recompute every decision with it."""
    from registry.services.permissions import Principal

    session = get_session()
    try:
        rulebooks.mark_published(session, Principal(org_id=acting_org, kind="admin"), version)
        session.commit()
    except RegistryError as exc:
        session.rollback()
        _fail(exc)
    click.echo(f"Version {version} published.")
    _recompute(session)


@group.command("reindex")
@click.option("--all", "everything", is_flag=True, help="Rebuild every product's rows, not only missing ones.")
def reindex_command(everything: bool) -> None:
    """Fill the public search index (products whose reports have no search row, or all with --all)."""
    count = search.reindex_missing(get_session(), everything=everything)
    click.echo(f"Search index: {count} products indexed.")


@group.command("migrate")
@click.argument("revision", default="head")
def migrate_command(revision: str) -> None:
    """Upgrade the database schema to REVISION (default: head)."""
    upgrade_database(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database upgraded to {revision}.")


@group.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Downgrade the database schema to REVISION (e.g. -1)."""
    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database downgraded to {revision}.")


@group.command("create-org")
@click.option("--id", "org_id", required=True, help="Registry id: lower-case letters, digits, '-'.")
@click.option("--kind", type=click.Choice(["lab", "manufacturer", "regulator", "admin"]), required=True)
@click.option("--name", required=True, help="Name in English (or as registered).")
@click.option("--name-zh", default=None, help="Name in Chinese, if any.")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code.")
def create_org_command(org_id: str, kind: str, name: str, name_zh: str | None, country: str | None) -> None:
    """Register an organization."""
    try:
        org = organizations.create_org(get_session(), SYSTEM, org_id=org_id, kind=kind, name=name, name_zh=name_zh,
                                       country=country)
    except RegistryError as exc:
        _fail(exc)
    click.echo(f"Created {org.kind} '{org.id}'.")


@group.command("create-key")
@click.option("--org", "org_id", required=True, help="The organization's registry id.")
@click.option("--label", default=None, help="What the key is for (shown in listings).")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Expiry date (UTC midnight).")
def create_key_command(org_id: str, label: str | None, expires: datetime | None) -> None:
    """Issue an API key. It is printed once; only its hash is stored."""
    expires_at = expires.replace(tzinfo=timezone.utc) if expires else None
    try:
        record, key = organizations.create_key(get_session(), SYSTEM, org_id, label=label, expires_at=expires_at)
    except RegistryError as exc:
        _fail(exc)
    click.echo(key)
    click.echo(f"(key {record.id} for '{org_id}'; store it now, it cannot be shown again)", err=True)


@group.command("list-keys")
@click.option("--org", "org_id", default=None)
def list_keys_command(org_id: str | None) -> None:
    """List API keys (prefix, label, expiry, revocation), never the keys themselves."""
    for record in organizations.list_keys(get_session(), SYSTEM, org_id):
        state = "revoked" if record.revoked_at else ("expires " + record.expires_at.date().isoformat() if record.expires_at else "active")
        click.echo(f"{record.id}\t{record.org_id}\t{record.prefix}…\t{record.label or ''}\t{state}")


@group.command("revoke-key")
@click.argument("key_id", type=int)
def revoke_key_command(key_id: int) -> None:
    """Revoke an API key by its id (see list-keys)."""
    try:
        organizations.revoke_key(get_session(), SYSTEM, key_id)
    except RegistryError as exc:
        _fail(exc)
    click.echo(f"Key {key_id} revoked.")


@group.command("create-user")
@click.option("--email", required=True, help="The person's e-mail address (their log-in).")
@click.option("--name", required=True, help="The person's name, as shown on the pages.")
@click.option("--org", "org_id", required=True, help="The organization they act for (its kind is their role).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 12 characters; prompted for when not given (never put it in shell history).")
def create_user_command(email: str, name: str, org_id: str, password: str) -> None:
    """Register a person who logs in to the web pages (the password is stored as an argon2id hash)."""
    try:
        user = accounts.create_user(get_session(), SYSTEM, email=email, name=name, org_id=org_id, password=password)
    except RegistryError as exc:
        _fail(exc)
    click.echo(f"Created user {user.email} for '{user.org_id}'.")


@group.command("accreditation-event")
@click.option("--lab", "lab_id", required=True)
@click.option("--accreditation", "accreditation_id", type=int, required=True, help="Accreditation id (see GET /api/v1/labs/LAB).")
@click.option("--action", type=click.Choice(sorted(accreditation.TRANSITIONS)), required=True)
@click.option("--effective", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--reason", required=True)
@click.option("--scope", multiple=True, help="For rescope: a standard id; repeat for each.")
@click.option("--acting-org", default="registry", help="The organization ordering the change (recorded).")
def accreditation_event_command(lab_id, accreditation_id, action, effective, reason, scope, acting_org) -> None:
    """Suspend, restore, withdraw, expire or rescope a lab's accreditation."""
    from registry.services.permissions import Principal

    try:
        event = accreditation.record_accreditation_event(
            get_session(), Principal(org_id=acting_org, kind="admin"), lab_id,
            {"accreditation_id": accreditation_id, "action": action, "effective_on": effective.date(),
             "reason": reason, "scope": list(scope)},
        )
    except RegistryError as exc:
        _fail(exc)
    click.echo(f"{lab_id}: accreditation {accreditation_id} {event.status} from {event.effective_on.isoformat()}.")


@group.command("seed-demo")
@click.option("--reports", default=120, show_default=True, help="How many demo reports to generate.")
def seed_demo_command(reports: int) -> None:
    """Load the demo data set: manufacturers, products, reports (some revised, some withdrawn), people, a draft."""
    from registry.services import demo

    try:
        summary = demo.seed(get_session(), target_reports=reports, today=date.today())
    except RegistryError as exc:
        _fail(exc)
    click.echo(summary)


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
