"""The wheel works outside the source tree: schemas ship inside it and `orc validate` runs."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, ROOT, cwd=ROOT
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = out.glob("ollama_reconciler-*.whl")
    return path


def test_wheel_ships_the_schemas(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "reconciler/schemas/manifest.v1.schema.json" in names
    assert "reconciler/cli/main.py" in names
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_validates_the_examples(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # Dependencies come from the surrounding interpreter's site-packages (no network in tests),
    # named in a .pth file so that this works from a virtual environment too; the .pth files
    # there (the editable install of this checkout) are not run, so the project itself comes
    # only from the wheel.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    )
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "outer-site-packages.pth").write_text(
        "\n".join(sorted(outer)) + "\n"
    )
    install = _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        wheel,
        cwd=tmp_path,
    )
    if install.returncode != 0 and "no such option: --python" in install.stderr:
        pytest.fail("pip too old for --python; upgrade pip")
    assert install.returncode == 0, install.stderr[-2000:]

    where = _run(python, "-c", "import reconciler; print(reconciler.__file__)", cwd=tmp_path)
    assert str(env_dir) in where.stdout, where.stdout + where.stderr

    orc = env_dir / "bin" / "orc"
    # Each folder is one scenario (a fleet of its own), so each is validated on its own.
    folders = [d for d in (ROOT / "examples").iterdir() if d.name not in {"ci", "kubernetes"}]
    for folder in sorted(folders):
        result = _run(orc, "validate", folder, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid" in result.stdout
