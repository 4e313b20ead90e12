"""`orc validate` as the user sees it: lines, summary, JSON, exit codes, help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.main import main

GOOD = (  # each instance is a server of its own
    "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: %(name)s}\n"
    "spec:\n  url: http://%(name)s.test:11434\n"
)
SET = (
    "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: s}\nspec:\n  selector: {}\n"
)
BAD = GOOD % {"name": "bad"} + "  priority: 0\n  colour: red\n"
WARN = GOOD % {"name": "warn"} + "  auth:\n    bearerToken: {value: hunter2}\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-color", "validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_fleet_summary(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "a.yaml").write_text(GOOD % {"name": "a"} + "---\n" + GOOD % {"name": "b"})
    (folder / "s.yaml").write_text(SET)
    assert run(capsys, ".") == (0, "Valid: 2 files, 2 instances, 1 model set, 0 warnings.\n", "")


def test_one_line_per_problem_then_the_count(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.yaml").write_text(BAD)
    (folder / "warn.yaml").write_text(WARN)
    code, out, _ = run(capsys, "bad.yaml", str(folder / "warn.yaml"))
    assert code == 1
    assert out.splitlines() == [
        "bad.yaml:6:13: error: spec.priority: must be between 1 and 10, got the integer 0",
        "bad.yaml:7:3: error: spec.colour: unknown field 'colour'",
        "warn.yaml:7:19: warning: spec.auth.bearerToken.value: inline secret value in a manifest "
        "(manifests live in git: use {env: NAME} or {file: PATH})",
        "2 errors, 1 warning in 2 files.",
    ]
    assert "hunter2" not in out


def test_warnings_alone_exit_zero(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "warn.yaml").write_text(WARN)
    code, out, _ = run(capsys, "warn.yaml")
    assert code == 0
    assert out.splitlines()[-1] == "Valid: 1 file, 1 instance, 0 model sets, 1 warning."


def test_missing_path_is_a_clear_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "nope/") == (
        1,
        "nope: error: no such file or folder\n1 error, 0 warnings in 0 files.\n",
        "",
    )


def test_json_output_has_the_terraform_shape(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.yaml").write_text(BAD)
    code, out, _ = run(capsys, "--format", "json", "bad.yaml")
    assert code == 1
    report = json.loads(out)
    assert {k: report[k] for k in ("format_version", "valid", "error_count", "warning_count")} == {
        "format_version": "1.0",
        "valid": False,
        "error_count": 2,
        "warning_count": 0,
    }
    assert report["diagnostics"][1] == {
        "severity": "error",
        "summary": "unknown field 'colour'",
        "detail": "spec.colour",
        "range": {
            "filename": "bad.yaml",
            "start": {"line": 7, "column": 3},
            "end": {"line": 7, "column": 9},
        },
    }


def test_json_detail_carries_the_hint(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "old.yaml").write_text(GOOD % {"name": "old"} + "  is_enabled: true\n")
    _, out, _ = run(capsys, "--format", "json", "old.yaml")
    assert json.loads(out)["diagnostics"][0]["detail"] == (
        "spec.is_enabled: the old is_enabled is now spec.enabled"
    )


def test_json_for_a_valid_fleet(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "a.yaml").write_text(GOOD % {"name": "a"})
    code, out, _ = run(capsys, "--format", "json", "a.yaml")
    assert code == 0
    assert json.loads(out) == {
        "format_version": "1.0",
        "valid": True,
        "error_count": 0,
        "warning_count": 0,
        "diagnostics": [],
    }


@pytest.mark.parametrize("args", [[], ["--format", "xml", "a.yaml"], ["--bogus", "a.yaml"]])
def test_usage_errors_exit_one(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *args)
    assert code == 1
    assert "Error" in err or "Usage" in err


def test_help_explains_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for text in ("PATH", "--format [text|json]", "*.yaml", "orc validate manifests/", "Exit codes"):
        assert text in out
