"""Schemathesis against a real node's own description, as every role: no 5xx, no answer off-schema.

A few examples per operation keep it to a couple of minutes; `python -m tests.api_fuzz
--examples N` runs the same fuzzing with as many as asked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import Settings
from tests.api_fuzz import ROLES, fuzz, start_fuzz_node, totals
from tests.harness import Infra

pytestmark = pytest.mark.system

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))


@pytest.mark.timeout(900)
def test_every_operation_answers_as_described_to_every_role(
    infra: Infra, settings: Settings, tmp_path: Path
) -> None:
    node = start_fuzz_node(infra)
    try:
        results = fuzz(node, examples=EXAMPLES, roles=list(ROLES), reports=tmp_path / "reports")
    finally:
        node.stop()
    assert [r.role for r in results] == list(ROLES)
    print(totals(results))
    # Each role's JUnit report lists the operations it ran.
    assert all(r.operations > 0 for r in results), [r.summary for r in results]
    # Each role's run generated cases: a run that never reached the API proves nothing.
    assert all(r.generated > 100 for r in results), [r.summary for r in results]
    failed = [r.summary for r in results if r.exit_code != 0]
    assert not failed, "\n\n".join(failed)
