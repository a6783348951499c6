"""What support and on-call see, in a real (headless) browser: the local stack's Temporal Web UI decodes an
order's encrypted payloads through the API's codec endpoint, and the API's /ops page shows vendor health,
the exception worklist and the ERP backlog.

Debian's chromium, driven by Playwright; Playwright's own browser builds are never downloaded. Without
chromium the test is skipped, unless O2C_REQUIRE_BROWSER=1 (CI) makes that a failure.

It also pins down how the UI reaches the codec: from the browser, cross-origin, with the UI's Origin,
`X-Namespace` and no Authorization header (the UI has no o2c API key to send). That is why the local
stack runs the API with the dev-only O2C_CODEC_DEV_TRUST_UI_ORIGIN.

The screenshots for the README are refreshed in docs/ when it is missing or O2C_UPDATE_SCREENSHOTS=1;
otherwise it goes to the test's temporary directory, so a test run leaves the work tree clean.
"""

import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from e2e_support import TEST_ENV, Stack, order

from deploy.stack import LocalStack
from runtime.settings import Settings

pytestmark = [pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
VIEWPORT = {"width": 1280, "height": 860}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# CI (O2C_REQUIRE_BROWSER=1) must fail, not skip, when the browser or its driver is missing.
if os.environ.get("O2C_REQUIRE_BROWSER") == "1":
    import playwright.async_api as playwright_api

    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        raise RuntimeError(f"O2C_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install chromium")
else:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack as `o2c run` starts it: the UI's codec endpoint is our API, which trusts the UI origin."""
    with LocalStack.on_free_ports(
        tmp_path_factory.mktemp("ui-stack"), Settings(), env=TEST_ENV, ui_codec=True
    ) as s:
        yield s


@pytest.fixture(scope="module")
async def ui_clients(ui_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(ui_stack.api_url, ui_stack.sandbox_url) as clients:
        yield clients


@asynccontextmanager
async def chromium_page(profile: Path, **context_options: Any) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),  # a fresh profile: no cached UI settings
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            **context_options,
        )
        try:
            yield await context.new_page()
        finally:
            await context.close()


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[Any]:
    async with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """docs/NAME when missing or O2C_UPDATE_SCREENSHOTS=1, else the test's temporary directory."""
    docs = DOCS / name
    shot = docs if (not docs.exists() or os.environ.get("O2C_UPDATE_SCREENSHOTS") == "1") else tmp_path / name
    shot.parent.mkdir(parents=True, exist_ok=True)
    return shot


async def test_support_filters_by_status_opens_the_order_and_sees_the_customer_decoded(
    ui_stack: LocalStack, ui_clients: Stack, browser_page: Any, tmp_path: Path
) -> None:
    attention = order([("HOLD-UI", 2, 1250)], token="tok_reauth_decline")
    declined = order(token="tok_decline")
    assert (await ui_clients.place(attention)).status_code == 201
    assert (await ui_clients.place(declined)).status_code == 402
    await ui_clients.wait_ledger(attention["order_id"], "fulfillment.request")
    await ui_clients.wait_authorization_expired(attention["order_id"])
    await ui_clients.release_hold(attention["order_id"])
    await ui_clients.wait_status(attention["order_id"], "needs_attention")

    page = browser_page
    codec_calls: list[dict[str, Any]] = []

    async def record(request: Any) -> None:
        if "/codec/" in request.url:
            response = await request.response()
            codec_calls.append(
                {
                    "url": request.url,
                    "headers": await request.all_headers(),
                    "status": response and response.status,
                }
            )

    page.on("requestfinished", record)

    query = quote('OrderStatus="needs_attention"')
    workflows = f"{ui_stack.temporal_ui_url}/namespaces/{ui_stack.settings.temporal_namespace}/workflows"
    link = page.get_by_role("link", name=f"order-{attention['order_id']}")
    # Visibility is eventually consistent: reload until the order is listed. The UI renders in seconds on a
    # busy machine (the suite runs in two processes), so each look waits 10 s.
    deadline = time.monotonic() + 60
    while True:
        await page.goto(f"{workflows}?query={query}")
        try:
            await link.wait_for(timeout=10_000)
            break
        except playwright_api.TimeoutError:
            if time.monotonic() > deadline:
                raise
    assert await page.get_by_role("link", name=f"order-{declined['order_id']}").count() == 0

    await link.click()
    await playwright_api.expect(page.get_by_text("Ana Lima").first).to_be_visible(timeout=20000)
    await page.wait_for_timeout(500)  # let the remaining payload panels settle for the screenshot
    await page.screenshot(path=str(screenshot_path("temporal-ui-order.png", tmp_path)))

    # How the UI reached the codec: from the browser, cross-origin, with its Origin and no key.
    assert codec_calls, "the UI never called the codec endpoint"
    ui_origin = ui_stack.temporal_ui_url
    for call in codec_calls:
        assert call["url"].startswith(f"{ui_stack.api_url}/codec/decode")
        assert call["status"] == 200
        assert call["headers"].get("origin") == ui_origin
        assert call["headers"].get("x-namespace") == ui_stack.settings.temporal_namespace
        assert "authorization" not in call["headers"]


async def _on_first_screen(page: Any, text: str, timeout: float = 30) -> None:
    """`text` is shown without scrolling. The UI renders each details box as Markdown in its own frame."""
    deadline = time.monotonic() + timeout
    while True:
        for frame in page.frames:
            found = frame.get_by_text(text)
            try:
                box = await found.first.bounding_box(timeout=500) if await found.count() else None
            except playwright_api.Error:  # the frame was redrawn (decoded payloads arriving): look again
                continue
            if box is not None:
                assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], (text, box)
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} is not on the order's page")
        await page.wait_for_timeout(300)


async def test_a_parked_order_opens_on_its_status_reason_money_at_risk_and_next_action(
    ui_stack: LocalStack, ui_clients: Stack, browser_page: Any, tmp_path: Path
) -> None:
    parked = await ui_clients.place_parked("HOLD-MD", 4200)
    order_id = parked["order_id"]
    link = (await ui_clients.get(order_id))["links"]["temporal_ui"]
    workflows = f"{ui_stack.temporal_ui_url}/namespaces/{ui_stack.settings.temporal_namespace}/workflows"
    assert re.fullmatch(re.escape(f"{workflows}/order-{order_id}/") + r"[0-9a-f-]+/user-metadata", link), link

    page = browser_page
    await page.goto(link)
    await _on_first_screen(page, "Status: needs_attention")
    await _on_first_screen(page, "capture_failed")  # the reason code
    await _on_first_screen(page, "re-authorization failed")  # the reason in words
    await _on_first_screen(page, "Money at risk: EUR 42.00")
    await _on_first_screen(page, f"POST /v1/orders/{order_id}/resolve")
    await _on_first_screen(page, "orders:support")
    await page.wait_for_timeout(500)  # let the other boxes settle for the screenshot
    await page.screenshot(path=str(screenshot_path("temporal-ui-parked-order.png", tmp_path)))


OPS_KEY = "ops-dev-key"


async def test_ops_page_shows_vendors_worklist_and_erp_backlog(
    ui_stack: LocalStack, ui_clients: Stack, tmp_path: Path
) -> None:
    attention = await ui_clients.place_parked("HOLD-OPS", 4200)

    # The ERP's posting window closed: the next order's sales order waits in the backlog, retrying.
    await ui_clients.sandbox.put("/_sandbox/erp/posting-window", json={"open": False})
    try:
        waiting = order([("SKU-OPS", 2, 1500)])
        assert (await ui_clients.place(waiting)).status_code == 201
        await ui_clients.wait_posting(waiting["order_id"], "sales_order", "retrying")

        unauthenticated = await ui_clients.api.get("/ops")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["www-authenticate"].startswith("Basic ")

        credentials = {"username": "on-call", "password": OPS_KEY}
        async with chromium_page(tmp_path / "ops-profile", http_credentials=credentials) as page:
            response = await page.goto(f"{ui_stack.api_url}/ops")
            assert response is not None and response.status == 200
            refresh = await page.locator('meta[http-equiv="refresh"]').get_attribute("content")
            assert refresh is not None and int(refresh) > 0
            for vendor in ("loyalty", "payments", "inventory", "fulfillment", "erp", "marketing"):
                await playwright_api.expect(page.locator(f'[data-vendor="{vendor}"]')).to_have_count(1)
            row = page.locator("tr", has_text=attention["order_id"])
            await playwright_api.expect(row).to_contain_text("capture_failed")
            await playwright_api.expect(row).to_contain_text("EUR 42.00")
            # Straight to the run's details (status, reason, money at risk, next action), not its timeline.
            order_page = f"{ui_stack.temporal_ui_url}/namespaces/default/workflows/order-{attention['order_id']}/"
            await playwright_api.expect(row.get_by_role("link", name="open in Temporal")).to_have_attribute(
                "href", re.compile(re.escape(order_page) + r"[0-9a-f-]+/user-metadata$"))
            backlog = page.locator("tr", has_text=waiting["order_id"])
            await playwright_api.expect(backlog).to_contain_text("retrying")
            await page.screenshot(path=str(screenshot_path("ops-page.png", tmp_path)), full_page=True)
    finally:
        await ui_clients.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
