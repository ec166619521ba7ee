"""Use cases (no Flask). Wires the listeners: decisions and the search index follow every change of evidence."""

from sqlalchemy import event
from sqlalchemy.orm import Session

from registry.services import accreditation, dashboard, decisions, reports, search

if decisions.on_evidence_changed not in reports.evidence_listeners:
    reports.evidence_listeners.append(decisions.on_evidence_changed)
if search.on_evidence_changed not in reports.evidence_listeners:
    reports.evidence_listeners.append(search.on_evidence_changed)
if decisions.on_lab_changed not in accreditation.lab_listeners:
    accreditation.lab_listeners.append(decisions.on_lab_changed)
# Dashboards read each decision's plan and savings from decision_plans, written beside the decisions.
if not event.contains(Session, "do_orm_execute", dashboard.project_plans):
    event.listen(Session, "do_orm_execute", dashboard.project_plans)
