"""The status table colours health and sync only when asked; problems are listed under it."""

from __future__ import annotations

import re
from datetime import datetime

from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.report import build_status, render_status_markdown, render_status_table

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_health_and_sync_are_coloured_only_when_asked(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    status = build_status(desired, observed, now)
    plain = render_status_table(status, width=140)
    coloured = render_status_table(status, width=140, color=True)
    assert not ANSI.search(plain)
    assert "\x1b[31mUnreachable" in coloured
    assert "\x1b[32mHealthy" in coloured
    assert "\x1b[33mOutOfSync (6)" in coloured
    assert ANSI.sub("", coloured) == plain


def test_problems_name_the_instance_and_its_message(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    status = build_status(desired, observed, now)
    line = "dev-box: Unreachable: cannot connect to http://dev-box:11434: connection refused"
    assert line in render_status_table(status, width=140).splitlines()
    assert f"- `{line.replace(':', '`:', 1)}" in render_status_markdown(status)
