"""Start-up stays light: what a command loads before it works, by module, never by timing.

`orc validate` of plain instances needs the manifest loader and nothing of the network, the
state directory, the sync-window calendar or the schema checker; the flags every command shares
need neither the loader nor SQLite; `orc plan` without colour needs no rich, none of the status
or HTML renderers, no notifications and none of the figures of `orc status`. Each probe runs in
a fresh interpreter, and the hostile case shows that the same probe does see those modules when
the manifests (or a terminal) call for them.
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


def _plan(manifests: Path, state_dir: Path, *, terminal: bool) -> dict[str, object]:
    """`orc plan MANIFESTS` in a fresh interpreter, printing to a terminal or not: its exit
    code, what it printed and the modules it loaded."""
    code = (
        "import contextlib, io, json, os, sys\n"
        "os.environ.pop('NO_COLOR', None)\n"
        "class Out(io.StringIO):\n"
        f"    def isatty(self): return {terminal!r}\n"
        "from reconciler.cli.main import main\n"
        "out = Out()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = main(['plan', {str(manifests)!r}, '--state-dir', {str(state_dir)!r}])\n"
        "print(json.dumps({'code': code, 'out': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    return _run(code)


def test_a_plan_without_colour_loads_neither_rich_nor_status_nor_notifications(
    tmp_path: Path,
) -> None:
    """The whole plan path against a simulated server on loopback; a coloured plan is the
    hostile case: the same probe sees rich then."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    with BackgroundFleet([SimInstanceConfig("one", models=("llama3.2:3b",))]) as fleet:
        (manifests / "one.yaml").write_text(
            INSTANCE.replace("http://127.0.0.1:11434", fleet.url("one")).replace(
                "[{name: llama3.2:3b, keepLoaded: true}]",
                "[{name: llama3.2:3b, keepLoaded: true}, {name: qwen2.5:0.5b}]",
            )
        )
        plain = _plan(manifests, tmp_path / "state", terminal=False)
        coloured = _plan(manifests, tmp_path / "state", terminal=True)
    assert plain["code"] == 0
    assert "  + pull qwen2.5:0.5b" in str(plain["out"])
    assert "\x1b[" not in str(plain["out"])
    assert _loaded(plain["modules"], NOT_FOR_PLAN) == []
    assert coloured["code"] == 0
    assert "\x1b[" in str(coloured["out"])
    assert _loaded(coloured["modules"], NOT_FOR_PLAN) == ["rich"]
