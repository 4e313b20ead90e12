"""`orc import` flags become one ImportRequest; the import itself is patched out."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adopt import ImportRequest, ImportResult
from reconciler.cli import importing
from reconciler.cli.main import main


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[ImportRequest]:
    seen: list[ImportRequest] = []

    async def fake(request: ImportRequest) -> ImportResult:
        seen.append(request)
        return ImportResult(files=())

    monkeypatch.setattr(importing, "import_servers", fake)
    return seen


def test_flags_map_to_the_request(requests: list[ImportRequest], tmp_path: Path) -> None:
    code = main(
        [
            "import",
            "http://a:11434",
            "http://b:11434",
            "--name=gpu",
            "--token-env=TOKEN",
            "--header=X-Client-ID=orc",
            "--header-env=X-API-Key=KEY",
            "--endpoint=chat=/v1/chat",
            "--labels=tier=gpu,env=prod",
            "--labels=zone=a",
            "--modelset=shared",
            f"--out={tmp_path}",
            "--force",
        ]
    )
    assert code == 0
    [request] = requests
    assert request.urls == ("http://a:11434", "http://b:11434")
    assert (request.name, request.token_env, request.modelset) == ("gpu", "TOKEN", "shared")
    assert request.headers == {"X-Client-ID": "orc"}
    assert request.header_env == {"X-API-Key": "KEY"}
    assert request.endpoints == {"chat": "/v1/chat"}
    assert request.labels == {"tier": "gpu", "env": "prod", "zone": "a"}
    assert (request.out, request.force) == (tmp_path, True)


def test_a_pair_without_equals_is_a_usage_error(
    requests: list[ImportRequest], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "http://a:11434", "--header", "X-Client-ID"]) == 1
    assert capsys.readouterr().err == "Error: --header 'X-Client-ID' is not KEY=VALUE\n"
    assert requests == []


def test_a_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import"]) == 1
    assert "Missing argument 'URL [URL...]'" in capsys.readouterr().err
