"""`o2c certify ROLE --adapter NAME --base-url URL`: a vendor role's contract suite against a live endpoint (the
sandbox, a partner's sandbox, Stripe test mode), with a table on stdout, a JSON report and a Markdown
certificate. Exits 1 when any check fails. The suites are activities/certification/."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from activities.certification.payments import TestCards
from activities.certification.runner import Target, certify, suite_roles
from canonical.contract_checks import ContractCheckResult
from runtime.logging import configure_logging
from runtime.settings import Settings

REPORT_DIR = Path(".data/certification")

# (flag, Settings field, secret, help): credentials an adapter may need; unset flags keep the O2C_* settings.
CREDENTIALS: tuple[tuple[str, str, bool, str], ...] = (
    ("--api-key", "payments_api_key", True, "payments: the Stripe secret key (default O2C_PAYMENTS_API_KEY)"),
    ("--project-token", "marketing_project_token", False, "marketing: Bloomreach project token"),
    ("--api-key-id", "marketing_api_key_id", False, "marketing: Bloomreach API key id"),
    ("--api-secret", "marketing_api_secret", True, "marketing: Bloomreach API secret"),
)


def add_certify_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "certify", help="run a vendor role's contract suite against a live endpoint; exit 1 on any failure",
        description="Build the role's adapter as the worker would (activities/vendors.py), point it at a local "
        "fault-injecting proxy in front of BASE_URL, and check every operation's happy path, idempotency, the "
        "mapping of business rejections, the error shape, Retry-After handling and timeouts.")
    parser.add_argument("role", choices=suite_roles())
    parser.add_argument("--adapter", required=True, help="the adapter to certify, e.g. sandbox or stripe")
    parser.add_argument("--base-url", required=True, help="the vendor's API base, e.g. http://127.0.0.1:8100/stripe")
    for flag, field, _, what in CREDENTIALS:
        parser.add_argument(flag, dest=field, help=what)
    parser.add_argument("--vendor-timeout", type=float, help="seconds before a vendor call times out "
                        "(default O2C_VENDOR_TIMEOUT_S); the timeout check waits this long once")
    parser.add_argument("--non-mutating", action="store_true",
                        help="only the checks that leave nothing at the vendor (for a live account)")
    parser.add_argument("--card-approved", default=TestCards.approved, help="payment method approved")
    parser.add_argument("--card-declined", default=TestCards.declined, help="payment method declined")
    parser.add_argument("--card-insufficient-funds", default=TestCards.insufficient_funds,
                        help="payment method declined for insufficient funds")
    parser.add_argument("--json", type=Path, help=f"JSON report (default {REPORT_DIR}/<role>-<adapter>-<run>.json)")
    parser.add_argument("--certificate", type=Path, help="Markdown certificate (default beside the JSON report)")
    parser.set_defaults(handler=run_certify)


def _target(args: argparse.Namespace) -> Target:
    overrides: dict[str, Any] = {field: SecretStr(value) if secret else value
                                 for _, field, secret, _ in CREDENTIALS
                                 if (value := getattr(args, field)) is not None}
    if args.vendor_timeout is not None:
        overrides["vendor_timeout_s"] = args.vendor_timeout
    settings = Settings().model_copy(update=overrides)
    cards = TestCards(args.card_approved, args.card_declined, args.card_insufficient_funds)
    return Target(role=args.role, adapter=args.adapter, base_url=args.base_url.rstrip("/"), settings=settings,
                  mode="non_mutating" if args.non_mutating else "full", cards=cards)


def run_certify(args: argparse.Namespace) -> int:
    # The suite provokes vendor errors on purpose: the findings say what matters, not the client's warnings.
    configure_logging("ERROR")
    result = asyncio.run(certify(_target(args)))
    json_path = args.json or REPORT_DIR / f"{result.role}-{result.adapter}-{result.run_id}.json"
    certificate_path = args.certificate or json_path.with_suffix(".md")
    version = o2c_version()
    for path, text in ((json_path, report_json(result, version)), (certificate_path, certificate(result, version))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(table(result))
    print(f"\nJSON report: {json_path}\ncertificate: {certificate_path}")
    return 0 if result.passed else 1


def o2c_version() -> str:
    return importlib.metadata.version("o2c")


def table(result: ContractCheckResult) -> str:
    width = max(len(f.check) for f in result.findings) if result.findings else 5
    lines = [f"{'check'.ljust(width)}  result  seconds  reason"]
    lines += [f"{f.check.ljust(width)}  {'PASS' if f.passed else 'FAIL':6}  {f.seconds:7.2f}  {f.reason}"
              for f in result.findings]
    verdict = "PASSED" if result.passed else f"FAILED ({len(result.failures)} of {len(result.findings)} checks)"
    lines.append(f"\n{result.role} / {result.adapter} at {result.base_url}: {verdict}")
    return "\n".join(lines)


def report_json(result: ContractCheckResult, version: str) -> str:
    return json.dumps({"o2c_version": version, **result.model_dump(mode="json")}, indent=2) + "\n"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def certificate(result: ContractCheckResult, version: str) -> str:
    verdict = "**PASSED**" if result.passed else f"**FAILED** ({len(result.failures)} of {len(result.findings)} checks)"
    rows = "\n".join(f"| `{f.check}` | {'pass' if f.passed else '**FAIL**'} | {f.reason.replace('|', '/')} |"
                     for f in result.findings)
    return f"""# o2c certification: {result.role} / {result.adapter}

{verdict}

| | |
|---|---|
| role | {result.role} |
| adapter | {result.adapter} |
| endpoint | {result.base_url} |
| mode | {result.mode} |
| run | `{result.run_id}` |
| started | {_when(result.started_at)} |
| finished | {_when(result.finished_at)} |
| o2c version | {version} |

| check | outcome | finding |
|---|---|---|
{rows}

Produced by `o2c certify {result.role} --adapter {result.adapter} --base-url {result.base_url}`. The Retry-After and
timeout checks run through a fault-injecting proxy that `o2c certify` starts in front of the endpoint; they test
the adapter's side and never reach the vendor.
"""
