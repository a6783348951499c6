import pytest

from api.orders.search import build_query, decode_cursor, encode_cursor
from api.shared.problems import ProblemError
from canonical.saga import OrderStatus


def test_query_filters_on_type_status_and_customer():
    assert build_query(None, None) == "WorkflowType = 'OrderWorkflow'"
    assert build_query(OrderStatus.NEEDS_ATTENTION, "C-1") == (
        "WorkflowType = 'OrderWorkflow' AND OrderStatus = 'needs_attention' AND CustomerId = 'C-1'"
    )


def test_query_literals_are_escaped():
    # Customer ids are pattern-validated before they get here; the escaping is a second line of defence.
    assert build_query(None, "a' OR 'x'='x") == (
        "WorkflowType = 'OrderWorkflow' AND CustomerId = 'a\\' OR \\'x\\'=\\'x'"
    )


def test_cursor_round_trips_and_is_url_safe():
    token = bytes(range(256))
    cursor = encode_cursor(token)
    assert cursor is not None and "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor) == token
    assert encode_cursor(None) is None and encode_cursor(b"") is None
    assert decode_cursor(None) is None and decode_cursor("") is None


@pytest.mark.parametrize("bad", ["%%%", "abc=", "a b", "a"])
def test_bad_cursor_is_422(bad):
    with pytest.raises(ProblemError) as err:
        decode_cursor(bad)
    assert err.value.status == 422
    assert err.value.extra["errors"][0]["loc"] == ["query", "cursor"]
