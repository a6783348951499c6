"""OrderWorkflow: one order from checkout to the end of its return window (design §4).

The entry point: it owns the handlers the API and the fulfilment node talk to, and hands the process
itself to OrderProcess (order_process.py). Temporal's own Cancel (the UI's "Request Cancellation",
`temporal workflow cancel`) never cuts a step short: the process runs shielded from it and hears it
as a request, which before dispatch is the operator cancel (everything compensated, the workflow ends
Canceled) and after dispatch parks the order for support (README "Operating on orders in Temporal").
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from canonical.returns import RegisterReturn, ResolveReturn, ReturnReceived, ReturnView
    from canonical.saga import (
        AcceptDecision,
        AcceptRequest,
        CancelRequest,
        FulfillmentEvent,
        OrderInput,
        OrderResult,
        OrderStatus,
        OrderView,
        ResolveRequest,
    )
    from workflows.order_process import OrderProcess


# Outside the Python sandbox: its per-workflow module isolation doubled the worker's CPU per order
# (tools/bench, README "Performance"). What the sandbox would check is held otherwise: workflows/ imports
# no I/O (tests/test_layers.py), uses no clock, randomness or environment of its own (the same test), and
# every recorded history must replay (tests/test_replay.py).
@workflow.defn(sandboxed=False)
class OrderWorkflow:
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        self._inp = inp
        self._process = OrderProcess(inp)
        self._decision_served = False

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        process = asyncio.create_task(self._process.run())
        while not process.done():
            try:
                await asyncio.shield(process)
            except asyncio.CancelledError:
                if process.done():
                    raise
                self._process.operator_cancel()
        process.result()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._process.cancelled_by_operator:
            raise asyncio.CancelledError(f"order {inp.order.order_id} cancelled by an operator")
        return OrderResult(view=self._process.view(), decision=self._process.decision)

    # ---- the commerce platform ---------------------------------------------------------------

    @workflow.update
    async def accept(self, req: AcceptRequest) -> AcceptDecision:
        await workflow.wait_condition(lambda: self._process.decision is not None)
        assert self._process.decision is not None
        first = not self._decision_served
        self._decision_served = True
        return self._process.decision.model_copy(update={"first": first})

    @accept.validator
    def _validate_accept(self, req: AcceptRequest) -> None:
        if req.fingerprint != self._inp.fingerprint:
            raise ApplicationError("order id already used by a different order", type="OrderIdConflict")

    @workflow.update
    async def cancel(self, req: CancelRequest) -> OrderView:
        self._process.request_cancel(req)
        view = self._process.view()
        return view.model_copy(update={"status": OrderStatus.CANCELLING})

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        self._process.validate_cancel()

    @workflow.update
    async def request_return(self, req: RegisterReturn) -> ReturnView:
        return self._process.returns.request(req)

    @request_return.validator
    def _validate_return(self, req: RegisterReturn) -> None:
        self._process.returns.validate_request(req)

    # ---- support -----------------------------------------------------------------------------

    @workflow.update
    async def resolve(self, req: ResolveRequest) -> OrderView:
        self._process.ctx.support.resolve(req)
        return self._process.view()

    @resolve.validator
    def _validate_resolve(self, req: ResolveRequest) -> None:
        self._process.ctx.support.validate(req)

    @workflow.update
    async def resolve_return(self, decision: ResolveReturn) -> ReturnView:
        return self._process.returns.decide(decision)

    @resolve_return.validator
    def _validate_resolve_return(self, decision: ResolveReturn) -> None:
        self._process.returns.validate_decision(decision)

    # ---- the fulfilment node -----------------------------------------------------------------

    @workflow.signal
    def fulfillment_event(self, event: FulfillmentEvent) -> None:
        self._process.record_fulfilment(event)

    @workflow.signal
    def return_received(self, event: ReturnReceived) -> None:
        self._process.returns.receive(event)

    @workflow.query
    def status(self) -> OrderView:
        return self._process.view()
