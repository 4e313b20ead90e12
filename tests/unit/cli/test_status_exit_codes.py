"""`orc status` exit codes: 1 when no enabled instance answers, as `orc plan` does."""

from __future__ import annotations

import pytest

from reconciler.errors import ExitCode
from reconciler.reconcile import status_exit_code


@pytest.mark.parametrize(
    ("in_sync", "detailed", "answered", "code"),
    [
        (True, False, True, ExitCode.OK),
        (False, False, True, ExitCode.OK),
        (True, True, True, ExitCode.OK),
        (False, True, True, ExitCode.CHANGES),
        (False, False, False, ExitCode.ERROR),
        (False, True, False, ExitCode.ERROR),
    ],
)
def test_status_exit_code(in_sync: bool, detailed: bool, answered: bool, code: ExitCode) -> None:
    assert status_exit_code(in_sync, detailed=detailed, answered=answered) is code
