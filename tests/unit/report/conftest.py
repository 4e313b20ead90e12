"""A realistic four-instance fleet for the report tests, and the golden-file checker.

Regenerate the golden files under tests/golden/ after an intended change of output with
`pytest tests/unit/report --update-golden`, then review the diff.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.desired import (
    DesiredFleet,
    DesiredInstance,
    DesiredModel,
    Safety,
    SecretRef,
)
from reconciler.names import parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
TOKEN = "tok-INLINE-SECRET-123"
HEADER_SECRET = "hdr-INLINE-SECRET-456"
FOREVER = datetime(2318, 1, 1, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ with the current output",
    )


@pytest.fixture
def now() -> datetime:
    """The moment the fleet was observed and the documents are made."""
    return NOW


@pytest.fixture
def validate() -> Callable[[str, Any], None]:
    """Validate a document against schemas/<name> (itself checked as a 2020-12 schema)."""

    def check(name: str, document: Any) -> None:
        schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(document)

    return check


@pytest.fixture
def secret_values() -> tuple[str, ...]:
    """The inline secrets the desired fleet carries; no output may contain them."""
    return (TOKEN, HEADER_SECRET)


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare output with tests/golden/<name>, or rewrite it with --update-golden."""
    update = bool(request.config.getoption("--update-golden", default=False))

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"{path} is missing: run pytest tests/unit/report --update-golden"
        assert actual == path.read_text(encoding="utf-8")

    return check


def _dm(name: str, *, from_: str | None = None, **kw: Any) -> DesiredModel:
    return DesiredModel(name=parse(name), from_=parse(from_) if from_ else None, **kw)


def _om(name: str, size: int, **kw: Any) -> ObservedModel:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return ObservedModel(name=parse(name), digest=digest, size=size, **kw)


CODING = "modelset/coding"


@pytest.fixture
def desired() -> DesiredFleet:
    """gpu-1 with changes of every kind, dev-box unreachable, workstation off, cloud-1 in sync."""
    gpu = DesiredInstance(
        name="gpu-1",
        url="https://gpu-1.example.com/ollama",
        priority=1,
        labels={"tier": "gpu", "env": "prod"},
        bearer_token=SecretRef(value=TOKEN),
        headers={"X-API-Key": SecretRef(value=HEADER_SECRET), "X-Client-ID": "orc"},
        models=(
            _dm("llama3.2:3b", keep_loaded=True),
            _dm("qwen2.5-coder:7b", declared_by=CODING),
            _dm("nomic-embed-text", declared_by=CODING, keep_loaded=True),
            _dm(
                "coder",
                from_="qwen2.5-coder:7b",
                system="You are a careful code reviewer.",
                parameters={"num_ctx": 8192, "temperature": 0.2},
            ),
            _dm("old-model:7b", state="absent"),
            _dm("llama3:8b", state="absent"),
        ),
        prune=True,
        protect=("llama3*",),
    )
    dev = DesiredInstance(
        name="dev-box",
        url="http://dev-box:11434",
        priority=3,
        bearer_token=SecretRef(env="DEV_TOKEN"),
        models=(_dm("llama3.2:3b"),),
        prune=True,
    )
    workstation = DesiredInstance(
        name="workstation",
        url="http://127.0.0.1:11434",
        enabled=False,
        models=(_dm("llama3.2:3b"), _dm("phi3:mini")),
    )
    cloud = DesiredInstance(
        name="cloud-1",
        url="https://cloud.example.com",
        priority=2,
        models=(_dm("llama3.2:3b", keep_loaded=True), _dm("nomic-embed-text", declared_by=CODING)),
    )
    return DesiredFleet(
        instances=(gpu, dev, workstation, cloud),
        parallelism=10,  # explicit: the golden plan's desired digest covers it
        safety=Safety(max_deletions=5),
        name="prod",
    )


@pytest.fixture
def observed() -> ObservedFleet:
    """What a probe of that fleet found at NOW."""
    llama = {"family": "llama", "parameter_size": "3.2B", "quantization": "Q4_K_M"}
    chat = ("completion", "tools")
    gpu = ObservedInstance(
        name="gpu-1",
        url="https://gpu-1.example.com/ollama",
        enabled=True,
        health=Health.HEALTHY,
        version="0.6.5",
        latency_ms=42.3,
        checked_at=NOW - timedelta(seconds=3),
        models=(
            _om("llama3.2:3b", 2_019_393_189, context_length=131072, capabilities=chat, **llama),
            _om("qwen2.5-coder:7b", 4_683_087_332, family="qwen2", parameter_size="7.6B",
                quantization="Q4_K_M", context_length=32768, capabilities=("completion", "insert")),
            _om("coder:latest", 4_683_087_400, family="qwen2", parameter_size="7.6B",
                quantization="Q4_K_M", context_length=32768, capabilities=("completion",),
                system="You are a code reviewer.",
                parameters={"num_ctx": "8192", "temperature": "0.2"}),
            _om("old-model:7b", 3_800_000_000, family="llama", quantization="Q4_0"),
            _om("llama3:8b", 4_661_224_676, family="llama", parameter_size="8.0B",
                quantization="Q4_0", context_length=8192, capabilities=("completion",)),
            _om("mistral:7b", 4_113_301_824, family="llama", parameter_size="7.2B",
                quantization="Q4_0", context_length=32768, capabilities=chat),
        ),
    )  # fmt: skip
    dev = ObservedInstance(
        name="dev-box",
        url="http://dev-box:11434",
        enabled=True,
        health=Health.UNREACHABLE,
        reason="Unreachable",
        message="cannot connect to http://dev-box:11434: connection refused",
        checked_at=NOW - timedelta(seconds=5),
    )
    workstation = ObservedInstance(
        name="workstation",
        url="http://127.0.0.1:11434",
        enabled=False,
        health=Health.DISABLED,
        reason="Reachable",
        version="0.5.7",
        latency_ms=1.2,
        checked_at=NOW - timedelta(seconds=2),
        models=(_om("llama3.2:3b", 2_019_393_189, **llama),),
    )
    cloud = ObservedInstance(
        name="cloud-1",
        url="https://cloud.example.com",
        enabled=True,
        health=Health.HEALTHY,
        version="0.6.5",
        latency_ms=118.0,
        checked_at=NOW - timedelta(minutes=2),
        models=(
            _om("llama3.2:3b", 2_019_393_189, context_length=131072, capabilities=chat,
                loaded=True, loaded_until=FOREVER, **llama),
            _om("nomic-embed-text:latest", 274_302_450, family="nomic-bert",
                parameter_size="137M", quantization="F16", context_length=2048,
                capabilities=("embedding",)),
        ),
    )  # fmt: skip
    return ObservedFleet({i.name: i for i in (gpu, dev, workstation, cloud)})
