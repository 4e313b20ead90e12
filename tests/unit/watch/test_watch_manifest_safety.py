"""`orc watch` where manifests go wrong on disk or get emptied: nothing is pruned because of it.

A folder that cannot be read (permissions, file descriptors exhausted) is an invalid manifest
set, so the last valid one stays in force; an emptied declaration prunes nothing, since watch
plans with the same planner and guards as `orc apply`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest import files as manifest_files
from reconciler.watch import Result

LLAMA, CODER, EMBED = "llama3.2:3b", "qwen2.5-coder:7b", "nomic-embed-text:latest"
INSTANCE = """apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {name: a}
spec:
  url: http://a.example:11434
  prune: true
  protect: [%s]
  models: [%s]
"""
MODEL_SET = """apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: base}
spec:
  selector: {}
  models: [{name: "qwen2.5-coder:7b"}, {name: "nomic-embed-text:latest"}]
"""


def unlistable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, listing `folder` fails as it does when no file descriptor is left."""
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) == folder:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), str(path))
        return real(path)

    monkeypatch.setattr(manifest_files.os, "scandir", scandir)


async def test_an_unreadable_folder_keeps_the_last_valid_manifests(bench, monkeypatch):
    b = bench({"a": [LLAMA, CODER, EMBED]}, interval=60)
    b.write("a.yaml", INSTANCE % ("", f'{{name: "{LLAMA}"}}'))
    (b.folder / "sets").mkdir()
    b.write("sets/base.yaml", MODEL_SET)
    await b.start()
    assert b.record.last.result is Result.SYNCED

    unlistable(b.folder / "sets", monkeypatch)
    b.changes.emit(b.folder / "sets" / "base.yaml")
    await b.clock.advance(0.3)

    assert b.server("a").models == {LLAMA, CODER, EMBED}
    manifests = b.record.document["manifests"]
    assert manifests["valid"] is False
    assert manifests["diagnostics"][0]["text"] == (
        f"{b.folder / 'sets'}: error: cannot read the folder: Too many open files "
        "(make it readable, or leave it out of the manifest paths)"
    )
    stalled = b.record.document["conditions"][2]
    assert "last valid manifests stay in force" in stalled["message"]
    # the interval goes on enforcing the last valid state, ModelSet included
    b.server("a").models.discard(CODER)
    await b.clock.advance(60)
    assert b.server("a").models == {LLAMA, CODER, EMBED}


async def test_an_emptied_declaration_prunes_nothing_whatever_protect_keeps(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=60)
    b.write("a.yaml", INSTANCE % ('"llama*"', f'{{name: "{LLAMA}"}}, {{name: "{CODER}"}}'))
    await b.start()
    assert b.record.last.result is Result.SYNCED

    b.server("a").models.add(EMBED)
    await b.edit("a.yaml", INSTANCE % ('"llama*"', ""))
    for seconds in (0.3, 60, 60):  # the edit, then resyncs past any hold on deletions
        await b.clock.advance(seconds)
        assert b.record.last.result is Result.SYNCED

    assert b.server("a").models == {LLAMA, CODER, EMBED}
    assert b.reconciler.applied == []
