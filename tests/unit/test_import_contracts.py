"""The import contracts of pyproject.toml catch what they promise (docs/architecture.md, Layers).

Each test copies `reconciler/` and `pyproject.toml` into a temporary folder, adds imports that
break one promise, runs `lint-imports` there in a subprocess and expects exactly the contract
that keeps that promise to break. An untouched copy must keep every contract, so a failure is
caused by the added import and by nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = "Layers point down, every module in a layer (docs/architecture.md, Layers)"

# Each library, a module outside its home, and the contract that must break.
LIBRARY_CASES = [
    ("httpx", "watch/results.py", "httpx only in reconciler.ollama"),
    (
        "yaml",
        "chat/result.py",
        "PyYAML only in reconciler.manifest.yamlload, yamlbuild and emit",
    ),
    ("click", "report/style.py", "click only in reconciler.cli"),
    ("rich", "apply.py", "rich only in reconciler.report and reconciler.cli.progress"),
    (
        "starlette",
        "watch/loop.py",
        "starlette only in reconciler.testing and reconciler.watch.http",
    ),
    (
        "uvicorn",
        "cli/sim.py",
        "uvicorn only in reconciler.testing, reconciler.watch.http and reconciler.watch.httpguard",
    ),
    ("jsonschema", "manifest/loader.py", "jsonschema only in reconciler.manifest.schema"),
    ("watchfiles", "watch/cycle.py", "watchfiles only in reconciler.watch.sources"),
    ("prometheus_client", "watch/http.py", "prometheus_client only in reconciler.watch.metrics"),
    ("sqlite3", "probe.py", "sqlite3 only in reconciler.state"),
    ("trustme", "cli/demo.py", "trustme only in reconciler.testing"),
    ("pydantic", "report/units.py", "pydantic only in reconciler.manifest and reconciler.ollama"),
    ("croniter", "plan/planner.py", "croniter only in reconciler.syncwindows"),
]


def _lint_imports() -> str:
    beside_python = Path(sysconfig.get_path("scripts")) / "lint-imports"
    found = beside_python if beside_python.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[dev]'")
    return str(found)


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "reconciler", tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "reconciler"


def _append(package: Path, module: str, line: str) -> None:
    path = package / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def _broken_contracts(copy: Path) -> tuple[int, set[str], str]:
    env = {**os.environ, "PYTHONPATH": str(copy), "COLUMNS": "400", "NO_COLOR": "1"}
    done = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    broken = {m.group(1) for m in re.finditer(r"^(.+) BROKEN$", output, re.MULTILINE)}
    return done.returncode, broken, output


def test_an_untouched_copy_keeps_every_contract(tmp_path: Path) -> None:
    _copy_package(tmp_path)

    code, broken, output = _broken_contracts(tmp_path)

    assert (code, broken) == (0, set()), output
    assert LAYERS in output


def test_every_library_imported_outside_its_home_breaks_its_contract(tmp_path: Path) -> None:
    package = _copy_package(tmp_path)
    for library, module, _ in LIBRARY_CASES:
        _append(package, module, f"import {library}  # noqa")

    code, broken, output = _broken_contracts(tmp_path)

    assert code == 1, output
    assert broken == {contract for _, _, contract in LIBRARY_CASES}, output
    for library, module, _ in LIBRARY_CASES:
        importer = "reconciler." + module.removesuffix(".py").replace("/", ".")
        assert f"- {importer} -> {library} (l." in output, output


@pytest.mark.parametrize(
    ("module", "line", "importer", "imported"),
    [
        # A lower layer importing a higher one, anywhere in the package.
        ("probe.py", "import reconciler.reconcile", "reconciler.probe", "reconciler.reconcile"),
        ("errors.py", "import reconciler.names", "reconciler.errors", "reconciler.names"),
        (
            "manifest/crossrefs.py",
            "from reconciler.plan import diff",
            "reconciler.manifest.crossrefs",
            "reconciler.plan.diff",
        ),
        # Notifications sit below the pipeline that calls them.
        (
            "notify/events.py",
            "import reconciler.reconcile",
            "reconciler.notify.events",
            "reconciler.reconcile",
        ),
        # A module that used to be in no layer at all.
        ("listen.py", "import reconciler.observed", "reconciler.listen", "reconciler.observed"),
        # The client and the manifests are independent of each other.
        (
            "ollama/types.py",
            "import reconciler.manifest.models",
            "reconciler.ollama.types",
            "reconciler.manifest.models",
        ),
    ],
)
def test_an_upward_import_breaks_the_layers(
    tmp_path: Path, module: str, line: str, importer: str, imported: str
) -> None:
    package = _copy_package(tmp_path)
    _append(package, module, f"{line}  # noqa")

    code, broken, output = _broken_contracts(tmp_path)

    assert (code, broken) == (1, {LAYERS}), output
    assert f"{importer} -> {imported}" in output, output


def test_a_module_in_no_layer_breaks_the_layers(tmp_path: Path) -> None:
    package = _copy_package(tmp_path)
    (package / "stray.py").write_text('"""A module nobody placed in a layer."""\n')

    code, broken, output = _broken_contracts(tmp_path)

    assert (code, broken) == (1, {LAYERS}), output
    assert "reconciler.stray" in output, output
