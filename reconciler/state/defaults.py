"""Where the state directory is and how long history is kept: names and defaults only.

Commands name these in their flags' help and defaults; this module opens nothing and loads no
database, so a command that never touches the state does not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STATE_DIR_ENV = "ORC_STATE_DIR"
DEFAULT_STATE_DIR = ".orc"
DEFAULT_RETENTION = 30 * 86400.0  # seconds probes and chats are kept (`--retention`)


def state_dir_path(option: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The state directory: the `--state-dir` option, else `$ORC_STATE_DIR`, else `./.orc`."""
    environ = os.environ if env is None else env
    return Path(option or environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
