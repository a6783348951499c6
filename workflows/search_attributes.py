"""Search attributes support staff filter orders by in the Temporal UI and that back GET /v1/orders.

Set once at start; only ORDER_STATUS, the reason (ATTENTION_REASON, and NEEDS_ATTENTION_REASON kept for queries
written before it) and MONEY_AT_RISK are upserted later, at milestones.
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
"""Text, so it cannot be sorted or matched exactly; kept for queries written against it."""
ATTENTION_REASON = SearchAttributeKey.for_keyword("AttentionReason")
"""The reason code of a parked order (an AttentionCode), as a Keyword: exact filters and a list column."""
MONEY_AT_RISK = SearchAttributeKey.for_int("MoneyAtRisk")
"""Minor units of dispatched goods not captured, while the order is parked: what support sorts the worklist by."""

ALL_KEYS = (ORDER_ID, CUSTOMER_ID, ORDER_STATUS, CHANNEL, ORDER_TOTAL, CURRENCY, NEEDS_ATTENTION_REASON,
            ATTENTION_REASON, MONEY_AT_RISK)

PARKED_ORDERS_QUERY = (
    f"WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running' "
    f"AND {ORDER_STATUS.name} = '{OrderStatus.NEEDS_ATTENTION.value}'"
)
"""The visibility query of the exception worklist: orders parked in needs_attention, waiting for support."""

# The dev server's --search-attribute NAME=TYPE flag values.
DEV_SERVER_FLAGS = [
    "OrderId=Keyword", "CustomerId=Keyword", "OrderStatus=Keyword", "Channel=Keyword",
    "OrderTotal=Int", "Currency=Keyword", "NeedsAttentionReason=Text", "AttentionReason=Keyword",
    "MoneyAtRisk=Int",
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
