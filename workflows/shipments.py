"""What the fulfilment node reports, and settling each shipment on its own (design §4, steps 7–8).

Events are recorded the moment they arrive (the signal handler calls `record`), whatever the order
is doing, parked included: a dispatch takes the next units of its lines and becomes a shipment with
its amount due; a pick rejection takes them as released. A shipment id seen before with the same
lines is a redelivery and changes nothing; with other lines, or with units that are not open, or
after the order was cancelled, it is an anomaly the order parks on. Settling then runs in arrival
order: commit the stock, capture the shipment's amount (re-authorizing an expired hold), invoice it;
a released line frees its stock, its share of the authorization and its share of the points.
"""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import erp, inventory, loyalty, payments
    from canonical.saga import AttentionCode, FulfillmentEvent, OrderStatus, ShipmentView
    from canonical.steps import Capture, LineQuantity
    from canonical.units import UnitError
    from workflows import policies
    from workflows.context import Done, Flow, OrderContext
    from workflows.steps import StepFailed


@dataclass(frozen=True)
class _Release:
    tag: str
    lines: list[LineQuantity]
    amount: int
    points: int


@dataclass(frozen=True)
class Anomaly:
    code: AttentionCode
    reason: str
    shipment: ShipmentView | None = None
    """Goods that left without anything to capture them against (dispatched after a cancel)."""


class Shipments:
    def __init__(self, ctx: OrderContext) -> None:
        self._ctx = ctx
        self.views: list[ShipmentView] = []
        self.anomalies: list[Anomaly] = []
        self.released_lines: list[LineQuantity] = []
        self._seen: set[str] = set()
        self._work: list[ShipmentView | _Release] = []
        self._committed = 0
        self._released = 0

    # ---- recording (from the signal handler: no I/O, no awaits) ---------------------------------

    def record(self, event: FulfillmentEvent, dispatch_closed: bool) -> None:
        if event.event_id in self._seen:
            return  # a redelivered webhook is applied once
        self._seen.add(event.event_id)
        if event.type == "shipment.dispatched":
            self._record_dispatch(event, dispatch_closed)
        else:
            self._record_rejection(event)

    def _record_dispatch(self, event: FulfillmentEvent, dispatch_closed: bool) -> None:
        sid = event.shipment_id or event.event_id
        known = next((v for v in self.views if v.shipment_id == sid), None)
        if known is not None:
            if _same(known.lines, event.lines):
                return
            self._anomaly(AttentionCode.CONFLICTING_SHIPMENT,
                          f"shipment {sid} reported again with other lines ({_describe(event.lines)}, "
                          f"first {_describe(known.lines)})")
            return
        try:
            taken = self._ctx.units.take(event.lines, sid)
        except UnitError as bad:
            self._anomaly(AttentionCode.IMPOSSIBLE_SHIPMENT, f"fulfilment reported an impossible shipment {sid}: {bad}")
            return
        view = ShipmentView(shipment_id=sid, lines=event.lines, carrier=event.carrier,
                            tracking_number=event.tracking_number, amount=taken.amount, points=taken.points)
        self.views.append(view)
        if dispatch_closed:
            self._late(view)
        else:
            self._ctx.clocks.dispatched(sid)
            self._work.append(view)

    def _record_rejection(self, event: FulfillmentEvent) -> None:
        try:
            taken = self._ctx.units.take(event.lines, None)
        except UnitError as bad:
            self._anomaly(AttentionCode.IMPOSSIBLE_SHIPMENT, f"fulfilment rejected lines that are not open: {bad}")
            return
        self.released_lines.extend(event.lines)
        self._work.append(_Release(event.event_id, event.lines, taken.amount, taken.points))

    def _anomaly(self, code: AttentionCode, reason: str, shipment: ShipmentView | None = None) -> None:
        self.anomalies.append(Anomaly(code, reason, shipment))

    def _late(self, view: ShipmentView) -> None:
        self._anomaly(AttentionCode.DISPATCHED_AFTER_CANCEL,
                      f"shipment {view.shipment_id} ({_describe(view.lines)}, {self._ctx.fmt(view.amount)}) was "
                      "dispatched after the order was cancelled", view)

    @staticmethod
    def settle_outside_late(anomaly: Anomaly) -> None:
        """Support marked a late dispatch resolved: the goods were recovered or paid for outside o2c."""
        if anomaly.shipment is not None and anomaly.shipment.capture == "pending":
            anomaly.shipment.capture = "settled_outside"

    def cancelled(self) -> None:
        """The order was cancelled: anything dispatched meanwhile is goods out with nothing to pay for them."""
        for item in [w for w in self._work if isinstance(w, ShipmentView)]:
            self._work.remove(item)
            self._late(item)

    def release_rest(self, tag: str) -> None:
        """Support resolved a missed dispatch SLA by hand: what never shipped is released like a rejected pick."""
        self._record_rejection(FulfillmentEvent(event_id=tag, type="shipment.pick_rejected",
                                                order_id=self._ctx.order.order_id,
                                                lines=self._ctx.units.open_lines(), reason="resolved by support"))

    # ---- reading -----------------------------------------------------------------------------

    @property
    def has_work(self) -> bool:
        return bool(self._work)

    @property
    def dispatched(self) -> bool:
        return bool(self.views)

    def money_at_risk(self) -> int:
        return sum(v.amount for v in self.views if v.capture == "pending")

    def spent_points(self) -> int:
        """Points redeemed on goods that shipped and were paid for (here or by hand)."""
        return sum(v.points for v in self.views if v.capture in ("captured", "settled_outside"))

    def inventory_open(self) -> bool:
        return self._committed + self._released < sum(line.quantity for line in self._ctx.order.lines)

    def write_off(self) -> int:
        """Refund and close: dispatched goods still uncaptured are given up; returns their amount."""
        pending = [v for v in self.views if v.capture == "pending"]
        for view in pending:
            view.capture = "written_off"
        return sum(v.amount for v in pending)

    # ---- settling ----------------------------------------------------------------------------

    async def settle_pending(self) -> Flow:
        while self._work:
            item = self._work.pop(0)
            flow = await (self._settle(item) if isinstance(item, ShipmentView) else self._release(item))
            if flow is Flow.CLOSE:
                return flow
        return Flow.GO_ON

    async def commit_dispatched(self) -> Flow:
        """Before a close: every shipment that left is committed, so releasing what is left of the
        allocation never puts goods that shipped back on the shelf."""
        for item in [w for w in self._work if isinstance(w, ShipmentView)]:
            self._work.remove(item)
            if (await self._commit(item)) is Flow.CLOSE:
                return Flow.CLOSE
        return Flow.GO_ON

    async def _settle(self, view: ShipmentView) -> Flow:
        """The pivot: from here on money steps are retried until they succeed or support resolves them."""
        ctx, sid = self._ctx, view.shipment_id
        ctx.board.set(OrderStatus.SHIPPED if ctx.units.settled() else OrderStatus.PARTIALLY_SHIPPED)
        ctx.outbox.emit("shipment.dispatched", shipment_id=sid, carrier=view.carrier,
                        tracking_number=view.tracking_number, lines=[ln.model_dump() for ln in view.lines])
        for step in (self._commit, self._capture, self._invoice):
            if (await step(view)) is Flow.CLOSE:
                return Flow.CLOSE
        return Flow.GO_ON

    async def _commit(self, view: ShipmentView) -> Flow:
        units = sum(ln.quantity for ln in view.lines)
        done = await self._ctx.persist(f"commit inventory {view.shipment_id}", inventory.COMMIT,
                                       f"commit {units} units of {view.shipment_id}",
                                       lines=view.lines, tag=view.shipment_id)
        if done.flow is Flow.GO_ON:
            self._committed += units
        return done.flow

    async def _capture(self, view: ShipmentView) -> Flow:
        """Capture one shipment; an expired authorization is re-authorized for what is still open."""
        ctx, sid = self._ctx, view.shipment_id
        if view.amount == 0:  # paid entirely with points
            ctx.money.captures.append(Capture(shipment_id=sid, capture_id="", payment_intent_id="", amount=0,
                                              points=view.points))
            view.capture = "captured"
            return Flow.GO_ON
        while True:
            reason = await self._try_capture(view)
            if reason is None:
                return Flow.GO_ON
            request = await ctx.support.park(AttentionCode.CAPTURE_FAILED, reason)
            if request.action == "mark_resolved":
                view.capture = "settled_outside"
                ctx.money.settled_outside += view.amount
                return Flow.GO_ON
            if request.action == "refund_and_close":
                return Flow.CLOSE

    async def _try_capture(self, view: ShipmentView) -> str | None:
        """None once captured; otherwise why not, for support."""
        ctx, sid, money = self._ctx, view.shipment_id, self._ctx.money
        while True:
            assert money.authorization is not None
            try:
                capture = await ctx.steps.run(
                    f"capture {sid}", payments.CAPTURE, policies.after_pivot(),
                    f"capture {ctx.fmt(view.amount)} for {sid}",
                    payment_intent_id=money.authorization.id, shipment_id=sid, amount=view.amount, points=view.points,
                    reauthorization=money.reauthorizations)
            except StepFailed as failed:
                if failed.code != payments.AUTHORIZATION_EXPIRED:
                    return str(failed)
                try:
                    await self._reauthorize()
                except StepFailed as declined:
                    return f"authorization expired and re-authorization failed: {declined}"
                continue
            money.captures.append(capture)
            view.capture = "captured"
            ctx.clocks.captured(sid)
            ctx.outbox.emit("payment.captured", shipment_id=sid, amount=capture.amount, currency=ctx.order.currency)
            return None

    async def _reauthorize(self) -> None:
        ctx, money = self._ctx, self._ctx.money
        assert money.authorization is not None
        open_amount = money.open_authorization()
        money.reauthorizations += 1
        money.authorization = await ctx.steps.run(
            f"re-authorize payment #{money.reauthorizations}", payments.AUTHORIZE, policies.after_pivot(),
            f"re-authorize {ctx.fmt(open_amount)}", amount=open_amount, currency=ctx.order.currency,
            method_token=ctx.order.payment.method_token, reauthorization=money.reauthorizations,
            reauthorization_of=money.authorization.id)

    async def _invoice(self, view: ShipmentView) -> Flow:
        ctx, sid = self._ctx, view.shipment_id
        if view.amount == 0:
            return Flow.GO_ON  # paid entirely with points: no money to invoice
        sales_order = ctx.money.sales_order
        done = await ctx.persist(f"invoice {sid}", erp.POST_INVOICE, f"invoice {ctx.fmt(view.amount)} for {sid}",
                                 shipment_id=sid, sales_order=sales_order.document_number if sales_order else "",
                                 amount=view.amount, currency=ctx.order.currency, lines=view.lines)
        if done.result is not None:
            ctx.clocks.invoiced(sid)
            ctx.money.postings.append(done.result)
            ctx.outbox.emit("erp.posted", kind="invoice", document_number=done.result.document_number,
                            amount=done.result.amount, currency=ctx.order.currency, shipment_id=sid)
        return done.flow

    async def _release(self, rel: _Release) -> Flow:
        """Lines the node will not ship give back their stock, authorization share and points share."""
        ctx, money = self._ctx, self._ctx.money
        units = sum(ln.quantity for ln in rel.lines)
        steps: list[tuple[str, object, str, dict[str, object]]] = [
            (f"release rejected lines {rel.tag}", inventory.RELEASE, f"release {units} pick-rejected units",
             {"lines": rel.lines, "tag": rel.tag})]
        if money.authorization is not None and rel.amount:
            steps.append((f"release authorization share {rel.tag}", payments.RELEASE_SHARE,
                          f"release {ctx.fmt(rel.amount)} of the authorization",
                          {"payment_intent_id": money.authorization.id, "amount": rel.amount, "tag": rel.tag}))
        if rel.points:
            steps.append((f"release points share {rel.tag}", loyalty.RELEASE, f"release {rel.points} points",
                          {"points": rel.points, "tag": rel.tag}))
        self._released += units
        money.released_due += rel.amount
        for name, op, summary, fields in steps:
            done: Done = await ctx.persist(name, op, summary, **fields)  # type: ignore[arg-type]
            if done.flow is Flow.CLOSE:
                return Flow.CLOSE
        money.loyalty.released += rel.points
        return Flow.GO_ON


def _same(a: list[LineQuantity], b: list[LineQuantity]) -> bool:
    return sorted((ln.sku, ln.quantity) for ln in a) == sorted((ln.sku, ln.quantity) for ln in b)


def _describe(lines: list[LineQuantity]) -> str:
    return ", ".join(f"{ln.quantity} x {ln.sku}" for ln in lines)
