"""Business references: the keys that tie one money movement to its ERP document across vendors.

A capture and the invoice for the same shipment carry references that differ only in their middle
word (`{order}:capture:{shipment}` / `{order}:invoice:{shipment}`), and likewise a refund and its
credit memo (`{order}:refund:{return}` / `{order}:credit-memo:{return}`). Activities build them here
and reconciliation parses them here, so the two cannot drift apart.
"""

from typing import Literal

Flow = Literal["charge", "refund"]

_FLOW_OF: dict[str, Flow] = {
    "capture": "charge",
    "invoice": "charge",
    "refund": "refund",
    "credit-memo": "refund",
}


def sales_order_reference(order_id: str) -> str:
    return f"{order_id}:sales-order"


def capture_reference(order_id: str, shipment_id: str) -> str:
    return f"{order_id}:capture:{shipment_id}"


def invoice_reference(order_id: str, shipment_id: str) -> str:
    return f"{order_id}:invoice:{shipment_id}"


def refund_reference(order_id: str, return_id: str) -> str:
    return f"{order_id}:refund:{return_id}"


def credit_memo_reference(order_id: str, return_id: str) -> str:
    return f"{order_id}:credit-memo:{return_id}"


def settlement_key(order_id: str, reference: str) -> tuple[Flow, str] | None:
    """(flow, shipment or return id) of a capture/invoice/refund/credit-memo reference of this order.

    None for anything else (a sales order, or a reference typed by hand), which then matches nothing.
    The order id is stripped as a known prefix because order ids may themselves contain colons.
    """
    prefix = f"{order_id}:"
    if not reference.startswith(prefix):
        return None
    word, sep, tail = reference[len(prefix) :].partition(":")
    flow = _FLOW_OF.get(word)
    if flow is None or not sep or not tail:
        return None
    return flow, tail
