"""Find the manifest files under the paths given, and read each one safely.

Whatever cannot be read is a diagnostic, never skipped: a folder that vanished from the listing
(no permission, no file descriptors left) would make its ModelSets vanish, and prune would then
delete their models. Only regular files are read, never a FIFO or a device (which could block
forever), and never more than `MAX_FILE_BYTES`, counted while reading since a file may grow.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from reconciler.manifest.diagnostics import Diagnostic, Severity, Span, make_diagnostic
from reconciler.manifest.document import display_path

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 10 * 1024 * 1024
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_FOLDER_HINT = "make it readable, or leave it out of the manifest paths"
_FILE_HINT = "make it readable, or move it out of the manifest folders"


def find_manifest_files(paths: Iterable[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Files given, and *.yaml/*.yml under folders given (sorted, hidden entries skipped).

    A path that does not exist, an empty folder, and any folder that cannot be listed are errors.
    """
    files: dict[Path, None] = {}
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            is_folder = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            problems.append(_whole_file(path, "no such file or folder"))
            continue
        except OSError as exc:
            problems.append(_whole_file(path, f"cannot read it: {_reason(exc)}", _FILE_HINT))
            continue
        if not is_folder:
            files[path] = None
            continue
        before = len(problems)
        found = sorted(_walk(path, problems), key=str)
        if not found and len(problems) == before:
            problems.append(_whole_file(path, "no manifest files (*.yaml, *.yml) in this folder"))
        files.update(dict.fromkeys(found))
    return _unique(files), problems


def _walk(folder: Path, problems: list[Diagnostic]) -> Iterator[Path]:
    """Manifest files under `folder`; symbolic links to folders are not followed."""
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                listed = [(entry.name, _is_folder(entry)) for entry in entries]
        except OSError as exc:
            message = f"cannot read the folder: {_reason(exc)}"
            problems.append(_whole_file(current, message, _FOLDER_HINT))
            continue
        for name, is_folder in listed:
            if name.startswith("."):
                continue
            if is_folder:
                pending.append(current / name)
            elif name.endswith(MANIFEST_SUFFIXES):
                yield current / name


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False  # read as a file, which reports why it cannot be read


def _unique(files: dict[Path, None]) -> list[Path]:
    """Drop files named twice (by different spellings of the same path)."""
    seen: set[str] = set()
    unique: list[Path] = []
    for path in files:
        real = os.path.realpath(path)  # never raises, even on a symbolic link loop
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def read_manifest_bytes(source: Path) -> tuple[bytes, str | None]:
    """The content of a manifest file, or (b"", what is wrong) when it cannot or must not be read.

    Only regular files of at most `MAX_FILE_BYTES`: the type is checked before opening (a FIFO
    or device is never opened for long) and again on the open file, the size before and while
    reading.
    """
    try:
        problem = _refused(os.stat(source))
        if problem is not None:
            return b"", problem
        fd = os.open(source, _OPEN_FLAGS)
        with open(fd, "rb", closefd=True) as handle:
            problem = _refused(os.fstat(fd))
            data = b"" if problem is not None else handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return b"", f"cannot read the file: {_reason(exc)}"
    if problem is None and len(data) > MAX_FILE_BYTES:
        problem = _too_large()
    return (b"", problem) if problem is not None else (data, None)


def _refused(info: os.stat_result) -> str | None:
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        kinds = {
            stat.S_ISDIR: "a folder",
            stat.S_ISFIFO: "a named pipe (FIFO)",
            stat.S_ISCHR: "a character device",
            stat.S_ISBLK: "a block device",
            stat.S_ISSOCK: "a socket",
        }
        kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
        return f"{kind}, not a regular file: only regular files are read as manifests"
    if info.st_size > MAX_FILE_BYTES:
        return _too_large()
    return None


def _too_large() -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return f"the file is larger than {limit} MB, the limit for one manifest file; split it"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _whole_file(path: Path, message: str, hint: str = "") -> Diagnostic:
    span = Span()
    return make_diagnostic(Severity.ERROR, message, file=display_path(path), span=span, hint=hint)
