"""Writing manifests: layout, literal blocks, references only, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import names
from reconciler.desired import DesiredInstance, DesiredModel, SecretRef, TLSSettings
from reconciler.errors import UsageError
from reconciler.manifest import load_fleet
from reconciler.manifest.emit import (
    MODELINE,
    dump_documents,
    instance_document,
    modelset_document,
    write_files,
)

REVIEWER = DesiredModel(
    name=names.parse("reviewer"),
    from_=names.parse("qwen2.5-coder:7b"),
    system="You are a careful code reviewer.\nPoint out bugs first.",
    parameters={"temperature": 0.2, "stop": ["END"], "num_ctx": 8192},
    keep_loaded=True,
)


def _instance(tmp_path: Path, **fields: object) -> DesiredInstance:
    settings: dict[str, object] = {
        "name": "gpu-1",
        "url": "https://gpu-1.internal/ollama",
        "labels": {"tier": "gpu", "env": "prod"},
        "bearer_token": SecretRef(file=tmp_path / "secrets" / "token"),
        "headers": {"X-Client-ID": "orc", "X-API-Key": SecretRef(env="GPU_KEY")},
        "endpoints": {"listModels": "/v1/models", "chat": "/v1/chat"},
        "tls": TLSSettings(ca_file=tmp_path / "manifests" / "certs" / "ca.pem"),
        "models": (DesiredModel(name=names.parse("llama3.2:3b")), REVIEWER),
        **fields,
    }
    return DesiredInstance(**settings)  # type: ignore[arg-type]


def test_an_instance_is_written_in_the_readme_layout(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    text = dump_documents([instance_document(_instance(tmp_path), folder)], "Imported.")
    assert text == (
        f"{MODELINE}\n"
        "# Imported.\n"
        "apiVersion: ollama-reconciler/v1\n"
        "kind: OllamaInstance\n"
        "metadata:\n"
        "  name: gpu-1\n"
        "  labels:\n"
        "    env: prod\n"
        "    tier: gpu\n"
        "spec:\n"
        "  url: https://gpu-1.internal/ollama\n"
        "  tls:\n"
        "    caFile: certs/ca.pem\n"
        "  auth:\n"
        "    bearerToken:\n"
        "      file: ../secrets/token\n"
        "  headers:\n"
        "    X-API-Key:\n"
        "      env: GPU_KEY\n"
        "    X-Client-ID: orc\n"
        "  endpoints:\n"
        "    listModels: /v1/models\n"
        "    chat: /v1/chat\n"
        "  models:\n"
        "  - name: llama3.2:3b\n"
        "  - name: reviewer:latest\n"
        "    keepLoaded: true\n"
        "    from: qwen2.5-coder:7b\n"
        "    system: |-\n"
        "      You are a careful code reviewer.\n"
        "      Point out bugs first.\n"
        "    parameters:\n"
        "      num_ctx: 8192\n"
        "      stop:\n"
        "      - END\n"
        "      temperature: 0.2\n"
    )


def test_what_is_written_loads_back_to_the_same_declaration(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("t" * 20)
    (folder / "certs").mkdir(parents=True)
    (folder / "certs" / "ca.pem").write_text("not read by validate")
    tricky = DesiredModel(
        name=names.parse("odd:v1"),
        from_=names.parse("llama3.2:3b"),
        template="{{ .Prompt }}  \n\n",
        system="yes",
        parameters={"stop": ["#", "- ", "null"]},
    )
    labels = {"modelset": "shared"}
    instance = _instance(tmp_path, models=(tricky,), labels=labels)
    modelset = modelset_document("shared", {"modelset": "shared"}, (REVIEWER,))
    write_files(
        {
            folder / "gpu-1.yaml": dump_documents([instance_document(instance, folder)]),
            folder / "shared.yaml": dump_documents([modelset]),
        },
        force=False,
    )
    loaded = load_fleet([folder])
    assert [str(d) for d in loaded.diagnostics] == []
    assert loaded.fleet is not None
    [got] = loaded.fleet.instances
    assert [m.declared_by for m in got.models] == ["instance", "modelset/shared"]
    assert got.bearer_token is not None and got.bearer_token.file is not None
    assert got.bearer_token.file.resolve() == (tmp_path / "secrets" / "token").resolve()
    odd = got.model(names.parse("odd:v1"))
    assert odd is not None
    assert (odd.template, odd.system, dict(odd.parameters)) == (
        tricky.template,
        "yes",
        {"stop": ["#", "- ", "null"]},
    )


def test_an_inline_secret_value_is_never_written(tmp_path: Path) -> None:
    instance = _instance(tmp_path, bearer_token=SecretRef(value="inline-secret-value"))
    with pytest.raises(UsageError) as caught:
        instance_document(instance, tmp_path)
    assert "inline-secret-value" not in str(caught.value)


def test_existing_files_refuse_the_whole_write(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("keep me\n")
    files = {tmp_path / "a.yaml": "a: 1\n", tmp_path / "b.yaml": "b: 2\n"}
    with pytest.raises(UsageError, match=r"b\.yaml already exists: nothing was written"):
        write_files(files, force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.yaml"]
    write_files(files, force=True)
    assert (tmp_path / "b.yaml").read_text() == "b: 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]
