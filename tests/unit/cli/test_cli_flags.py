"""Every flag of every command lands in the settings it is for; the pipeline is patched out.

No server and no event loop of ours run here: each test replaces the function a command hands
over to (the reconcile pipeline, `run_watch`, `run_chat_test`, the simulator, the demo) with a
recorder, runs `orc` in process, and checks what the recorder was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.main import main
from reconciler.plan import Plan
from reconciler.reconcile import (
    Ending,
    LockScope,
    ReconcileHooks,
    ReconcileOutcome,
    Reconciler,
    ReconcileRequest,
    ReconcileSteps,
)

FLEET = Path(__file__).resolve().parents[2] / "manifests" / "valid" / "selectors"


class Recorder:
    """Stands in for a command's hand-over function; keeps its arguments, returns `value`."""

    def __init__(self, value: Any = 0) -> None:
        self.value = value
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args + tuple(kwargs.values()))
        return self.value

    @property
    def only(self) -> tuple[Any, ...]:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Reconciler, ReconcileRequest, Any]]:
    """Replace the reconcile pipeline: record each run, end it as `synced`."""
    runs: list[tuple[Reconciler, ReconcileRequest, Any]] = []

    async def fake(
        steps: ReconcileSteps, request: ReconcileRequest, hooks: ReconcileHooks | None = None
    ) -> ReconcileOutcome:
        assert isinstance(steps, Reconciler)
        runs.append((steps, request, hooks))
        return ReconcileOutcome(Ending.SYNCED, Plan(desired_digest="x"), request)

    monkeypatch.setattr("reconciler.reconcile.run_reconcile", fake)
    return runs


# ------------------------------------------------------------------------------- orc plan


def test_plan_defaults(pipeline, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(FLEET)]) == 0
    ((steps, request, hooks),) = pipeline
    assert hooks is None
    assert (request.apply, request.saved, request.detailed_exitcode) == (False, None, False)
    assert (request.targets, dict(request.selector)) == ((), {})
    assert {i.name for i in request.desired.instances} == {"gpu-1", "gpu-2", "cpu-1"}
    assert steps.parallelism is None
    assert steps.state is not None and steps.state.path == Path(".orc")
    assert "No changes" in capsys.readouterr().out


def test_plan_every_flag(pipeline, tmp_path, capsys):
    out = tmp_path / "plan.json"
    code = main(
        [
            "plan",
            str(FLEET),
            "--out",
            str(out),
            "--format",
            "json",
            "--detailed-exitcode",
            "--target",
            "gpu-1",
            "--target",
            "cpu-1/llama3.2:1b",
            "--selector",
            "env=prod",
            "--selector",
            "tier = gpu",
            "--parallelism",
            "7",
            "--state-dir",
            str(tmp_path / "st"),
        ]
    )
    assert code == 0
    ((steps, request, _),) = pipeline
    assert request.targets == ("gpu-1", "cpu-1/llama3.2:1b")
    assert dict(request.selector) == {"env": "prod", "tier": "gpu"}
    assert (request.apply, request.detailed_exitcode) == (False, True)
    assert steps.parallelism == 7
    assert steps.state is not None and steps.state.path == tmp_path / "st"
    assert Plan.from_dict(json.loads(out.read_text())).manifests == (str(FLEET),)
    assert capsys.readouterr().out.lstrip().startswith("{")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_format_choices_reach_the_renderer(pipeline, tmp_path, capsys, fmt):
    assert main(["plan", str(FLEET), "--format", fmt, "--state-dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert shown.lstrip().startswith("{") is (fmt == "json")


def test_plan_bad_selector_is_a_usage_error_before_the_pipeline(pipeline, capsys):
    assert main(["plan", str(FLEET), "--selector", "novalue"]) == 1
    assert pipeline == []
    assert "--selector 'novalue' is not KEY=VALUE" in capsys.readouterr().err


# ------------------------------------------------------------------------------ orc apply


@pytest.fixture
def apply_settings(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(0)
    monkeypatch.setattr("reconciler.cli.apply.run_apply", recorder)
    return recorder


def test_apply_flags_to_settings_defaults(apply_settings):
    assert main(["apply", str(FLEET)]) == 0
    (settings,) = apply_settings.only
    assert settings.paths == (FLEET,)
    assert (settings.yes, settings.fmt, settings.targets, settings.selector) == (
        False,
        "text",
        (),
        {},
    )
    assert (settings.parallelism, settings.lock_timeout, settings.state_dir) == (None, 0.0, None)


def test_apply_flags_to_settings_every_flag(apply_settings, tmp_path):
    code = main(
        [
            "apply",
            str(FLEET),
            "-y",
            "--format",
            "json",
            "--target",
            "gpu-2",
            "--selector",
            "env=dev",
            "--parallelism",
            "3",
            "--lock-timeout",
            "2.5",
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    (settings,) = apply_settings.only
    assert (settings.yes, settings.fmt, settings.targets) == (True, "json", ("gpu-2",))
    assert settings.selector == {"env": "dev"}
    assert (settings.parallelism, settings.lock_timeout, settings.state_dir) == (3, 2.5, tmp_path)


def test_apply_settings_to_the_pipeline(pipeline, tmp_path):
    code = main(
        [
            "apply",
            str(FLEET),
            "--yes",
            "--target",
            "gpu-1",
            "--selector",
            "tier=gpu",
            "--parallelism",
            "4",
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    ((steps, request, hooks),) = pipeline
    assert (request.apply, request.saved, request.lock_scope) == (True, None, LockScope.RUN)
    assert (request.targets, dict(request.selector)) == (("gpu-1",), {"tier": "gpu"})
    assert steps.parallelism == 4
    assert steps.state is not None and steps.state.path == tmp_path
    assert hooks.confirm is None  # --yes: never asked
    assert hooks.lock is not None


def test_apply_without_yes_asks_for_confirmation(pipeline, tmp_path):
    assert main(["apply", str(FLEET), "--state-dir", str(tmp_path)]) == 0
    ((_, _, hooks),) = pipeline
    assert hooks.confirm is not None


def test_apply_lock_timeout_reaches_the_lock(pipeline, tmp_path, monkeypatch):
    seen: list[float] = []

    def lock(self: Any, timeout: float, command: str = "") -> Any:
        seen.append(timeout)
        raise AssertionError("only recorded")

    monkeypatch.setattr("reconciler.state.StateDir.lock", lock)
    args = ["apply", str(FLEET), "-y", "--lock-timeout", "9", "--state-dir", str(tmp_path)]
    assert main(args) == 0
    ((_, _, hooks),) = pipeline
    with pytest.raises(AssertionError):
        hooks.lock()
    assert seen == [9.0]


def test_apply_json_without_yes_is_refused_before_the_pipeline(pipeline, capsys):
    assert main(["apply", str(FLEET), "--format", "json"]) == 1
    assert pipeline == []
    assert "--format json cannot ask for confirmation" in capsys.readouterr().err


def test_apply_saved_plan_goes_to_the_pipeline_as_saved(pipeline, tmp_path):
    desired_digest = _digest_of(FLEET)
    saved = Plan(desired_digest=desired_digest, manifests=(str(FLEET),))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(saved.to_dict()))
    assert main(["apply", str(path), "--state-dir", str(tmp_path)]) == 0
    ((_, request, hooks),) = pipeline
    assert request.saved == saved
    assert hooks.confirm is None  # a saved plan was reviewed when it was made
    assert {i.name for i in request.desired.instances} == {"gpu-1", "gpu-2", "cpu-1"}


def _digest_of(path: Path) -> str:
    from reconciler.reconcile import load_desired

    return load_desired([path]).digest()


# ----------------------------------------------------------------------------- orc status


@pytest.fixture
def observe(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Reconciler, Any]]:
    """Replace probing: record who was asked to probe what; every instance answers, empty."""
    from reconciler.observed import Health, ObservedFleet, ObservedInstance

    runs: list[tuple[Reconciler, Any]] = []

    async def fake(self: Reconciler, desired: Any) -> ObservedFleet:
        runs.append((self, desired))
        return ObservedFleet(
            {
                i.name: ObservedInstance(i.name, i.url, i.enabled, Health.HEALTHY)
                for i in desired.instances
            }
        )

    monkeypatch.setattr(Reconciler, "observe", fake)
    return runs


def test_status_defaults(observe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["status", str(FLEET)]) == 0
    ((reconciler, desired),) = observe
    assert {i.name for i in desired.instances} == {"gpu-1", "gpu-2", "cpu-1"}
    assert reconciler.parallelism is None
    assert reconciler.state is not None and reconciler.state.path == Path(".orc")
    assert "gpu-1" in capsys.readouterr().out


def test_status_every_flag(observe, tmp_path, capsys):
    code = main(
        [
            "status",
            str(FLEET),
            "--format",
            "json",
            "--models",
            "--detailed-exitcode",
            "--target",
            "gpu-1",
            "--target",
            "gpu-2",
            "--selector",
            "env=prod",
            "--parallelism",
            "5",
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 2  # the instances answered, without their declared models: drift
    ((reconciler, desired),) = observe
    assert [i.name for i in desired.instances] == ["gpu-1"]
    assert (reconciler.parallelism, reconciler.state.path) == (5, tmp_path)
    shown = capsys.readouterr().out
    assert shown.lstrip().startswith("{") and '"models"' in shown


def test_status_markdown_and_exit_zero_without_detailed(observe, tmp_path, capsys):
    assert main(["status", str(FLEET), "--format", "markdown", "--state-dir", str(tmp_path)]) == 0
    assert "|" in capsys.readouterr().out


# ------------------------------------------------------------------------------ orc watch


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(0)
    monkeypatch.setattr("reconciler.cli.watch.run_watch", recorder)
    return recorder


def test_watch_defaults(watch, monkeypatch):
    from reconciler.watch import TOKEN_ENV, Mode

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["watch", str(FLEET)]) == 0
    (settings,) = watch.only
    assert settings.paths == (FLEET,)
    assert (settings.mode, settings.interval, settings.debounce) == (Mode.APPLY, None, 0.3)
    assert (settings.listen, settings.status_file, settings.log_format) == (None, None, "text")
    assert (settings.parallelism, settings.state_dir, settings.webhook_token) == (None, None, None)
    assert settings.selector == {}


def test_watch_every_flag(watch, monkeypatch, tmp_path):
    from reconciler.watch import TOKEN_ENV, Mode

    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    code = main(
        [
            "watch",
            str(FLEET),
            "--mode",
            "plan",
            "--interval",
            "1m30s",
            "--debounce",
            "2s",
            "--listen",
            "[::1]:9000",
            "--status-file",
            str(tmp_path / "s.json"),
            "--log-format",
            "json",
            "--parallelism",
            "6",
            "--selector",
            "shard=eu",
            "--selector",
            "tier=gpu",
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    (settings,) = watch.only
    assert settings.selector == {"shard": "eu", "tier": "gpu"}
    assert (settings.mode, settings.interval, settings.debounce) == (Mode.PLAN, 90.0, 2.0)
    assert (settings.listen, settings.status_file) == (("::1", 9000), tmp_path / "s.json")
    assert (settings.log_format, settings.parallelism, settings.state_dir) == (
        "json",
        6,
        tmp_path,
    )
    assert settings.webhook_token == "s3cret-token"


def test_watch_bad_listen_is_refused(watch, capsys):
    assert main(["watch", str(FLEET), "--listen", "nowhere"]) == 1
    assert watch.calls == []


# -------------------------------------------------------------------------- orc chat-test


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []

    async def fake(settings: Any) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr("reconciler.cli.chat_test.run_chat_test", fake)
    return seen


def test_chat_test_one_chat_every_flag(chat):
    code = main(
        [
            "chat-test",
            str(FLEET),
            "--model",
            "llama3.2:3b",
            "--instance",
            "gpu-1",
            "--prompt",
            "hi",
            "--system",
            "be brief",
            "--timeout",
            "45s",
            "--format",
            "json",
        ]
    )
    assert code == 0
    (settings,) = chat
    assert settings.paths == (FLEET,)
    assert (settings.model, settings.instance, settings.prompt, settings.system) == (
        "llama3.2:3b",
        "gpu-1",
        "hi",
        "be brief",
    )
    assert (settings.timeout, settings.output, settings.run_all) == (45.0, "json", False)


def test_chat_test_smoke_tests_every_flag(chat, tmp_path):
    junit = tmp_path / "junit.xml"
    code = main(["chat-test", str(FLEET), "--all", "--every-model", "--junit", str(junit)])
    assert code == 0
    (settings,) = chat
    assert (settings.run_all, settings.every_model, settings.junit) == (True, True, junit)
    assert (settings.model, settings.output) == (None, "text")
    assert settings.prompt  # the default prompt


def test_chat_test_every_model_needs_all(chat):
    assert main(["chat-test", str(FLEET), "--model", "x", "--every-model"]) == 1
    assert chat == []


# --------------------------------------------------------------------------- orc validate


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_validate_paths_and_format(monkeypatch, capsys, fmt):
    from reconciler.manifest import load_fleet

    seen: list[Any] = []

    def recording(paths: Any) -> Any:
        seen.append(list(paths))
        return load_fleet(paths)

    monkeypatch.setattr("reconciler.cli.validate.load_fleet", recording)
    assert main(["validate", str(FLEET), "--format", fmt]) == 0
    assert seen == [[FLEET]]
    assert capsys.readouterr().out.lstrip().startswith("{") is (fmt == "json")


# -------------------------------------------------------------------------------- orc sim


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder(0)
    monkeypatch.setattr("reconciler.cli.sim.run", recorder)
    return recorder


def test_sim_defaults(sim):
    assert main(["sim"]) == 0
    settings, _echo = sim.only
    assert (settings.instances, settings.base_port, settings.host) == (2, None, "127.0.0.1")
    assert (settings.tls, settings.token, settings.path_prefix) == (False, None, "")
    assert (settings.manifests_dir, settings.version) == (None, "0.12.6")


def test_sim_every_flag(sim, tmp_path):
    code = main(
        [
            "sim",
            "-n",
            "3",
            "--port",
            "12000",
            "--host",
            "127.0.0.2",
            "--latency",
            "20ms",
            "--pull-speed",
            "1MB/s",
            "--token-rate",
            "9",
            "--token",
            "tok",
            "--tls",
            "--path-prefix",
            "/ollama",
            "--write-manifests",
            str(tmp_path),
            "--force",
            "--endpoints",
            "chat=/api/v1/chat,health=/api/v1/health",
            "--ollama-version",
            "0.9.0",
        ]
    )
    assert code == 0
    settings, _echo = sim.only
    assert (settings.instances, settings.base_port, settings.host) == (3, 12000, "127.0.0.2")
    assert settings.latency == pytest.approx(0.02)
    assert settings.pull_speed == 1_000_000
    assert (settings.token_rate, settings.token, settings.tls) == (9.0, "tok", True)
    assert (settings.path_prefix, settings.manifests_dir, settings.version) == (
        "/ollama",
        tmp_path,
        "0.9.0",
    )
    assert settings.force is True
    assert settings.endpoints == {"chat": "/api/v1/chat", "health": "/api/v1/health"}


@pytest.mark.parametrize("value", ["chat", "bogus=/x", "chat=api/v1/chat"])
def test_sim_endpoints_must_be_known_names_and_absolute_paths(sim, value):
    assert main(["sim", "--endpoints", value]) == 1
    assert sim.calls == []


def test_sim_force_goes_with_write_manifests(sim):
    assert main(["sim", "--force"]) == 1
    assert sim.calls == []


def test_sim_path_prefix_must_start_with_a_slash(sim):
    assert main(["sim", "--path-prefix", "ollama"]) == 1
    assert sim.calls == []


# ------------------------------------------------------------------------------- orc demo


def test_demo_flags(monkeypatch, tmp_path):
    recorder = Recorder(0)
    monkeypatch.setattr("reconciler.cli.demo.run_demo", recorder)
    assert main(["demo", "--dir", str(tmp_path), "--pull-speed", "250MB/s"]) == 0
    folder, speed = recorder.only
    assert (Path(folder), speed) == (tmp_path, 250e6)  # the same units as orc sim


def test_apply_honours_sync_windows_unless_told_to_ignore_them(pipeline, tmp_path):
    assert main(["apply", str(FLEET), "-y", "--state-dir", str(tmp_path)]) == 0
    args = ["apply", str(FLEET), "-y", "--ignore-sync-windows", "--state-dir", str(tmp_path)]
    assert main(args) == 0
    (_, honoured, _), (_, ignored, _) = pipeline
    assert (honoured.sync_windows, ignored.sync_windows) == (True, False)
