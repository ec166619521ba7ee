"""The registry with its derived data switched off (recognition decisions and the search index): the foundation's
ingest path alone, storage of the report and its results, for comparison with the bare endpoint.

Bench only. The real app always rewrites decisions and search rows in the submission's transaction.
"""

from registry import create_app
from registry.services import reports

app = create_app()
reports.evidence_listeners.clear()
reports.evidence_preparers.clear()
