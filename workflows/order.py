"""OrderWorkflow: one order from checkout to the last ERP invoice (design §4).

Reads top to bottom like the business process: take the accept decision (points, payment), then
allocate, book and ship; each dispatched shipment is committed, captured and invoiced on its own;
when every line is shipped or released, settle points, the authorization and the allocation.
Before the first dispatch any failure or a customer cancel compensates everything; after it,
money steps are retried until they succeed or park the order in needs_attention for a human.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities import erp, fulfillment, inventory, loyalty, payments
    from activities.vendor_http import OrderCall
    from canonical.errors import VendorError
    from canonical.events import EventType
    from canonical.identifiers import format_money
    from canonical.pricing import largest_remainder
    from canonical.references import credit_memo_reference, refund_reference
    from canonical.returns import (
        RegisterReturn,
        ReturnInput,
        ReturnShare,
        ReturnSummary,
        ReturnTimings,
        return_workflow_id,
    )
    from canonical.saga import (
        TERMINAL_STATUSES,
        AcceptDecision,
        AcceptRequest,
        CancelRequest,
        CompensationView,
        FulfillmentEvent,
        LoyaltyView,
        OrderInput,
        OrderResult,
        OrderStatus,
        OrderView,
        Rejection,
        ResolveRequest,
        StepView,
        SupportAction,
    )
    from canonical.steps import (
        Authorization,
        Capture,
        ErpDocument,
        LineQuantity,
        PointsReservation,
        Refund,
        Shipment,
    )
    from workflows import policies
    from workflows.publish import publish
    from workflows.search_attributes import NEEDS_ATTENTION_REASON, ORDER_STATUS

R = TypeVar("R")

SKIP_VOID_WITHOUT_AUTHORIZATION = "skip-void-without-authorization"
"""Patch id: completion no longer voids when nothing was authorized (points-only orders)."""


class StepFailed(Exception):
    """A saga step failed for good: a business rejection, or retries exhausted."""

    def __init__(self, step: str, message: str, vendor_error: VendorError | None) -> None:
        super().__init__(message)
        self.step = step
        self.vendor_error = vendor_error

    @property
    def is_rejection(self) -> bool:
        return self.vendor_error is not None and self.vendor_error.kind == "business_rejection"

    @property
    def code(self) -> str | None:
        return self.vendor_error.code if self.vendor_error else None


class _ClosedBySupport(Exception):
    """Support chose "refund and close" for a parked order: unwinds to run(), which closes it."""

    def __init__(self, request: ResolveRequest, clear_reason: SearchAttributeUpdate[str]) -> None:
        super().__init__(request.note)
        self.request = request
        self.clear_reason = clear_reason


@dataclass(frozen=True)
class _Units:
    """A run of units of one line that the node shipped (shipment_id) or rejected (None)."""

    sku: str
    start: int
    count: int
    shipment_id: str | None


@dataclass
class _Undo:
    name: str
    run: Callable[[], Awaitable[Any]]
    view: CompensationView


def _vendor_error(err: ActivityError) -> tuple[str, VendorError | None]:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.details:
            try:
                return cause.message, VendorError.model_validate(cause.details[0])
            except ValidationError:  # details of another shape: the message is all we have
                return cause.message, None
        return cause.message, None
    return str(cause or err), None


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        self._inp = inp
        self._order = inp.order
        self._priced = inp.priced
        self._status = OrderStatus.RECEIVED
        self._reason: str | None = None
        self._decision: AcceptDecision | None = None
        self._decision_served = False
        self._cancel: CancelRequest | None = None
        self._events: list[FulfillmentEvent] = []
        self._seen_events: set[str] = set()
        self._steps: dict[str, StepView] = {}
        self._undo: list[_Undo] = []
        self._reservation: PointsReservation | None = None
        self._auth: Authorization | None = None
        self._reauthorizations = 0
        self._sales_order: ErpDocument | None = None
        self._shipments: list[Shipment] = []
        self._captures: list[Capture] = []
        self._postings: list[ErpDocument] = []
        self._released_lines: list[LineQuantity] = []
        self._settled_units: dict[str, int] = {line.sku: 0 for line in inp.priced.lines}
        self._loyalty = LoyaltyView()
        self._released_due = 0
        self._money_at_risk = 0
        self._refunds: list[Refund] = []
        self._resolution: ResolveRequest | None = None
        self._support: list[SupportAction] = []
        self._units: list[_Units] = []
        self._returns: list[ReturnSummary] = []
        self._returned: dict[str, int] = {}

    # ---- the business process -------------------------------------------------------------

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        try:
            try:
                if await self._take_accept_decision():
                    await self._fulfil()
                    if self._status == OrderStatus.COMPLETED:
                        # Returns are taken through the `request_return` update for the return window.
                        await workflow.sleep(timedelta(seconds=self._inp.timings.return_window_s))
            except _ClosedBySupport as closed:
                await self._close_by_support(closed)
        except asyncio.CancelledError:
            # An operator cancelled the workflow itself: before dispatch undo everything; after it the
            # goods are gone and nothing may be undone automatically.
            if not self._shipments:
                await self._cancel_before_dispatch("workflow cancelled by an operator")
            else:
                self._reason = "workflow cancelled by an operator after dispatch"
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderResult(view=self.status(), decision=self._decision)

    async def _take_accept_decision(self) -> bool:
        order, priced, t = self._order, self._priced, self._inp.timings
        try:
            if order.points_to_redeem:
                member = order.customer.loyalty_member_id or ""
                self._register("release points", loyalty.release_points,
                               loyalty.PointsMove(**self._ref(), points=None, tag="compensate"))
                self._reservation = await self._step(
                    "reserve points", loyalty.reserve_points,
                    loyalty.ReservePoints(**self._ref(), member_id=member, points=order.points_to_redeem),
                    policies.accept(t), f"reserve {order.points_to_redeem} points",
                )
                self._loyalty.reserved = self._reservation.points
            self._register("void authorization", payments.void_authorizations, OrderCall(**self._ref()))
            if priced.amount_due > 0:
                self._auth = await self._step(
                    "authorize payment", payments.authorize_payment,
                    payments.AuthorizePayment(**self._ref(), amount=priced.amount_due, currency=order.currency,
                                              method_token=order.payment.method_token),
                    policies.accept(t), f"authorize {self._money(priced.amount_due)}",
                )
        except StepFailed as failed:
            # The caller hears "rejected" only once what was reserved has been released.
            outcome = await self._compensate()
            self._decide(rejection=self._rejection(failed))
            await self._undo_everything(str(failed), outcome)
            await self._set_status(OrderStatus.REJECTED, str(failed))
            await self._emit("order.rejected", reason=self._decision.rejection.type if self._decision and
                             self._decision.rejection else "order-failed")
            return False
        self._decide()
        await self._set_status(OrderStatus.ACCEPTED)
        await self._emit("order.accepted", amount_due=self._priced.amount_due, currency=order.currency,
                         points_redeemed=order.points_to_redeem)
        return True

    async def _fulfil(self) -> None:
        order, t = self._order, self._inp.timings
        lines = [LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in order.lines]
        try:
            if await self._cancel_requested():
                return
            self._register("release allocation", inventory.release_allocation,
                           inventory.AllocationLines(**self._ref(), lines=None, tag="compensate"))
            allocation = await self._step(
                "allocate inventory", inventory.allocate_inventory,
                inventory.AllocateInventory(**self._ref(), lines=lines), policies.before_pivot(t),
                f"allocate {sum(ln.quantity for ln in lines)} units",
            )
            await self._set_status(OrderStatus.ALLOCATED)
            await self._emit("order.allocated", node=allocation.node)
            if await self._cancel_requested():
                return
            self._register("cancel sales order", erp.cancel_sales_order, OrderCall(**self._ref()))
            self._sales_order = await self._step(
                "book sales order", erp.book_sales_order,
                erp.BookSalesOrder(**self._ref(), amount=self._priced.amount_due, currency=order.currency,
                                   lines=lines),
                policies.before_pivot(t), f"book sales order {self._money(self._priced.amount_due)}",
            )
            self._postings.append(self._sales_order)
            if await self._cancel_requested():
                return
            self._register("cancel shipment request", fulfillment.cancel_shipment_request, OrderCall(**self._ref()))
            await self._step(
                "request shipment", fulfillment.request_shipment,
                fulfillment.RequestShipment(**self._ref(), node=allocation.node, lines=lines,
                                            ship_to=order.shipping_address.model_dump()),
                policies.before_pivot(t), f"request shipment from {allocation.node}",
            )
        except StepFailed as failed:
            await self._cancel_before_dispatch(str(failed))
            return
        await self._follow_fulfilment()

    async def _follow_fulfilment(self) -> None:
        deadline = workflow.now() + timedelta(seconds=self._inp.timings.dispatch_sla_s)
        while not self._all_lines_settled():
            remaining = (deadline - workflow.now()).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda: bool(self._events) or (self._cancel is not None and not self._shipments),
                    timeout=max(remaining, 0.001),
                )
            except TimeoutError:
                if not self._shipments:
                    if await self._cancel_before_dispatch("no dispatch within the dispatch SLA"):
                        return
                    continue
                request = await self._park("lines not dispatched within the dispatch SLA")
                if request.action == "retry":
                    deadline = workflow.now() + timedelta(seconds=self._inp.timings.dispatch_sla_s)
                else:  # handled outside o2c: what never shipped is released like a rejected pick
                    await self._on_pick_rejected(self._remaining_units_event(len(self._support)))
                continue
            if self._cancel is not None and not self._shipments and not self._events:
                if await self._cancel_before_dispatch(f"cancelled by {self._cancel.actor}: {self._cancel.reason}"):
                    return
                continue
            event = self._events.pop(0)
            if event.type == "shipment.dispatched":
                await self._on_dispatched(event)
            else:
                await self._on_pick_rejected(event)
        if self._shipments:
            await self._settle()
        else:
            await self._cancel_before_dispatch("pick rejected for every line")

    async def _on_dispatched(self, event: FulfillmentEvent) -> None:
        """The pivot: from here on money steps are retried until they succeed or support resolves them."""
        shipment = Shipment(shipment_id=event.shipment_id or event.event_id, lines=event.lines,
                            carrier=event.carrier, tracking_number=event.tracking_number)
        try:
            amount, points = self._take_units(event.lines, shipment.shipment_id)
        except (KeyError, ValueError) as bad:
            await self._park(f"fulfilment reported an impossible shipment {shipment.shipment_id}: {bad}")
            return
        self._shipments.append(shipment)
        self._cancel = None  # a pending cancel can no longer be honoured
        await self._set_status(OrderStatus.SHIPPED if self._all_lines_settled() else OrderStatus.PARTIALLY_SHIPPED)
        sid = shipment.shipment_id
        units = sum(ln.quantity for ln in event.lines)
        await self._emit("shipment.dispatched", shipment_id=sid, carrier=shipment.carrier,
                         tracking_number=shipment.tracking_number, lines=[ln.model_dump() for ln in event.lines])
        await self._persist(lambda: self._step(
            f"commit inventory {sid}", inventory.commit_allocation,
            inventory.AllocationLines(**self._ref(), lines=event.lines, tag=sid), policies.after_pivot(),
            f"commit {units} units of {sid}",
        ))
        await self._capture(sid, amount, points)
        if amount == 0:
            return  # paid entirely with points: no money to invoice
        invoice = await self._persist(lambda: self._step(
            f"invoice {sid}", erp.post_invoice,
            erp.PostInvoice(**self._ref(), shipment_id=sid,
                            sales_order=self._sales_order.document_number if self._sales_order else "",
                            amount=amount, currency=self._order.currency, lines=event.lines),
            policies.after_pivot(), f"invoice {self._money(amount)} for {sid}",
        ))
        if invoice is not None:
            self._postings.append(invoice)
            await self._emit("erp.posted", kind="invoice", document_number=invoice.document_number,
                             amount=invoice.amount, currency=self._order.currency, shipment_id=sid)

    async def _capture(self, sid: str, amount: int, points: int) -> Capture | None:
        """Capture one shipment; an expired authorization is re-authorized for what is still open.

        None if support settled the shipment outside o2c (e.g. the customer paid by bank transfer)."""
        if amount == 0:
            capture = Capture(shipment_id=sid, capture_id="", payment_intent_id="", amount=0, points=points)
            self._captures.append(capture)
            return capture
        while True:
            assert self._auth is not None
            try:
                capture = await self._step(
                    f"capture {sid}", payments.capture_payment,
                    payments.CapturePayment(**self._ref(), payment_intent_id=self._auth.id, shipment_id=sid,
                                            amount=amount, points=points, reauthorization=self._reauthorizations),
                    policies.after_pivot(), f"capture {self._money(amount)} for {sid}",
                )
                self._captures.append(capture)
                await self._emit("payment.captured", shipment_id=sid, amount=amount, currency=self._order.currency)
                return capture
            except StepFailed as failed:
                reason = str(failed)
                if failed.code == "charge_expired_for_capture":
                    try:
                        await self._reauthorize()
                        continue
                    except StepFailed as reauth_failed:
                        reason = f"authorization expired and re-authorization failed: {reauth_failed}"
            self._money_at_risk += amount
            request = await self._park(reason)
            self._money_at_risk -= amount
            if request.action == "mark_resolved":
                return None

    async def _reauthorize(self) -> None:
        assert self._auth is not None
        open_amount = self._open_authorization()
        self._reauthorizations += 1
        self._auth = await self._step(
            f"re-authorize payment #{self._reauthorizations}", payments.authorize_payment,
            payments.AuthorizePayment(**self._ref(), amount=open_amount, currency=self._order.currency,
                                      method_token=self._order.payment.method_token,
                                      reauthorization=self._reauthorizations, reauthorization_of=self._auth.id),
            policies.after_pivot(), f"re-authorize {self._money(open_amount)}",
        )

    async def _on_pick_rejected(self, event: FulfillmentEvent) -> None:
        """Lines the node will not ship give back their stock, authorization share and points share."""
        try:
            amount, points = self._take_units(event.lines, None)
        except (KeyError, ValueError) as bad:
            await self._park(f"fulfilment rejected lines that are not open: {bad}")
            return
        self._released_lines.extend(event.lines)
        self._released_due += amount
        tag = event.event_id
        await self._persist(lambda: self._step(
            f"release rejected lines {tag}", inventory.release_allocation,
            inventory.AllocationLines(**self._ref(), lines=event.lines, tag=tag), policies.after_pivot(),
            f"release {sum(ln.quantity for ln in event.lines)} pick-rejected units",
        ))
        if self._auth is not None and amount:
            auth_id = self._auth.id
            await self._persist(lambda: self._step(
                f"release authorization share {tag}", payments.release_authorization_share,
                payments.ReleaseAuthorization(**self._ref(), payment_intent_id=auth_id, amount=amount, tag=tag),
                policies.after_pivot(), f"release {self._money(amount)} of the authorization",
            ))
        if points:
            await self._persist(lambda: self._step(
                f"release points share {tag}", loyalty.release_points,
                loyalty.PointsMove(**self._ref(), points=points, tag=tag), policies.after_pivot(),
                f"release {points} points",
            ))
            self._loyalty.released += points

    async def _settle(self) -> None:
        """Every line is shipped or released: spend what was redeemed on shipped goods, free the rest."""
        spent = sum(c.points for c in self._captures)
        if spent:
            await self._persist(lambda: self._step(
                "spend points", loyalty.spend_points, loyalty.PointsMove(**self._ref(), points=spent, tag="final"),
                policies.after_pivot(), f"spend {spent} points",
            ))
            self._loyalty.spent = spent
        await self._release_remainders("final")
        await self._earn_points()
        await self._set_status(OrderStatus.COMPLETED)
        await self._emit("order.completed", captured=sum(c.amount for c in self._captures),
                         currency=self._order.currency)

    async def _earn_points(self) -> None:
        """The member earns on what was actually captured, at their tier's rate (the engine's rule)."""
        member = self._order.customer.loyalty_member_id
        captured = sum(c.amount for c in self._captures)
        if not member or captured == 0:
            return
        earned = await self._persist(lambda: self._step(
            "earn points", loyalty.earn_points,
            loyalty.EarnPoints(**self._ref(), member_id=member, amount=captured, currency=self._order.currency),
            policies.after_pivot(), f"earn points on {self._money(captured)}",
        ))
        if earned is None:
            return
        self._loyalty.earned = earned.points
        await self._emit("loyalty.points_earned", member_id=member, points=earned.points, tier=earned.tier_after)
        if earned.tier_after != earned.tier_before:
            await self._emit("loyalty.tier_changed", member_id=member, old_tier=earned.tier_before,
                             new_tier=earned.tier_after)

    async def _release_remainders(self, tag: str) -> None:
        """Free whatever the order still holds: unused points, the authorization, unshipped stock."""
        if self._reservation is not None:
            await self._persist(lambda: self._step(
                "release unused points", loyalty.release_points, loyalty.PointsMove(**self._ref(), points=None, tag=tag),
                policies.after_pivot(), "release unused points",
            ))
        # An order paid entirely with points was never authorized: nothing to void, so no call to the
        # gateway. Orders that started before this change ran the call: workflow.patched keeps their
        # replay on the old path (README "Proofs", tests/histories/OrderWorkflow/points-only.*).
        if self._auth is not None or not workflow.patched(SKIP_VOID_WITHOUT_AUTHORIZATION):
            await self._persist(lambda: self._step(
                "release authorization remainder", payments.void_authorizations, OrderCall(**self._ref()),
                policies.after_pivot(), "release authorization remainder",
            ))
        await self._persist(lambda: self._step(
            "release allocation remainder", inventory.release_allocation,
            inventory.AllocationLines(**self._ref(), lines=None, tag=tag), policies.after_pivot(),
            "release allocation remainder",
        ))

    # ---- cancellation and compensation -----------------------------------------------------

    async def _cancel_requested(self) -> bool:
        if self._cancel is None:
            return False
        return await self._cancel_before_dispatch(f"cancelled by {self._cancel.actor}: {self._cancel.reason}")

    async def _cancel_before_dispatch(self, reason: str) -> bool:
        """Compensate everything; False if the node had already dispatched (the order goes on)."""
        await self._set_status(OrderStatus.CANCELLING, reason)
        if not await self._undo_everything(reason):
            self._cancel = None
            await self._set_status(OrderStatus.ACCEPTED, f"{reason}; not possible: the shipment was already dispatched")
            return False
        await self._set_status(OrderStatus.CANCELLED, reason)
        await self._emit("order.cancelled", reason=reason)
        return True

    async def _undo_everything(self, reason: str, outcome: str | None = None) -> bool:
        """Run the compensations until they all succeed, or support says they were handled by hand.
        False if the node turned out to have dispatched already."""
        outcome = outcome or await self._compensate()
        while outcome == "failed":
            request = await self._park(f"{reason}; compensation failed: {self._failed_compensations()}")
            if request.action == "mark_resolved":
                return True
            outcome = await self._compensate()
        return outcome == "done"

    def _register(self, name: str, activity: Callable[[Any], Awaitable[Any]], arg: Any) -> None:
        """Registered before the step it undoes, so a step that half-happened is undone too."""
        view = CompensationView(name=name, status="registered")

        async def run() -> Any:
            return await workflow.execute_activity(activity, arg, activity_id=name, summary=name,
                                                   **policies.compensation(self._inp.timings))

        self._undo.append(_Undo(name=name, run=run, view=view))

    async def _compensate(self) -> str:
        """Run the registered undos in reverse: 'done', 'dispatched' or 'failed'."""
        failed = False
        for undo in reversed(self._undo):
            if undo.view.status == "succeeded":
                continue
            undo.view.status = "running"
            try:
                await undo.run()
                undo.view.status = "succeeded"
                undo.view.error = None
            except ActivityError as err:
                message, vendor_error = _vendor_error(err)
                if vendor_error is not None and vendor_error.code == "already_dispatched":
                    undo.view.status = "registered"
                    return "dispatched"
                undo.view.status = "failed"
                undo.view.error = message
                failed = True
        return "failed" if failed else "done"

    def _failed_compensations(self) -> str:
        return "; ".join(f"{u.name}: {u.view.error}" for u in self._undo if u.view.status == "failed")

    async def _park(self, reason: str) -> ResolveRequest:
        """needs_attention: wait for support to resolve. "refund and close" unwinds to run()."""
        resume_status = self._status
        await self._set_status(OrderStatus.NEEDS_ATTENTION, reason, NEEDS_ATTENTION_REASON.value_set(reason[:1000]))
        workflow.logger.warning("order needs attention", extra={"reason": reason})
        await workflow.wait_condition(lambda: self._resolution is not None)
        request, self._resolution = self._resolution, None
        assert request is not None
        if request.action == "refund_and_close":
            raise _ClosedBySupport(request, NEEDS_ATTENTION_REASON.value_unset())
        await self._set_status(resume_status, f"{request.action} by {request.actor}: {request.note}",
                               NEEDS_ATTENTION_REASON.value_unset())
        return request

    async def _persist(self, step: Callable[[], Awaitable[R]]) -> R | None:
        """A step after the pivot: retried by its policy; if it fails for good, park until support
        retries it (again) or marks it resolved by hand (None)."""
        while True:
            try:
                return await step()
            except StepFailed as failed:
                request = await self._park(str(failed))
                if request.action == "mark_resolved":
                    return None

    async def _close_by_support(self, closed: _ClosedBySupport) -> None:
        """Refund every capture (with a credit memo for its invoice), release everything still held, end
        cancelled. A refund that fails parks the order again; support may retry or close again."""
        while True:
            request = closed.request
            await self._set_status(OrderStatus.CANCELLING, f"refund and close by {request.actor}: {request.note}",
                                   closed.clear_reason)
            try:
                if not self._shipments:
                    await self._undo_everything(f"closed by {request.actor}")
                for capture in self._captures:
                    await self._refund(capture)
                await self._release_remainders("support-close")
                break
            except _ClosedBySupport as again:
                closed = again
        refunded = sum(r.amount for r in self._refunds)
        await self._set_status(
            OrderStatus.CANCELLED,
            f"refunded {self._money(refunded)} and closed by {request.actor}: {request.note}",
        )

    async def _refund(self, capture: Capture) -> None:
        sid = capture.shipment_id
        reference = refund_reference(self._order.order_id, sid)
        if capture.amount == 0 or any(r.reference == reference for r in self._refunds):
            return
        refund = await self._persist(lambda: self._step(
            f"refund {sid}", payments.refund_payment,
            payments.RefundPayment(**self._ref(), payment_intent_id=capture.payment_intent_id, amount=capture.amount,
                                   reference=reference),
            policies.after_pivot(), f"refund {self._money(capture.amount)} for {sid}",
        ))
        if refund is None:
            return
        self._refunds.append(refund)
        invoice = next((p for p in self._postings if p.kind == "invoice" and p.shipment_id == sid), None)
        shipment = next(s for s in self._shipments if s.shipment_id == sid)
        if invoice is not None:
            memo = await self._persist(lambda: self._step(
                f"credit memo {sid}", erp.post_credit_memo,
                erp.PostCreditMemo(**self._ref(), reference=credit_memo_reference(self._order.order_id, sid),
                                   invoice=invoice.document_number, amount=refund.amount,
                                   currency=self._order.currency, lines=shipment.lines),
                policies.after_pivot(), f"credit memo {self._money(refund.amount)} for {sid}",
            ))
            if memo is not None:
                self._postings.append(memo)

    # ---- handlers --------------------------------------------------------------------------

    @workflow.update
    async def accept(self, req: AcceptRequest) -> AcceptDecision:
        await workflow.wait_condition(lambda: self._decision is not None)
        assert self._decision is not None
        first = not self._decision_served
        self._decision_served = True
        return self._decision.model_copy(update={"first": first})

    @accept.validator
    def _validate_accept(self, req: AcceptRequest) -> None:
        if req.fingerprint != self._inp.fingerprint:
            raise ApplicationError("order id already used by a different order", type="OrderIdConflict")

    @workflow.update
    async def cancel(self, req: CancelRequest) -> OrderView:
        self._cancel = req
        self._support.append(SupportAction(action="cancel", actor=req.actor, note=req.reason, at=workflow.now()))
        return self.status()

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        if self._shipments or any(e.type == "shipment.dispatched" for e in self._events):
            raise ApplicationError("goods were already dispatched", type="NotCancellable")
        if self._status in TERMINAL_STATUSES or self._status == OrderStatus.NEEDS_ATTENTION:
            raise ApplicationError(f"order is {self._status.value}", type="NotCancellable")

    @workflow.update
    async def resolve(self, req: ResolveRequest) -> OrderView:
        self._resolution = req
        self._support.append(SupportAction(action=req.action, actor=req.actor, note=req.note, at=workflow.now()))
        return self.status()

    @resolve.validator
    def _validate_resolve(self, req: ResolveRequest) -> None:
        if self._status != OrderStatus.NEEDS_ATTENTION:
            raise ApplicationError(f"order is {self._status.value}, not needs_attention", type="NotResolvable")
        if self._resolution is not None:
            raise ApplicationError(f"a {self._resolution.action} by {self._resolution.actor} is already under way",
                                   type="NotResolvable")

    @workflow.update
    async def request_return(self, req: RegisterReturn) -> ReturnSummary:
        """Reserve the returned units against what shipped and start the return's own workflow."""
        existing = next((r for r in self._returns if r.return_id == req.request.return_id), None)
        if existing is not None:
            return existing
        shares = self._return_shares(req)
        summary = ReturnSummary(return_id=req.request.return_id, reason=req.request.reason,
                                lines=[LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in req.request.lines])
        self._returns.append(summary)
        for line in req.request.lines:
            self._returned[line.sku] = self._returned.get(line.sku, 0) + line.quantity
        t = self._inp.timings
        await workflow.start_child_workflow(
            "ReturnWorkflow",
            ReturnInput(order_id=self._order.order_id, return_id=summary.return_id,
                        correlation_id=self._inp.correlation_id, currency=self._order.currency,
                        member_id=self._order.customer.loyalty_member_id, reason=summary.reason, shares=shares,
                        timings=ReturnTimings(receive_window_s=t.return_window_s,
                                              refund_retry_window_s=t.refund_retry_window_s)),
            id=return_workflow_id(self._order.order_id, summary.return_id),
            task_queue=workflow.info().task_queue,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Return {summary.return_id} of order {self._order.order_id}",
        )
        return summary

    @request_return.validator
    def _validate_return(self, req: RegisterReturn) -> None:
        existing = next((r for r in self._returns if r.return_id == req.request.return_id), None)
        if existing is not None:
            if [(ln.sku, ln.quantity) for ln in existing.lines] != [(ln.sku, ln.quantity) for ln in req.request.lines]:
                raise ApplicationError("return id already used with other lines", type="ReturnConflict")
            return
        if not self._shipments:
            raise ApplicationError("nothing of this order was shipped", type="NotReturnable")
        if self._status != OrderStatus.COMPLETED:
            raise ApplicationError(f"order is {self._status.value}; returns open once it is completed",
                                   type="NotReturnable")
        for line in req.request.lines:
            open_units = self._shipped_count(line.sku) - self._returned.get(line.sku, 0)
            if line.quantity > open_units:
                raise ApplicationError(
                    f"{line.sku}: {line.quantity} returned but only {max(open_units, 0)} shipped and not yet returned",
                    type="OverReturn",
                )

    @workflow.signal
    def fulfillment_event(self, event: FulfillmentEvent) -> None:
        if event.event_id in self._seen_events:
            return  # a redelivered webhook is applied once
        self._seen_events.add(event.event_id)
        self._events.append(event)

    @workflow.query
    def status(self) -> OrderView:
        return OrderView(
            order_id=self._order.order_id,
            status=self._status,
            status_reason=self._reason,
            amount_due=self._priced.amount_due,
            currency=self._order.currency,
            customer_id=self._order.customer.customer_id,
            authorization=self._auth,
            steps=list(self._steps.values()),
            compensations=[u.view for u in self._undo],
            shipments=self._shipments,
            captures=self._captures,
            erp_postings=self._postings,
            loyalty=self._loyalty,
            released_lines=self._released_lines,
            money_at_risk=self._money_at_risk,
            refunds=self._refunds,
            support_actions=self._support,
            returns=self._returns,
        )

    # ---- helpers ---------------------------------------------------------------------------

    async def _emit(self, type: EventType, **data: Any) -> None:
        await publish(type, self._order.order_id, self._inp.correlation_id,
                      {"customer_id": self._order.customer.customer_id, **data})

    def _ref(self) -> dict[str, str]:
        return {"order_id": self._order.order_id, "correlation_id": self._inp.correlation_id}

    def _money(self, amount: int) -> str:
        return format_money(amount, self._order.currency)

    async def _step(self, name: str, activity: Callable[[Any], Awaitable[R]], arg: Any, options: dict[str, Any],
                    summary: str) -> R:
        view = self._steps.setdefault(name, StepView(name=name, status="pending"))
        view.status, view.started_at, view.error = "running", workflow.now(), None
        try:
            result = await workflow.execute_activity(activity, arg, activity_id=name, summary=summary, **options)
        except ActivityError as err:
            message, vendor_error = _vendor_error(err)
            view.status, view.finished_at, view.error = "failed", workflow.now(), message
            raise StepFailed(name, f"{name} failed: {message}", vendor_error) from err
        view.status, view.finished_at = "succeeded", workflow.now()
        view.attempts = getattr(result, "attempt", 1)
        return result

    def _decide(self, rejection: Rejection | None = None) -> None:
        self._decision = AcceptDecision(
            order_id=self._order.order_id,
            status="rejected" if rejection else "accepted",
            amount_due=self._priced.amount_due,
            currency=self._order.currency,
            authorization=None if rejection else self._auth,
            loyalty=None if rejection else self._reservation,
            rejection=rejection,
        )

    @staticmethod
    def _rejection(failed: StepFailed) -> Rejection:
        err = failed.vendor_error
        if failed.is_rejection and err is not None:
            if err.code == "insufficient_points":
                return Rejection(type="insufficient-points", detail=err.message)
            if failed.step == "authorize payment":
                return Rejection(type="payment-declined", detail=err.message, decline_code=err.decline_code or err.code)
        if failed.step == "authorize payment" or failed.step == "reserve points":
            return Rejection(type="payment-unavailable", detail=str(failed))
        return Rejection(type="order-failed", detail=str(failed))

    async def _set_status(self, status: OrderStatus, reason: str | None = None,
                          attention: SearchAttributeUpdate[str] | None = None) -> None:
        """A milestone: one search-attribute upsert (a billed action on Temporal Cloud), which also
        carries the NeedsAttentionReason change when there is one."""
        if reason is not None:
            self._reason = reason
        if status == self._status:
            return
        self._status = status
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value), *([attention] if attention else [])])
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        """Markdown the Temporal UI shows for the order: where it stands and why, at a glance."""
        rows = [f"| {s.name} | {s.status} | {s.attempts or ''} |" for s in list(self._steps.values())[-15:]]
        return "\n".join([
            f"**{self._status.value}** {self._money(self._priced.amount_due)}"
            + (f" — {self._reason}" if self._reason else ""),
            "",
            "| step | state | attempts |",
            "|---|---|---|",
            *rows,
        ])

    def _take_units(self, lines: list[LineQuantity], shipment_id: str | None) -> tuple[int, int]:
        """Amount due and points of the next units of each line (shipped or released in order).

        Raises KeyError/ValueError, changing nothing, if a line is unknown or not that open."""
        settled = dict(self._settled_units)
        runs = []
        amount = points = 0
        for line in lines:
            start = settled[line.sku]
            a, p = self._priced.line(line.sku).units(start, line.quantity)
            settled[line.sku] = start + line.quantity
            runs.append(_Units(line.sku, start, line.quantity, shipment_id))
            amount += a
            points += p
        self._settled_units = settled
        self._units.extend(runs)
        return amount, points

    def _shipped_count(self, sku: str) -> int:
        return sum(u.count for u in self._units if u.sku == sku and u.shipment_id is not None)

    def _return_shares(self, req: RegisterReturn) -> list[ReturnShare]:
        """Returned units are the earliest shipped ones not yet returned; each carries exactly what it
        was paid, redeemed and earned, grouped by the shipment (and so the capture) it left with."""
        shipped = [(u.shipment_id, u.sku, u.start + i) for u in self._units if u.shipment_id for i in range(u.count)]
        earned = self._earned_per_unit(shipped)
        shares: dict[tuple[str, str], ReturnShare] = {}
        for line in req.request.lines:
            units = [unit for unit in shipped if unit[1] == line.sku]
            first = self._returned.get(line.sku, 0)
            for sid, sku, index in units[first : first + line.quantity]:
                amount, points = self._priced.line(sku).units(index, 1)
                capture = next((c for c in self._captures if c.shipment_id == sid), None)
                invoice = next((p for p in self._postings if p.kind == "invoice" and p.shipment_id == sid), None)
                share = shares.setdefault((sid, sku), ReturnShare(
                    shipment_id=sid, sku=sku, quantity=0, amount=0, points_redeemed=0, points_earned=0,
                    payment_intent_id=capture.payment_intent_id if capture else "",
                    invoice=invoice.document_number if invoice else None,
                ))
                share.quantity += 1
                share.amount += amount
                share.points_redeemed += points
                share.points_earned += earned[(sku, index)]
        return list(shares.values())

    def _earned_per_unit(self, shipped: list[tuple[str, str, int]]) -> dict[tuple[str, int], int]:
        """Earned points spread over the shipped units by amount paid (largest remainder), so returning
        every unit takes back exactly what was earned."""
        weights = [self._priced.line(sku).units(index, 1)[0] for _, sku, index in shipped]
        shares = largest_remainder(self._loyalty.earned, weights) if sum(weights) else [0] * len(shipped)
        return {(sku, index): share for (_, sku, index), share in zip(shipped, shares, strict=True)}

    def _remaining_units_event(self, n: int) -> FulfillmentEvent:
        lines = [LineQuantity(sku=ln.sku, quantity=ln.quantity - self._settled_units[ln.sku])
                 for ln in self._priced.lines if self._settled_units[ln.sku] < ln.quantity]
        return FulfillmentEvent(event_id=f"unshipped-{n}", type="shipment.pick_rejected",
                                order_id=self._order.order_id, lines=lines, reason="resolved by support")

    def _all_lines_settled(self) -> bool:
        return all(self._settled_units[ln.sku] >= ln.quantity for ln in self._priced.lines)

    def _open_authorization(self) -> int:
        captured = sum(c.amount for c in self._captures)
        return self._priced.amount_due - captured - self._released_due
