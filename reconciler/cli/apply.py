"""`orc apply`: carry out a plan, made now (after confirmation) or saved by `orc plan --out`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.apply import ApplyResult
from reconciler.cli.main import EXIT_CODES_HELP
from reconciler.cli.options import (
    open_state,
    parallelism_option,
    parse_selector,
    paths_argument,
    run_async,
    selection_options,
    state_dir_option,
    use_color,
    write_output,
)
from reconciler.cli.progress import BarSink, JsonSink, LineSink
from reconciler.errors import ExitCode, InterruptedRun, RefusedError, UsageError
from reconciler.manifest.desired import DesiredFleet
from reconciler.plan import Plan, PlanFormatError
from reconciler.reconcile import (
    Reconciler,
    check_fresh,
    check_saved_actions,
    load_desired,
    lock_servers,
    planned_instances,
)
from reconciler.report import render_plan_text
from reconciler.report.apply_events import plan_event, result_line, summary_event, verify_line
from reconciler.state import StateDir


@dataclass(frozen=True)
class ApplySettings:
    """What the flags of `orc apply` asked for."""

    paths: tuple[Path, ...]
    yes: bool
    fmt: str
    targets: tuple[str, ...]
    selector: dict[str, str]
    parallelism: int | None
    lock_timeout: float
    state_dir: Path | None


@click.command("apply", epilog=EXIT_CODES_HELP)
@paths_argument
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON event per line (schemas/apply-events.v1.schema.json).",
)
@selection_options
@parallelism_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help=(
        "Seconds to wait for another apply on the same state directory, or on one of the"
        " same servers, to finish."
    ),
)
@state_dir_option
def apply_command(
    paths: tuple[Path, ...],
    yes: bool,
    fmt: str,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    parallelism: int | None,
    lock_timeout: float,
    state_dir: Path | None,
) -> int:
    """Make the servers match the manifests: pull, create, load and delete models.

    `orc apply PATH...` plans, shows the plan and asks for `yes` before changing anything (on a
    terminal; elsewhere pass --yes). `orc apply PLAN.json [PATH...]` carries out exactly a plan
    saved by `orc plan --out`, after checking it is not stale (the manifests and every planned
    instance's models must be as they were).

    Instances are worked on in parallel; within one, pulls come first, then creates, loads, and
    deletions last (only once the instance's pulls succeeded). Transient errors are retried with
    backoff. Afterwards the touched instances are probed again to confirm they match.

    \b
    Examples:
      orc apply manifests/
      orc apply manifests/ --yes --target prod-gpu-1
      orc plan manifests/ --out plan.json && orc apply plan.json
    """
    settings = ApplySettings(
        paths,
        yes,
        fmt,
        targets,
        parse_selector(selectors),
        parallelism,
        lock_timeout,
        state_dir,
    )
    return run_apply(settings)


def run_apply(settings: ApplySettings) -> int:
    """Plan (or load the saved plan), confirm, apply under the lock, verify; the exit code."""
    saved, manifest_paths = _saved_plan(settings.paths)
    if saved is not None and (settings.targets or settings.selector):
        raise UsageError(
            "--target and --selector do not apply to a saved plan: it is carried out as saved",
            hint="make the plan again with `orc plan --target ... --out`",
        )
    if saved is None and settings.fmt == "json" and not settings.yes:
        raise UsageError(
            "--format json cannot ask for confirmation",
            hint="pass --yes, or apply a plan saved with `orc plan --out`",
        )
    desired = load_desired(manifest_paths)
    with (
        open_state(settings.state_dir) as state,
        state.lock(settings.lock_timeout, command=_command_line()),
    ):
        reconciler = Reconciler(state=state, parallelism=settings.parallelism)
        made = (
            _fresh_saved(reconciler, saved, desired)
            if saved
            else _plan_now(reconciler, desired, settings)
        )
        if made is None:
            return int(ExitCode.OK)
        with lock_servers(made, desired, settings.lock_timeout, _command_line()):
            return _carry_out(reconciler, made, desired, settings, state)


def _saved_plan(paths: tuple[Path, ...]) -> tuple[Plan | None, list[Path]]:
    first = paths[0]
    if not (first.suffix == ".json" and first.is_file()):
        return None, list(paths)
    try:
        saved = Plan.from_dict(json.loads(first.read_text(encoding="utf-8")))
    except PlanFormatError as exc:
        raise PlanFormatError(f"{first}: {exc.message}", hint=exc.hint) from exc
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc) or type(exc).__name__
        raise PlanFormatError(f"cannot read the saved plan {first}: {reason}") from exc
    manifests = list(paths[1:]) or [Path(p) for p in saved.manifests]
    if not manifests:
        raise UsageError(
            f"the saved plan {first} does not say which manifests it was made from",
            hint=f"pass them: orc apply {first} PATH...",
        )
    return saved, manifests


def _fresh_saved(reconciler: Reconciler, saved: Plan, desired: DesiredFleet) -> Plan | None:
    if saved.refused:
        raise RefusedError("the saved plan was refused by a safety guard when it was made")
    if not saved.has_changes:
        _nothing_to_do(saved)
        return None
    observed = run_async(reconciler.observe(planned_instances(saved, desired)))
    check_fresh(saved, desired, observed)
    check_saved_actions(saved, desired, observed)
    return saved


def _nothing_to_do(made: Plan) -> None:
    """Say so, or refuse when that is only because instances could not be reached."""
    if made.blocked:
        raise RefusedError(
            "nothing could be done: no instance with changes could be reached",
            hint="see the blocked instances in the plan",
        )
    write_output(made.summary())


def _plan_now(reconciler: Reconciler, desired: DesiredFleet, s: ApplySettings) -> Plan | None:
    _, made = run_async(reconciler.plan(desired, s.targets, s.selector))
    if s.fmt == "text":
        write_output(render_plan_text(made, color=use_color()))
    if made.refused:
        reasons = "; ".join(r.message for r in made.refusals)
        raise RefusedError(f"the plan was refused by a safety guard: {reasons}")
    if not made.has_changes:
        if s.fmt == "json":
            sink = JsonSink()
            sink.emit(plan_event(made))
            sink.emit(summary_event(ApplyResult(()), made))
        if made.blocked:
            _nothing_to_do(made)
        return None
    if not s.yes and not _confirmed():
        return None
    return made


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to apply without confirmation: standard input is not a terminal",
            hint="review the plan, then pass --yes",
        )
    click.echo("\nDo you want to make these changes? Only 'yes' will be accepted.")
    try:
        answer = click.prompt("Enter a value", default="", show_default=False)
    except click.Abort:  # Ctrl-D or Ctrl-C at the prompt: nothing was changed
        answer = ""
        click.echo()
    if answer.strip() != "yes":
        click.echo("Apply cancelled.")
        return False
    return True


def _carry_out(
    reconciler: Reconciler, made: Plan, desired: DesiredFleet, s: ApplySettings, state: StateDir
) -> int:
    sink = _sink(s.fmt)
    if isinstance(sink, JsonSink):
        sink.emit(plan_event(made))
    try:
        result = run_async(reconciler.apply(made, desired, on_event=sink))
    finally:
        sink.close()
    verified = None if result.interrupted else _verify(reconciler, desired, result)
    if isinstance(sink, JsonSink):
        sink.emit(summary_event(result, verified))
    else:
        _print_outcomes(result, verified)
    if verified is None and not result.interrupted:
        return int(ExitCode.INTERRUPTED)  # interrupted while checking: the work itself was done
    if result.exit_code is ExitCode.OK and made.blocked:
        return int(ExitCode.PARTIAL)  # blocked instances were not reconciled
    return int(result.exit_code)


def _verify(reconciler: Reconciler, desired: DesiredFleet, result: ApplyResult) -> Plan | None:
    """Probe the touched instances again; None when Ctrl-C cut the check short."""
    try:
        return run_async(reconciler.verify(desired, result))
    except InterruptedRun:
        return None


def _sink(fmt: str) -> JsonSink | LineSink | BarSink:
    if fmt == "json":
        return JsonSink()
    if use_color():  # a terminal, colours not turned off
        return BarSink()
    return LineSink()


def _print_outcomes(result: ApplyResult, verified: Plan | None) -> None:
    color = use_color()
    lines = ["", "Outcomes:"]
    lines += [f"  {result_line(r, color=color)}" for r in result.results]
    lines += ["", result.summary()]
    if verified is not None:
        lines.append(verify_line(verified))
    elif not result.interrupted:
        lines.append("Not verified: interrupted while probing the instances again.")
    write_output("\n".join(lines))


def _command_line() -> str:
    args = " ".join(sys.argv[1:])[:200]
    return f"orc {args}".strip()
