"""U+0000 in any input: PostgreSQL text cannot hold it, so it is refused up front on both engines, saying where.

Found by the OpenAPI contract test (schemathesis): a NUL in a query parameter of /api/v1/standards reached
PostgreSQL and answered 500.
"""

from __future__ import annotations

from tests.api.test_reports_api import assert_problem, counts, post_report
from tests.factories import report_document


def test_a_nul_in_a_query_parameter_is_a_bad_request_naming_it(client):
    response = client.get("/api/v1/standards?region=%00CN")
    body = assert_problem(response, 400)
    assert body["errors"] == [{"parameter": "region", "in": "query", "message": "contains U+0000"}]
    assert client.get("/api/v1/reports?model=a%00b").status_code == 400


def test_a_nul_in_a_report_is_refused_at_its_field_and_nothing_is_stored(client, session, lab_key):
    before = counts(session)
    document = report_document("cn")
    document["product"]["model"] = "VT\u0000DC"
    assert_problem(post_report(client, lab_key, document), 400, "/product/model")
    assert counts(session) == before
    escaped_backslash = report_document("cn")
    escaped_backslash["product"]["model"] = "VT\\u0000DC"  # a backslash, then the letters u0000: nothing to refuse
    assert post_report(client, lab_key, escaped_backslash).status_code == 201


def test_a_nul_on_a_page_is_a_bad_request_not_an_error(client):
    response = client.get("/search?q=%00")
    assert response.status_code == 400
    assert "text/html" in response.content_type


def test_a_nul_deep_in_a_body_nested_as_far_as_the_parser_allows_is_refused_at_its_place(client):
    depth = 1023  # orjson's limit is 1,024 levels; the check must not hit Python's recursion limit before it
    body = "[" * depth + '"\\u0000"' + "]" * depth
    response = client.post("/api/v1/recognition/evaluate", data=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "/0" * depth)


def test_the_first_nul_in_document_order_is_named():
    from registry.contracts import nul_pointer

    assert nul_pointer({"a": ["ok", {"b": "x\u0000"}], "c": "\u0000"}) == "/a/1/b"
    assert nul_pointer({"a/b~": "\u0000"}) == "/a~1b~0"
    assert nul_pointer({"k\u0000": 1}) == "/k\u0000"
    assert nul_pointer(["fine", {"also": ["fine"]}]) is None
