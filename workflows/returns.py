"""ReturnWorkflow: one return of goods, from the request to the refund (design §4, returns).

No refund before the warehouse has received and inspected the goods. Resellable goods are refunded
against the captures that paid for them, credited in the ERP, their redeemed points given back, the
points earned on them taken back, and restocked. Damaged goods wait for support: refund anyway or
refuse with a note.
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import erp, fulfillment, inventory, loyalty, payments
    from canonical.events import EventType
    from canonical.identifiers import format_money
    from canonical.references import credit_memo_reference, refund_reference
    from canonical.returns import (
        ResolveReturn,
        ReturnInput,
        ReturnReceived,
        ReturnShare,
        ReturnStatus,
        ReturnView,
    )
    from canonical.steps import LineQuantity
    from workflows import policies
    from workflows.publish import publish

R = TypeVar("R")


@workflow.defn
class ReturnWorkflow:
    @workflow.init
    def __init__(self, inp: ReturnInput) -> None:
        self._inp = inp
        lines: dict[str, int] = defaultdict(int)
        for share in inp.shares:
            lines[share.sku] += share.quantity
        self._view = ReturnView(order_id=inp.order_id, return_id=inp.return_id, status="requested",
                                reason=inp.reason, lines=[LineQuantity(sku=s, quantity=q) for s, q in lines.items()])
        self._received: ReturnReceived | None = None
        self._decision: ResolveReturn | None = None

    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnView:
        await self._call(fulfillment.request_return,
                         fulfillment.RequestReturn(**self._ref(), return_id=inp.return_id, lines=self._view.lines),
                         policies.after_pivot(), "ask the node to receive the goods")
        try:
            await workflow.wait_condition(lambda: self._received is not None,
                                          timeout=timedelta(seconds=inp.timings.receive_window_s))
        except TimeoutError:
            self._set("expired", "the goods did not arrive within the return window; nothing refunded")
            return self._view
        assert self._received is not None
        self._view.received = self._received.lines
        self._set("received")
        await self._emit("return.received", lines=[ln.model_dump() for ln in self._received.lines])

        condition = {ln.sku: ln.condition for ln in self._received.lines}
        resellable = [s for s in inp.shares if condition.get(s.sku) == "resellable"]
        damaged = [s for s in inp.shares if condition.get(s.sku) != "resellable"]
        if not await self._refund(resellable, "resellable"):
            return self._view
        if damaged:
            skus = ", ".join(sorted({s.sku for s in damaged}))
            self._set("needs_attention", f"damaged goods ({skus}): refund anyway or refuse")
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            self._view.decided_by = self._decision.actor
            decision = self._decision
            if decision.action == "refund" and not await self._refund(damaged, "damaged"):
                return self._view
            self._set("completed", f"damaged goods {decision.action}d by {decision.actor}: {decision.note}")
        else:
            self._set("completed")
        return self._view

    async def _refund(self, shares: list[ReturnShare], condition: str) -> bool:
        """Refund per capture, credit per invoice, then points; each keyed by return, shipment and the
        goods' condition (damaged goods are refunded later, separately). Only resellable goods are
        restocked. False if support refused a refund that kept failing."""
        if not shares:
            return True
        oid, rid = self._inp.order_id, self._inp.return_id
        by_shipment: dict[str, list[ReturnShare]] = defaultdict(list)
        for share in shares:
            by_shipment[share.shipment_id].append(share)
        for sid, group in by_shipment.items():
            amount = sum(s.amount for s in group)
            if amount == 0:
                continue
            while True:  # past the retry window a human decides: retry the refund or stop here
                try:
                    refund = await self._call(
                        payments.refund_payment,
                        payments.RefundPayment(**self._ref(), payment_intent_id=group[0].payment_intent_id,
                                               amount=amount, reference=refund_reference(oid, f"{rid}:{sid}:{condition}")),
                        policies.refund(self._inp.timings.refund_retry_window_s),
                        f"refund {format_money(amount, self._inp.currency)} for {sid}",
                    )
                    break
                except ActivityError as err:
                    self._set("needs_attention", f"refund for {sid} failed: {err.cause or err}")
                    self._decision = None
                    await workflow.wait_condition(lambda: self._decision is not None)
                    if self._decision is not None and self._decision.action == "refuse":
                        self._set("completed", f"refund refused by {self._decision.actor}: {self._decision.note}")
                        return False
                    self._set("received")
            self._view.refunds.append(refund)
            if group[0].invoice:
                memo = await self._call(
                    erp.post_credit_memo,
                    erp.PostCreditMemo(**self._ref(), reference=credit_memo_reference(oid, f"{rid}:{sid}:{condition}"),
                                       invoice=group[0].invoice, amount=amount, currency=self._inp.currency,
                                       lines=[LineQuantity(sku=s.sku, quantity=s.quantity) for s in group]),
                    policies.after_pivot(), f"credit memo {format_money(amount, self._inp.currency)} for {sid}",
                )
                self._view.credit_memos.append(memo)
            await self._emit("refund.completed", shipment_id=sid, amount=amount, currency=self._inp.currency)
        await self._points(shares, condition)
        if condition == "resellable":
            lines = [LineQuantity(sku=s.sku, quantity=s.quantity) for s in shares]
            await self._call(inventory.restock_returned,
                             inventory.Restock(**self._ref(), return_id=rid, lines=lines),
                             policies.after_pivot(), f"restock {sum(ln.quantity for ln in lines)} units")
            self._view.restocked.extend(lines)
        return True

    async def _points(self, shares: list[ReturnShare], condition: str) -> None:
        """Points follow the money: redeemed points on refunded goods come back, earned ones go."""
        member = self._inp.member_id
        if member is None:
            return
        tag = f"{self._inp.return_id}:{condition}"
        redeemed = sum(s.points_redeemed for s in shares)
        earned = sum(s.points_earned for s in shares)
        if redeemed:
            await self._call(loyalty.give_back_points,
                             loyalty.GiveBackPoints(**self._ref(), member_id=member, points=redeemed, tag=tag),
                             policies.after_pivot(), f"give back {redeemed} redeemed points")
            self._view.points_given_back += redeemed
        if earned:
            result = await self._call(loyalty.take_back_points,
                                      loyalty.TakeBackPoints(**self._ref(), member_id=member, points=earned, tag=tag),
                                      policies.after_pivot(), f"take back {earned} earned points")
            self._view.points_taken_back += earned
            if result.tier_after != result.tier_before:
                await self._emit("loyalty.tier_changed", member_id=member, old_tier=result.tier_before,
                                 new_tier=result.tier_after)

    # ---- handlers ----------------------------------------------------------------------------

    @workflow.signal
    def return_received(self, event: ReturnReceived) -> None:
        if self._received is None:  # a redelivered event changes nothing
            self._received = event

    @workflow.update
    async def resolve(self, decision: ResolveReturn) -> ReturnView:
        self._decision = decision
        return self._view

    @resolve.validator
    def _validate_resolve(self, decision: ResolveReturn) -> None:
        if self._view.status != "needs_attention" or self._decision is not None:
            raise ApplicationError(f"return is {self._view.status}, not needs_attention", type="NotResolvable")

    @workflow.query
    def status(self) -> ReturnView:
        return self._view

    # ---- helpers -----------------------------------------------------------------------------

    def _ref(self) -> dict[str, str]:
        return {"order_id": self._inp.order_id, "correlation_id": self._inp.correlation_id}

    async def _call(self, activity: Callable[[Any], Awaitable[R]], arg: Any, options: dict[str, Any],
                    summary: str) -> R:
        return await workflow.execute_activity(activity, arg, summary=summary, **options)

    def _set(self, status: ReturnStatus, reason: str | None = None) -> None:
        self._view.status = status
        self._view.status_reason = reason
        self._view.updated_at = workflow.now()
        workflow.set_current_details(f"**return {status}**" + (f" — {reason}" if reason else ""))

    async def _emit(self, type: EventType, **data: object) -> None:
        await publish(type, self._inp.order_id, self._inp.correlation_id, {"return_id": self._inp.return_id, **data})
