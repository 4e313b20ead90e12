"""Finding and reading manifest files: whatever cannot be read is an error, never skipped, and
nothing on disk (a FIFO, a device, a symbolic link loop, a huge file) blocks, crashes or exhausts
the loader."""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest import LoadResult, load_fleet
from reconciler.manifest import files as manifest_files

INSTANCE = (
    "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: %s}\n"
    "spec: {url: 'http://%s.test:11434', prune: true}\n"
)
MODEL_SET = (  # selects every instance: without it, they declare nothing
    "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: base}\n"
    "spec: {selector: {}, models: [{name: llama3.2:3b}]}\n"
)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


def fleet_folder(tmp_path: Path) -> Path:
    """An instance in the folder, the ModelSet that gives it its models in a subfolder."""
    (tmp_path / "sets").mkdir()
    (tmp_path / "a.yaml").write_text(INSTANCE % ("a", "a"))
    (tmp_path / "sets" / "base.yaml").write_text(MODEL_SET)
    return tmp_path


def errors(result: LoadResult) -> list[str]:
    return [str(d) for d in result.errors]


def load_within(seconds: float, paths: list[Path]) -> LoadResult:
    """Load in a thread; fail (instead of hanging the suite) when it blocks."""
    found: list[LoadResult] = []
    thread = threading.Thread(target=lambda: found.append(load_fleet(paths)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert found, f"loading blocked for more than {seconds} s"
    return found[0]


def failing_scandir(target: Path, code: int) -> Callable[..., Any]:
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) == target:
            raise OSError(code, os.strerror(code), str(path))
        return real(path)

    return scandir


@pytest.mark.parametrize("code", [errno.EACCES, errno.EMFILE])
def test_a_folder_that_cannot_be_listed_is_an_error_not_a_missing_model_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    folder = fleet_folder(tmp_path)
    monkeypatch.setattr(manifest_files.os, "scandir", failing_scandir(folder / "sets", code))

    result = load_fleet([folder])

    assert result.fleet is None
    assert errors(result) == [
        f"{folder / 'sets'}: error: cannot read the folder: {os.strerror(code)} "
        "(make it readable, or leave it out of the manifest paths)"
    ]


@posix_only
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_a_folder_without_read_permission_is_an_error(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path)
    (folder / "sets").chmod(0)
    try:
        result = load_fleet([folder])
    finally:
        (folder / "sets").chmod(0o755)
    assert result.fleet is None
    assert "cannot read the folder: Permission denied" in errors(result)[0]


def test_a_path_given_that_cannot_be_examined_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if Path(path) == tmp_path / "a.yaml":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(manifest_files.os, "stat", stat)
    result = load_fleet([tmp_path / "a.yaml"])
    assert result.fleet is None
    assert "cannot read it: Permission denied" in errors(result)[0]


@posix_only
def test_symbolic_link_loops_are_errors_not_crashes(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path)
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    (folder / "sets" / "up").symlink_to(folder)  # a folder loop: links are not followed

    result = load_within(10, [folder])

    assert errors(result) == [
        f"{folder / 'loop.yaml'}: error: cannot read the file: Too many levels of symbolic links"
    ]
    assert result.files == [folder / "a.yaml", folder / "loop.yaml", folder / "sets/base.yaml"]


@posix_only
def test_a_loop_given_as_a_path_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    result = load_fleet([tmp_path / "loop.yaml"])
    assert errors(result) == [
        f"{tmp_path / 'loop.yaml'}: error: cannot read it: Too many levels of symbolic links "
        "(make it readable, or move it out of the manifest folders)"
    ]


@posix_only
def test_a_fifo_among_the_manifests_never_blocks(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path)
    os.mkfifo(folder / "pipe.yaml")

    result = load_within(10, [folder])

    assert result.fleet is None
    assert errors(result) == [
        f"{folder / 'pipe.yaml'}: error: a named pipe (FIFO), not a regular file: only regular "
        "files are read as manifests"
    ]


@posix_only
def test_a_device_named_as_a_manifest_is_refused(tmp_path: Path) -> None:
    result = load_within(10, [Path("/dev/zero")])
    assert errors(result) == [
        "/dev/zero: error: a character device, not a regular file: only regular files are "
        "read as manifests"
    ]


def test_a_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path)
    big = folder / "big.yaml"
    with big.open("w") as out:
        out.write("models:\n")
        out.write("  - {name: llama3}\n" * (manifest_files.MAX_FILE_BYTES // 18 + 1))
    assert big.stat().st_size > manifest_files.MAX_FILE_BYTES

    started = time.perf_counter()
    result = load_fleet([folder])

    assert time.perf_counter() - started < 5
    assert errors(result) == [
        f"{big}: error: the file is larger than 10 MB, the limit for one manifest file; split it"
    ]


def test_the_cap_holds_while_reading_a_file_that_grew_after_its_size_was_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (manifest_files.MAX_FILE_BYTES + 1))
    checked: list[int] = []
    real = manifest_files._refused

    def small_when_checked(info: os.stat_result) -> str | None:
        checked.append(info.st_size)
        return real(os.stat_result((*info[:6], 100, *info[7:])))  # st_size as it was before

    monkeypatch.setattr(manifest_files, "_refused", small_when_checked)

    data, problem = manifest_files.read_manifest_bytes(big)

    assert len(checked) == 2  # before opening, and on the open file
    assert (data, problem) == (b"", manifest_files._too_large())


def test_a_file_at_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_bytes(b"#" * manifest_files.MAX_FILE_BYTES)
    data, problem = manifest_files.read_manifest_bytes(path)
    assert problem is None and len(data) == manifest_files.MAX_FILE_BYTES
