"""Returns of a completed order, each run as its own task inside the order workflow (design §4).

No refund before the warehouse has received and inspected the goods, and the refund follows what it
received, SKU by SKU: of the units asked for, as many as came back resellable are refunded, credited,
their redeemed points given back and their earned points taken back, and restocked; as many as came
back damaged wait for support's decision on exactly those units; units that never arrived are not
refunded and show as the return's shortfall. A refund that keeps failing, or that would exceed what is
left of its capture, also waits for a decision about that refund alone.
"""

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import fulfillment, inventory, loyalty
    from canonical.returns import (
        RegisterReturn,
        ResolveReturn,
        ReturnDecision,
        ReturnReceived,
        ReturnStatus,
        ReturnView,
    )
    from canonical.steps import LineQuantity
    from canonical.units import ReturnedUnits, UnitError
    from workflows import policies
    from workflows.context import OrderContext
    from workflows.refunds import refund_capture
    from workflows.steps import StepFailed


@dataclass
class _Return:
    view: ReturnView
    units: list[ReturnedUnits]
    received: ReturnReceived | None = None
    awaiting: str | None = None
    """What a support decision is being waited for, if one is."""
    decision: ResolveReturn | None = None


@dataclass
class _Group:
    """Returned units refunded together: one condition, grouped by the shipment they left with."""

    name: str
    units: list[ReturnedUnits] = field(default_factory=list)


class Returns:
    def __init__(self, ctx: OrderContext) -> None:
        self._ctx = ctx
        self._returns: dict[str, _Return] = {}
        self._early: dict[str, ReturnReceived] = {}
        """Receipts that came before their return was recorded (a request redelivered after a worker
        crash can follow the warehouse's answer to it): each waits for its return."""
        self._tasks: list[asyncio.Task[None]] = []
        self.accepting = False
        """True from completion until the return window ends."""

    # ---- handlers ----------------------------------------------------------------------------

    def validate_request(self, req: RegisterReturn) -> None:
        existing = self._returns.get(req.request.return_id)
        if existing is not None:
            asked = sorted((ln.sku, ln.quantity) for ln in req.request.lines)
            if asked != sorted((ln.sku, ln.quantity) for ln in existing.view.lines):
                raise ApplicationError("return id already used with other lines", type="ReturnConflict")
            return
        if not self._ctx.units.shipped_any():
            raise ApplicationError("nothing of this order was shipped", type="NotReturnable")
        if not self.accepting:
            raise ApplicationError(f"order is {self._ctx.board.status.value}; returns open once it is completed "
                                   "and close with the return window", type="NotReturnable")
        try:
            self._ctx.units.check_return([LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in req.request.lines])
        except UnitError as over:
            raise ApplicationError(str(over), type="OverReturn") from None

    def request(self, req: RegisterReturn) -> ReturnView:
        existing = self._returns.get(req.request.return_id)
        if existing is not None:
            return existing.view
        lines = [LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in req.request.lines]
        record = _Return(
            view=ReturnView(return_id=req.request.return_id, status="requested", reason=req.request.reason,
                            lines=lines, requested_by=req.actor, updated_at=workflow.now()),
            units=self._ctx.units.take_return(lines), received=self._early.pop(req.request.return_id, None))
        self._returns[record.view.return_id] = record
        self._tasks.append(asyncio.create_task(self._process(record)))
        return record.view

    def receive(self, event: ReturnReceived) -> None:
        self._ctx.clocks.return_received(event.return_id)
        record = self._returns.get(event.return_id)
        if record is None:
            self._early.setdefault(event.return_id, event)
        elif record.received is None:  # a redelivered event changes nothing
            record.received = event

    def validate_decision(self, decision: ResolveReturn) -> None:
        record = self._returns.get(decision.return_id)
        if record is None or record.awaiting is None or record.decision is not None:
            status = record.view.status if record else "unknown"
            raise ApplicationError(f"return {decision.return_id} is {status}, not waiting for a decision",
                                   type="NotResolvable")

    def decide(self, decision: ResolveReturn) -> ReturnView:
        record = self._returns[decision.return_id]
        record.decision = decision
        return record.view

    @property
    def views(self) -> list[ReturnView]:
        return [r.view for r in self._returns.values()]

    def finished(self) -> bool:
        return all(task.done() for task in self._tasks)

    # ---- one return --------------------------------------------------------------------------

    async def _process(self, record: _Return) -> None:
        ctx, view = self._ctx, record.view
        if not await self._ask_node(record):
            return
        try:
            await workflow.wait_condition(lambda: record.received is not None,
                                          timeout=timedelta(seconds=ctx.timings.return_window_s))
        except TimeoutError:
            self._set(record, "expired", "the goods did not arrive within the return window; nothing refunded")
            return
        assert record.received is not None
        view.received = record.received.lines
        self._set(record, "received")
        ctx.outbox.emit("return.received", return_id=view.return_id,
                        lines=[ln.model_dump() for ln in record.received.lines])
        resellable, damaged, view.shortfall = self._sort(record)
        await self._refund_group(record, resellable)
        await self._restock(record, resellable.units)
        if damaged.units:
            count = sum(u.count for u in damaged.units)
            skus = ", ".join(sorted({u.sku for u in damaged.units}))
            decision = await self._decide(record, f"{count} damaged unit(s) of {skus}",
                                          f"damaged goods ({count} of {skus}): refund anyway or refuse")
            if decision.action == "refund":
                await self._refund_group(record, damaged)
        self._set(record, "completed", _summary(view))
        await ctx.outbox.flush()

    async def _ask_node(self, record: _Return) -> bool:
        rid = record.view.return_id
        while True:
            try:
                await self._ctx.steps.run(f"return {rid}: ask the node to receive", fulfillment.REQUEST_RETURN,
                                          policies.after_pivot(), f"ask the node to receive return {rid}",
                                          return_id=rid, lines=record.view.lines)
                return True
            except StepFailed as failed:
                decision = await self._decide(record, "the return request", f"{failed}: retry (refund) or refuse")
            if decision.action == "refuse":
                self._set(record, "completed", f"refused by {decision.actor}: {decision.note}")
                return False

    def _sort(self, record: _Return) -> tuple[_Group, _Group, list[LineQuantity]]:
        """Per SKU, in unit order: the resellable units received, then the damaged, then the missing."""
        assert record.received is not None
        got: dict[tuple[str, str], int] = {}
        for line in record.received.lines:
            got[(line.sku, line.condition)] = got.get((line.sku, line.condition), 0) + line.quantity
        resellable, damaged, shortfall = _Group("resellable"), _Group("damaged"), []
        for line in record.view.lines:
            units = [u for u in record.units if u.sku == line.sku]
            n_ok = min(line.quantity, got.get((line.sku, "resellable"), 0))
            n_bad = min(line.quantity - n_ok, got.get((line.sku, "damaged"), 0))
            resellable.units += _slice(units, 0, n_ok)
            damaged.units += _slice(units, n_ok, n_bad)
            if line.quantity > n_ok + n_bad:
                shortfall.append(LineQuantity(sku=line.sku, quantity=line.quantity - n_ok - n_bad))
        return resellable, damaged, shortfall

    async def _refund_group(self, record: _Return, group: _Group) -> None:
        """Refund per capture, then points for what was refunded; a refund support refuses is skipped."""
        refunded: list[ReturnedUnits] = []
        for sid in dict.fromkeys(u.shipment_id for u in group.units):
            units = [u for u in group.units if u.shipment_id == sid]
            if await self._refund_shipment(record, group.name, sid, units):
                refunded += units
        await self._points(record, group.name, refunded)

    async def _refund_shipment(self, record: _Return, group: str, sid: str, units: list[ReturnedUnits]) -> bool:
        ctx, money, rid = self._ctx, self._ctx.money, record.view.return_id
        amount = sum(ctx.units.due(u.sku, u.start, u.count)[0] for u in units)
        if amount == 0:
            return True
        lines = [LineQuantity(sku=u.sku, quantity=u.count) for u in units]
        while not money.promise_refund(sid, amount):
            decision = await self._decide(record, f"refund for {sid}",
                                          f"refund of {ctx.fmt(amount)} for {sid} would exceed what is left of its "
                                          f"capture ({ctx.fmt(money.refund_room(sid))}): check, then refund or refuse")
            if decision.action == "refuse":
                return False
        while True:
            try:
                refund, memo = await refund_capture(ctx, sid, amount, f"{rid}:{sid}:{group}", lines)
                ctx.clocks.refunded(rid)
                record.view.refunds.append(refund)
                record.view.credit_memos += [memo] if memo else []
                return True
            except StepFailed as failed:
                decision = await self._decide(record, f"refund for {sid}", f"refund for {sid} failed: {failed}")
            if decision.action == "refuse":
                money.withdraw_refund(sid, amount)
                return False

    async def _points(self, record: _Return, group: str, units: list[ReturnedUnits]) -> None:
        """Points follow the money: redeemed points on refunded goods come back, earned ones go."""
        ctx, member = self._ctx, self._ctx.order.customer.loyalty_member_id
        if member is None or not units:
            return
        tag = f"{record.view.return_id}:{group}"
        redeemed = sum(ctx.units.due(u.sku, u.start, u.count)[1] for u in units)
        earned = sum(ctx.units.earned_on(u, ctx.money.loyalty.earned) for u in units)
        if redeemed:
            await ctx.steps.run(f"return {tag}: give back points", loyalty.GIVE_BACK, policies.after_pivot(),
                                f"give back {redeemed} redeemed points", member_id=member, points=redeemed, tag=tag)
            record.view.points_given_back += redeemed
        if earned:
            taken = await ctx.steps.run(f"return {tag}: take back points", loyalty.TAKE_BACK, policies.after_pivot(),
                                        f"take back {earned} earned points", member_id=member, points=earned, tag=tag)
            record.view.points_taken_back += earned
            if taken.tier_changed:
                ctx.outbox.emit("loyalty.tier_changed", member_id=member, old_tier=taken.tier_before,
                                new_tier=taken.tier_after, direction="down")

    async def _restock(self, record: _Return, units: list[ReturnedUnits]) -> None:
        """Resellable goods that came back go on the shelf, whatever happened to their refund."""
        per_sku: dict[str, int] = {}
        for u in units:
            per_sku[u.sku] = per_sku.get(u.sku, 0) + u.count
        if not per_sku:
            return
        lines = [LineQuantity(sku=s, quantity=q) for s, q in per_sku.items()]
        rid = record.view.return_id
        await self._ctx.steps.run(f"return {rid}: restock", inventory.RESTOCK, policies.after_pivot(),
                                  f"restock {sum(per_sku.values())} units", return_id=rid, lines=lines)
        record.view.restocked = lines

    async def _decide(self, record: _Return, about: str, reason: str) -> ResolveReturn:
        record.awaiting = about
        self._set(record, "needs_attention", reason)
        await self._ctx.outbox.flush()
        await workflow.wait_condition(lambda: record.decision is not None)
        decision, record.decision, record.awaiting = record.decision, None, None
        assert decision is not None
        record.view.decisions.append(ReturnDecision(about=about, action=decision.action, actor=decision.actor,
                                                    note=decision.note, at=workflow.now()))
        self._set(record, "received", f"{about} {_PAST[decision.action]} by {decision.actor}")
        return decision

    def _set(self, record: _Return, status: ReturnStatus, reason: str | None = None) -> None:
        record.view.status, record.view.status_reason, record.view.updated_at = status, reason, workflow.now()


_PAST = {"refund": "refunded", "refuse": "refused"}


def _summary(view: ReturnView) -> str | None:
    """How the return ended, for support: each decision taken on it and what never arrived."""
    parts = [f"{d.about} {_PAST[d.action]} by {d.actor}: {d.note}" for d in view.decisions]
    if view.shortfall:
        parts.append("not received: " + ", ".join(f"{ln.quantity} x {ln.sku}" for ln in view.shortfall))
    return "; ".join(parts) or None


def _slice(units: list[ReturnedUnits], skip: int, take: int) -> list[ReturnedUnits]:
    """Units [skip, skip+take) of a line's returned units, cut at run boundaries."""
    out, seen = [], 0
    for u in units:
        lo, hi = max(skip, seen), min(skip + take, seen + u.count)
        if lo < hi:
            offset = lo - seen
            out.append(replace(u, start=u.start + offset, count=hi - lo, rank=u.rank + offset))
        seen += u.count
    return out

