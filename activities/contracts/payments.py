"""Payment gateway (PaymentIntents with manual, multi-part capture): authorize at checkout, capture
per shipment, release a share or void what is left, refund."""

from pydantic import Field

from canonical.operations import Operation
from canonical.steps import Authorization, Capture, Done, OrderCall, Refund


class AuthorizePayment(OrderCall):
    amount: int
    currency: str
    method_token: str
    reauthorization: int = 0
    """0 for the checkout authorization; n for the n-th re-authorization of an expired one."""
    reauthorization_of: str | None = None


class CapturePayment(OrderCall):
    payment_intent_id: str
    shipment_id: str
    amount: int
    points: int
    reauthorization: int = 0


class ReleaseAuthorization(OrderCall):
    payment_intent_id: str
    amount: int
    tag: str


class RefundPayment(OrderCall):
    payment_intent_id: str
    amount: int
    reference: str
    """Business key of the refund, e.g. `{order_id}:refund:{return_id}:{shipment_id}:resellable`; also its
    idempotency key."""


class VoidAuthorizations(OrderCall):
    payment_intent_ids: list[str] = Field(default_factory=list)
    """The holds the saga knows of. The void also looks the order's holds up at the gateway (an authorization
    whose activity died before recording it), but a gateway's search may lag its writes (Stripe's: up to a
    minute), so a hold the saga knows of is voided by its id, never left to the search."""


AUTHORIZE = Operation("authorize_payment", AuthorizePayment, Authorization)
CAPTURE = Operation("capture_payment", CapturePayment, Capture)
RELEASE_SHARE = Operation("release_authorization_share", ReleaseAuthorization, Done)
VOID = Operation("void_authorizations", VoidAuthorizations, Done)
REFUND = Operation("refund_payment", RefundPayment, Refund)

# Codes the gateway answers that the saga acts on.
AUTHORIZATION_EXPIRED = "charge_expired_for_capture"


# The business keys sent as idempotency keys: the same whichever gateway adapter runs.

def authorize_key(inp: AuthorizePayment) -> str:
    return f"{inp.order_id}:reauthorize:{inp.reauthorization}" if inp.reauthorization else f"{inp.order_id}:authorize"


def capture_reference(inp: CapturePayment) -> str:
    return f"{inp.order_id}:capture:{inp.shipment_id}"


def capture_key(inp: CapturePayment) -> str:
    # A re-authorized capture goes to another intent: a new key, so the expired attempt's stored answer is
    # not replayed; the business reference (capture_reference) stays the same for reconciliation.
    reference = capture_reference(inp)
    return reference if not inp.reauthorization else f"{reference}:r{inp.reauthorization}"


def release_key(inp: ReleaseAuthorization) -> str:
    return f"{inp.order_id}:auth-release:{inp.tag}"


def void_key(order_id: str, payment_intent_id: str) -> str:
    return f"{order_id}:void:{payment_intent_id}"
