"""The status file: the `/status` document written to disk after every reconcile.

Written to a temporary file in the same folder and renamed over the old one, so a reader
(a dashboard, a script, `jq`) never sees half a document.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_atomically(path: Path, document: Mapping[str, Any]) -> None:
    """Replace `path` with the JSON of `document` in one rename; raises OSError on failure."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    folder = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
