"""What one order costs Temporal, read from its histories: executions, activities, local activities, events.

An order's executions are found by walking, not by name: its own workflow; every child started in a
history (ChildWorkflowExecutionStarted), recursively; every continue-as-new run; and any workflow whose
id starts with the order's workflow id followed by a separator (a visibility query). Payloads are not
decoded, so no codec key is needed.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

# The marker the SDK core records for each local activity it runs.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
CLOSE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)
ID_SEPARATORS = "-:._"


@dataclass
class Tally:
    history_events: int = 0
    activity_tasks: int = 0
    local_activities: int = 0
    timers: int = 0
    child_workflows: int = 0
    signals: int = 0
    updates: int = 0

    def add(self, event: HistoryEvent) -> None:
        self.history_events += 1
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self.activity_tasks += 1
        elif (
            kind == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            self.local_activities += 1
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            self.timers += 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.child_workflows += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            self.signals += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            self.updates += 1


@dataclass
class OrderCost:
    executions: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    all_executions: Tally = field(default_factory=Tally)
    order_workflow: Tally = field(default_factory=Tally)
    """The order's own workflow alone (its first run)."""
    still_running: int = 0
    """Executions other than the order's own that had not closed when read."""


async def order_cost(client: Client, root_workflow_id: str) -> OrderCost:
    root = (root_workflow_id, (await client.get_workflow_handle(root_workflow_id).describe()).run_id)
    pending: deque[tuple[str, str]] = deque([root])
    pending.extend(await _same_prefix(client, root_workflow_id))
    seen: set[tuple[str, str]] = set()
    cost = OrderCost()
    while pending:
        execution = pending.popleft()
        if execution in seen:
            continue
        seen.add(execution)
        workflow_id, run_id = execution
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = list(history.events)
        cost.executions += 1
        if events:
            started = events[0].workflow_execution_started_event_attributes
            cost.by_type[started.workflow_type.name] += 1
            if events[-1].event_type not in CLOSE_EVENTS and execution != root:
                cost.still_running += 1
        for event in events:
            cost.all_executions.add(event)
            if execution == root:
                cost.order_workflow.add(event)
            pending.extend(_started_executions(event, workflow_id))
    return cost


def _started_executions(event: HistoryEvent, workflow_id: str) -> list[tuple[str, str]]:
    if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
        child = event.child_workflow_execution_started_event_attributes.workflow_execution
        return [(child.workflow_id, child.run_id)]
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        return [
            (workflow_id, event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)
        ]
    return []


async def _same_prefix(client: Client, root_workflow_id: str) -> list[tuple[str, str]]:
    query = f'WorkflowId STARTS_WITH "{root_workflow_id}"'
    found = [(w.id, w.run_id) async for w in client.list_workflows(query)]
    # "order-A1" must not pick up "order-A10": only the id itself or the id and a separator.
    return [
        (wid, rid)
        for wid, rid in found
        if wid == root_workflow_id or wid[len(root_workflow_id)] in ID_SEPARATORS
    ]


async def order_costs(client: Client, workflow_ids: list[str], parallel: int = 4) -> list[OrderCost]:
    gate = asyncio.Semaphore(parallel)

    async def one(workflow_id: str) -> OrderCost:
        async with gate:
            return await order_cost(client, workflow_id)

    return list(await asyncio.gather(*(one(w) for w in workflow_ids)))


async def still_running(client: Client, since: datetime, except_prefix: str) -> int:
    """Executions started since `since` that are still running, apart from those whose id starts with
    `except_prefix` (the orders' own workflows, which stay open for returns)."""
    running = f'ExecutionStatus = "Running" AND StartTime >= "{since.isoformat()}"'
    every = (await client.count_workflows(running)).count
    excepted = (await client.count_workflows(f'{running} AND WorkflowId STARTS_WITH "{except_prefix}"')).count
    return every - excepted


async def executions_started(client: Client, since: datetime, until: datetime) -> int:
    """Every execution the server started in [since, until], whatever started it."""
    query = f'StartTime >= "{since.isoformat()}" AND StartTime <= "{until.isoformat()}"'
    return (await client.count_workflows(query)).count
