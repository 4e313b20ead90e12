"""Flags shared by several commands, and the small glue every command needs.

Commands turn flags into values here and call one function of the layers below (see
docs/architecture.md, How to add a command); colour is decided once, from the terminal,
`--no-color` and `NO_COLOR`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from reconciler.cli.collector import collect_normally
from reconciler.errors import InterruptedRun, UsageError
from reconciler.manifest.durations import parse_duration
from reconciler.manifest.secretpolicy import SECRET_ENV_VAR, SECRETS_DIR_VAR, SecretPolicy
from reconciler.state import DEFAULT_RETENTION, STATE_DIR_ENV, state_dir_path

if TYPE_CHECKING:
    from reconciler.state import StateDir

F = TypeVar("F", bound=Callable[..., Any])
_DAYS = re.compile(r"^([0-9]+(?:\.[0-9]+)?)d(.*)$")
T = TypeVar("T")


class Duration(click.ParamType[float]):
    """A duration flag: seconds (`30`, `1.5`) or `300ms`, `10s`, `5m`, `1h30m`, as in manifests;
    with `days`, also a leading number of days (`30d`, `7d12h`)."""

    name = "duration"

    def __init__(self, allow_zero: bool = False, *, days: bool = False) -> None:
        self.allow_zero = allow_zero
        self.days = days

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        match = _DAYS.match(text) if self.days else None
        if match is not None:
            rest = match.group(2)
            extra = self.convert(rest, param, ctx) if rest else 0.0
            return float(match.group(1)) * 86400 + extra
        try:
            number: float | str = float(text)
        except ValueError:
            number = text
        try:
            return parse_duration(number, allow_zero=self.allow_zero)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Rate(click.ParamType[float | None]):
    """A rate flag in bytes per second with its unit (`50MB/s`, `1GB/s`, `512KiB/s`) or `instant`.

    Every rate flag of every command takes the same units: a bare number would be ambiguous.
    """

    name = "rate"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | None:
        if value is None or isinstance(value, float):
            return value
        # Imported here: the simulator package is heavy, and only `sim` and `demo` take rates.
        from reconciler.testing.units import parse_rate

        flag = param.opts[0] if param is not None and param.opts else "rate"
        try:
            return parse_rate(str(value), flag)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


_RETENTION_KEY = "orc.retention"


def state_dir_option(func: F) -> F:
    """`--state-dir DIR` (env ORC_STATE_DIR, default ./.orc) and `--retention DURATION`.

    The retention is kept in the click context (`retention()` reads it, `open_state` uses it),
    so that every command writing history takes it without a parameter of its own.
    """
    func = click.option(
        "--retention",
        type=Duration(days=True),
        default="30d",
        show_default=True,
        expose_value=False,
        callback=_keep_retention,
        help="How long probes and chats stay in the history (e.g. 7d, 12h); older ones are "
        "pruned a few at a time as new ones are written.",
    )(func)
    return click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"State directory (show cache, lock, history). Default: ${STATE_DIR_ENV} or .orc",
    )(func)


def _keep_retention(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
    ctx.meta[_RETENTION_KEY] = DEFAULT_RETENTION if value is None else value


def retention() -> float:
    """The `--retention` of the command being run (the default outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return DEFAULT_RETENTION
    return float(ctx.meta.get(_RETENTION_KEY, DEFAULT_RETENTION))


def window_option(func: F) -> F:
    """`--window DURATION`: the span the history's figures cover (default 24h)."""
    return click.option(
        "--window",
        type=Duration(days=True),
        default="24h",
        show_default=True,
        help="The span of history the figures cover: uptime, latency p50/p95, last error, "
        "chats (e.g. 1h, 7d).",
    )(func)


def selection_options(func: F) -> F:
    """`--target NAME[/MODEL]...` and `--selector KEY=VALUE...`."""
    func = click.option(
        "--selector",
        "selectors",
        multiple=True,
        metavar="KEY=VALUE",
        help="Only instances carrying this label (repeatable; all must match).",
    )(func)
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME[/MODEL]",
        help="Only this instance, or one model of it (repeatable).",
    )(func)


def parallelism_option(func: F) -> F:
    """`--parallelism N`."""
    return click.option(
        "--parallelism",
        type=click.IntRange(1, 1000),
        default=None,
        help=(
            "At most this many instances worked on at once. Default: the Fleet's"
            " spec.parallelism if set, else every instance, at most 64 requests in flight."
        ),
    )(func)


def secrets_dir_option(func: F) -> F:
    """`--secrets-dir DIR...` (adds to ORC_SECRETS_DIR): more folders secret files may be in."""
    return click.option(
        "--secrets-dir",
        "secrets_dirs",
        multiple=True,
        type=click.Path(path_type=Path),
        metavar="DIR",
        help=(
            "A folder secret files and TLS client keys may come from, besides the manifests'"
            f" folders (repeatable; adds to ${SECRETS_DIR_VAR}). Variables a manifest may name"
            f" are limited by ${SECRET_ENV_VAR}=PATTERN[,PATTERN] (unset: any)."
        ),
    )(func)


def secret_policy(
    paths: Sequence[Path],
    secrets_dirs: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
) -> SecretPolicy:
    """The runner's rules for secrets: files inside the manifest paths, `--secrets-dir` and
    ORC_SECRETS_DIR; variables matching ORC_SECRET_ENV (unset: any, empty: none)."""
    env = os.environ if environ is None else environ
    listed = [Path(p) for p in env.get(SECRETS_DIR_VAR, "").split(os.pathsep) if p.strip()]
    folders = [*secrets_dirs, *listed]
    for folder in folders:
        if not folder.is_dir():
            source = "--secrets-dir" if folder in secrets_dirs else SECRETS_DIR_VAR
            raise UsageError(f"{source}: no such directory: {folder}")
    patterns = env.get(SECRET_ENV_VAR)
    allowed = None if patterns is None else [p.strip() for p in patterns.split(",") if p.strip()]
    return SecretPolicy.for_manifests(paths, folders, allowed)


def parse_selector(values: tuple[str, ...]) -> dict[str, str]:
    """`("env=prod", "tier=gpu")` → `{"env": "prod", "tier": "gpu"}`; bad items are usage errors."""
    labels: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--selector {item!r} is not KEY=VALUE", hint="e.g. --selector env=prod"
            )
        labels[key.strip()] = value.strip()
    return labels


def open_state(option: Path | None) -> StateDir:
    """The state directory named by the option, the environment, or the default, keeping
    history for the command's `--retention`."""
    from reconciler.state import StateDir  # here: commands that keep no state load no SQLite

    return StateDir(state_dir_path(option), retention=retention())


def use_color(stream: TextIO | None = None) -> bool:
    """Whether to colour output for this stream (a terminal, unless turned off)."""
    ctx = click.get_current_context(silent=True)
    options = ctx.find_root().obj if ctx is not None else None
    if options is not None and getattr(options, "color", None) is False:
        return False
    target = stream or sys.stdout
    return bool(getattr(target, "isatty", lambda: False)())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion; Ctrl-C becomes InterruptedRun (exit 130)."""
    import asyncio  # here: commands that run nothing (validate, --help) start faster without it

    collect_normally()  # start-up is over (reconciler/cli/collector.py)
    box: list[T] = []

    async def main() -> None:
        # SIGTERM (CI cancelling a job, a service manager) stops the work as Ctrl-C does.
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        handled = task is not None and sys.platform != "win32"  # no signal handlers there
        if handled and task is not None:
            with contextlib.suppress(ValueError, RuntimeError):  # not the main thread
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            # The result is kept out of the main task: when asyncio.run restores the SIGINT
            # handler, CPython 3.11 formats the task's repr, result included (0.1 s on 200
            # instances).
            box.append(await coro)
        finally:
            if handled:
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signal.SIGTERM)

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise InterruptedRun("interrupted") from None
    return box[0]


def write_output(text: str, out: Path | None = None) -> None:
    """Print text (adding a final newline), or write it to a file."""
    if not text.endswith("\n"):
        text += "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from exc
