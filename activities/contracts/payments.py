"""Payment gateway (PaymentIntents with manual, multi-part capture): authorize at checkout, capture
per shipment, release a share or void what is left, refund."""

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


AUTHORIZE = Operation("authorize_payment", AuthorizePayment, Authorization)
CAPTURE = Operation("capture_payment", CapturePayment, Capture)
RELEASE_SHARE = Operation("release_authorization_share", ReleaseAuthorization, Done)
VOID = Operation("void_authorizations", OrderCall, Done)
REFUND = Operation("refund_payment", RefundPayment, Refund)

# Codes the gateway answers that the saga acts on.
AUTHORIZATION_EXPIRED = "charge_expired_for_capture"
