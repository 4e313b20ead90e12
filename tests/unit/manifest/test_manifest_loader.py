"""Loading: finding files, reading YAML with positions, every error at once, no fleet on error."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import LoadResult, Severity, load_fleet

HEAD = "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"


def instance(name: str, spec: str | None = None) -> str:
    """An OllamaInstance document; without `spec`, each name gets a server of its own."""
    spec = f"  url: http://{name}.test:11434\n" if spec is None else spec
    return f"{HEAD}metadata:\n  name: {name}\nspec:\n{spec}"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def test_folders_are_searched_recursively_in_sorted_order_skipping_hidden(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", instance("b"))
    write(tmp_path, "a/z.yml", instance("z"))
    write(tmp_path, "a/notes.txt", "not a manifest")
    write(tmp_path, ".github/workflows/ci.yaml", "on: push\n")
    write(tmp_path, ".hidden.yaml", "garbage: [")
    result = load_fleet([tmp_path])
    assert result.ok, messages(result)
    assert result.files == [tmp_path / "a" / "z.yml", tmp_path / "b.yaml"]
    assert result.fleet is not None
    assert [i.name for i in result.fleet.instances] == ["z", "b"]


def test_an_explicit_file_is_read_whatever_its_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "fleet.manifest", instance("one"))
    result = load_fleet([path, path, tmp_path / "." / "fleet.manifest"])
    assert result.ok and result.files == [path]


def test_missing_path_and_empty_folder_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = load_fleet([tmp_path / "nope.yaml", tmp_path / "empty"])
    assert result.fleet is None
    assert [(d.message, d.line) for d in result.diagnostics] == [
        ("no such file or folder", 0),
        ("no manifest files (*.yaml, *.yml) in this folder", 0),
    ]
    assert str(result.diagnostics[0]) == f"{tmp_path / 'nope.yaml'}: error: no such file or folder"


def test_every_error_of_every_file_is_reported_in_file_and_line_order(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "key: [unclosed\n")
    spec = "  url: ftp://x\n  priority: 0\n  modelz: []\n  models:\n    - name: bad name\n"
    write(tmp_path, "b.yaml", instance("b", spec))
    result = load_fleet([tmp_path])
    assert result.fleet is None
    assert [(Path(d.file).name, d.line, d.field_path) for d in result.errors] == [
        ("a.yaml", 2, ""),
        ("b.yaml", 6, "spec.url"),
        ("b.yaml", 7, "spec.priority"),
        ("b.yaml", 8, "spec.modelz"),
        ("b.yaml", 10, "spec.models[0].name"),
    ]


def test_unknown_fields_point_at_the_key_and_bad_values_at_the_value(tmp_path: Path) -> None:
    spec = "  url: http://x\n  timeout:    soon\n  colour: red\n"
    result = load_fleet([write(tmp_path, "a.yaml", instance("a", spec))])
    positions = {d.field_path: (d.line, d.column, d.end_line, d.end_column) for d in result.errors}
    assert positions == {"spec.timeout": (7, 15, 7, 19), "spec.colour": (8, 3, 8, 9)}


def test_duplicate_keys_are_errors_at_any_depth(tmp_path: Path) -> None:
    text = instance("a", "  url: http://x\n  tls:\n    verify: true\n    verify: false\n")
    result = load_fleet([write(tmp_path, "a.yaml", text)])
    assert messages(result) == [
        f"{tmp_path / 'a.yaml'}:9:5: error: spec.tls.verify: "
        "duplicate key 'verify' (first defined at line 8)"
    ]


def test_empty_documents_between_others_are_skipped(tmp_path: Path) -> None:
    text = "---\n" + instance("a") + "---\n---\n# nothing\n---\n" + instance("b")
    result = load_fleet([write(tmp_path, "a.yaml", text)])
    assert result.ok, messages(result)
    assert result.fleet is not None and len(result.fleet.instances) == 2


def test_model_sets_may_live_in_another_file(tmp_path: Path) -> None:
    write(tmp_path, "i.yaml", instance("a", "  url: http://x\n  modelSets: [shared]\n"))
    write(
        tmp_path,
        "s.yaml",
        "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: shared}\n"
        "spec:\n  models: [{name: llama3}]\n",
    )
    result = load_fleet([tmp_path])
    assert result.ok and result.fleet is not None
    assert [m.declared_by for m in result.fleet.instances[0].models] == ["modelset/shared"]


def test_one_broken_instance_means_no_desired_fleet_at_all(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", instance("good"))
    write(tmp_path, "bad.yaml", instance("bad", "  url: http://x\n  priority: 99\n"))
    result = load_fleet([tmp_path])
    assert not result.ok
    assert result.fleet is None


def test_a_set_with_schema_errors_is_not_also_reported_as_unknown(tmp_path: Path) -> None:
    write(tmp_path, "i.yaml", instance("a", "  url: http://x\n  modelSets: [shared]\n"))
    write(
        tmp_path,
        "s.yaml",
        "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: shared}\n"
        "spec:\n  models: {name: llama3}\n",
    )
    result = load_fleet([tmp_path])
    assert [d.field_path for d in result.errors] == ["spec.models"]


def test_semantic_errors_are_reported_alongside_schema_errors(tmp_path: Path) -> None:
    spec = "  url: localhost:11434\n  enabled: maybe\n  models:\n    - name: Bad Name\n"
    result = load_fleet([write(tmp_path, "a.yaml", instance("a", spec))])
    assert [d.field_path for d in result.errors] == [
        "spec.url",
        "spec.enabled",
        "spec.models[0].name",
    ]


def test_inline_secret_is_a_warning_only(tmp_path: Path) -> None:
    spec = "  url: http://x\n  auth:\n    bearerToken: {value: s3cr3t}\n"
    result = load_fleet([write(tmp_path, "a.yaml", instance("a", spec))])
    assert result.ok and result.fleet is not None
    assert [(d.severity, d.field_path) for d in result.diagnostics] == [
        (Severity.WARNING, "spec.auth.bearerToken.value")
    ]
    assert "s3cr3t" not in str(result.diagnostics[0])


def test_missing_secret_file_or_variable_is_not_a_validation_error(tmp_path: Path) -> None:
    spec = "  url: http://x\n  auth:\n    bearerToken: {file: nowhere/token}\n"
    spec += "  headers:\n    X-Key: {env: SURELY_NOT_SET_ANYWHERE}\n"
    result = load_fleet([write(tmp_path, "a.yaml", instance("a", spec))])
    assert result.ok, messages(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\n", "recursive alias *a"),
        # PyYAML >= 6.0.4 stops at its own depth limit first, in its own words
        ("[" * 5000 + "]" * 5000, "nested deeper than 64 levels|maximum nesting depth"),
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            ),
            "more than 100000 nodes",
        ),
        ("a: !!binary aGVsbG8=\n", "unsupported YAML tag '!!binary'"),
        ("a: " + "9" * 5000 + "\n", "number too large"),
        ("a: b\x00c\n", "is not allowed in YAML"),
        ("? [a, b]\n: c\n", "a mapping key must be a plain value"),
    ],
    ids=["recursive", "deep", "alias-bomb", "tag", "huge-int", "control", "complex-key"],
)
def test_hostile_yaml_becomes_a_diagnostic_quickly(tmp_path: Path, text: str, message: str) -> None:
    start = time.perf_counter()
    result = load_fleet([write(tmp_path, "a.yaml", text)])
    assert time.perf_counter() - start < 2
    assert result.fleet is None
    alternatives = message.split("|")
    assert any(a in d.message for a in alternatives for d in result.errors), messages(result)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(instance("a").encode("utf-16"))
    assert load_fleet([path]).ok


def test_files_below_the_current_folder_are_shown_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "sub/a.yaml", instance("a", "  url: http://x\n  priority: 0\n"))
    monkeypatch.chdir(tmp_path)
    result = load_fleet([tmp_path / "sub"])
    assert result.errors[0].file == str(Path("sub") / "a.yaml")


def test_raise_for_errors_names_the_first_error_and_counts_the_rest(tmp_path: Path) -> None:
    spec = "  url: http://x\n  priority: 0\n  timeout: -1\n  prune: nope\n"
    path = write(tmp_path, "a.yaml", instance("a", spec))
    result = load_fleet([path])
    with pytest.raises(ManifestError) as caught:
        result.raise_for_errors()
    assert str(caught.value) == (
        f"{path}:7:13: spec.priority: must be between 1 and 10, got the integer 0 "
        "(and 2 more; run `orc validate`)"
    )
    assert caught.value.where == f"{path}:7:13"


def test_raise_for_errors_is_silent_for_a_valid_fleet(tmp_path: Path) -> None:
    result = load_fleet([write(tmp_path, "a.yaml", instance("a"))])
    result.raise_for_errors()
    assert result.ok and result.kinds["OllamaInstance"] == 1


def test_loading_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", instance("a"))
    assert gc.isenabled()
    load_fleet([path])
    assert gc.isenabled()
    gc.disable()
    try:
        load_fleet([path])
        assert not gc.isenabled()
    finally:
        gc.enable()
