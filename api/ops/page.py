"""GET /ops: the on-call page. Server-rendered HTML that reloads itself; no script, no framework.

Five panels, in the order on-call reads them: vendor health with breaker states, the vendors' contract checks
(the last run per role and adapter, with its failing checks), the exception worklist (orders in
needs_attention), the ERP posting backlog and failed webhook deliveries. Everything
comes from what the API already reads (the store and Temporal); the page calls no vendor.
"""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.ops.vendors import VendorHealthRow, read_vendor_health
from api.ops.worklist import AttentionItem, attention_worklist
from api.shared.auth import PageGuard, Principal
from api.shared.store import store
from api.shared.temporal import temporal_client
from canonical.identifiers import format_money
from store.backlog import Backlog
from store.contract_checks import latest_contract_checks
from store.models import ContractCheckRun, ErpPosting, WebhookDelivery
from store.worklists import failed_deliveries, unposted_postings

router = APIRouter(tags=["operations"])

REFRESH_S = 10
LIST_LIMIT = 20
OpsReader = Annotated[Principal, Depends(PageGuard("ops:read", realm="o2c ops"))]

STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1d2330}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;min-width:40rem}
th,td{padding:.3rem .7rem;border-bottom:1px solid #dde;text-align:left;white-space:nowrap}
td.w{white-space:normal;min-width:16rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f4f8}
.badge{padding:.1rem .5rem;border-radius:.6rem;font-weight:600}
.closed,.passing{background:#d8f3dc}.open,.failing{background:#ffccd5}.partial,.half_open{background:#ffe8a3}
.empty{color:#667}.meta{color:#667;font-size:.85rem}
"""


def _cell(value: object, *, numeric: bool = False, wrap: bool = False) -> str:
    text = "—" if value is None else str(value)
    css = ' class="n"' if numeric else ' class="w"' if wrap else ""
    return f"<td{css}>{escape(text)}</td>"


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value:,.1f}"


def _table(headers: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _percent(rate: float | None) -> str | None:
    return None if rate is None else f"{rate * 100:.1f} %"


def _money(minor: int | None, currency: str | None) -> str | None:
    return None if minor is None or currency is None else format_money(minor, currency)


def _badge(vendor: str, circuit: str) -> str:
    return f'<td><span class="badge {escape(circuit)}" data-vendor="{escape(vendor)}">{escape(circuit)}</span></td>'


def vendor_rows(vendors: Sequence[VendorHealthRow]) -> list[str]:
    return [
        "<tr>" + _cell(v.vendor) + _badge(v.vendor, v.circuit)
        + _cell(v.calls, numeric=True) + _cell(_percent(v.success_rate), numeric=True)
        + _cell(_percent(v.error_rate), numeric=True) + _cell(_ms(v.latency_p50_ms), numeric=True)
        + _cell(_ms(v.latency_p99_ms), numeric=True) + _cell(v.backlog, numeric=True) + "</tr>"
        for v in vendors
    ]


def _failing_checks(run: ContractCheckRun) -> str:
    return "; ".join(f"{f['check']}: {f['reason']}" for f in run.findings if not f["passed"])


def contract_check_rows(runs: Sequence[ContractCheckRun]) -> list[str]:
    return [
        "<tr>" + _cell(r.role) + _cell(r.adapter)
        + f'<td><span class="badge {"failing" if r.failures else "passing"}" data-contract="{escape(r.role)}">'
        + ("failing" if r.failures else "passing") + "</span></td>"
        + _cell(f"{r.checks - r.failures}/{r.checks}", numeric=True) + _cell(r.mode)
        + _cell(r.finished_at.isoformat(timespec="seconds")) + _cell(_failing_checks(r) or None, wrap=True) + "</tr>"
        for r in runs
    ]


def attention_rows(items: Sequence[AttentionItem]) -> list[str]:
    return [
        "<tr>" + _cell(i.order_id) + _cell(i.reason_code) + _cell(i.status_reason, wrap=True)
        + _cell(_money(i.money_at_risk, i.currency), numeric=True)
        + _cell(i.started_at.isoformat(timespec="seconds") if i.started_at else None)
        + f'<td><a href="{escape(i.temporal_ui)}">open in Temporal</a></td></tr>'
        for i in items
    ]


def posting_rows(postings: Sequence[ErpPosting]) -> list[str]:
    return [
        "<tr>" + _cell(p.order_id) + _cell(p.kind) + _cell(p.status) + _cell(_money(p.amount, p.currency), numeric=True)
        + _cell(p.attempts, numeric=True) + _cell(p.last_error, wrap=True)
        + _cell(p.created_at.isoformat(timespec="seconds")) + "</tr>"
        for p in postings
    ]


def delivery_rows(deliveries: Sequence[WebhookDelivery]) -> list[str]:
    return [
        "<tr>" + _cell(d.endpoint_id) + _cell(d.event_type) + _cell(d.order_id) + _cell(d.attempts, numeric=True)
        + _cell(d.last_status_code, numeric=True) + _cell(d.last_error, wrap=True) + "</tr>"
        for d in deliveries
    ]


def _backlog_line(backlog: Backlog, now: datetime) -> str:
    oldest = backlog.erp_oldest_unposted_at
    age = f"; oldest waiting {int((now - oldest).total_seconds())} s" if oldest else ""
    return (f'<p class="meta">{backlog.erp_postings_pending} pending, {backlog.erp_postings_retrying} retrying'
            f"{escape(age)}</p>")


def render(vendors: Sequence[VendorHealthRow], worklist: Sequence[AttentionItem], backlog: Backlog,
           postings: Sequence[ErpPosting], deliveries: Sequence[WebhookDelivery], now: datetime,
           contract_checks: Sequence[ContractCheckRun] = ()) -> str:
    sections = [
        "<h2>Vendors (last 5 minutes)</h2>",
        _table(["vendor", "breaker", "calls", "success", "errors", "p50 ms", "p99 ms", "backlog"],
               vendor_rows(vendors), "No vendor has reported yet."),
        "<h2>Contract checks</h2>",
        _table(["role", "adapter", "result", "passed", "mode", "last run", "failing checks"],
               contract_check_rows(contract_checks), "No contract check has run yet."),
        f"<h2>Needs attention ({len(worklist)})</h2>",
        _table(["order", "reason", "detail", "money at risk", "started", ""], attention_rows(worklist),
               "No order needs attention."),
        "<h2>ERP posting backlog</h2>", _backlog_line(backlog, now),
        _table(["order", "kind", "status", "amount", "attempts", "last error", "created"], posting_rows(postings),
               "Every ERP document is posted."),
        f"<h2>Failed webhook deliveries ({backlog.webhook_deliveries_failed})</h2>",
        _table(["endpoint", "event", "order", "attempts", "last status", "last error"], delivery_rows(deliveries),
               "No delivery has failed."),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}"><title>o2c ops</title><style>{STYLE}</style></head>'
        f'<body><h1>o2c on-call</h1><p class="meta">Updated {now.isoformat(timespec="seconds")}; '
        f"reloads every {REFRESH_S} s.</p>{''.join(sections)}</body></html>"
    )


def _worklists(request: Request) -> tuple[list[ErpPosting], list[WebhookDelivery], list[ContractCheckRun]]:
    with store(request).reading() as session:
        return (unposted_postings(session, LIST_LIMIT), failed_deliveries(session, LIST_LIMIT),
                latest_contract_checks(session))


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
async def ops_page(request: Request, _: OpsReader) -> HTMLResponse:
    client = await temporal_client(request)
    health, worklist, (postings, deliveries, contract_checks) = await asyncio.gather(
        read_vendor_health(request), attention_worklist(client, request.app.state.settings),
        asyncio.to_thread(_worklists, request))
    html = render(health.vendors, worklist, health.backlog, postings, deliveries, datetime.now(UTC), contract_checks)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
