"""Custom models built from local GGUF files: upload as a blob when missing, then create."""

from __future__ import annotations

import hashlib
import os

from reconciler.apply import ActionProgress, Outcome
from reconciler.errors import ExitCode
from reconciler.plan import ActionKind
from reconciler.report.plan_text import action_line

GGUF = {"name": "mine:latest", "from": "./weights/mine.gguf"}


def write_weights(rig, data: bytes) -> str:
    folder = rig.folder / "weights"
    folder.mkdir(exist_ok=True)
    path = folder / "mine.gguf"
    path.write_bytes(data)
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def fake_gguf(seed: bytes, size: int = 6000) -> bytes:
    return (b"GGUF\x03\x00\x00\x00" + seed * size)[:size]


async def test_a_gguf_model_is_uploaded_created_and_then_in_sync(rig):
    digest = write_weights(rig, fake_gguf(b"a"))
    server = rig.declare("ws", [GGUF])
    reconciler = rig.reconciler()
    desired = rig.desired()

    _, made = await reconciler.plan(desired)
    (action,) = made.actions
    assert action.kind is ActionKind.CREATE
    assert action.file_digest == digest
    assert action_line(action) == (
        f"~ create mine:latest (from ./weights/mine.gguf, {digest[:19]}…; 6.0 KB; "
        "custom model, not installed)"
    )

    result = await reconciler.apply(made, desired, on_event=rig.record)

    assert result.exit_code is ExitCode.OK
    assert server.state.uploads == {digest[7:]: 6000}
    assert server.state.count(f"/api/blobs/{digest}") == 2  # HEAD (404), then POST
    model = server.state.find("mine:latest")
    assert model is not None
    assert model.spec.layers[0].digest == digest[7:]
    uploads = [e for e in rig.events if isinstance(e, ActionProgress)]
    assert uploads
    assert uploads[-1].completed == uploads[-1].total == 6000
    again = await reconciler.verify(desired, result)
    assert not again.has_changes


async def test_no_upload_when_the_server_has_the_blob(rig):
    digest = write_weights(rig, fake_gguf(b"b"))
    server = rig.declare("ws", [GGUF])
    server.state.uploads[digest[7:]] = 6000
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)

    result = await reconciler.apply(made, desired, on_event=rig.record)

    assert result.exit_code is ExitCode.OK
    assert [m for m, p in server.state.requests if p.startswith("/api/blobs/")] == ["HEAD"]
    assert not [e for e in rig.events if isinstance(e, ActionProgress)]


async def test_a_changed_file_re_creates_the_model(rig):
    write_weights(rig, fake_gguf(b"c"))
    server = rig.declare("ws", [GGUF])
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    await reconciler.apply(made, desired)
    _, settled = await reconciler.plan(rig.desired())
    assert not settled.has_changes

    path = rig.folder / "weights" / "mine.gguf"
    info = path.stat()
    new_digest = write_weights(rig, fake_gguf(b"d"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))  # same size: mtime moves
    changed = rig.desired()
    _, made = await reconciler.plan(changed)

    (action,) = made.actions
    assert action.kind is ActionKind.CREATE
    assert action.reason == "weights file changed"
    assert action.file_digest == new_digest
    result = await reconciler.apply(made, changed)
    assert [r.outcome for r in result.results] == [Outcome.DONE]
    model = server.state.find("mine:latest")
    assert model is not None
    assert model.spec.layers[0].digest == new_digest[7:]


async def test_a_file_changed_after_planning_fails_the_upload_with_the_digest_mismatch(rig):
    write_weights(rig, fake_gguf(b"e"))
    server = rig.declare("ws", [GGUF])
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    (rig.folder / "weights" / "mine.gguf").write_bytes(fake_gguf(b"f"))

    result = await reconciler.apply(made, desired)

    (failed,) = result.results
    assert failed.outcome is Outcome.FAILED
    assert "digest mismatch" in (failed.error or "")
    assert server.state.uploads == {}
    assert server.state.find("mine:latest") is None
