"""`orc apply`: carry out a plan, made now (after confirmation) or saved by `orc plan --out`."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.apply import ApplyResult, Event
from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import (
    Duration,
    open_state,
    parallelism_option,
    parse_selector,
    run_async,
    secret_policy,
    secrets_dir_option,
    selection_options,
    state_dir_option,
    use_color,
    write_output,
)
from reconciler.cli.paths import paths_argument
from reconciler.cli.progress import BarSink, JsonSink, LineSink
from reconciler.desired import DesiredFleet
from reconciler.errors import ExitCode, UsageError
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.notify import Delivery, Dispatcher, Notifier
from reconciler.plan import Plan, PlanFormatError
from reconciler.reconcile import (
    Ending,
    ReconcileHooks,
    ReconcileOutcome,
    Reconciler,
    ReconcileRequest,
    held_summary,
    load_desired,
    lock_servers,
    outcome_facts,
)
from reconciler.report import render_plan_text
from reconciler.report.apply_events import plan_event, result_line, summary_event, verify_line


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
    secrets_dirs: tuple[Path, ...] = ()
    notify: bool = False
    ignore_sync_windows: bool = False


NOTIFY_DEADLINE = 60.0  # seconds `orc apply --notify` waits for its notifications at the end


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.PARTIAL,
    ExitCode.INTERRUPTED,
    OK="success: the plan was carried out, or there was nothing to do, or you declined",
    ERROR="error: invalid manifests, bad usage, refused (stale plan, lock, guard), nothing done",
)


@click.command("apply", epilog=EPILOG_EXIT_CODES)
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
    type=Duration(allow_zero=True),
    default="0s",
    show_default=True,
    help="How long to wait for another apply on the same state directory or server to finish "
    "(e.g. 30s, 10m; 0: do not wait).",
)
@click.option(
    "--notify",
    is_flag=True,
    help="Tell the Fleet's notification receivers what the run applied, what failed and "
    "what a guard refused (orc watch tells them always).",
)
@click.option(
    "--ignore-sync-windows",
    is_flag=True,
    help="Carry out the actions the Fleet's spec.syncWindows hold back now, too.",
)
@secrets_dir_option
@state_dir_option
def apply_command(
    paths: tuple[Path, ...],
    yes: bool,
    fmt: str,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    parallelism: int | None,
    lock_timeout: float,
    notify: bool,
    ignore_sync_windows: bool,
    secrets_dirs: tuple[Path, ...],
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

    Actions the Fleet's sync windows hold back at the moment of applying are shown, not made
    (exit 3 when the rest was done, 1 when every change is held); --ignore-sync-windows makes
    them too.

    \b
    Examples:
      orc apply manifests/
      orc apply manifests/ --yes --target prod-gpu-1
      orc plan manifests/ --out plan.json && orc apply plan.json
      orc apply manifests/ --yes --notify
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
        secrets_dirs,
        notify,
        ignore_sync_windows,
    )
    return run_apply(settings)


def run_apply(settings: ApplySettings) -> int:
    """Check the flags, load the manifests and run the reconcile pipeline; the exit code."""
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
    request = ReconcileRequest(
        desired,
        settings.targets,
        settings.selector,
        saved=saved,
        sync_windows=not settings.ignore_sync_windows,
    )
    display = _Display(settings.fmt)
    with open_state(settings.state_dir) as state:
        hooks = ReconcileHooks(
            confirm=None if settings.yes or saved is not None else _confirmed,  # saved: reviewed
            lock=lambda: state.lock(settings.lock_timeout, command=_command_line()),
            apply_lock=lambda made: lock_servers(
                made, desired, settings.lock_timeout, _command_line()
            ),
            on_plan=lambda made: _show_plan(made, settings.fmt),
            on_apply=display.start,
            on_event=display,
            on_applied=display.close,
        )
        secrets = secret_policy(manifest_paths, settings.secrets_dirs)
        reconciler = Reconciler(state=state, parallelism=settings.parallelism, secrets=secrets)
        if settings.notify and desired.notifications:
            outcome = run_async(_run_notifying(reconciler, request, hooks, desired, secrets))
        else:
            outcome = run_async(reconciler.run(request, hooks))
    return _report(outcome, display)


async def _run_notifying(
    reconciler: Reconciler,
    request: ReconcileRequest,
    hooks: ReconcileHooks,
    desired: DesiredFleet,
    secrets: SecretPolicy,
) -> ReconcileOutcome:
    """The run, then its notifications, waited for at most NOTIFY_DEADLINE seconds."""
    dispatcher = Dispatcher(secrets=secrets, on_delivery=_delivery_failed)
    notifier = Notifier(dispatcher, time.monotonic, source="orc apply")

    def tell(outcome: ReconcileOutcome) -> None:
        notifier.reconciled(desired, outcome_facts(outcome))

    hooks.on_outcome = tell
    try:
        outcome = await reconciler.run(request, hooks)
        if not await dispatcher.drain(NOTIFY_DEADLINE):
            click.echo(
                f"warning: notifications still unsent after {NOTIFY_DEADLINE:g}s were dropped",
                err=True,
            )
    finally:
        await dispatcher.close()
    return outcome


def _delivery_failed(delivery: Delivery) -> None:
    if not delivery.ok:
        click.echo(
            f"warning: notification to receiver {delivery.receiver} ({delivery.target}) "
            f"failed: {delivery.error}",
            err=True,
        )


def _report(outcome: ReconcileOutcome, display: _Display) -> int:
    """Print how the run ended (raising its error, if any); the run's exit code."""
    made, saved = outcome.plan, outcome.request.saved is not None
    if outcome.ending in (Ending.SYNCED, Ending.BLOCKED):
        if saved and outcome.error is None:
            write_output(made.summary())
        elif not saved and display.json is not None:
            display.json.emit(plan_event(made))
            display.json.emit(summary_event(ApplyResult(()), made))
    if outcome.error is not None:
        raise outcome.error
    if outcome.result is not None:
        if display.json is not None:
            display.json.emit(summary_event(outcome.result, outcome.verified))
        else:
            _print_outcomes(outcome.result, outcome.verified, made)
    return outcome.exit_code


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


def _show_plan(made: Plan, fmt: str) -> None:
    if fmt == "text":
        write_output(render_plan_text(made, color=use_color()))


def _confirmed(made: Plan) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to apply without confirmation: standard input is not a terminal",
            hint="review the plan, then pass --yes",
        )
    click.echo("\nDo you want to make these changes? Only 'yes' will be accepted.")
    try:
        with _ctrl_c_interrupts_prompt():
            answer = click.prompt("Enter a value", default="", show_default=False)
    except click.Abort:  # Ctrl-D or Ctrl-C at the prompt: nothing was changed
        answer = ""
        click.echo()
    if answer.strip() != "yes":
        click.echo("Apply cancelled.")
        return False
    return True


@contextlib.contextmanager
def _ctrl_c_interrupts_prompt() -> Iterator[None]:
    """Let Ctrl-C end the prompt: inside the event loop asyncio's own handler would only cancel
    the task, and the prompt would wait on."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


class _Display:
    """The apply's live output: JSON events, or bars on a terminal, or plain lines.

    Bars take over the terminal, so they start only when the apply does.
    """

    def __init__(self, fmt: str) -> None:
        self.json = JsonSink() if fmt == "json" else None
        self._live: BarSink | LineSink | None = None

    def start(self, made: Plan) -> None:
        if self.json is not None:
            self.json.emit(plan_event(made))
        else:
            self._live = BarSink() if use_color() else LineSink()  # colour: a terminal

    def __call__(self, event: Event) -> None:
        sink = self.json or self._live
        if sink is not None:
            sink(event)

    def close(self, result: ApplyResult | None) -> None:
        if self._live is not None:
            self._live.close()


def _print_outcomes(result: ApplyResult, verified: Plan | None, made: Plan) -> None:
    color = use_color()
    lines = ["", "Outcomes:"]
    lines += [f"  {result_line(r, color=color)}" for r in result.results]
    lines += ["", result.summary()]
    if made.held:
        lines.append(f"Not carried out: {held_summary(made, limit=10)}.")
    if verified is not None:
        lines.append(verify_line(verified))
    elif not result.interrupted:
        lines.append("Not verified: interrupted while probing the instances again.")
    write_output("\n".join(lines))


def _command_line() -> str:
    args = " ".join(sys.argv[1:])[:200]
    return f"orc {args}".strip()
