"""GET /v1/orders: find orders by status and customer through Temporal visibility.

The search attributes are set by the workflow (workflows/search_attributes.py); the page cursor is
Temporal's next-page token, base64url-encoded so clients treat it as opaque.
"""

import base64
import binascii
import re

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from api.orders.accept import order_links
from api.orders.models import OrderPage, OrderSummary
from api.shared.problems import ProblemError, rpc_unavailable, validation_problem
from canonical.saga import OrderStatus
from runtime.settings import Settings
from workflows.order import OrderWorkflow
from workflows.search_attributes import CHANNEL, CURRENCY, CUSTOMER_ID, ORDER_ID, ORDER_STATUS, ORDER_TOTAL

_CURSOR = re.compile(r"^[A-Za-z0-9_-]+$")


def _literal(value: str) -> str:
    """A visibility-query string literal. Inputs are already pattern-validated; escaping anyway keeps
    the query safe should that validation ever be loosened."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_query(status: OrderStatus | None, customer_id: str | None) -> str:
    clauses = [f"WorkflowType = {_literal(OrderWorkflow.__name__)}"]
    if status is not None:
        clauses.append(f"{ORDER_STATUS.name} = {_literal(status.value)}")
    if customer_id is not None:
        clauses.append(f"{CUSTOMER_ID.name} = {_literal(customer_id)}")
    return " AND ".join(clauses)


def encode_cursor(token: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=") if token else None


def _bad_cursor() -> ProblemError:
    return validation_problem([{"loc": ("query", "cursor"), "msg": "not a cursor returned by this API"}])


def decode_cursor(cursor: str | None) -> bytes | None:
    if not cursor:
        return None
    if not _CURSOR.match(cursor):
        raise _bad_cursor()
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None


def _summary(execution: WorkflowExecution, settings: Settings) -> OrderSummary:
    attrs = execution.typed_search_attributes
    order_id = attrs.get(ORDER_ID) or execution.id.removeprefix("order-")
    return OrderSummary(
        order_id=order_id,
        status=attrs.get(ORDER_STATUS),
        customer_id=attrs.get(CUSTOMER_ID),
        channel=attrs.get(CHANNEL),
        total=attrs.get(ORDER_TOTAL),
        currency=attrs.get(CURRENCY),
        workflow_id=execution.id,
        started_at=execution.start_time,
        closed_at=execution.close_time,
        links=order_links(settings, order_id),
    )


async def search_orders(
    client: Client,
    settings: Settings,
    *,
    status: OrderStatus | None,
    customer_id: str | None,
    limit: int,
    token: bytes | None,
) -> OrderPage:
    pages = client.list_workflows(build_query(status, customer_id), page_size=limit, next_page_token=token)
    try:
        await pages.fetch_next_page()
    except RPCError as err:
        # A cursor the server cannot read fails with INVALID_ARGUMENT or, on SQL visibility, UNKNOWN.
        if token is not None and not rpc_unavailable(err):
            raise _bad_cursor() from None
        raise
    return OrderPage(
        items=[_summary(e, settings) for e in pages.current_page or []],
        next_cursor=encode_cursor(pages.next_page_token),
    )
