"""Use cases (no Flask). Wires the listeners: decisions and the search index follow every change of evidence."""

from registry.services import accreditation, decisions, reports, search

if decisions.on_evidence_changed not in reports.evidence_listeners:
    reports.evidence_listeners.append(decisions.on_evidence_changed)
if search.on_evidence_changed not in reports.evidence_listeners:
    reports.evidence_listeners.append(search.on_evidence_changed)
if decisions.on_lab_changed not in accreditation.lab_listeners:
    accreditation.lab_listeners.append(decisions.on_lab_changed)
if decisions.prepare_submission not in reports.evidence_preparers:
    reports.evidence_preparers.append(decisions.prepare_submission)
