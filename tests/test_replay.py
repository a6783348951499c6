"""Every recorded history (tests/histories/**/*.json) replays against today's workflow code.

A change to a workflow that would make a running workflow take another path than its history says
(a new activity, a reordered step, a new timer...) fails here with Temporal's non-determinism error,
before it reaches a worker with live orders. How to re-record, and how to change a workflow safely
(workflow.patched), is in the README ("Proofs") and tests/histories/record.py.

The replayer uses exactly the worker's workflows, sandbox runner and data converter (the histories'
payloads are encrypted with the DEV codec key, which the default settings hold).
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.codec import encrypted_data_converter
from runtime.settings import Settings
from worker import WORKFLOW_RUNNER, WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*/*.json"))
WORKFLOW_TYPES = {getattr(wf, "__temporal_workflow_definition").name for wf in WORKFLOWS}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_every_workflow_type_has_a_recorded_history() -> None:
    recorded = {path.parent.name for path in FILES}
    assert recorded >= WORKFLOW_TYPES, f"no recorded history for {sorted(WORKFLOW_TYPES - recorded)}"


@pytest.mark.parametrize("path", FILES, ids=[_id(p) for p in FILES])
async def test_history_replays_on_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=encrypted_data_converter(Settings().codec_keys),
        workflow_runner=WORKFLOW_RUNNER,
    )
    history = WorkflowHistory.from_json(_id(path), path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{_id(path)} no longer replays: {result.replay_failure!r}"
