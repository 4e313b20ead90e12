"""Load unchanged manifests once: the result `orc watch` loaded last, kept while nothing it was
made from changed.

Loading (parsing, checking, resolving) is most of what reading the manifests costs, and watch
reads them again on every change notice and on request, when often nothing that matters changed:
an editor saving the same text, a `git checkout` of the same content, a touched file. A
`FleetCache` keeps the last valid result with a fingerprint of everything loading it depended on,
and returns it while the fingerprint holds:

- the manifest files found under the paths (so a new or removed file changes it), each by path
  and the sha256 of its bytes (or why it cannot be read), and the problems met finding them;
  loading depends on nothing else of a manifest file, and a file rewritten within one tick of
  the clock keeps its size and time;
- the files the desired state names: every instance's TLS files (they must exist) and every
  weights file (its digest is part of the desired state), by real path, size, time and inode, as
  the weights digests themselves are cached;
- the real paths of the manifest paths (weights files must lie inside them), the current folder
  (file names in messages are relative to it) and the home folder (`~` in file names).

Secrets are no part of it: the desired state holds references only, and the observer reads them
anew in every round (see docs/security.md, Secret sources). A result with errors is never kept,
so broken manifests are loaded again, diagnostics and all, until they are fixed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.desired import DesiredFleet
from reconciler.manifest import LoadResult
from reconciler.manifest.files import find_manifest_files, read_manifest_bytes

Loader = Callable[[Sequence[Path]], LoadResult]
ManifestMark = tuple[str, str]  # path, and the sha256 of its bytes or why they cannot be read
NamedMark = tuple[str, tuple[int, int, int] | None]  # path; size, mtime and inode (None: missing)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a load of the manifests depended on, as it was when it was taken."""

    manifests: tuple[ManifestMark, ...]
    problems: tuple[str, ...]
    places: tuple[str, ...]  # the paths' real paths, the current folder, the home folder
    named: tuple[NamedMark, ...]  # the files the desired state names (empty until loaded)


class FleetCache:
    """`load(paths)`: the loader's result, loaded again only when its fingerprint changed."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self._kept: tuple[tuple[Path, ...], Fingerprint, LoadResult] | None = None

    def load(self, paths: Sequence[Path]) -> LoadResult:
        """The result of loading `paths`; the kept one while nothing it depended on changed."""
        given = tuple(paths)
        manifests = manifests_fingerprint(given)
        kept = self._kept
        if kept is not None and kept[0] == given and kept[1] == _named(manifests, kept[2]):
            return kept[2]
        result = self.loader(given)
        self._kept = None
        if result.ok and result.fleet is not None:
            # taken before loading, so that a change while loading is seen by the next load
            self._kept = (given, _named(manifests, result), result)
        return result


def manifests_fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """The fingerprint of the manifest files under `paths`, not yet of the files they name."""
    files, problems = find_manifest_files(paths)
    places = (*(os.path.realpath(p) for p in paths), os.getcwd(), os.path.expanduser("~"))
    return Fingerprint(
        manifests=tuple(_manifest_mark(path) for path in files),
        problems=tuple(str(problem) for problem in problems),
        places=places,
        named=(),
    )


def named_files(fleet: DesiredFleet) -> list[Path]:
    """The files a desired fleet names: its instances' TLS files and weights files."""
    found: dict[Path, None] = {}
    for instance in fleet.instances:
        tls = instance.tls
        for path in (tls.ca_file, tls.client_cert, tls.client_key):
            if path is not None:
                found[path] = None
        for model in instance.models:
            if model.from_file is not None:
                found[model.from_file.path] = None
    return list(found)


def _named(manifests: Fingerprint, result: LoadResult) -> Fingerprint:
    files = named_files(result.fleet) if result.fleet is not None else []
    marks = tuple((str(path), _stat(os.path.realpath(path))) for path in files)
    return Fingerprint(manifests.manifests, manifests.problems, manifests.places, marks)


def _manifest_mark(path: Path) -> ManifestMark:
    raw, refused = read_manifest_bytes(path)
    return str(path), refused if refused is not None else hashlib.sha256(raw).hexdigest()


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ino
