"""What the parts of one order workflow share: the order, its clocks, the step runner, the outbox,
the status board, support, the unit ledger, the money and the business clocks. Built once per workflow run."""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from canonical.identifiers import format_money
    from canonical.money import Money
    from canonical.operations import Operation
    from canonical.order import Order
    from canonical.saga import AttentionCode, OrderInput, SagaTimings
    from canonical.units import UnitLedger
    from workflows import policies
    from workflows.clocks import BusinessClocks
    from workflows.outbox import Outbox
    from workflows.status import StatusBoard
    from workflows.steps import StepFailed, StepRunner
    from workflows.support import Support

Out = TypeVar("Out", bound=BaseModel)


class Flow(Enum):
    GO_ON = "go on"
    CLOSE = "close"
    """Support chose "refund and close": whoever parked returns this up to the process, which closes."""


@dataclass
class Done:
    """A step after the pivot that finished: its result, or None if support marked it resolved by hand."""

    result: Any
    flow: Flow = Flow.GO_ON


@dataclass
class OrderContext:
    inp: OrderInput
    steps: StepRunner
    outbox: Outbox
    board: StatusBoard
    support: Support
    units: UnitLedger
    money: Money
    clocks: BusinessClocks = field(default_factory=BusinessClocks)

    @property
    def order(self) -> Order:
        return self.inp.order

    @property
    def timings(self) -> SagaTimings:
        return self.inp.timings

    def fmt(self, amount: int) -> str:
        return format_money(amount, self.order.currency)

    async def persist(self, name: str, op: Operation[Any, Out], summary: str,
                      code: AttentionCode = AttentionCode.STEP_FAILED, **fields: Any) -> Done:
        """A step after the pivot: retried by its policy until it succeeds; if it fails for good, the
        order parks until support retries it, marks it resolved by hand, or closes the order."""
        while True:
            try:
                return Done(await self.steps.run(name, op, policies.after_pivot(), summary, **fields))
            except StepFailed as failed:
                request = await self.support.park(code, str(failed))
            if request.action == "mark_resolved":
                return Done(None)
            if request.action == "refund_and_close":
                return Done(None, Flow.CLOSE)
