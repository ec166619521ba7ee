"""The lab and public JSON API under /api/v1, documented by flask-smorest's generated OpenAPI."""

from flask_smorest import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1", description="Test reports and the standards catalogue.")

from registry.api import auth, catalogue, recognition, reports  # noqa: E402,F401  (route modules register on bp)
