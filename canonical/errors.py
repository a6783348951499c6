"""The error taxonomy every vendor failure is classified into (design §4)."""

from enum import StrEnum

from pydantic import BaseModel


class ErrorKind(StrEnum):
    BUSINESS_REJECTION = "business_rejection"
    """The vendor said no (card declined, out of stock): never retried, drives the saga."""
    TRANSIENT = "transient"
    """5xx, timeout, 429, 503: retried with backoff honouring Retry-After."""
    CONTRACT_VIOLATION = "contract_violation"
    """The answer breaks the vendor's contract: not retried, alerts."""


class VendorError(BaseModel):
    vendor: str
    kind: ErrorKind
    code: str
    message: str
    http_status: int | None = None
    decline_code: str | None = None
    retry_after_s: float | None = None
    attempt: int | None = None
    """The activity attempt that got this answer, so a failed step shows how often it was tried."""

    def describe(self) -> str:
        return f"{self.vendor} {self.code}: {self.message}"


# ApplicationError.type values raised by activities, matched by workflows.
BUSINESS_REJECTION = "BusinessRejection"
TRANSIENT = "TransientVendorError"
CONTRACT_VIOLATION = "VendorContractViolation"

ERROR_TYPE_BY_KIND: dict[ErrorKind, str] = {
    ErrorKind.BUSINESS_REJECTION: BUSINESS_REJECTION,
    ErrorKind.TRANSIENT: TRANSIENT,
    ErrorKind.CONTRACT_VIOLATION: CONTRACT_VIOLATION,
}
