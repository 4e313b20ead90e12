"""orc runs no pydantic plugin: one installed beside it never sees a manifest or a reply.

A throw-away distribution on `sys.path` registers a `pydantic` plugin that writes down when it is
imported and each validator it is handed. Plain pydantic loads it (so the plugin works); a fresh
interpreter that validates manifests through orc never imports it, and neither reads any entry
point nor imports `importlib.metadata` to look for it. Each case runs in a fresh interpreter:
pydantic looks for plugins once per process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fresh_interpreter import run_fresh

PLUGIN = """\
import os

LOG = os.environ["SPY_PLUGIN_LOG"]


def _note(line):
    with open(LOG, "a") as log:
        log.write(line + "\\n")


_note("loaded")


class _Spy:
    def new_schema_validator(self, schema, schema_type, *args, **kwargs):
        _note("validator " + getattr(schema_type, "__name__", repr(schema_type)))
        return None, None, None


plugin = _Spy()
"""

INSTANCE = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {name: one}
spec:
  url: http://127.0.0.1:11434
  headers: {X-Api-Key: {value: s3cret-token-value}}
  models: [{name: llama3.2:3b}]
"""


@pytest.fixture
def spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The folder holding the spy distribution, and the file it writes to."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "spy_plugin.py").write_text(PLUGIN)
    info = site / "spy_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    log = tmp_path / "spy.log"
    monkeypatch.setenv("SPY_PLUGIN_LOG", str(log))
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    return site, log


def _run(site: Path, log: Path, body: str) -> tuple[list[str], dict[str, object]]:
    """Run `body` in a fresh interpreter with the spy distribution installed: what the plugin
    wrote, and the JSON line `body` prints last."""
    code = (
        "import json, sys\n"
        "early = 'importlib.metadata' in sys.modules  # an interpreter's own site may import it\n"
        f"sys.path.insert(0, {str(site)!r})\n{body}"
    )
    out = run_fresh(code)
    noted = log.read_text().splitlines() if log.exists() else []
    return noted, json.loads(out.strip().splitlines()[-1])


PLAIN_MODEL = (
    "from pydantic import BaseModel\n"
    "class Reply(BaseModel):\n"
    "    status: str\n"
    "Reply.model_validate({'status': 'ok'})\n"
)

VALIDATE = (
    "import contextlib, io\n"
    "from reconciler.cli.main import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    code = main(['validate', {manifest!r}])\n"
)


def test_plain_pydantic_loads_the_spy(spy: tuple[Path, Path]) -> None:
    """The control: without orc, pydantic finds the plugin and hands it each validator."""
    site, log = spy
    noted, found = _run(
        site,
        log,
        PLAIN_MODEL + "print(json.dumps({'metadata': 'importlib.metadata' in sys.modules}))\n",
    )
    assert noted == ["loaded", "validator Reply"]
    assert found == {"metadata": True}


def test_validating_manifests_through_orc_never_loads_a_plugin(
    spy: tuple[Path, Path], tmp_path: Path
) -> None:
    site, log = spy
    manifest = tmp_path / "one.yaml"
    manifest.write_text(INSTANCE)
    body = (
        VALIDATE.format(manifest=str(manifest))
        # a model of the program's own, built after orc was imported: no plugin either
        + PLAIN_MODEL
        + "from reconciler.manifest import load_fleet\n"
        "ok = load_fleet([" + repr(str(manifest)) + "]).ok\n"
        "print(json.dumps({'code': code, 'ok': ok, 'spy': 'spy_plugin' in sys.modules,\n"
        "    'metadata': 'importlib.metadata' in sys.modules and not early}))\n"
    )
    noted, found = _run(site, log, body)
    assert noted == []
    assert found == {"code": 0, "ok": True, "spy": False, "metadata": False}


def test_a_plugin_loaded_before_orc_is_imported_sees_nothing_of_orc(
    spy: tuple[Path, Path], tmp_path: Path
) -> None:
    """A program that built a validator (and so loaded its plugins) before importing orc: the
    plugin keeps that validator, and is handed none of orc's."""
    site, log = spy
    manifest = tmp_path / "one.yaml"
    manifest.write_text(INSTANCE)
    body = (
        PLAIN_MODEL
        + VALIDATE.format(manifest=str(manifest))
        + "print(json.dumps({'code': code}))\n"
    )
    noted, found = _run(site, log, body)
    assert noted == ["loaded", "validator Reply"]
    assert found == {"code": 0}
