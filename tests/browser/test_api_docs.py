"""The API's /docs (Swagger UI) and /redoc render their operations on a machine without internet (issue 14):
Debian's chromium opens them with every request to a host other than the API's aborted, and finds the
operations on the page; FastAPI's default pages, which load Swagger UI and ReDoc from a CDN, stay blank
here.

The API runs in this process (uvicorn on a free port); the pages need no Temporal and no vendor.
"""

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from api.app import create_app
from deploy.stack import free_ports
from runtime.settings import Settings

CHROMIUM = "/usr/bin/chromium"
ORDER_SUMMARY = "Start an order and get the accept decision"

if os.environ.get("O2C_REQUIRE_BROWSER") == "1":
    import playwright.async_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


class NoTemporal:
    """The docs pages never reach Temporal; anything that tries fails loudly."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal was used: client.{name}")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("docs-api")
    app = create_app(Settings(database_url=f"sqlite:///{data}/o2c.db"), client=NoTemporal())
    port = free_ports(1)[0]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the API did not start")
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _offline_page(profile: Path, url: str, ready: str) -> tuple[str, list[str]]:
    """The page's text once `ready` (a selector) shows, and the outside URLs it tried (all aborted), images
    aside: ReDoc's "API docs by Redocly" badge comes from its CDN, and a missing badge hides nothing."""
    outside: list[str] = []

    async def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            if route.request.resource_type != "image":
                outside.append(route.request.url)
            await route.abort("internetdisconnected")

    async with playwright_api.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        try:
            await context.route("**/*", only_local)
            page = await context.new_page()
            await page.goto(url)
            await page.wait_for_selector(ready, timeout=30_000)
            return await page.inner_text("body"), outside
        finally:
            await context.close()


async def test_swagger_ui_renders_every_operation_offline(api_url: str, tmp_path: Path) -> None:
    text, outside = await _offline_page(tmp_path / "profile", f"{api_url}/docs", ".opblock-summary")
    assert ORDER_SUMMARY in text
    for operation_id in ("create_order", "get_order", "export_erp_postings", "start_reconciliation_run"):
        assert operation_id in text, operation_id  # displayOperationId: shown beside each summary
    assert outside == [], f"the page asked for outside files: {outside}"


async def test_redoc_renders_the_operations_offline(api_url: str, tmp_path: Path) -> None:
    text, outside = await _offline_page(tmp_path / "profile", f"{api_url}/redoc", "h2")
    assert ORDER_SUMMARY in text
    assert "payment-declined" in text  # the ProblemType enum's values are listed
    assert outside == [], f"the page asked for outside files: {outside}"


def test_the_pages_name_no_outside_host(api_url: str) -> None:
    for path in ("/docs", "/redoc"):
        html = httpx.get(f"{api_url}{path}", timeout=10).text
        assert "https://" not in html, html
