"""One `orc validate` run reports every error of a file: a missing required field does not hide
the findings next to it (a second run after fixing it must find nothing new)."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import load_fleet

MISSING_URL = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {name: a}
spec:
  priority: 0
  models:
    - name: "bad name"
  smoke:
    - model: llama3
      prompt: hi
      expect: "(unclosed"
"""


def _messages(folder: Path) -> list[str]:
    return [f"{d.field_path}: {d.message}" for d in load_fleet([folder]).errors]


def test_a_missing_url_does_not_hide_the_other_errors_of_its_spec(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MISSING_URL)
    found = _messages(tmp_path)
    assert [m.split(":")[0] for m in found] == [
        "spec.url",
        "spec.priority",
        "spec.models[0].name",
        "spec.smoke[0].expect",
    ]
    assert "missing required field 'url'" in found[0]


def test_fixing_the_reported_errors_leaves_none_for_a_second_run(tmp_path: Path) -> None:
    fixed = (
        MISSING_URL.replace("spec:\n", "spec:\n  url: http://127.0.0.1:1\n")
        .replace("priority: 0", "priority: 1")
        .replace('"bad name"', "llama3")
        .replace('"(unclosed"', '"(closed)"')
    )
    (tmp_path / "a.yaml").write_text(fixed)
    assert _messages(tmp_path) == []


def test_two_documents_missing_their_url_are_not_taken_for_one_server(tmp_path: Path) -> None:
    second = MISSING_URL.replace("name: a}", "name: b}")
    (tmp_path / "a.yaml").write_text(MISSING_URL + "---\n" + second)
    found = _messages(tmp_path)
    assert sum("missing required field 'url'" in m for m in found) == 2
    assert not any("same server" in m for m in found)
    assert not any("missing-url" in m for m in found)  # stand-ins never show
