"""needs_attention: the order waits for support, and support's answer comes back as a value.

`park` sets the status and reason (with a reason code for the search attribute), emits
`order.needs_attention`, publishes, and waits until support resolves: `retry` the failed step,
`mark_resolved` (handled by hand), or `refund_and_close`. The caller decides what each means where it
parked; nothing unwinds behind its back.
"""

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from canonical.saga import (
        NOTHING_TO_RETRY,
        AttentionCode,
        OrderStatus,
        ResolveRequest,
        SupportAction,
    )
    from workflows.outbox import Outbox
    from workflows.status import StatusBoard


class Support:
    def __init__(self, board: StatusBoard, outbox: Outbox, checkpoint: Callable[[], Awaitable[None]],
                 money_at_risk: Callable[[], int]) -> None:
        self._board = board
        self._outbox = outbox
        self._checkpoint = checkpoint
        self._money_at_risk = money_at_risk
        self._request: ResolveRequest | None = None
        self.last: ResolveRequest | None = None
        """The latest resolution taken, e.g. the refund-and-close the process is now carrying out."""
        self.actions: list[SupportAction] = []

    @property
    def parked(self) -> bool:
        return self._board.status == OrderStatus.NEEDS_ATTENTION

    async def park(self, code: AttentionCode, reason: str) -> ResolveRequest:
        resume = self._board.status
        self._board.attend(code, reason)
        self._outbox.emit("order.needs_attention", reason_code=code.value, money_at_risk=self._money_at_risk())
        workflow.logger.warning("order needs attention", extra={"reason_code": code.value})
        await self._checkpoint()
        await workflow.wait_condition(lambda: self._request is not None)
        request, self._request = self._request, None
        assert request is not None
        self.last = request
        if request.action != "refund_and_close":
            self._board.set(resume, f"{request.action} by {request.actor}: {request.note}")
        return request

    def note(self, text: str) -> None:
        """Add to the reason of the current park (e.g. an operator's cancel arrived meanwhile)."""
        self._board.reason = f"{self._board.reason}; {text}" if self._board.reason else text

    def validate(self, request: ResolveRequest) -> None:
        if not self.parked:
            raise ApplicationError(f"order is {self._board.status.value}, not needs_attention", type="NotResolvable")
        if self._request is not None:
            raise ApplicationError(f"a {self._request.action} by {self._request.actor} is already under way",
                                   type="NotResolvable")
        if request.action == "retry" and self._board.attention in NOTHING_TO_RETRY:
            raise ApplicationError(
                f"nothing to retry for {self._board.attention}: mark it resolved once handled, or refund and close",
                type="NotResolvable")

    def resolve(self, request: ResolveRequest) -> None:
        self._request = request
        self.record(request.action, request.actor, request.note)

    def record(self, action: str, actor: str, note: str) -> None:
        self.actions.append(SupportAction(action=action, actor=actor, note=note, at=workflow.now()))  # type: ignore[arg-type]
