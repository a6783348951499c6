"""Reading a vendor's list endpoint to the end, Stripe style: `limit`, `starting_after` the last
item's id, until `has_more` is false. The payment provider and the ERP page this way."""

from typing import Any

from activities.vendor_http import call, contract_violation

PAGE_SIZE = 100
MAX_PAGES = 10_000
"""A guard against a vendor that always says has_more: 1,000,000 items is no sane reconciliation."""


async def read_all(
    vendor: str, path: str, params: dict[str, str], *, id_field: str, correlation_id: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        page_params = {**params, "limit": str(PAGE_SIZE), **({"starting_after": after} if after else {})}
        body = await call(vendor, "GET", path, params=page_params, correlation_id=correlation_id)
        data = body.get("data")
        if not isinstance(data, list) or not all(
            isinstance(item, dict) and id_field in item for item in data
        ):
            raise contract_violation(vendor, f"{path}: a list page without data[].{id_field}")
        items.extend(data)
        if not body.get("has_more") or not data:
            return items
        after = str(data[-1][id_field])
    raise contract_violation(vendor, f"{path}: more than {MAX_PAGES} pages")
