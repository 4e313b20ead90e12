"""A manifest saved in two steps, and deletions held by pruneDelay, on the real loop.

The loop reads real files in a temporary folder and plans with the real planner against fake
servers; time is the fake clock's. A file is read only once it held still for the settle
period, and deletions a manifest change caused wait the Fleet's pruneDelay: so a valid prefix
of a file never deletes the models the rest of the file declares.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan import ActionKind
from reconciler.watch import Mode, Result
from reconciler.watch.manifests import SETTLE_ROUNDS, files_signature

LLAMA, CODER, EMBED, GEMMA = (
    "llama3.2:3b",
    "qwen2.5-coder:7b",
    "nomic-embed-text:latest",
    "gemma2:2b",
)
HEAD = (
    "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata:\n  name: a\nspec:\n"
    "  url: http://a.example:11434\n  prune: true\n  models:\n"
)


def pruned(*models: str) -> str:
    """Instance `a` with `prune: true`: every model not listed is deleted."""
    return HEAD + "".join(f'    - name: "{m}"\n' for m in models)


def fleet(delay: str) -> str:
    return (
        "apiVersion: ollama-reconciler/v1\nkind: Fleet\nmetadata: {name: f}\n"
        f"spec: {{pruneDelay: {delay}}}\n"
    )


def deletes(bench: Any) -> list[str]:
    return [
        a.model.display
        for p in bench.reconciler.applied
        for a in p.actions
        if a.kind is ActionKind.DELETE
    ]


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [r.orc_fields for r in caplog.records if r.getMessage() == name]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.watch")


async def test_a_file_written_in_two_steps_is_read_only_once_whole(bench):
    b = bench({"a": [LLAMA, CODER, EMBED]}, interval=600, settle=1.0, debounce=0.3)
    whole = pruned(LLAMA, CODER, EMBED)
    b.write("a.yaml", whole)
    await b.start()
    await b.clock.advance(1.0)
    assert b.record.last.result is Result.SYNCED
    # a valid prefix (only the first model), a pause shorter than the settle period, the rest
    await b.edit("a.yaml", whole[: whole.index(CODER) - len('    - name: "')])
    await b.clock.advance(0.3 + 0.5)
    assert b.record.running == "manifest-change", "the reconcile waits for the file to settle"
    await b.edit("a.yaml", whole)
    await b.clock.advance(3.0)
    assert b.cycles >= 2 and b.record.running is None
    assert deletes(b) == []
    assert b.server("a").models == {LLAMA, CODER, EMBED}
    assert b.record.document["pendingDeletions"] == []


async def test_a_prefix_read_during_a_long_pause_never_deletes_what_the_rest_declares(
    bench, caplog
):
    b = bench({"a": [LLAMA, CODER, EMBED]}, interval=600, settle=1.0, debounce=0.3)
    b.write("a.yaml", pruned(LLAMA, CODER, EMBED))
    await b.start()
    await b.clock.advance(1.0)
    whole = pruned(GEMMA, LLAMA, CODER, EMBED)  # the edit adds gemma first: the prefix has it
    await b.edit("a.yaml", whole[: whole.index(LLAMA) - len('    - name: "')])
    await b.clock.advance(4.0)  # the editor pauses for longer than the settle period
    assert b.server("a").models == {GEMMA, LLAMA, CODER, EMBED}, "additions need not wait"
    assert deletes(b) == []
    pending = b.record.document["pendingDeletions"]
    assert [(p["instance"], p["model"]) for p in pending] == [
        ("a", LLAMA),
        ("a", EMBED),
        ("a", CODER),
    ]
    # read at 2.3 s (start-up settle 1 s, debounce 0.3 s, settle 1 s), due 30 s later
    assert {p["dueAt"] for p in pending} == {"2025-06-01T12:00:32.300000+00:00"}
    assert "Pending deletions: a/llama3.2:3b (due at " in b.record.last.message
    assert {e["model"] for e in events(caplog, "deletion.held")} == {LLAMA, CODER, EMBED}
    await b.edit("a.yaml", whole)
    await b.clock.advance(1.3)
    assert b.record.document["pendingDeletions"] == []
    assert {e["model"] for e in events(caplog, "deletion.dropped")} == {LLAMA, CODER, EMBED}
    await b.clock.advance(60.0)  # well past the due time: nothing is deleted, nothing re-pulled
    assert deletes(b) == []
    assert [a.model.display for p in b.reconciler.applied for a in p.actions] == [GEMMA]
    assert b.server("a").models == {GEMMA, LLAMA, CODER, EMBED}


async def test_a_deletion_from_an_edit_waits_the_prune_delay_then_is_made(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=600, jitter=0, debounce=0.3)
    b.write("fleet.yaml", fleet("20s"))
    b.write("a.yaml", pruned(LLAMA, CODER))
    await b.start()
    await b.edit("a.yaml", pruned(LLAMA))
    await b.clock.advance(0.3)
    assert b.server("a").models == {LLAMA, CODER}
    assert b.record.last.result is Result.SYNCED
    await b.clock.advance(19.9)  # due 20 s after the edit was read (at 0.3 s)
    assert b.server("a").models == {LLAMA, CODER}
    await b.clock.advance(0.2)
    assert b.record.last.trigger == "prune-delay"
    assert b.record.last.result is Result.APPLIED
    assert deletes(b) == [CODER]
    assert b.server("a").models == {LLAMA}
    assert b.record.document["pendingDeletions"] == []


async def test_a_deletion_reverted_before_the_delay_is_never_made(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=600, jitter=0, debounce=0.3)
    b.write("a.yaml", pruned(LLAMA, CODER))  # no Fleet: pruneDelay 30s
    await b.start()
    await b.edit("a.yaml", pruned(LLAMA))
    await b.clock.advance(0.3)
    assert len(b.record.document["pendingDeletions"]) == 1
    await b.clock.advance(20)
    await b.edit("a.yaml", pruned(LLAMA, CODER))  # reverted
    await b.clock.advance(0.3)
    assert b.record.document["pendingDeletions"] == []
    await b.clock.advance(60)
    assert deletes(b) == []
    assert b.server("a").models == {LLAMA, CODER}


async def test_with_no_prune_delay_an_edit_deletes_at_once(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=600, debounce=0.3)
    b.write("fleet.yaml", fleet("0"))
    b.write("a.yaml", pruned(LLAMA, CODER))
    await b.start()
    await b.edit("a.yaml", pruned(LLAMA))
    await b.clock.advance(0.3)
    assert b.server("a").models == {LLAMA}


async def test_a_model_declared_absent_and_pulled_by_hand_is_deleted_at_the_next_interval(bench):
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA], absent=[CODER]))
    await b.start()
    b.server("a").models.add(CODER)  # `ollama pull` by hand; the manifests did not change
    await b.clock.advance(10)
    assert b.record.last.trigger == "interval"
    assert b.server("a").models == {LLAMA}


async def test_plan_mode_reports_deletions_without_holding_them(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=600, mode=Mode.PLAN)
    b.write("a.yaml", pruned(LLAMA))
    await b.start()
    assert b.record.last.result is Result.DRIFT
    assert b.record.last.message.endswith("1 to delete.")
    assert b.record.document["pendingDeletions"] == []


async def test_a_file_replaced_by_rename_with_the_same_size_and_time_is_waited_for(bench):
    b = bench({"a": [LLAMA, CODER, EMBED]}, interval=600, settle=1.0, debounce=0.3)
    path = b.write("a.yaml", pruned(LLAMA, CODER, EMBED))
    await b.start()
    await b.clock.advance(1.0)
    # git checkout writes the new version beside the old one and renames it over: a prefix
    # padded to the same size, with the same modification time, differs only by its inode
    prefix = pruned(LLAMA)
    replaced = prefix + "#" * (path.stat().st_size - len(prefix) - 1) + "\n"
    await b.edit("a.yaml", pruned(LLAMA, CODER, EMBED))
    await b.clock.advance(0.3 + 0.5)
    stat = path.stat()
    staged = path.with_name(".a.yaml.new")
    staged.write_text(replaced, encoding="utf-8")
    os.utime(staged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(staged, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    await b.clock.advance(0.5)
    assert b.record.running == "manifest-change", "the new inode restarts the settle period"
    await b.clock.advance(1.0)
    assert b.record.running is None
    assert [p["model"] for p in b.record.document["pendingDeletions"]] == [EMBED, CODER]


async def test_files_that_never_hold_still_are_not_read(bench, caplog):
    b = bench({"a": [LLAMA, CODER]}, interval=600, settle=1.0, debounce=0.3)
    b.write("a.yaml", pruned(LLAMA, CODER))
    await b.start()
    await b.clock.advance(1.0)
    await b.edit("a.yaml", pruned(LLAMA))
    for n in range(SETTLE_ROUNDS + 1):  # a writer that never stops
        await b.clock.advance(0.95 if n == 0 else 1.0)
        b.write("a.yaml", pruned(LLAMA) + f"# {n}\n")
    [unsettled] = events(caplog, "manifests.unsettled")
    assert "kept changing for 30.0s" in unsettled["message"]
    assert "last valid manifests stay in force" in unsettled["message"]
    assert b.record.document["pendingDeletions"] == []
    assert deletes(b) == []


def test_the_settle_period_counts_every_manifest_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    before = files_signature([tmp_path])
    (tmp_path / "b.yml").write_text("b: 1\n")
    assert files_signature([tmp_path]) != before
