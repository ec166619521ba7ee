"""The registry with the recognition update switched off: the foundation's ingest path alone, for comparison.

Bench only. The real app always recomputes decisions in the submission's transaction.
"""

from registry import create_app
from registry.services import reports

app = create_app()
reports.evidence_listeners.clear()
