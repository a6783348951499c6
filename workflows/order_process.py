"""The order-to-cash process of one order (design §4), behind OrderWorkflow's handlers.

Take the accept decision (points, payment); allocate, book and ship; settle each shipment the node
reports (shipments.py); when every line is shipped or released, spend and earn points and free what is
left. Before the first dispatch any failure or cancel compensates everything; after it, goods are with
the customer: money steps are retried until they succeed or support resolves them. A completed order
then takes returns (returns.py) for the return window; a cancelled one keeps listening for a node that
dispatches anyway. Every wait for support is explicit: `park` returns support's answer, and a
refund-and-close travels back up as `Flow.CLOSE` to `_close`.
"""

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import erp, fulfillment, inventory, loyalty, payments
    from canonical.money import Money
    from canonical.order_details import current_details
    from canonical.saga import (
        TERMINAL_STATUSES,
        AcceptDecision,
        AttentionCode,
        CancelRequest,
        FulfillmentEvent,
        OrderInput,
        OrderStatus,
        OrderView,
        Rejection,
    )
    from canonical.steps import LineQuantity
    from canonical.units import UnitLedger
    from workflows import policies
    from workflows.context import Flow, OrderContext
    from workflows.outbox import Outbox
    from workflows.refunds import refund_capture
    from workflows.rejections import payment_rejection, points_rejection
    from workflows.returns import Returns
    from workflows.shipments import Shipments
    from workflows.status import StatusBoard
    from workflows.steps import Compensations, StepFailed, StepRunner, UndoOutcome
    from workflows.support import Support

OPERATOR_CANCEL = "cancelled by an operator in Temporal"


class OrderProcess:
    def __init__(self, inp: OrderInput) -> None:
        order = inp.order
        board = StatusBoard()
        outbox = Outbox(order.order_id, inp.correlation_id, {"customer_id": order.customer.customer_id})
        steps = StepRunner(order.order_id, inp.correlation_id)
        support = Support(board, outbox, self.checkpoint, lambda: self.shipments.money_at_risk())
        self.ctx = OrderContext(inp, steps, outbox, board, support, UnitLedger(inp.priced),
                                Money(amount_due=inp.priced.amount_due))
        self.undo = Compensations(steps, policies.compensation(inp.timings))
        self.shipments = Shipments(self.ctx)
        self.returns = Returns(self.ctx)
        self.decision: AcceptDecision | None = None
        self.cancel: CancelRequest | None = None
        self.operator_cancel_pending = False
        self.cancelled_by_operator = False
        self.written_off = 0
        self._dispatch_deadline = datetime.max.replace(tzinfo=UTC)  # set when fulfilment starts

    # ---- the business process -------------------------------------------------------------

    async def run(self) -> None:
        if not await self._take_accept_decision():
            return
        if await self._fulfil() is Flow.CLOSE:
            await self._close()
        await self._stay_open()

    async def _take_accept_decision(self) -> bool:
        ctx, order, t = self.ctx, self.ctx.order, self.ctx.timings
        if order.points_to_redeem:
            self.undo.register("release points", loyalty.RELEASE, points=None, tag="compensate")
            try:
                ctx.money.reservation = await ctx.steps.run(
                    "reserve points", loyalty.RESERVE, policies.accept(t), f"reserve {order.points_to_redeem} points",
                    member_id=order.customer.loyalty_member_id or "", points=order.points_to_redeem)
            except StepFailed as failed:
                return await self._reject(failed, points_rejection(failed))
            ctx.money.loyalty.reserved = ctx.money.reservation.points
        self.undo.register("void authorization", payments.VOID)
        if ctx.money.amount_due > 0:
            try:
                ctx.money.authorization = await ctx.steps.run(
                    "authorize payment", payments.AUTHORIZE, policies.accept(t),
                    f"authorize {ctx.fmt(ctx.money.amount_due)}", amount=ctx.money.amount_due, currency=order.currency,
                    method_token=order.payment.method_token)
            except StepFailed as failed:
                return await self._reject(failed, payment_rejection(failed))
        self._decide()
        ctx.clocks.accepted()
        ctx.board.set(OrderStatus.ACCEPTED)
        ctx.outbox.emit("order.accepted", amount_due=ctx.money.amount_due, currency=order.currency,
                        points_redeemed=order.points_to_redeem)
        return True

    async def _reject(self, failed: StepFailed, rejection: Rejection) -> bool:
        """The caller hears "rejected" only once what was reserved has been released."""
        outcome = await self.undo.run()
        self._decide(rejection)
        await self._undo_everything(str(failed), outcome)
        self.ctx.board.set(OrderStatus.REJECTED, str(failed))
        self.ctx.outbox.emit("order.rejected", reason=rejection.type)
        await self.checkpoint()
        return False

    async def _fulfil(self) -> Flow:
        ctx, order, t = self.ctx, self.ctx.order, self.ctx.timings
        lines = [LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in order.lines]
        try:
            # Every undo of the steps before dispatch is registered up front: a step a lost workflow task
            # ran at its vendor may never be reached again if a cancel comes first on replay (found by `o2c
            # chaos`), and each undo only acts if its step happened.
            self.undo.register("release allocation", inventory.RELEASE, lines=None, tag="compensate")
            self.undo.register("cancel sales order", erp.CANCEL_SALES_ORDER)
            self.undo.register("cancel shipment request", fulfillment.CANCEL_SHIPMENT)
            if await self._cancel_if_requested():
                return Flow.GO_ON
            # A regular activity: scheduling it ends the workflow task that carries the accept decision, so
            # the caller's answer never waits for the steps after it (local activities keep a task open).
            allocation = await ctx.steps.run("allocate inventory", inventory.ALLOCATE,
                                             policies.before_pivot(t).remote(),
                                             f"allocate {sum(ln.quantity for ln in lines)} units", lines=lines)
            ctx.board.set(OrderStatus.ALLOCATED)
            ctx.outbox.emit("order.allocated", node=allocation.node)
            if await self._cancel_if_requested():
                return Flow.GO_ON
            ctx.money.sales_order = await ctx.steps.run(
                "book sales order", erp.BOOK_SALES_ORDER, policies.before_pivot(t),
                f"book sales order {ctx.fmt(ctx.money.amount_due)}", amount=ctx.money.amount_due,
                currency=order.currency, lines=lines)
            ctx.money.postings.append(ctx.money.sales_order)
            if await self._cancel_if_requested():
                return Flow.GO_ON
            await ctx.steps.run("request shipment", fulfillment.REQUEST_SHIPMENT, policies.before_pivot(t),
                                f"request shipment from {allocation.node}", node=allocation.node, lines=lines,
                                ship_to=order.shipping_address.model_dump())
        except StepFailed as failed:
            await self._cancel_before_dispatch(str(failed))
            return Flow.GO_ON
        return await self._follow_fulfilment()

    async def _follow_fulfilment(self) -> Flow:
        shipments, units = self.shipments, self.ctx.units
        self._dispatch_deadline = self._next_dispatch_deadline()
        while True:
            if await self._take_node_news() is Flow.CLOSE:
                return Flow.CLOSE
            if self.operator_cancel_pending and shipments.dispatched:
                if await self._park_operator_cancel() is Flow.CLOSE:
                    return Flow.CLOSE
                continue
            if units.settled() and not shipments.has_work:
                break
            if not shipments.dispatched and (self.cancel or self.operator_cancel_pending):
                if await self._cancel_before_dispatch(self._cancel_reason()):
                    return Flow.GO_ON
                continue
            if (flow := await self._wait_for_fulfilment_news()) is not None:
                return flow
        if shipments.dispatched:
            return await self._settle()
        await self._cancel_before_dispatch("pick rejected for every line")
        return Flow.GO_ON

    async def _take_node_news(self) -> Flow:
        """Apply what the node reported, then put anything that does not add up to support."""
        if await self.shipments.settle_pending() is Flow.CLOSE:
            return Flow.CLOSE
        return await self._attend_anomalies()

    async def _wait_for_fulfilment_news(self) -> Flow | None:
        """None when there is news to act on (or the SLA miss was handled and following goes on)."""
        await self.checkpoint()
        try:
            await workflow.wait_condition(self._fulfilment_news, timeout=_until(self._dispatch_deadline))
        except TimeoutError:
            return await self._on_dispatch_sla_missed()
        return None

    def _next_dispatch_deadline(self) -> datetime:
        return workflow.now() + timedelta(seconds=self.ctx.timings.dispatch_sla_s)

    async def _on_dispatch_sla_missed(self) -> Flow | None:
        """Nothing shipped in time cancels the order; a partial dispatch asks support what to do with
        the rest. None means keep following the fulfilment."""
        shipments = self.shipments
        if not shipments.dispatched:
            cancelled = await self._cancel_before_dispatch("no dispatch within the dispatch SLA")
            return Flow.GO_ON if cancelled else None
        open_lines = ", ".join(f"{ln.quantity} x {ln.sku}" for ln in self.ctx.units.open_lines())
        request = await self.ctx.support.park(AttentionCode.DISPATCH_SLA_MISSED,
                                              f"not dispatched within the dispatch SLA: {open_lines}")
        if request.action == "refund_and_close":
            return Flow.CLOSE
        if request.action == "retry":
            self._dispatch_deadline = self._next_dispatch_deadline()
        else:  # handled outside o2c: what never shipped is released like a rejected pick
            shipments.release_rest(f"unshipped-{len(self.ctx.support.actions)}")
        return None

    def _fulfilment_news(self) -> bool:
        shipments = self.shipments
        return (shipments.has_work or bool(shipments.anomalies) or self.operator_cancel_pending
                or (self.cancel is not None and not shipments.dispatched))

    async def _settle(self) -> Flow:
        """Every line is shipped or released: spend what was redeemed on shipped goods, free the rest."""
        ctx, money = self.ctx, self.ctx.money
        spent = self.shipments.spent_points()
        if spent:
            done = await ctx.persist("spend points", loyalty.SPEND, f"spend {spent} points", points=spent, tag="final")
            if done.flow is Flow.CLOSE:
                return Flow.CLOSE
            money.loyalty.spent = spent
        if await self._release_remainders("final") is Flow.CLOSE or await self._earn_points() is Flow.CLOSE:
            return Flow.CLOSE
        ctx.board.set(OrderStatus.COMPLETED)
        ctx.outbox.emit("order.completed", captured=money.captured, currency=ctx.order.currency)
        return Flow.GO_ON

    async def _earn_points(self) -> Flow:
        """The member earns on what was actually captured, at their tier's rate (the engine's rule)."""
        ctx, member, captured = self.ctx, self.ctx.order.customer.loyalty_member_id, self.ctx.money.captured
        if not member or captured == 0:
            return Flow.GO_ON
        done = await ctx.persist("earn points", loyalty.EARN, f"earn points on {ctx.fmt(captured)}", member_id=member,
                                 amount=captured, currency=ctx.order.currency)
        if done.result is not None:
            earned = done.result
            ctx.money.loyalty.earned = earned.points
            ctx.outbox.emit("loyalty.points_earned", member_id=member, points=earned.points, tier=earned.tier_after)
            if earned.tier_changed:
                ctx.outbox.emit("loyalty.tier_changed", member_id=member, old_tier=earned.tier_before,
                                new_tier=earned.tier_after, direction="up")
        return done.flow

    async def _release_remainders(self, tag: str) -> Flow:
        """Free whatever the order still holds; a hold with nothing left in it costs no call."""
        ctx, money = self.ctx, self.ctx.money
        unspent = money.unspent_points()
        calls = [
            (unspent > 0, "release unused points", loyalty.RELEASE, {"points": None, "tag": tag}),
            (money.open_authorization() > 0, "release authorization remainder", payments.VOID, {}),
            (self.shipments.inventory_open(), "release allocation remainder", inventory.RELEASE,
             {"lines": None, "tag": tag}),
        ]
        for needed, name, op, fields in calls:
            if needed and (await ctx.persist(name, op, name, **fields)).flow is Flow.CLOSE:  # type: ignore[arg-type]
                return Flow.CLOSE
        money.loyalty.released += unspent
        return Flow.GO_ON

    async def _stay_open(self) -> None:
        """A completed order takes returns for the return window; a cancelled one that had asked for a
        shipment keeps listening for the node for the late-dispatch window. Late news parks the order."""
        status, t = self.ctx.board.status, self.ctx.timings
        if status == OrderStatus.COMPLETED:
            window, self.returns.accepting = t.return_window_s, True
        elif status == OrderStatus.CANCELLED and self.undo.acted(fulfillment.CANCEL_SHIPMENT):
            window = t.late_dispatch_window_s
        else:
            await self.checkpoint()
            return
        end = workflow.now() + timedelta(seconds=window)
        while not self.operator_cancel_pending:  # an operator's cancel ends the window early
            await self.checkpoint()
            try:
                await workflow.wait_condition(lambda: bool(self.shipments.anomalies) or self.operator_cancel_pending,
                                              timeout=_until(end))
            except TimeoutError:
                break
            if await self._attend_anomalies() is Flow.CLOSE:
                self.returns.accepting = False
                await self._close()
        self.returns.accepting = False
        await workflow.wait_condition(self.returns.finished)
        await self.checkpoint()

    # ---- cancellation, anomalies and closing -----------------------------------------------

    async def _cancel_if_requested(self) -> bool:
        if self.cancel is None and not self.operator_cancel_pending:
            return False
        return await self._cancel_before_dispatch(self._cancel_reason())

    def _cancel_reason(self) -> str:
        if self.cancel is not None:
            return f"cancelled by {self.cancel.actor}: {self.cancel.reason}"
        return OPERATOR_CANCEL

    async def _cancel_before_dispatch(self, reason: str) -> bool:
        """Compensate everything; False if the node had already dispatched (the order goes on)."""
        board = self.ctx.board
        resume = board.status
        board.set(OrderStatus.CANCELLING, reason)
        await self.checkpoint()
        if await self._undo_everything(reason) is UndoOutcome.DISPATCHED:
            self.cancel = None
            board.set(resume, f"{reason}; not possible: the shipment was already dispatched")
            return False
        self.shipments.cancelled()
        self.cancelled_by_operator = self.cancelled_by_operator or (self.operator_cancel_pending and not self.cancel)
        self.operator_cancel_pending = False
        board.set(OrderStatus.CANCELLED, reason)
        self.ctx.outbox.emit("order.cancelled", reason=reason)
        return True

    async def _undo_everything(self, reason: str, outcome: UndoOutcome | None = None) -> UndoOutcome:
        """Run the compensations until they all succeed, or support says they were handled by hand."""
        outcome = outcome or await self.undo.run()
        while outcome is UndoOutcome.FAILED:
            request = await self.ctx.support.park(AttentionCode.COMPENSATION_FAILED,
                                                  f"{reason}; compensation failed: {self.undo.failures()}")
            if request.action != "retry":
                return UndoOutcome.DONE
            outcome = await self.undo.run()
        return outcome

    async def _attend_anomalies(self) -> Flow:
        while self.shipments.anomalies:
            anomaly = self.shipments.anomalies.pop(0)
            request = await self.ctx.support.park(anomaly.code, anomaly.reason)
            if request.action == "refund_and_close":
                return Flow.CLOSE
            self.shipments.settle_outside_late(anomaly)
        return Flow.GO_ON

    async def _park_operator_cancel(self) -> Flow:
        self.operator_cancel_pending = False
        request = await self.ctx.support.park(
            AttentionCode.CANCEL_AFTER_DISPATCH,
            "cancel requested after dispatch by an operator in Temporal: goods are with the customer")
        return Flow.CLOSE if request.action == "refund_and_close" else Flow.GO_ON

    async def _close(self) -> None:
        """Support chose "refund and close": undo everything before dispatch; after it, keep what left
        committed, refund every capture (with credit memos), free what is still held, end cancelled."""
        ctx, request = self.ctx, self.ctx.support.last
        assert request is not None
        ctx.board.set(OrderStatus.CANCELLING, f"refund and close by {request.actor}: {request.note}")
        refunded = 0
        if not self.shipments.dispatched:
            await self._undo_everything(f"closed by {request.actor}")
        else:
            await self.shipments.commit_dispatched()
            refunded = await self._refund_captures()
            await self._release_remainders("support-close")
        self.written_off += self.shipments.write_off()
        lost = f"; {ctx.fmt(self.written_off)} of dispatched goods not captured" if self.written_off else ""
        ctx.board.set(OrderStatus.CANCELLED,
                      f"refunded {ctx.fmt(refunded)} and closed by {request.actor}: {request.note}{lost}")
        ctx.outbox.emit("order.cancelled", reason="refund_and_close")

    async def _refund_captures(self) -> int:
        ctx, money, refunded = self.ctx, self.ctx.money, 0
        for capture in list(money.captures):
            sid, room = capture.shipment_id, money.refund_room(capture.shipment_id)
            if room <= 0 or not money.promise_refund(sid, room):
                continue
            lines = next(v.lines for v in self.shipments.views if v.shipment_id == sid)
            while True:
                try:
                    await refund_capture(ctx, sid, room, sid, lines)
                    refunded += room
                    break
                except StepFailed as failed:
                    request = await ctx.support.park(AttentionCode.REFUND_FAILED, f"refund and close: {failed}")
                if request.action == "mark_resolved":
                    money.withdraw_refund(sid, room)
                    break
        return refunded

    # ---- what the handlers call ------------------------------------------------------------

    def record_fulfilment(self, event: FulfillmentEvent) -> None:
        closed = self.ctx.board.status == OrderStatus.CANCELLED or self.undo.succeeded(fulfillment.CANCEL_SHIPMENT)
        self.shipments.record(event, dispatch_closed=closed)

    def validate_cancel(self) -> None:
        status = self.ctx.board.status
        if self.shipments.dispatched:
            raise ApplicationError("goods were already dispatched", type="NotCancellable")
        if status in TERMINAL_STATUSES or status == OrderStatus.NEEDS_ATTENTION:
            raise ApplicationError(f"order is {status.value}", type="NotCancellable")

    def request_cancel(self, request: CancelRequest) -> None:
        self.cancel = request
        self.ctx.support.record("cancel", request.actor, request.reason)

    def operator_cancel(self) -> None:
        """Temporal's own Cancel: before dispatch the operator cancel; after it a note, or a park."""
        if self.shipments.dispatched and self.ctx.support.parked:
            self.ctx.support.note("cancel requested after dispatch by an operator in Temporal")
        else:
            self.operator_cancel_pending = True

    async def checkpoint(self) -> None:
        """A milestone: publish the status (one upsert if it changed) and write the gathered events."""
        self.ctx.board.publish(self._details(), self.shipments.money_at_risk())
        await self.ctx.outbox.flush()

    def _decide(self, rejection: Rejection | None = None) -> None:
        money = self.ctx.money
        self.decision = AcceptDecision(
            order_id=self.ctx.order.order_id, status="rejected" if rejection else "accepted",
            amount_due=money.amount_due, currency=self.ctx.order.currency,
            authorization=None if rejection else money.authorization,
            loyalty=None if rejection else money.reservation, rejection=rejection)

    def view(self) -> OrderView:
        ctx, money = self.ctx, self.ctx.money
        return OrderView(
            order_id=ctx.order.order_id, status=ctx.board.status, status_reason=ctx.board.reason,
            attention=ctx.board.attention, amount_due=money.amount_due, currency=ctx.order.currency,
            customer_id=ctx.order.customer.customer_id, authorization=money.authorization,
            steps=list(ctx.steps.views.values()), compensations=self.undo.views, shipments=self.shipments.views,
            captures=money.captures, erp_postings=money.postings, loyalty=money.loyalty,
            released_lines=self.shipments.released_lines, money_at_risk=self.shipments.money_at_risk(),
            written_off=self.written_off, refunds=money.refunds, support_actions=ctx.support.actions,
            returns=self.returns.views)

    def _details(self) -> str:
        """Markdown the Temporal UI shows for the order: where it stands, why, and what support does next."""
        return current_details(self.view())

def _until(deadline: datetime) -> float:
    return max((deadline - workflow.now()).total_seconds(), 0.001)
