"""Every example manifest is valid, to `orc validate` and to the published JSON Schema alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
SCHEMA = ROOT / "schemas" / "manifest.v1.schema.json"
# examples/ci and examples/kubernetes hold pipelines and Kubernetes objects, not orc manifests.
DEPLOYMENT_FOLDERS = {"ci", "kubernetes"}
MANIFEST_FOLDERS = sorted(
    d for d in EXAMPLES.iterdir() if d.is_dir() and d.name not in DEPLOYMENT_FOLDERS
)
FILES = sorted(f for d in MANIFEST_FOLDERS for f in d.rglob("*.yaml"))


def test_there_is_an_example_per_scenario() -> None:
    folders = {p.parent.relative_to(EXAMPLES).parts[0] for p in FILES}
    assert folders >= {
        "local-dev",
        "remote-dev",
        "production-custom-endpoints",
        "cloud-path-prefix",
        "enterprise",
        "mtls-private-ca",
        "fleet-modelsets",
        "notifications",
        "sync-windows",
    }
    readme = (ROOT / "README.md").read_text()
    for folder in folders:
        assert f"`examples/{folder}/`" in readme


# Each folder is one scenario (at most one Fleet each), validated on its own: files, instances,
# model sets. A new folder needs a row, so the counts stay meaningful.
EXPECTED = {
    "cloud-path-prefix": (1, 1, 0),
    "enterprise": (1, 1, 0),
    "fleet-modelsets": (6, 3, 2),
    "local-dev": (1, 1, 0),
    "mtls-private-ca": (1, 1, 0),
    "notifications": (2, 1, 0),
    "production-custom-endpoints": (1, 1, 0),
    "remote-dev": (1, 1, 0),
    "sync-windows": (3, 2, 0),
}


def test_every_example_folder_has_its_counts() -> None:
    assert {d.name for d in MANIFEST_FOLDERS} == set(EXPECTED)


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=lambda d: d.name)
def test_orc_validate_accepts_every_example(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, instances, sets = EXPECTED[folder.name]
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"Valid: {files} file{'s' if files != 1 else ''}, {instances} "
        f"instance{'s' if instances != 1 else ''}, {sets} model sets, 0 warnings."
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_each_example_matches_the_published_schema(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    document = yaml.safe_load(path.read_text())
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []


def test_check_jsonschema_accepts_the_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), *map(str, FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout
