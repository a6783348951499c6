"""What the demo prints after its table: the dev keys, and three things to try next (README "The two
commands"). Every line fits in 100 columns; long commands are continued with a backslash."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from runtime.api_keys import DEV_KEY_VALUES, ApiKey

NEEDS_ATTENTION_QUERY = 'OrderStatus="needs_attention"'


def worklist_url(temporal_ui_url: str, namespace: str) -> str:
    """The Temporal UI's list of orders waiting for support."""
    return f"{temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows?query={quote(NEEDS_ATTENTION_QUERY)}"


def dev_keys(api_keys: Mapping[str, ApiKey]) -> list[str]:
    """The configured development keys as a small table; keys set through O2C_API_KEYS are never printed."""
    shown = [(name, entry.key.get_secret_value(), " ".join(entry.scopes)) for name, entry in api_keys.items()
             if entry.key.get_secret_value() in DEV_KEY_VALUES]
    if not shown:
        return ["API keys: the ones O2C_API_KEYS sets (not shown)"]
    name_w, key_w = (max(len(row[i]) for row in shown) for i in (0, 1))
    return ["Dev API keys (Authorization: Bearer <key>; name = who acted, in histories and logs):",
            *(f"  {name.ljust(name_w)}  {key.ljust(key_w)}  {scopes}" for name, key, scopes in shown)]


def next_steps(api_url: str, temporal_ui_url: str | None, namespace: str, parked_order_id: str | None) -> list[str]:
    api = api_url.rstrip("/")
    lines = ["Next steps:"]
    if temporal_ui_url:
        lines += ["  1. Orders waiting for support, in the Temporal UI:",
                  f"       {worklist_url(temporal_ui_url, namespace)}"]
    if parked_order_id:
        lines += ["  2. Resolve the parked order as support (or \"retry\", \"refund_and_close\"):",
                  "       curl -X POST -H 'Authorization: Bearer support-dev-key' \\",
                  "         -H 'Content-Type: application/json' \\",
                  "         -d '{\"action\": \"mark_resolved\", \"note\": \"customer paid by bank transfer\"}' \\",
                  f"         {api}/v1/orders/{parked_order_id}/resolve"]
    lines += ["  3. Finance's ERP postings as a spreadsheet:",
              "       curl -H 'Authorization: Bearer finance-dev-key' -H 'Accept: text/csv' \\",
              f"         {api}/v1/erp-postings > erp-postings.csv"]
    return lines
