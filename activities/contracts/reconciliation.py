"""Reconciliation's activities, by name: what ReconciliationWorkflow hands them and gets back."""

from pydantic import BaseModel

from canonical.reconciliation import Period, RunStatus

START_RUN = "start_reconciliation_run"
RECORD_ORDERS = "record_reconciliation_orders"
COMPARE_PAGE = "reconcile_order_page"
DISCOVER_ORDERS = "discover_reconciliation_orders"
"""Runs started before paged discovery (workflows/reconciliation.py, PAGED_DISCOVERY) call this one…"""
COMPARE_BATCH = "reconcile_orders"
"""…and this one."""
FIND_STUCK = "find_stuck_postings"
FINISH_RUN = "finish_reconciliation_run"


class RunStart(BaseModel):
    run_id: str
    trigger: str
    period: Period
    stuck_after_s: float


class PeriodScan(BaseModel):
    run_id: str
    period: Period


class OrdersBatch(BaseModel):
    run_id: str
    period: Period
    order_ids: list[str]


class OrdersPage(BaseModel):
    run_id: str
    period: Period
    after_order_id: str | None
    """The last order of the previous page; None for the first page."""
    limit: int


class PageChecked(BaseModel):
    checked: int
    last_order_id: str | None
    """None when the page was empty: every order of the run was compared."""


class StuckCheck(BaseModel):
    run_id: str
    stuck_after_s: float


class RunFinish(BaseModel):
    run_id: str
    status: RunStatus
    orders_checked: int
    error: str | None = None
