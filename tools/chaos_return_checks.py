"""Return invariants of one order (part of the chaos oracle, tools/chaos_checks.py).

What a return should have paid is worked out from three things only: the lines the client asked for, what
the sandbox warehouse says it received (its return request, each line with its `condition`), and support's
decision as the client gave it. Per SKU, of the units asked for, min(asked, received resellable) are
refunded and restocked, then min(the rest, received damaged) wait for support, who refunds or refuses
them; units never received are not refunded. Refunds go per shipment the units left with, under
`{order}:refund:{return}:{shipment}:{resellable|damaged}`; points follow the refunded units: redeemed
points given back exactly, earned points taken back within the floor and ceiling of their share of the
earned points (in proportion to amount due over every shipped unit), and exactly all of them once every
shipped unit came back refunded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tools.chaos_books import Books, Piece
from tools.chaos_expect import reference_tail, refund_ref
from tools.chaos_model import ReturnPlan

Finding = tuple[str, str]
CONDITIONS = ("resellable", "damaged")


@dataclass
class ExpectedReturn:
    plan: ReturnPlan
    received: Counter[tuple[str, str]] | None
    """Units received per (sku, condition); None while the warehouse has not received the parcel."""
    groups: dict[str, list[Piece]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})

    @property
    def return_id(self) -> str:
        return self.plan.return_id

    @property
    def damaged_units(self) -> int:
        return sum(p.count for p in self.groups["damaged"])

    def refunded(self, condition: str) -> bool:
        return condition == "resellable" or self.plan.decided == "refund"


def _received(b: Books, return_id: str) -> Counter[tuple[str, str]] | None:
    for request in b.facts.return_requests:
        if request.get("return_id") == return_id and request.get("status") == "received":
            got: Counter[tuple[str, str]] = Counter()
            for line in request["lines"]:
                got[(line["sku"], line["condition"])] += int(line["quantity"])
            return got
    return None


def expected_returns(b: Books) -> list[ExpectedReturn]:
    """Accepted returns in the order they were asked for, each taking the next shipped units of its SKUs."""
    taken: Counter[str] = Counter()
    out = []
    for plan in (p for p in b.placed.returns if p.accepted):
        expected = ExpectedReturn(plan, _received(b, plan.return_id))
        for line in plan.lines:
            sku, asked = line["sku"], int(line["quantity"])
            first, taken[sku] = taken[sku], taken[sku] + asked
            if expected.received is None:
                continue
            ok = min(asked, expected.received[(sku, "resellable")])
            bad = min(asked - ok, expected.received[(sku, "damaged")])
            expected.groups["resellable"] += b.pieces(sku, first, ok)
            expected.groups["damaged"] += b.pieces(sku, first + ok, bad)
        out.append(expected)
    return out


def _refunds_explained(b: Books) -> Iterator[Finding]:
    accepted = {p.return_id for p in b.placed.returns if p.accepted}
    for entry in b.of("payment.refund"):
        parsed = refund_ref(b.order_id, entry["reference"])
        if parsed is None:
            yield "refund=returned", f"refund {entry['reference']} belongs to no return and no support close"
        elif parsed.return_id is None and "refund_and_close" not in b.placed.resolutions:
            yield "refund=returned", f"refund {entry['reference']} without support's refund and close"
        elif parsed.return_id is not None and parsed.return_id not in accepted:
            yield "refund=returned", f"refund {entry['reference']} for a return that was never accepted"


def _refunds_after_receipt(b: Books) -> Iterator[Finding]:
    """No refund before the warehouse's `fulfillment.return_received` for that return, in ledger order."""
    received_at: dict[str, int] = {}
    for entry in b.of("fulfillment.return_received"):
        received_at.setdefault(str(entry["reference"]), int(entry["seq"]))
    for entry in b.of("payment.refund"):
        parsed = refund_ref(b.order_id, entry["reference"])
        if parsed is None or parsed.return_id is None:
            continue
        seen = received_at.get(parsed.return_id)
        if seen is None or seen > int(entry["seq"]):
            when = "never" if seen is None else f"at seq {seen}"
            yield (
                "refund-after-receipt",
                (
                    f"refund {entry['reference']} at seq {entry['seq']}; the warehouse "
                    f"received return {parsed.return_id} {when}"
                ),
            )


def _return_ended(expected: ExpectedReturn) -> Iterator[Finding]:
    plan = expected.plan
    waiting_on_purpose = plan.decision is None and plan.decided is None and expected.damaged_units > 0
    if plan.status == "completed" and expected.damaged_units and plan.decided is None:
        yield (
            "return-ended",
            (
                f"return {plan.return_id} completed without support deciding on "
                f"{expected.damaged_units} damaged unit(s)"
            ),
        )
    elif plan.status == "needs_attention" and not waiting_on_purpose:
        yield (
            "return-ended",
            (
                f"return {plan.return_id} is needs_attention ({plan.status_reason}); only "
                "damaged goods left undecided may wait"
            ),
        )
    elif plan.status not in ("completed", "needs_attention"):
        yield "return-ended", f"return {plan.return_id} ended {plan.status} ({plan.status_reason})"


def _return_refunds(b: Books, expected: ExpectedReturn) -> Iterator[Finding]:
    rid = expected.return_id
    want: Counter[str] = Counter()
    for condition in (c for c in CONDITIONS if expected.refunded(c)):
        for sid in dict.fromkeys(p.shipment_id for p in expected.groups[condition]):
            amount = b.due([p for p in expected.groups[condition] if p.shipment_id == sid])
            if amount:
                want[b.ref("refund", rid, sid, condition)] = amount
    got = Counter(
        {
            ref: amount
            for ref, amount in b.by_reference("payment.refund").items()
            if (parsed := refund_ref(b.order_id, ref)) is not None and parsed.return_id == rid
        }
    )
    for ref in sorted(set(want) | set(got)):
        if want[ref] != got[ref]:
            yield (
                "refund=received",
                (
                    f"{ref}: refunded {got[ref]}, expected {want[ref]} for what the "
                    f"warehouse received ({_describe(expected.received)})"
                ),
            )


def _return_restock(b: Books, expected: ExpectedReturn) -> Iterator[Finding]:
    want: Counter[str] = Counter()
    for piece in expected.groups["resellable"]:
        want[piece.sku] += piece.count
    got: Counter[str] = Counter()
    for entry in b.of("inventory.restock"):
        if entry["reference"] == b.ref("restock", expected.return_id):
            got[str(entry["sku"])] += int(entry["quantity"] or 0)
    if +want != +got:
        yield (
            "restock=received",
            (
                f"return {expected.return_id}: restocked {dict(got)}, resellable units "
                f"received within the request {dict(want)}"
            ),
        )


def _taken_back_bounds(b: Books, pieces: list[Piece]) -> tuple[int, int]:
    earned, weight = b.total("points.earn", "points"), sum(s.due for s in b.shipments.values())
    if not earned or not weight:
        return 0, 0
    shares = [earned * b.due([p]) for p in pieces]
    return sum(s // weight for s in shares), sum(-(-s // weight) for s in shares)


def _return_points(b: Books, expected: ExpectedReturn) -> Iterator[Finding]:
    given, taken = b.by_reference("points.give_back", "points"), b.by_reference("points.take_back", "points")
    for condition in CONDITIONS:
        pieces = expected.groups[condition] if expected.refunded(condition) else []
        tag = (expected.return_id, condition)
        want_given, got_given = b.redeemed(pieces), given[b.ref("points-give-back", *tag)]
        if got_given != want_given:
            yield (
                "points-back",
                (
                    f"return {expected.return_id} {condition}: gave back {got_given} points, "
                    f"redeemed on the refunded units {want_given}"
                ),
            )
        low, high = _taken_back_bounds(b, pieces)
        got_taken = taken[b.ref("points-take-back", *tag)]
        if not low <= got_taken <= high:
            yield (
                "points-back",
                (
                    f"return {expected.return_id} {condition}: took back {got_taken} points, "
                    f"their share of the earned points is {low}..{high}"
                ),
            )


def _all_points_back(b: Books, expected: list[ExpectedReturn]) -> Iterator[Finding]:
    """Every shipped unit came back refunded: exactly the earned points are taken back."""
    refunded = sum(p.count for e in expected for c in CONDITIONS if e.refunded(c) for p in e.groups[c])
    if not refunded or refunded != b.shipped_units():
        return
    earned, taken = b.total("points.earn", "points"), b.total("points.take_back", "points")
    if taken != earned:
        yield (
            "points-back",
            f"every unit returned and refunded, yet took back {taken} of {earned} earned points",
        )


def _refused_returns(b: Books) -> Iterator[Finding]:
    for plan in (p for p in b.placed.returns if p.must_refuse):
        rid = plan.return_id
        if plan.answer != 422:
            yield "refused-return", f"return {rid} names a SKU twice and was answered {plan.answer}, not 422"
        touched = [e["action"] for e in b.facts.entries if _names_return(b.order_id, e, rid)]
        touched += ["fulfillment return request"] * sum(
            1 for r in b.facts.return_requests if r.get("return_id") == rid
        )
        if touched:
            yield "refused-return", f"the refused return {rid} changed something: {touched}"


def _names_return(order_id: str, entry: Mapping[str, object], return_id: str) -> bool:
    ref = str(entry.get("reference"))
    if str(entry["action"]).startswith("fulfillment.return"):
        return ref == return_id
    parsed = refund_ref(order_id, ref) or refund_ref(order_id, ref, "credit-memo")
    if parsed is not None:
        return parsed.return_id == return_id
    tails = (reference_tail(order_id, ref, w) for w in ("restock", "points-give-back", "points-take-back"))
    return any(tail is not None and tail[0] == return_id for tail in tails)


def _each_return(b: Books) -> Iterator[Finding]:
    expected = expected_returns(b)
    for one in expected:
        yield from _return_ended(one)
        yield from _return_refunds(b, one)
        yield from _return_restock(b, one)
        yield from _return_points(b, one)
    yield from _all_points_back(b, expected)


def _describe(received: Mapping[tuple[str, str], int] | None) -> str:
    if received is None:
        return "nothing yet"
    return (
        ", ".join(f"{n} x {sku} {condition}" for (sku, condition), n in sorted(received.items())) or "nothing"
    )


RETURN_RULES = (_refunds_explained, _refunds_after_receipt, _refused_returns, _each_return)
