"""Marketing: the answer of one attempt to hand a canonical event to a marketing destination.

A webhook POST (activities/webhooks.py) and a tracking call of the marketing adapter
(activities/ports/marketing.py) end the same way, so the sender records both in one place: a status
code, the head of the answer and an error category, never the network library's own wording.
"""

from dataclasses import dataclass
from typing import Literal

ErrorCategory = Literal["http_error", "timeout", "unreachable", "destination_refused", "invalid_response"]
"""http_error: answered with a non-2xx status; timeout: no complete answer within the deadline;
unreachable: no connection (name not resolved, refused, reset, TLS failed); destination_refused: the
address is not allowed (nothing sent); invalid_response: the answer was not HTTP."""


@dataclass(frozen=True)
class PostOutcome:
    status_code: int | None
    head: bytes
    """At most keep_bytes of the answer's body."""
    error: ErrorCategory | None

    @property
    def text(self) -> str:
        return self.head.decode("utf-8", "replace")
