"""What `o2c chaos` prints: orders by scenario and outcome, returns and support actions, faults injected,
kills and restarts, API answers, invariant violations and durations; and the same as JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.chaos_model import SETTLED, PlacedOrder, Violation
from tools.chaos_monkey import VENDORS, ChaosEvent, FaultProfile

STATUSES = ["completed", "cancelled", "rejected", "needs_attention"]
FAULT_KINDS = ("error", "timeout", "outage", "after_effect")


@dataclass
class ChaosReport:
    seed: int
    concurrency: int
    profile: FaultProfile
    orders: list[PlacedOrder]
    violations: list[Violation]
    events: list[ChaosEvent]
    faults_injected: dict[str, dict[str, int]]
    answers: Counter[str]
    durations: dict[str, float]
    data_dir: Path
    anomalies: list[str] = field(default_factory=list)
    topology: str = ""
    """What ran: worker and API processes, and the store."""

    @property
    def unsettled(self) -> list[PlacedOrder]:
        return [o for o in self.orders if o.status not in SETTLED]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.unsettled

    def count(self, prefix: str) -> int:
        return sum(1 for e in self.events if e.what.startswith(prefix))

    def table(self) -> str:
        p = self.profile
        faults = f"{p.error_rate:.0%} 5xx / {p.timeout_rate:.0%} timeouts / 0-{p.latency_ms} ms"
        head = f"o2c chaos: {len(self.orders)} orders, seed {self.seed}, concurrency {self.concurrency}, "
        lines = [f"{head}faults {faults} on {len(VENDORS)} vendors", f"stack: {self.topology}", ""]
        lines += self._outcomes()
        lines += ["", *self._faults(), ""]
        lines += self._timeline()
        lines += ["", *self._violations()]
        d = self.durations
        lines.append(
            f"duration: {d.get('total', 0):.1f}s (stack start {d.get('start', 0):.1f}s, orders "
            f"{d.get('orders', 0):.1f}s, checks {d.get('checks', 0):.1f}s)"
        )
        lines.append("PASS: 0 invariant violations" if self.ok else "FAIL")
        return "\n".join(lines)

    def _outcomes(self) -> list[str]:
        outcomes = Counter(o.status or "unsettled" for o in self.orders)
        statuses = STATUSES + sorted(s for s in outcomes if s not in STATUSES)
        rows = []
        for name in sorted({o.scenario for o in self.orders}):
            mine = Counter(o.status or "unsettled" for o in self.orders if o.scenario == name)
            rows.append([name, *(str(mine.get(s, 0)) for s in statuses), str(sum(mine.values()))])
        rows.append(["all", *(str(outcomes.get(s, 0)) for s in statuses), str(len(self.orders))])
        out = grid(["scenario", *statuses, "total"], rows)
        returns = [r for o in self.orders for r in o.returns]
        ended = Counter(r.status or "none" for r in returns if r.accepted)
        refused = sum(1 for r in returns if r.must_refuse and r.answer == 422)
        decided = Counter(r.decided for r in returns if r.decided)
        out.append(
            f"returns: {sum(ended.values())} accepted ({_counts(ended)}), "
            f"{refused} refused as they had to be; "
            f"damaged goods {_counts(decided) or 'never decided'}"
        )
        actions = Counter(a for o in self.orders for a in o.resolutions)
        out.append(f"support actions: {_counts(actions) or 'none'}")
        out += [
            f"  needs_attention {o.order_id} ({o.scenario}): {o.status_reason}"
            for o in self.orders
            if o.status == "needs_attention"
        ][:5]
        return out

    def _faults(self) -> list[str]:
        def row(name: str, vendors: tuple[str, ...]) -> list[str]:
            return [
                name,
                *(str(sum(self.faults_injected.get(v, {}).get(k, 0) for v in vendors)) for k in FAULT_KINDS),
            ]

        rows = [row(v, (v,)) for v in VENDORS] + [row("all", VENDORS)]
        return grid(["faults injected", "5xx", "timeouts", "outages", "after-effect"], rows)

    def _timeline(self) -> list[str]:
        out = [
            f"worker SIGKILLed and restarted: {self.count('kill worker')} times (one at a time)",
            f"Temporal dev server restarted:  {self.count('restart temporal')} times",
            f"ERP posting window closed:      {self.count('close erp')} times",
        ]
        out += [
            f"  at {e.at_s:7.1f}s  {e.what}" + (f" ({e.took_s:.1f}s)" if e.took_s else "")
            for e in self.events
        ]
        out.append(f"API answers: {', '.join(f'{k} x{n}' for k, n in sorted(self.answers.items()))}")
        out += [f"  ! {anomaly}" for anomaly in self.anomalies[:10]]
        return out

    def _violations(self) -> list[str]:
        out = [f"invariant violations: {len(self.violations)}"]
        out += [f"  {rule}: {n}" for rule, n in sorted(Counter(v.rule for v in self.violations).items())]
        out += [f"  - {violation}" for violation in self.violations[:20]]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "topology": self.topology,
            "orders": len(self.orders),
            "outcomes": dict(Counter(o.status or "unsettled" for o in self.orders)),
            "violations": [str(v) for v in self.violations],
            "events": [e.__dict__ for e in self.events],
            "faults_injected": self.faults_injected,
            "answers": dict(self.answers),
            "durations": self.durations,
        }


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counter.items()))


def grid(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]
