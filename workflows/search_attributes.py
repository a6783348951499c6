"""Search attributes support staff filter orders by in the Temporal UI and that back GET /v1/orders.

Set once at start; only ORDER_STATUS and NEEDS_ATTENTION_REASON are upserted later, at milestones.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from canonical.order import Order
from canonical.saga import OrderStatus

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
ORDER_TOTAL = SearchAttributeKey.for_int("OrderTotal")
CURRENCY = SearchAttributeKey.for_keyword("Currency")
NEEDS_ATTENTION_REASON = SearchAttributeKey.for_text("NeedsAttentionReason")

ALL_KEYS = (ORDER_ID, CUSTOMER_ID, ORDER_STATUS, CHANNEL, ORDER_TOTAL, CURRENCY, NEEDS_ATTENTION_REASON)

PARKED_ORDERS_QUERY = (
    f"WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running' "
    f"AND {ORDER_STATUS.name} = '{OrderStatus.NEEDS_ATTENTION.value}'"
)
"""The visibility query of the exception worklist: orders parked in needs_attention, waiting for support."""

# The dev server's --search-attribute NAME=TYPE flag values.
DEV_SERVER_FLAGS = [
    "OrderId=Keyword", "CustomerId=Keyword", "OrderStatus=Keyword", "Channel=Keyword",
    "OrderTotal=Int", "Currency=Keyword", "NeedsAttentionReason=Text",
]


def initial_search_attributes(order: Order) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORDER_ID, order.order_id),
            SearchAttributePair(CUSTOMER_ID, order.customer.customer_id),
            SearchAttributePair(ORDER_STATUS, "received"),
            SearchAttributePair(CHANNEL, order.channel),
            SearchAttributePair(ORDER_TOTAL, order.total),
            SearchAttributePair(CURRENCY, order.currency),
        ]
    )
