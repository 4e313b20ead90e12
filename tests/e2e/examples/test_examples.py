"""Every example manifest is valid, to `orc validate` and to the published JSON Schema alone."""

from __future__ import annotations

import json
import re
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
    }
    readme = (ROOT / "README.md").read_text()
    for folder in folders:
        assert f"`examples/{folder}/`" in readme


def test_orc_validate_accepts_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Each folder is one scenario (a Fleet of its own), so each is validated on its own."""
    totals = [0, 0, 0, 0]
    for folder in MANIFEST_FOLDERS:
        assert main(["validate", str(folder)]) == 0, folder
        out = capsys.readouterr().out
        found = re.match(
            r"Valid: (\d+) files?, (\d+) instances?, (\d+) model sets?, (\d+) warnings?\.", out
        )
        assert found is not None, out
        totals = [t + int(n) for t, n in zip(totals, found.groups(), strict=True)]
    assert totals == [14, 10, 2, 0]  # files, instances, model sets, warnings


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
