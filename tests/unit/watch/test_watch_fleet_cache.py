"""Watch loads the manifests again only when something loading depends on changed: a manifest's
content, the set of manifest files, a TLS or weights file the desired state names. Secrets are
never kept: each round reads them anew. Loads are counted through the loader the loop is given."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler.manifest import LoadResult, load_fleet
from reconciler.probe import client_config
from reconciler.watch.fleetcache import FleetCache

LLAMA, CODER = "llama3.2:3b", "qwen2.5-coder:7b"
HEAD = "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"


class CountingLoader:
    """The real loader, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, paths: Sequence[Path]) -> LoadResult:
        self.calls += 1
        return load_fleet(paths)


def instance(name: str, spec: str = "") -> str:
    return f"{HEAD}metadata: {{name: {name}}}\nspec:\n  url: http://{name}.test:11434\n{spec}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "manifests"
    made.mkdir()
    (made / "a.yaml").write_text(instance("a"), encoding="utf-8")
    (made / "b.yaml").write_text(instance("b"), encoding="utf-8")
    return made


@pytest.fixture
def loader() -> CountingLoader:
    return CountingLoader()


def test_unchanged_manifests_are_loaded_once(folder: Path, loader: CountingLoader) -> None:
    cache = FleetCache(loader)
    first = cache.load([folder])
    (folder / "a.yaml").touch()  # a new time, the same content
    assert cache.load([folder]) is first
    assert cache.load([folder]) is first
    assert loader.calls == 1


def test_a_changed_file_is_loaded_again_even_with_its_old_size_and_time(
    folder: Path, loader: CountingLoader
) -> None:
    cache = FleetCache(loader)
    path = folder / "a.yaml"
    assert cache.load([folder]).fleet is not None
    before = os.stat(path)
    path.write_text(instance("c"), encoding="utf-8")  # "a" → "c": same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    fleet = cache.load([folder]).fleet
    assert loader.calls == 2
    assert fleet is not None and [i.name for i in fleet.instances] == ["c", "b"]


def test_a_new_or_removed_file_is_loaded_again(folder: Path, loader: CountingLoader) -> None:
    cache = FleetCache(loader)
    cache.load([folder])
    (folder / "c.yml").write_text(instance("c"), encoding="utf-8")
    added = cache.load([folder]).fleet
    (folder / "b.yaml").unlink()
    removed = cache.load([folder]).fleet
    assert loader.calls == 3
    assert added is not None and {i.name for i in added.instances} == {"a", "b", "c"}
    assert removed is not None and {i.name for i in removed.instances} == {"a", "c"}
    (folder / "notes.txt").write_text("not a manifest", encoding="utf-8")
    assert cache.load([folder]).fleet is removed  # not a file the loader reads
    assert loader.calls == 3


def test_other_paths_are_loaded_on_their_own(folder: Path, loader: CountingLoader) -> None:
    cache = FleetCache(loader)
    cache.load([folder])
    only_a = cache.load([folder / "a.yaml"]).fleet
    assert loader.calls == 2
    assert only_a is not None and [i.name for i in only_a.instances] == ["a"]


def test_a_tls_file_an_instance_names_is_part_of_what_is_kept(
    folder: Path, loader: CountingLoader
) -> None:
    (folder / "ca.pem").write_text("certificate", encoding="utf-8")
    tls = "  tls: {caFile: ca.pem}\n"
    (folder / "a.yaml").write_text(instance("a", tls), encoding="utf-8")
    cache = FleetCache(loader)
    assert cache.load([folder]).ok
    assert cache.load([folder]).ok
    (folder / "ca.pem").unlink()
    gone = cache.load([folder])
    assert loader.calls == 2
    assert not gone.ok and "TLS file not found: ca.pem" in str(gone.errors[0])


def test_a_changed_weights_file_gives_a_new_digest(folder: Path, loader: CountingLoader) -> None:
    weights = folder / "tiny.gguf"
    weights.write_bytes(b"GGUF one")
    custom = '  models: [{name: "tiny:q4", from: ./tiny.gguf}]\n'
    (folder / "a.yaml").write_text(instance("a", custom), encoding="utf-8")
    cache = FleetCache(loader)
    before = cache.load([folder]).fleet
    assert cache.load([folder]).fleet is before
    weights.write_bytes(b"GGUF two, longer")
    after = cache.load([folder]).fleet
    assert loader.calls == 2
    assert before is not None and after is not None
    assert before.digest() != after.digest()


def test_broken_manifests_are_never_kept(folder: Path, loader: CountingLoader) -> None:
    (folder / "b.yaml").write_text(HEAD + "metadata: {name: b}\nspec: {url: 12}\n")
    cache = FleetCache(loader)
    first, second = cache.load([folder]), cache.load([folder])
    assert loader.calls == 2
    assert first.errors and [str(d) for d in first.errors] == [str(d) for d in second.errors]


def test_secrets_are_read_anew_from_a_kept_fleet(folder: Path, loader: CountingLoader) -> None:
    token = folder / "token"
    token.write_text("first-token", encoding="utf-8")
    auth = "  auth: {bearerToken: {file: token}}\n"
    (folder / "a.yaml").write_text(instance("a", auth), encoding="utf-8")
    cache = FleetCache(loader)
    fleet = cache.load([folder]).fleet
    assert fleet is not None
    assert client_config(fleet.instances[0]).bearer_token == "first-token"
    token.write_text("second-token", encoding="utf-8")
    kept = cache.load([folder]).fleet
    assert kept is fleet and loader.calls == 1  # the manifests hold a reference only
    assert kept is not None
    assert client_config(kept.instances[0]).bearer_token == "second-token"


async def test_a_watch_round_with_unchanged_files_does_not_load_them_again(bench) -> None:
    loader = CountingLoader()
    b = bench({"a": [LLAMA]}, interval=60, loader=loader)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    assert (b.cycles, loader.calls) == (1, 1)
    await b.edit("a.yaml", b.manifest("a", [LLAMA]))  # saved again, unchanged
    await b.clock.advance(1.0)
    assert (b.cycles, b.record.last.trigger) == (2, "manifest-change")
    b.loop.request()
    await b.clock.advance(1.0)
    assert (b.cycles, b.record.last.trigger) == (3, "manual")
    assert loader.calls == 1
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(1.0)
    assert loader.calls == 2
    assert b.server("a").models == {LLAMA, CODER}
