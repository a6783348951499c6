"""The order's status as support finds it: the OrderStatus, AttentionReason (and NeedsAttentionReason) and
MoneyAtRisk search attributes and the markdown at the top of its Temporal page. Changes are gathered and
published at milestones, so a run of steps inside one workflow task costs one upsert, not one per step.

The reason and the money at risk ride along in the upsert of the status change that parks or resumes the
order: a separate upsert would be a new command, which running orders' histories do not have."""

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from canonical.saga import TERMINAL_STATUSES, AttentionCode, OrderStatus
    from workflows.search_attributes import ATTENTION_REASON, MONEY_AT_RISK, NEEDS_ATTENTION_REASON, ORDER_STATUS


class StatusBoard:
    def __init__(self) -> None:
        self.status = OrderStatus.RECEIVED
        self.reason: str | None = None
        self.attention: AttentionCode | None = None
        self._published: tuple[OrderStatus, AttentionCode | None] = (OrderStatus.RECEIVED, None)

    def set(self, status: OrderStatus, reason: str | None = None) -> None:
        self.status = status
        if reason is not None or status in TERMINAL_STATUSES:
            # A closed order's reason says why it closed, never what an earlier park or resolve said.
            self.reason = reason
        if status != OrderStatus.NEEDS_ATTENTION:
            self.attention = None

    def attend(self, code: AttentionCode, reason: str) -> None:
        self.status, self.reason, self.attention = OrderStatus.NEEDS_ATTENTION, reason, code

    def publish(self, details: str, money_at_risk: int = 0) -> None:
        status, attention = self._published
        updates: list[SearchAttributeUpdate[Any]] = []
        if self.status != status:
            updates.append(ORDER_STATUS.value_set(self.status.value))
        if self.attention != attention:
            updates += attention_updates(self.attention, money_at_risk)
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = (self.status, self.attention)
        workflow.set_current_details(details)


def attention_updates(code: AttentionCode | None, money_at_risk: int) -> list[SearchAttributeUpdate[Any]]:
    """Set while parked, unset once it moves on, so a filter on them finds parked orders only."""
    if code is None:
        return [NEEDS_ATTENTION_REASON.value_unset(), ATTENTION_REASON.value_unset(), MONEY_AT_RISK.value_unset()]
    return [NEEDS_ATTENTION_REASON.value_set(code.value), ATTENTION_REASON.value_set(code.value),
            MONEY_AT_RISK.value_set(money_at_risk)]
