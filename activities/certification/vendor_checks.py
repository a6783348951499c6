"""What every role's suite gets from a run, and the checks every role runs alike: the vendor's error shape, the
adapter's side of Retry-After on 429 and 503, and the vendor timeout.

A suite names the calls (through its port) these checks make: one the vendor must refuse with a 4xx (for the
error shape), and one single-request probe that the fault proxy answers itself (Retry-After, timeout).
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from activities.certification.fault_proxy import FaultProxy, body_text
from activities.certification.framework import Check, CheckFailed, expect, refused
from canonical.errors import ErrorKind
from canonical.steps import OrderCall

RETRY_AFTER_S = 2
TIMEOUT_MARGIN_S = 2.0
"""How much longer than the vendor timeout an adapter may take to give up."""

Call = Callable[[], Awaitable[Any]]
"""A port call, made afresh each time (each with its own order id)."""


class VendorErrorObject(BaseModel):
    type: str
    code: str
    message: str


class VendorErrorShape(BaseModel):
    """`{"error": {"type", "code", "message", ...}}`: the error answer the sandbox's vendor routers document
    (sandbox/CONTRACT.md) and VendorClient reads the code from."""

    error: VendorErrorObject


@dataclass(frozen=True)
class Probe:
    """A port call and what it is, in a finding's words."""

    call: Call
    what: str


@dataclass
class SuiteContext:
    """A run's fault proxy, run id and vendor timeout; order ids and names unique to the run."""

    proxy: FaultProxy
    run_id: str
    timeout_s: float
    _issued: int = field(default=0, init=False)

    def unique(self, prefix: str = "") -> str:
        """`{prefix}{run_id}-{n}`: never the same twice, in this run or any other."""
        self._issued += 1
        return f"{prefix}{self.run_id}-{self._issued}"

    def order(self) -> OrderCall:
        order_id = self.unique()
        return OrderCall(order_id=order_id, correlation_id=order_id)

    def vendor_checks(self, shape: type[BaseModel], shape_text: str, refusal: Probe, probe: Probe) -> list[Check]:
        """The error shape of `refusal`'s 4xx (in `shape`, described as `shape_text`), Retry-After and the
        timeout on `probe`. None of them changes anything at the vendor."""
        return [
            Check("error_shape", lambda: self.error_shape(shape, shape_text, refusal), mutating=False),
            Check("retry_after.429", lambda: self.retry_after(429, probe), mutating=False),
            Check("retry_after.503", lambda: self.retry_after(503, probe), mutating=False),
            Check("timeout", lambda: self.timeout(probe), mutating=False),
        ]

    async def error_shape(self, shape: type[BaseModel], shape_text: str, refusal: Probe) -> str:
        """The vendor's 4xx must be its documented error shape, and the adapter must read the vendor's code
        from it (not fall back to the HTTP status)."""
        seen = len(self.proxy.client_errors)
        error = await refused(refusal.call(), refusal.what)
        answers = self.proxy.client_errors[seen:]
        expect(bool(answers), f"the vendor gave no 4xx answer to {refusal.what}")
        for answer in answers:
            try:
                shape.model_validate_json(answer.body)
            except ValidationError:
                raise CheckFailed(f"the {answer.status} answer to {answer.method} {answer.path} is not the documented "
                                  f"error shape {shape_text}: {body_text(answer)}") from None
        expect(not error.code.startswith("http_"),
               f"the adapter read no vendor error code from the {error.http_status} answer (got `{error.code}`)")
        expect(error.kind is not ErrorKind.TRANSIENT, f"a {error.http_status} was taken as transient")
        return f"{answers[-1].status} {error.code} in the documented shape, read as {error.kind.value}"

    async def retry_after(self, status: int, probe: Probe) -> str:
        before = self.proxy.requests
        self.proxy.answer_next(status, RETRY_AFTER_S)
        error = await refused(probe.call(),
                              f"{probe.what} while the endpoint answers {status} with Retry-After: {RETRY_AFTER_S}")
        calls = self.proxy.requests - before
        expect(calls == 1, f"the adapter sent {calls} requests: retries belong to Temporal, not the adapter")
        expect(error.kind is ErrorKind.TRANSIENT, f"a {status} was classified {error.kind.value} ({error.code})")
        expect(error.retry_after_s == RETRY_AFTER_S,
               f"retry_after {error.retry_after_s!r} s, the answer said {RETRY_AFTER_S} s")
        return f"{status} is transient with retry_after {RETRY_AFTER_S} s, not retried by the adapter"

    async def timeout(self, probe: Probe) -> str:
        self.proxy.hold_next(self.timeout_s + TIMEOUT_MARGIN_S + 3)
        started = time.monotonic()
        error = await refused(probe.call(), f"{probe.what} while the endpoint does not answer for {self.timeout_s:g} s")
        took = time.monotonic() - started
        expect(error.kind is ErrorKind.TRANSIENT and error.code == "timeout",
               f"a vendor that does not answer gave {error.kind.value} `{error.code}`, expected transient `timeout`")
        expect(took <= self.timeout_s + TIMEOUT_MARGIN_S,
               f"gave up after {took:.1f} s; the vendor timeout is {self.timeout_s:g} s")
        return f"transient timeout after {took:.1f} s (vendor timeout {self.timeout_s:g} s)"
