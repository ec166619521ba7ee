"""An id no row can have is a 404 on pages as in the API, never a database error."""

import pytest


@pytest.mark.parametrize("path", ["/products/99999999999999999999", "/reports/4294967296", "/api/v1/reports/4294967296",
                                  "/api/v1/products/2147483648/recognition"])
def test_ids_beyond_32_bits_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.mimetype == "application/problem+json"
