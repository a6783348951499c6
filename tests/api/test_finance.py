"""Finance endpoints over the real app and a real (SQLite) store: scopes, filters, pages, CSV, the
summary, reconciliation runs. PostgreSQL behaviour of the same queries is covered in tests/store."""

import asyncio
import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from canonical.erp_postings import PostingDraft
from canonical.events import BusinessEvent
from canonical.identifiers import CURRENCY_EXPONENT
from canonical.reconciliation import Finding, FindingType, Period
from runtime.settings import Settings
from store.engine import Store
from store.postings import PostingRepository
from store.reconciliation import ReconciliationRepository
from store.webhooks import WebhookRepository

from .conftest import COMMERCE, FINANCE, SUPPORT, NoTemporal, assert_problem, not_found

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ENDPOINTS = [
    ("GET", "/v1/erp-postings"),
    ("GET", "/v1/erp-postings/summary"),
    ("GET", "/v1/erp-postings/pst_0123456789abcdef01234567"),
    ("GET", "/v1/reconciliation/runs"),
    ("POST", "/v1/reconciliation/runs"),
    ("GET", "/v1/reconciliation/runs/reconciliation-manual-x"),
]


def seed_postings(store: Store, n: int = 12) -> list[PostingDraft]:
    drafts = []
    with store.writing() as session:
        repo = PostingRepository(session)
        for i in range(n):
            d = PostingDraft(
                kind="invoice" if i % 3 else "sales_order",
                reference=f"O-{i}:ref",
                order_id=f"O-{i % 4}",
                amount=100 * (i + 1),
                currency="EUR",
                shipment_id="S1" if i % 3 else None,
            )
            drafts.append(d)
            at = T0 + timedelta(hours=i)
            repo.attempt_started(d, at)
            if i % 5 == 4:
                repo.attempt_failed(
                    d,
                    attempt=3,
                    error='=HYPERLINK("x") erp down',
                    will_retry=True,
                    next_attempt_at=at + timedelta(seconds=30),
                    at=at,
                )
            else:
                repo.posted(d, f"DOC-{i}", at + timedelta(seconds=1), 1, at)
    return drafts


@pytest.fixture
async def http(
    make_http: Callable[[Any], httpx.AsyncClient], no_temporal: NoTemporal, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http(no_temporal) as client:
        yield client
    assert no_temporal.touched == []


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_other_scopes_are_403_and_no_key_is_401(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    scope = "finance:reconcile" if method == "POST" else "finance:read"
    for headers in (COMMERCE, SUPPORT, {"Authorization": "Bearer admin-dev-key"}):
        body = assert_problem(await http.request(method, path, headers=headers), 403, "forbidden")
        assert body["required_scopes"] == [scope]
    assert_problem(await http.request(method, path), 401, "unauthorized")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"kind": "receipt"}, "kind"),
        ({"posted_from": "yesterday"}, "posted_from"),
        ({"posted_from": "2025-03-01T10:00:00"}, "posted_from"),  # no offset: ambiguous
        ({"posted_to": "2025-02-30"}, "posted_to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "Zm9vYmFy"}, "cursor"),  # base64 of something we never issued
        ({"order_id": "ORD 1; DROP TABLE"}, "order_id"),
        ({"posted_from": "2025-03-02", "posted_to": "2025-03-01"}, "posted_to"),
    ],
)
async def test_bad_filters_are_422_problems_naming_the_field(
    http: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    body = assert_problem(
        await http.get("/v1/erp-postings", params=params, headers=FINANCE), 422, "validation-error"
    )
    assert any(e["loc"][:2] == ["query", field] for e in body["errors"]), body


async def test_bad_summary_date_and_run_filters_are_422(http: httpx.AsyncClient) -> None:
    for path, params in (
        ("/v1/erp-postings/summary", {"date": "2025-13-01"}),
        ("/v1/reconciliation/runs", {"status": "done"}),
        ("/v1/reconciliation/runs", {"cursor": "Zm9v"}),
    ):
        assert_problem(await http.get(path, params=params, headers=FINANCE), 422, "validation-error")
    for body in (
        {"period_start": "2025-03-02T00:00:00Z", "period_end": "2025-03-01T00:00:00Z"},
        {"period_end": "2025-03-01T00:00:00"},
        {"what": 1},
        {"stuck_after_s": 0},
    ):
        assert_problem(
            await http.post("/v1/reconciliation/runs", json=body, headers=FINANCE), 422, "validation-error"
        )


async def test_pages_cover_every_posting_once_with_its_fields(http: httpx.AsyncClient, store: Store) -> None:
    drafts = seed_postings(store)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await http.get(
            "/v1/erp-postings", params={"limit": 5, **({"cursor": cursor} if cursor else {})}, headers=FINANCE
        )
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert [item["reference"] for item in seen] == [d.reference for d in drafts]
    first = seen[0]
    assert set(first) >= {
        "posting_id",
        "order_id",
        "kind",
        "reference",
        "amount",
        "currency",
        "status",
        "erp_document_number",
        "attempts",
        "last_error",
        "created_at",
        "posted_at",
    }
    assert (first["posting_id"], first["status"], first["erp_document_number"], first["amount"]) == (
        drafts[0].posting_id,
        "posted",
        "DOC-0",
        100,
    )
    assert first["created_at"] == "2025-03-01T09:00:00Z" and first["posted_at"] == "2025-03-01T09:00:01Z"
    retrying = seen[4]
    assert (retrying["status"], retrying["attempts"], retrying["next_attempt_at"]) == (
        "retrying",
        3,
        "2025-03-01T13:00:30Z",
    )

    one = await http.get(f"/v1/erp-postings/{drafts[4].posting_id}", headers=FINANCE)
    assert one.status_code == 200 and one.json() == retrying
    assert_problem(await http.get("/v1/erp-postings/pst_nope", headers=FINANCE), 404, "not-found")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "retrying"}, ["O-4:ref", "O-9:ref"]),
        ({"kind": "sales_order", "order_id": "O-0"}, ["O-0:ref"]),
        ({"order_id": "O-1", "kind": "invoice"}, ["O-1:ref", "O-5:ref"]),
        (
            {"posted_from": "2025-03-01T10:00:01Z", "posted_to": "2025-03-01T12:00:01Z"},
            ["O-1:ref", "O-2:ref"],
        ),
        (
            {"posted_from": "2025-03-01", "posted_to": "2025-03-01"},
            [f"O-{i}:ref" for i in range(12) if i % 5 != 4],
        ),
        ({"posted_from": "2025-03-02"}, []),
    ],
)
async def test_filters(
    http: httpx.AsyncClient, store: Store, params: dict[str, str], expected: list[str]
) -> None:
    seed_postings(store)
    r = await http.get("/v1/erp-postings", params=params, headers=FINANCE)
    assert r.status_code == 200, r.text
    assert [item["reference"] for item in r.json()["items"]] == expected


async def test_a_posting_time_list_pages_in_posting_order(http: httpx.AsyncClient, store: Store) -> None:
    seed_postings(store)
    params = {"posted_from": "2025-03-01", "limit": "3"}
    first = (await http.get("/v1/erp-postings", params=params, headers=FINANCE)).json()
    second = (
        await http.get("/v1/erp-postings", params={**params, "cursor": first["next_cursor"]}, headers=FINANCE)
    ).json()
    posted = [item["posted_at"] for item in first["items"] + second["items"]]
    assert posted == sorted(posted) and len(posted) == 6
    # A cursor of the list in first-appearance order cannot continue one in posting order.
    plain = (await http.get("/v1/erp-postings", params={"limit": "1"}, headers=FINANCE)).json()["next_cursor"]
    no_posted_at = (
        await http.get("/v1/erp-postings", params={"status": "retrying", "limit": "1"}, headers=FINANCE)
    ).json()["next_cursor"]
    assert plain is not None
    assert_problem(
        await http.get("/v1/erp-postings", params={**params, "cursor": no_posted_at}, headers=FINANCE),
        422,
        "validation-error",
    )


async def test_csv_export_parses_with_a_header_row(http: httpx.AsyncClient, store: Store) -> None:
    drafts = seed_postings(store)
    r = await http.get("/v1/erp-postings", headers={**FINANCE, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    header, body = rows[0], rows[1:]
    assert header[:9] == [
        "posting_id",
        "order_id",
        "kind",
        "reference",
        "shipment_id",
        "amount",
        "currency",
        "amount_minor",
        "status",
    ]
    records = [dict(zip(header, row, strict=True)) for row in body]
    assert [rec["reference"] for rec in records] == [d.reference for d in drafts]  # every row, no limit
    assert (records[0]["amount"], records[0]["amount_minor"]) == ("1.00", "100")
    assert records[0]["posted_at_utc"] == "2025-03-01 09:00:01"
    # A vendor message that a spreadsheet would run as a formula is neutralised.
    assert records[4]["last_error"].startswith("'=HYPERLINK")

    filtered = await http.get(
        "/v1/erp-postings",
        params={"status": "retrying"},
        headers={**FINANCE, "Accept": "application/json;q=0.5, text/csv"},
    )
    assert [rec["reference"] for rec in csv.DictReader(io.StringIO(filtered.text))] == ["O-4:ref", "O-9:ref"]

    page = await http.get("/v1/erp-postings", params={"limit": 5}, headers={**FINANCE, "Accept": "text/csv"})
    assert len(list(csv.DictReader(io.StringIO(page.text)))) == 5
    rest = await http.get(
        "/v1/erp-postings",
        params={"cursor": page.headers["x-next-cursor"]},
        headers={**FINANCE, "Accept": "text/csv"},
    )
    assert len(list(csv.DictReader(io.StringIO(rest.text)))) == 7

    empty = await http.get(
        "/v1/erp-postings", params={"order_id": "nobody"}, headers={**FINANCE, "Accept": "text/csv"}
    )
    assert list(csv.reader(io.StringIO(empty.text))) == [header]

    json_wins = await http.get(
        "/v1/erp-postings", headers={**FINANCE, "Accept": "application/json, text/csv;q=0.9"}
    )
    assert json_wins.headers["content-type"] == "application/json"


async def test_summary_by_kind_status_and_currency(http: httpx.AsyncClient, store: Store) -> None:
    seed_postings(store)
    r = await http.get("/v1/erp-postings/summary", params={"date": "2025-03-01"}, headers=FINANCE)
    assert r.status_code == 200
    body = r.json()
    assert body["date"] == "2025-03-01"
    groups = {(g["kind"], g["status"]): (g["count"], g["amount"]) for g in body["groups"]}
    assert groups == {
        ("sales_order", "posted"): (3, 100 + 400 + 700),
        ("sales_order", "retrying"): (1, 1000),
        ("invoice", "posted"): (7, 200 + 300 + 600 + 800 + 900 + 1100 + 1200),
        ("invoice", "retrying"): (1, 500),
    }
    totals = {(t["kind"], t["currency"]): t for t in body["totals"]}
    assert set(totals) == {("sales_order", "EUR"), ("invoice", "EUR")}
    assert (totals["sales_order", "EUR"]["count"], totals["sales_order", "EUR"]["amount"]) == (4, 2200)
    assert totals["sales_order", "EUR"]["posted_amount"] == 1200
    assert (totals["invoice", "EUR"]["count"], totals["invoice", "EUR"]["amount"]) == (8, 5600)
    empty = await http.get("/v1/erp-postings/summary", params={"date": "2020-01-01"}, headers=FINANCE)
    assert empty.json()["groups"] == [] and empty.json()["totals"] == []


async def test_no_summary_total_adds_different_kinds(http: httpx.AsyncClient, store: Store) -> None:
    """A sales order and its invoice are the same money at two stages: a total across them counts it twice."""
    with store.writing() as session:
        repo = PostingRepository(session)
        for kind, ref in (("sales_order", "O-9:sales-order"), ("invoice", "O-9:invoice:S1"),
                          ("credit_memo", "O-9:credit-memo:S1")):
            draft = PostingDraft(kind=kind, reference=ref, order_id="O-9", amount=116052, currency="EUR")
            repo.posted(draft, f"DOC-{kind}", T0, 1, T0)
    body = (await http.get("/v1/erp-postings/summary", params={"date": "2025-03-01"}, headers=FINANCE)).json()
    assert sorted(t["kind"] for t in body["totals"]) == ["credit_memo", "invoice", "sales_order"]
    for total in body["totals"]:
        same_kind = [g for g in body["groups"] if (g["kind"], g["currency"]) == (total["kind"], total["currency"])]
        assert total["amount"] == sum(g["amount"] for g in same_kind) == 116052
        assert total["count"] == 1
    described = (await http.get("/openapi.json")).json()["components"]["schemas"]["KindTotal"]
    assert "never" in described["description"] and described["properties"]["amount"]["description"]


CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""As the README documents it, in UTC."""
CURRENCIES = [("EUR", 116052, "1160.52"), ("JPY", 116052, "116052"), ("KWD", 1160525, "1160.525")]


def seed_currencies(store: Store) -> None:
    """One posted invoice per currency of CURRENCIES, the n-th created at 09:0n:00.46 and posted 5 s later."""
    with store.writing() as session:
        repo = PostingRepository(session)
        for n, (currency, minor, _) in enumerate(CURRENCIES):
            draft = PostingDraft(kind="invoice", reference=f"C-{n}:invoice:S1", order_id=f"C-{n}",
                                 amount=minor, currency=currency, shipment_id="S1")
            repo.attempt_started(draft, T0 + timedelta(minutes=n, microseconds=460199))
            repo.posted(draft, f"DOC-{n}", T0 + timedelta(minutes=n, seconds=5), 1, T0 + timedelta(minutes=n))


async def test_csv_cells_read_as_typed_values(http: httpx.AsyncClient, store: Store) -> None:
    """What a spreadsheet needs: a decimal amount in the major unit beside its currency, the minor units
    under their own name, and UTC timestamps in a form spreadsheets parse as dates."""
    seed_currencies(store)
    r = await http.get("/v1/erp-postings", headers={**FINANCE, "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(CURRENCIES)
    header = list(rows[0])
    assert header.index("currency") == header.index("amount") + 1
    for n, (row, (currency, minor, shown)) in enumerate(zip(rows, CURRENCIES, strict=True)):
        exponent = CURRENCY_EXPONENT[currency]
        assert (row["currency"], row["amount"]) == (currency, shown)
        assert Decimal(row["amount"]) * 10**exponent == int(row["amount_minor"]) == minor
        assert re.fullmatch(r"\d+" + (rf"\.\d{{{exponent}}}" if exponent else ""), row["amount"])
        created = datetime.strptime(row["created_at_utc"], CSV_TIME_FORMAT)
        posted = datetime.strptime(row["posted_at_utc"], CSV_TIME_FORMAT)
        assert created == datetime(2025, 3, 1, 9, n)
        assert posted - created == timedelta(seconds=5)
        assert row["next_attempt_at_utc"] == "" and row["cancelled_at_utc"] == ""
    assert not [name for name in header if name.endswith("_at")]  # every time column says it is UTC


async def test_a_cancelled_posting_carries_when_in_json_and_csv(http: httpx.AsyncClient, store: Store) -> None:
    booked = PostingDraft(kind="sales_order", reference="X-1:sales-order", order_id="X-1", amount=2500,
                          currency="EUR")
    never = PostingDraft(kind="sales_order", reference="X-2:sales-order", order_id="X-2", amount=900,
                         currency="EUR")
    with store.writing() as session:
        repo = PostingRepository(session)
        repo.posted(booked, "SO-1", T0, 1, T0)
        repo.attempt_started(never, T0)
        assert repo.cancelled("sales_order", booked.reference, T0 + timedelta(minutes=5))
        assert repo.cancelled("sales_order", never.reference, T0 + timedelta(minutes=6))
    items = (await http.get("/v1/erp-postings", headers=FINANCE)).json()["items"]
    assert [(i["status"], i["cancelled_at"], i["erp_document_number"]) for i in items] == [
        ("cancelled", "2025-03-01T09:05:00Z", "SO-1"),
        ("cancelled", "2025-03-01T09:06:00Z", None),
    ]
    rows = list(csv.DictReader(io.StringIO(
        (await http.get("/v1/erp-postings", headers={**FINANCE, "Accept": "text/csv"})).text)))
    assert [(r["status"], r["cancelled_at_utc"]) for r in rows] == [
        ("cancelled", "2025-03-01 09:05:00"), ("cancelled", "2025-03-01 09:06:00")]
    summary = (await http.get("/v1/erp-postings/summary", params={"date": "2025-03-01"}, headers=FINANCE)).json()
    [total] = summary["totals"]
    assert (total["count"], total["amount"], total["cancelled_count"], total["cancelled_amount"]) == (0, 0, 2, 3400)


async def test_a_posting_of_an_order_cancelled_later_says_so(http: httpx.AsyncClient, store: Store) -> None:
    """An order closed by support after dispatch keeps its sales order in the ERP (the goods left): the
    row stays posted, and says when its order was cancelled."""
    draft = PostingDraft(kind="sales_order", reference="Y-1:sales-order", order_id="Y-1", amount=4200,
                         currency="EUR")
    other = PostingDraft(kind="sales_order", reference="Y-2:sales-order", order_id="Y-2", amount=100,
                         currency="EUR")
    closed = T0 + timedelta(hours=2)
    with store.writing() as session:
        PostingRepository(session).posted(draft, "SO-7", T0, 1, T0)
        PostingRepository(session).posted(other, "SO-8", T0, 1, T0)
        WebhookRepository(session).record_events([
            BusinessEvent(type="order.cancelled", id="evt-y1", occurred_at=closed, order_id="Y-1",
                          correlation_id="c", data={"reason": "refund_and_close"}),
            BusinessEvent(type="order.completed", id="evt-y2", occurred_at=closed, order_id="Y-2",
                          correlation_id="c", data={}),
        ], closed)
    items = (await http.get("/v1/erp-postings", headers=FINANCE)).json()["items"]
    assert [(i["order_id"], i["status"], i["order_cancelled_at"]) for i in items] == [
        ("Y-1", "posted", "2025-03-01T11:00:00Z"), ("Y-2", "posted", None)]
    rows = list(csv.DictReader(io.StringIO(
        (await http.get("/v1/erp-postings", headers={**FINANCE, "Accept": "text/csv"})).text)))
    assert [r["order_cancelled_at_utc"] for r in rows] == ["2025-03-01 11:00:00", ""]


def seed_run(store: Store, run_id: str, started: datetime, findings: list[Finding]) -> None:
    with store.writing() as session:
        repo = ReconciliationRepository(session)
        repo.start_run(
            run_id,
            trigger="manual",
            period=Period(start=started - timedelta(days=1), end=started),
            stuck_after_s=60,
            at=started,
        )
        repo.add_findings(run_id, findings, started)
        repo.finish_run(
            run_id, status="completed", orders_checked=7, error=None, at=started + timedelta(seconds=2)
        )


async def test_runs_list_and_detail_from_the_store(http: httpx.AsyncClient, store: Store) -> None:
    finding = Finding(
        type=FindingType.AMOUNT_MISMATCH,
        order_id="O-1",
        reference="O-1:invoice:S1",
        currency="EUR",
        provider_amount=1000,
        erp_amount=900,
        store_amount=1000,
        detail="capture 1000 vs ERP 900",
    )
    for n in range(3):
        seed_run(store, f"run-{n}", T0 + timedelta(hours=n), [finding] if n == 1 else [])
    page = await http.get("/v1/reconciliation/runs", params={"limit": 2}, headers=FINANCE)
    assert [run["run_id"] for run in page.json()["items"]] == ["run-2", "run-1"]
    rest = await http.get(
        "/v1/reconciliation/runs", params={"cursor": page.json()["next_cursor"]}, headers=FINANCE
    )
    assert [run["run_id"] for run in rest.json()["items"]] == ["run-0"] and rest.json()["next_cursor"] is None

    detail = (await http.get("/v1/reconciliation/runs/run-1", headers=FINANCE)).json()
    assert (detail["status"], detail["orders_checked"], detail["findings_count"], detail["counts"]) == (
        "completed",
        7,
        1,
        {"amount_mismatch": 1},
    )
    assert detail["period_start"] == "2025-02-28T10:00:00Z" and detail["period_end"] == "2025-03-01T10:00:00Z"
    [f] = detail["findings"]
    assert (f["type"], f["order_id"], f["provider_amount"], f["erp_amount"], f["store_amount"]) == (
        "amount_mismatch",
        "O-1",
        1000,
        900,
        1000,
    )
    assert f["suggested_action"]
    only = await http.get(
        "/v1/reconciliation/runs/run-1", params={"type": "duplicate_erp_document"}, headers=FINANCE
    )
    assert only.json()["findings"] == []


class FakeHandle:
    async def describe(self) -> Any:
        raise not_found()


class FakeClient:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def start_workflow(self, workflow: Any, arg: Any, **kwargs: Any) -> Any:
        self.started.append({"arg": arg, **kwargs})
        return SimpleNamespace(id=kwargs["id"])

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle()


async def test_post_starts_a_reconciliation_workflow(
    make_http: Callable[..., httpx.AsyncClient], store: Store, settings: Settings
) -> None:
    client = FakeClient()
    async with make_http(client) as http:
        r = await http.post(
            "/v1/reconciliation/runs",
            headers=FINANCE,
            json={
                "period_start": "2025-03-01T00:00:00Z",
                "period_end": "2025-03-02T00:00:00+00:00",
                "stuck_after_s": 5,
            },
        )
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "running" and body["trigger"] == "manual"
        assert (
            body["period_start"] == "2025-03-01T00:00:00Z" and r.headers["location"] == body["links"]["self"]
        )
        [started] = client.started
        assert started["id"] == body["run_id"] and started["task_queue"] == settings.task_queue
        assert (
            started["arg"].period.end == datetime(2025, 3, 2, tzinfo=UTC)
            and started["arg"].stuck_after_s == 5
        )

        default = await http.post("/v1/reconciliation/runs", headers=FINANCE)
        assert default.status_code == 202
        period = client.started[1]["arg"].period
        assert period.end - period.start == timedelta(seconds=settings.reconciliation_interval_s)

        assert_problem(
            await http.get("/v1/reconciliation/runs/reconciliation-nope", headers=FINANCE), 404, "not-found"
        )


async def test_an_unreachable_store_is_a_503_and_not_ready(
    make_http: Callable[..., httpx.AsyncClient], settings: Settings
) -> None:
    class Healthy:
        async def check_health(self, **_: object) -> bool:
            return True

    down = settings.model_copy(update={"database_url": "postgresql+psycopg://o2c@127.0.0.1:1/nowhere"})
    async with make_http(SimpleNamespace(service_client=Healthy()), down) as http:
        assert_problem(await http.get("/readyz"), 503, "database-unavailable")
        r = await http.get("/v1/erp-postings", headers=FINANCE)
        assert_problem(r, 503, "database-unavailable")
        assert r.headers["retry-after"] == "2"


# ---- starting runs: a scope of its own, a capped period, one run per period (issue 10) ----------------

READ_ONLY = {"Authorization": "Bearer finance-read-only-key"}
PERIOD = {"period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-02T00:00:00Z"}


class StartOnce(FakeClient):
    """Temporal's answer to a second start of the same workflow id (running or closed)."""

    async def start_workflow(self, workflow: Any, arg: Any, **kwargs: Any) -> Any:
        from temporalio.exceptions import WorkflowAlreadyStartedError

        if any(s["id"] == kwargs["id"] for s in self.started):
            raise WorkflowAlreadyStartedError(kwargs["id"], "ReconciliationWorkflow")
        return await super().start_workflow(workflow, arg, **kwargs)

    def get_workflow_handle(self, workflow_id: str) -> Any:
        from temporalio.client import WorkflowExecutionStatus

        [started] = [s for s in self.started if s["id"] == workflow_id] or [None]
        if started is None:
            return FakeHandle()

        async def memo() -> dict[str, Any]:
            return dict(started["memo"])

        description = SimpleNamespace(workflow_type="ReconciliationWorkflow", status=WorkflowExecutionStatus.RUNNING,
                                      start_time=T0, memo=memo)

        async def describe() -> Any:
            return description

        return SimpleNamespace(describe=describe)


async def test_finance_read_alone_cannot_start_a_run(make_http: Callable[..., httpx.AsyncClient], store: Store,
                                                     settings: Settings) -> None:
    keys = {**settings.api_keys, "finance-read-only-key": ["finance:read"]}
    async with make_http(NoTemporal(), settings.model_copy(update={"api_keys": keys})) as http:
        body = assert_problem(await http.post("/v1/reconciliation/runs", headers=READ_ONLY, json=PERIOD), 403,
                              "forbidden")
        assert body["required_scopes"] == ["finance:reconcile"]
        assert (await http.get("/v1/reconciliation/runs", headers=READ_ONLY)).status_code == 200


async def test_the_period_is_capped(make_http: Callable[..., httpx.AsyncClient], store: Store,
                                    settings: Settings) -> None:
    async with make_http(NoTemporal()) as http:
        year = {"period_start": "2024-03-01T00:00:00Z", "period_end": "2025-03-01T00:00:00Z"}
        problem = assert_problem(await http.post("/v1/reconciliation/runs", headers=FINANCE, json=year), 422,
                                 "validation-error")
        [error] = problem["errors"]
        assert error["loc"] == ["body", "period_start"] and "31 days" in error["msg"]
    tight = settings.model_copy(update={"reconciliation_max_period_s": 3600.0})
    async with make_http(NoTemporal(), tight) as http:
        assert_problem(await http.post("/v1/reconciliation/runs", headers=FINANCE, json=PERIOD), 422,
                       "validation-error")


async def test_one_run_per_period(make_http: Callable[..., httpx.AsyncClient], store: Store) -> None:
    client = StartOnce()
    async with make_http(client) as http:
        first = await http.post("/v1/reconciliation/runs", headers=FINANCE, json=PERIOD)
        again = await http.post("/v1/reconciliation/runs", headers=FINANCE, json={**PERIOD, "stuck_after_s": 60})
        assert (first.status_code, again.status_code) == (202, 200), again.text
        assert again.json()["run_id"] == first.json()["run_id"]
        assert len(client.started) == 1
        # Recorded in the store by now (the run's first activity): the store answers.
        with store.writing() as session:
            ReconciliationRepository(session).start_run(
                first.json()["run_id"], trigger="manual",
                period=Period(start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 3, 2, tzinfo=UTC)),
                stuck_after_s=5, at=T0)
        third = await http.post("/v1/reconciliation/runs", headers=FINANCE, json=PERIOD)
        assert third.status_code == 200 and third.json()["run_id"] == first.json()["run_id"]
        assert len(client.started) == 1


async def test_the_default_period_ends_on_a_whole_minute(make_http: Callable[..., httpx.AsyncClient],
                                                         store: Store) -> None:
    """So that a client repeating a bare POST within the minute reaches the same run."""
    client = StartOnce()
    async with make_http(client) as http:
        assert (await http.post("/v1/reconciliation/runs", headers=FINANCE)).status_code == 202
    period = client.started[0]["arg"].period
    assert (period.end.second, period.end.microsecond) == (0, 0)


# ---- the CSV in LibreOffice (Debian libreoffice-calc-nogui), headless ------------------------------

SOFFICE = shutil.which("soffice")
CSV_IMPORT = "CSV:44,34,76,1,,1033,false,true"
"""What Calc's text import dialog does by default: comma, double quotes, UTF-8, from line 1, English
(USA), quoted fields not forced to text, special numbers (dates) detected."""
ODF = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
       "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0"}


def spreadsheet_cells(ods: Path) -> list[list[tuple[str | None, str]]]:
    """Each row's cells as (value type, value) as Calc stored them: ('float', '1160.52'), ('date', …)."""
    with zipfile.ZipFile(ods) as archive:
        root = ElementTree.fromstring(archive.read("content.xml"))
    table, office = (f"{{{ODF[prefix]}}}" for prefix in ("table", "office"))
    rows = []
    for row in root.iter(f"{table}table-row"):
        cells: list[tuple[str | None, str]] = []
        for c in row.findall("table:table-cell", ODF):
            value = c.get(f"{office}value") or c.get(f"{office}date-value") or "".join(c.itertext())
            # Calc writes a run of like cells (empty ones too) once, with a repeat count.
            cells += [(c.get(f"{office}value-type"), value)] * int(c.get(f"{table}number-columns-repeated", "1"))
        rows.append(cells)
    return rows


@pytest.mark.skipif(SOFFICE is None and os.environ.get("O2C_REQUIRE_LIBREOFFICE") != "1",
                    reason="LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
async def test_libreoffice_reads_amounts_as_numbers_and_times_as_dates(
    http: httpx.AsyncClient, store: Store, tmp_path: Path
) -> None:
    assert SOFFICE, "O2C_REQUIRE_LIBREOFFICE=1 but soffice is missing: apt-get install libreoffice-calc-nogui"
    seed_currencies(store)
    export = tmp_path / "erp-postings.csv"
    export.write_bytes((await http.get("/v1/erp-postings", headers={**FINANCE, "Accept": "text/csv"})).content)
    command = [SOFFICE, "--headless", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
               f"--infilter={CSV_IMPORT}", "--convert-to", "ods", "--outdir", str(tmp_path), str(export)]
    await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True, timeout=180)
    header, *rows = spreadsheet_cells(tmp_path / "erp-postings.ods")
    column = {name: n for n, (_, name) in enumerate(header)}
    assert len(rows) == len(CURRENCIES)
    for n, (row, (currency, minor, shown)) in enumerate(zip(rows, CURRENCIES, strict=True)):
        assert row[column["amount"]] == ("float", shown) and row[column["currency"]] == ("string", currency)
        assert row[column["amount_minor"]] == ("float", str(minor))
        assert row[column["created_at_utc"]] == ("date", f"2025-03-01T09:0{n}:00")
        assert row[column["posted_at_utc"]] == ("date", f"2025-03-01T09:0{n}:05")
