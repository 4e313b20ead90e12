"""The git commit the manifests were read from, for the status document.

Operators keep manifests in git; naming the commit in `/status` tells which
revision the daemon is enforcing. Git is asked through its command line, so nothing is needed
when the manifests are not in a work tree, or git is not installed: the revision is then None.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

GIT_TIMEOUT = 5.0


def git_revision(paths: Sequence[Path]) -> str | None:
    """`git rev-parse HEAD` in the folder of the first path; None outside a work tree."""
    if not paths:
        return None
    first = paths[0].resolve()
    folder = first if first.is_dir() else first.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else None
