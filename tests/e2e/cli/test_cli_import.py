"""`orc import` end to end: real loopback sockets, real TLS, then `orc plan` on what it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.testing import BackgroundFleet, SimFleet, SimInstanceConfig

TOKEN = "import-SECRET-token-5f2c91"
API_KEY = "import-SECRET-apikey-77ab03"


@pytest.fixture(scope="module")
def fleet() -> Iterator[SimFleet]:
    """`gpu-1` speaks TLS and wants a token; `cpu-1` is plain http under `/ollama`."""
    configs = [
        SimInstanceConfig(
            name="gpu-1",
            models=("llama3.2:3b", "qwen2.5-coder:1.5b"),
            loaded=("llama3.2:3b",),
            tls=True,
            token=TOKEN,
        ),
        SimInstanceConfig(name="cpu-1", models=("qwen2.5-coder:1.5b",), path_prefix="/ollama"),
    ]
    with BackgroundFleet(configs) as running:
        yield running


def _orc(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_then_plan_has_no_changes(
    fleet: SimFleet,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GPU_TOKEN", TOKEN)
    monkeypatch.setenv("GPU_KEY", API_KEY)
    out = tmp_path / "manifests"
    code, stdout, err = _orc(
        capsys,
        "import",
        fleet.url("gpu-1"),
        "--name=gpu-1",
        "--token-env=GPU_TOKEN",
        "--header-env=X-API-Key=GPU_KEY",
        "--header=X-Client-ID=orc-e2e",
        f"--ca-file={fleet.ca_file}",
        "--labels=tier=gpu,env=prod",
        f"--out={out}",
    )
    assert (code, err) == (0, "")
    assert stdout == (
        f"Wrote {out / 'gpu-1.yaml'}: 2 models (0 custom, 1 kept loaded).\n"
        f"Check them with: orc plan {out}\n"
    )
    code, stdout, err = _orc(capsys, "import", fleet.url("cpu-1"), f"--out={out}")
    assert (code, err) == (0, "")
    assert stdout.startswith(f"Wrote {out / '127-0-0-1.yaml'}: 1 model")

    written = {p.name: p.read_text() for p in out.iterdir()}
    assert sorted(written) == ["127-0-0-1.yaml", "gpu-1.yaml"]
    for text in written.values():
        assert TOKEN not in text and API_KEY not in text
    assert "bearerToken:\n      env: GPU_TOKEN\n" in written["gpu-1.yaml"]
    assert f"url: {fleet.url('cpu-1')}\n" in written["127-0-0-1.yaml"]

    code, stdout, err = _orc(capsys, "plan", out, "--detailed-exitcode", "--state-dir", tmp_path)
    assert code == 0, stdout + err
    assert "No changes." in stdout
    assert TOKEN not in stdout + err and API_KEY not in stdout + err


def test_import_refuses_to_overwrite_and_leaves_the_file(
    fleet: SimFleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cpu-1.yaml").write_text("# mine\n")
    args = ("import", fleet.url("cpu-1"), "--name", "cpu-1", "--out", tmp_path)
    code, stdout, err = _orc(capsys, *args)
    assert (code, stdout) == (1, "")
    assert err == (
        f"Error: {tmp_path / 'cpu-1.yaml'} already exists: nothing was written "
        "(add --force to replace it, or choose another folder with --out)\n"
    )
    assert (tmp_path / "cpu-1.yaml").read_text() == "# mine\n"
    code, _, err = _orc(capsys, *args, "--force")
    assert (code, err) == (0, "")
    assert "name: qwen2.5-coder:1.5b" in (tmp_path / "cpu-1.yaml").read_text()


def test_an_unauthorized_import_writes_nothing(
    fleet: SimFleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _orc(
        capsys, "import", fleet.url("gpu-1"), f"--ca-file={fleet.ca_file}", "--out", tmp_path
    )
    assert code == 1
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
