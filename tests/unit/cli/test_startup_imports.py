"""Start-up stays light: what a command loads before it works, by module, never by timing.

`orc validate` of plain instances needs the manifest loader and nothing of the network, the
state directory, the sync-window calendar or the schema checker; the flags every command shares
need neither the loader nor SQLite; `orc plan` without colour needs no rich, none of the status
or HTML renderers, no notifications and none of the figures of `orc status`, and nothing of what
only carrying out a plan or chatting needs: the executor, the apply history, the locks, the chat,
generate and progress reply models, the sync-window calendar. Each probe runs in a fresh
interpreter, and the hostile case shows that the same probe does see those modules when the
manifests, a terminal or `orc apply` call for them.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.testing import BackgroundFleet, SimInstanceConfig
from tests.support.fresh_interpreter import run_fresh

INSTANCE = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {name: one}
spec:
  url: http://127.0.0.1:11434
  models: [{name: llama3.2:3b, keepLoaded: true}]
"""

FLEET_WITH_WINDOWS = """\
apiVersion: ollama-reconciler/v1
kind: Fleet
spec:
  syncWindows:
    - {kind: deny, schedule: "0 9 * * 1-5", duration: 8h}
"""

MISSPELLED = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {name: two}
spec:
  url: http://127.0.0.1:11435
  modles: []
"""

# Loaded only when something asks for them: never by `orc validate` of plain instances.
NOT_FOR_VALIDATE = (
    "httpx",
    "httpcore",
    "anyio",
    "asyncio",
    "rich",
    "jsonschema",
    "croniter",
    "sqlite3",
    "difflib",
    "reconciler.ollama",
    "reconciler.state.directory",
    "reconciler.syncwindows",
    "reconciler.cli.options",
    "reconciler.manifest.schema",
    # pydantic's plugin lookup (which imports it to read every distribution's entry points)
    "importlib.metadata",
    # weights files, smoke tests, sync windows, receivers
    "reconciler.desired.features",
)

# Loaded by `orc status`, `orc watch` or a coloured plan: never by a plan printed without colour.
NOT_FOR_PLAN = (
    "rich",
    "reconciler.notify",
    "reconciler.report.status",
    "reconciler.report.status_table",
    "reconciler.report.status_json",
    "reconciler.report.status_markdown",
    "reconciler.report.html",
    "reconciler.report.plan_json",
    "reconciler.report.plan_markdown",
    "reconciler.state.figures",
)

# Loaded by `orc apply`, `orc watch`, `orc chat-test` or a Fleet with sync windows: never by a plan
# (of a fleet without windows).
NOT_FOR_PLAN_ONLY_FOR_APPLY = (
    "reconciler.apply",
    "reconciler.ollama.generation",
    "reconciler.ollama.progress",
    "reconciler.ollama.chat_options",
    "reconciler.ollama.completion",
    "reconciler.state.history",
    "reconciler.state.lock",
    "reconciler.state.serverlocks",
    "reconciler.syncwindows",
)


def _run(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter of this checkout; it prints one JSON line last."""
    done = run_fresh(code)
    result: dict[str, object] = json.loads(done.strip().splitlines()[-1])
    return result


def _validate(paths: list[Path]) -> dict[str, object]:
    """`orc validate PATHS` in a fresh interpreter: its exit code, the modules it loaded, and
    which manifest models had their validator built."""
    code = (
        "import contextlib, io, json, sys\n"
        "from reconciler.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['validate', *{[str(p) for p in paths]!r}])\n"
        "from reconciler.manifest import models\n"
        "built = [k for k, m in models.MODEL_BY_KIND.items() if m.__pydantic_complete__]\n"
        "from reconciler import pydanticplugins\n"
        "plugins = pydanticplugins.installed()\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules), 'built': built,\n"
        "    'no_plugins': plugins}))\n"
    )
    return _run(code)


def _loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    """Which of `names` (or modules inside them) are among `modules`."""
    assert isinstance(modules, list)
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


def test_validating_plain_instances_loads_only_the_manifest_loader(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(INSTANCE)
    found = _validate([tmp_path / "one.yaml"])
    assert found["code"] == 0
    assert _loaded(found["modules"], NOT_FOR_VALIDATE) == []
    # the validators of the kinds not written are never built
    assert found["built"] == ["OllamaInstance"]
    # pydantic asked the stand-in for plugins (see tests/unit/test_pydantic_plugins.py)
    assert found["no_plugins"] is True


def test_the_probe_sees_what_windows_and_a_misspelled_field_call_for(tmp_path: Path) -> None:
    """The same probe on manifests that need them: the calendar, the schema checker and the
    "did you mean" hints are loaded, and the Fleet's validator is built."""
    (tmp_path / "one.yaml").write_text(INSTANCE)
    (tmp_path / "fleet.yaml").write_text(FLEET_WITH_WINDOWS)
    (tmp_path / "two.yaml").write_text(MISSPELLED)
    found = _validate([tmp_path])
    assert found["code"] == 1
    assert _loaded(found["modules"], NOT_FOR_VALIDATE) == [
        "croniter",
        "difflib",
        "jsonschema",
        "reconciler.desired.features",
        "reconciler.manifest.schema",
        "reconciler.syncwindows",
    ]
    assert found["built"] == ["OllamaInstance", "Fleet"]


def test_the_shared_flags_load_neither_the_loader_nor_the_state() -> None:
    code = (
        "import json, sys\n"
        "import reconciler.cli.options\n"
        "from reconciler.state import DEFAULT_RETENTION, STATE_DIR_ENV\n"
        "print(json.dumps({'modules': sorted(sys.modules)}))\n"
    )
    heavy = (
        "yaml",
        "pydantic",
        "sqlite3",
        "reconciler.manifest.loader",
        "reconciler.state.directory",
    )
    assert _loaded(_run(code)["modules"], heavy) == []


def test_the_state_names_are_the_real_ones() -> None:
    """Names imported on first use are the very objects of their modules."""
    from reconciler import state
    from reconciler.state import defaults, directory

    assert state.StateDir is directory.StateDir
    assert state.STATE_DIR_ENV is defaults.STATE_DIR_ENV
    assert sorted(state.__all__) == sorted(state._LAZY)


def test_the_desired_names_made_on_first_use_are_the_real_ones() -> None:
    from reconciler import desired
    from reconciler.desired import features

    for name in desired._LAZY:
        assert getattr(desired, name) is getattr(features, name)
    assert desired.SyncWindow("w", "deny", "0 9 * * *", 60.0).actions == desired.SYNC_ACTIONS


def _plan(
    manifests: Path, state_dir: Path, *, terminal: bool, command: tuple[str, ...] = ("plan",)
) -> dict[str, object]:
    """`orc plan MANIFESTS` (or another command) in a fresh interpreter, printing to a terminal
    or not: its exit code, what it printed and the modules it loaded."""
    code = (
        "import contextlib, io, json, os, sys\n"
        "os.environ.pop('NO_COLOR', None)\n"
        "class Out(io.StringIO):\n"
        f"    def isatty(self): return {terminal!r}\n"
        "from reconciler.cli.main import main\n"
        "out = Out()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    args = [*{list(command)!r}, {str(manifests)!r}, '--state-dir', {str(state_dir)!r}]\n"
        "    code = main(args)\n"
        "print(json.dumps({'code': code, 'out': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    return _run(code)


def _write_instance(manifests: Path, url: str, also: str) -> None:
    """`INSTANCE` served at `url`, declaring the model `also` besides its kept-loaded one."""
    (manifests / "one.yaml").write_text(
        INSTANCE.replace("http://127.0.0.1:11434", url).replace(
            "[{name: llama3.2:3b, keepLoaded: true}]",
            f"[{{name: llama3.2:3b, keepLoaded: true}}, {{name: {also}}}]",
        )
    )


def test_a_plan_without_colour_loads_neither_rich_nor_status_nor_notifications(
    tmp_path: Path,
) -> None:
    """The whole plan path against a simulated server on loopback; a coloured plan is the
    hostile case: the same probe sees rich then."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    with BackgroundFleet([SimInstanceConfig("one", models=("llama3.2:3b",))]) as fleet:
        _write_instance(manifests, fleet.url("one"), "qwen2.5:0.5b")
        plain = _plan(manifests, tmp_path / "state", terminal=False)
        coloured = _plan(manifests, tmp_path / "state", terminal=True)
    assert plain["code"] == 0
    assert "  + pull qwen2.5:0.5b" in str(plain["out"])
    assert "\x1b[" not in str(plain["out"])
    assert _loaded(plain["modules"], NOT_FOR_PLAN) == []
    assert coloured["code"] == 0
    assert "\x1b[" in str(coloured["out"])
    assert _loaded(coloured["modules"], NOT_FOR_PLAN) == ["rich"]


def test_a_plan_loads_nothing_that_only_applying_or_chatting_needs(tmp_path: Path) -> None:
    """A steady-state plan against a simulated server (its show replies cached by the plan
    before) loads no executor, apply history, locks, chat/generate or progress reply models, or
    calendar; `orc apply --yes` of the same manifests (a pull and a load), the hostile case,
    loads every one of them but the calendar and the chat options, and a Fleet with sync
    windows brings the calendar in."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    with BackgroundFleet([SimInstanceConfig("one", models=("llama3.2:3b",))]) as fleet:
        _write_instance(manifests, fleet.url("one"), "llama3.2:1b")
        _plan(manifests, tmp_path / "state", terminal=False)  # fills the show cache
        planned = _plan(manifests, tmp_path / "state", terminal=False)
        applied = _plan(manifests, tmp_path / "state", terminal=False, command=("apply", "-y"))
        (manifests / "fleet.yaml").write_text(FLEET_WITH_WINDOWS)
        windowed = _plan(manifests, tmp_path / "state", terminal=False)
    assert planned["code"] == 0
    assert "  + pull llama3.2:1b" in str(planned["out"])
    assert _loaded(planned["modules"], NOT_FOR_PLAN_ONLY_FOR_APPLY) == []
    assert _loaded(planned["modules"], ("html",)) == []  # only HTML error pages and secrets
    assert applied["code"] == 0, applied["out"]
    assert _loaded(applied["modules"], NOT_FOR_PLAN_ONLY_FOR_APPLY) == [
        "reconciler.apply",
        "reconciler.ollama.generation",
        "reconciler.ollama.progress",
        "reconciler.state.history",
        "reconciler.state.lock",
        "reconciler.state.serverlocks",
    ]
    assert windowed["code"] == 0
    assert _loaded(windowed["modules"], NOT_FOR_PLAN_ONLY_FOR_APPLY) == ["reconciler.syncwindows"]


def test_the_inventory_replies_build_no_validator_at_import() -> None:
    """Importing the client builds no reply validator (each is built when a reply is first
    read), and loads none of the chat, generate or progress models."""
    code = (
        "import json, sys\n"
        "from reconciler.ollama import OllamaClient\n"
        "from reconciler.ollama import types\n"
        "built = [n for n in ('ModelDetails', 'ModelEntry', 'RunningModel', 'ShowResponse')\n"
        "         if getattr(types, n).__pydantic_complete__]\n"
        "print(json.dumps({'built': built, 'modules': sorted(sys.modules)}))\n"
    )
    found = _run(code)
    assert found["built"] == []
    assert _loaded(found["modules"], NOT_FOR_PLAN_ONLY_FOR_APPLY) == []


def test_the_client_names_are_the_real_ones() -> None:
    """The client package's names, imported on first use, are the very objects of their
    modules, and every one it lists can be had."""
    from reconciler import ollama
    from reconciler.ollama import client, generation, progress, types

    assert ollama.OllamaClient is client.OllamaClient
    assert ollama.ChatChunk is generation.ChatChunk
    assert ollama.PullProgress is progress.PullProgress
    assert ollama.ModelEntry is types.ModelEntry
    assert sorted(ollama.__all__) == sorted(ollama._LAZY)
    assert all(getattr(ollama, name) is not None for name in ollama.__all__)
