"""`orc chat-test`: a real chat on the best healthy instance, or the smoke tests of the whole fleet.

One chat streams its reply as it arrives and ends with one line: the instance used, time to first
token, total time, tokens per second and the failovers. `--all` runs every instance's smoke tests
(and with `--every-model` a short chat with every declared model), prints a table, can write
JUnit XML for CI, and exits 1 when any check failed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import click

from reconciler.chat import Fleet, Verdict, plan_checks, run_checks
from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import (
    Duration,
    retention,
    run_async,
    secret_policy,
    secrets_dir_option,
    state_dir_option,
    use_color,
)
from reconciler.cli.paths import paths_argument
from reconciler.errors import ExitCode, ReconcilerError, UsageError
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.probe import DEFAULT_MAX_IN_FLIGHT
from reconciler.report.chat import (
    chat_error_json,
    chat_json,
    chat_summary,
    checks_json,
    render_checks_table,
    render_junit,
)
from reconciler.state import DEFAULT_RETENTION, StateDir, state_dir_path

DEFAULT_CHAT_PROMPT = "Introduce yourself in one sentence."

HELP = """Chat with a model on the best available instance, or smoke-test the whole fleet.

\b
One chat (--model): the candidates are the enabled, healthy instances that have the model and
whose model can chat (an embedding model never can); the lowest priority number goes first, and
within it the instance chosen as the Python API chooses (spec.weight, then the fastest). When an
instance is unreachable, times out, is busy, fails (5xx) or has a problem of its own
(credentials, TLS, model missing), the next one is tried; a request the server refuses (400)
stops. The reply is streamed as it arrives, then one line says which instance answered, the time
to the first token, the total time, tokens/s and the
failovers. --instance uses that one instance only.

\b
Smoke tests (--all): every `smoke` entry of every enabled instance runs on that instance, and its
reply must match `expect`; --every-model adds a short chat with every other declared model.
Instances are tested in parallel (all, or at most spec.parallelism of the Fleet). Embedding
models are skipped.
Exit 1 when any check failed.

\b
Every chat (each instance tried: answered, failed or refused, with the time to the first token
and tokens/s) and every probe is recorded in the state directory's history, for `orc status`
and `orc history`.

\b
Examples:
  orc chat-test manifests/ --model llama3.2:3b
  orc chat-test manifests/ --model qwen2.5-coder:7b --instance prod-gpu-1 --prompt "Write fizzbuzz"
  orc chat-test manifests/ --all --every-model --junit chat-tests.xml
"""


@dataclass(frozen=True)
class ChatTestSettings:
    """The flags of `orc chat-test`, checked."""

    paths: tuple[Path, ...]
    model: str | None = None
    instance: str | None = None
    prompt: str = DEFAULT_CHAT_PROMPT
    system: str | None = None
    timeout: float | None = None
    run_all: bool = False
    every_model: bool = False
    junit: Path | None = None
    output: str = "text"
    color: bool = False
    width: int = 120
    secrets: SecretPolicy | None = None  # None: files inside the manifest paths
    state_dir: Path | None = None  # where the history goes (None: $ORC_STATE_DIR or .orc)
    retention: float = DEFAULT_RETENTION


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.INTERRUPTED,
    OK="the chat (or every smoke test) succeeded",
    ERROR="a chat or smoke test failed, no instance could serve, or bad usage",
)


@click.command("chat-test", help=HELP, epilog=EPILOG_EXIT_CODES)
@paths_argument
@click.option("--model", "-m", help="The model to chat with (e.g. llama3.2:3b).")
@click.option("--instance", help="Use only this instance (no failover); with --all, test only it.")
@click.option("--prompt", help="The user message.  [default: a one-sentence introduction]")
@click.option("--system", help="A system message sent before the prompt.")
@click.option(
    "--timeout",
    type=Duration(),
    default=None,
    help="Time allowed for each instance's whole reply (45s, 2m).",
)
@click.option("--all", "run_all", is_flag=True, help="Run the smoke tests of every instance.")
@click.option("--every-model", is_flag=True, help="With --all: chat with every declared model.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --all: write the results as JUnit XML to this file.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: streamed reply or table; json: one object.",
)
@secrets_dir_option
@state_dir_option
def chat_test(
    paths: tuple[Path, ...],
    model: str | None,
    instance: str | None,
    prompt: str | None,
    system: str | None,
    timeout: float | None,
    run_all: bool,
    every_model: bool,
    junit: Path | None,
    output_format: str,
    secrets_dirs: tuple[Path, ...],
    state_dir: Path | None,
) -> int:
    """Run one chat or the smoke tests and return the exit code."""
    check_flags(model, run_all, every_model, junit, prompt, system)
    settings = ChatTestSettings(
        paths=paths,
        model=model,
        instance=instance,
        prompt=prompt or DEFAULT_CHAT_PROMPT,
        system=system,
        timeout=timeout,
        run_all=run_all,
        every_model=every_model,
        junit=junit,
        output=output_format,
        color=use_color(),
        width=shutil.get_terminal_size((120, 24)).columns,
        secrets=secret_policy(paths, secrets_dirs),
    )
    settings = replace(settings, state_dir=state_dir, retention=retention())
    try:
        return run_async(run_chat_test(settings))
    except ReconcilerError as exc:
        if settings.output == "json":  # a failure is a document too; the one line goes to stderr
            click.echo(json.dumps(chat_error_json(exc, settings.model), indent=2))
        raise


def check_flags(
    model: str | None,
    run_all: bool,
    every_model: bool,
    junit: Path | None,
    prompt: str | None,
    system: str | None,
) -> None:
    """Reject flags that do not go together (UsageError, exit 1)."""
    if run_all:
        if model is not None:
            raise UsageError("--model and --all do not go together", hint="choose one of them")
        if prompt is not None or system is not None:
            raise UsageError("--prompt and --system are for one chat, not for --all")
        return
    if model is None:
        raise UsageError("--model is required", hint="or --all to run the fleet's smoke tests")
    if every_model or junit is not None:
        raise UsageError("--every-model and --junit need --all")


async def run_chat_test(settings: ChatTestSettings) -> int:
    """Load the fleet, then run one chat or the smoke tests; return the exit code. Every probe
    and chat is recorded in the state directory's history."""
    path = state_dir_path(settings.state_dir)
    with StateDir(path, retention=settings.retention) as state:
        async with Fleet.from_paths(settings.paths, secrets=settings.secrets, state=state) as fleet:
            if settings.run_all:
                return await run_smoke_tests(settings, fleet)
            return await run_one_chat(settings, fleet)


async def run_one_chat(settings: ChatTestSettings, fleet: Fleet) -> int:
    """Stream one reply to stdout (text) or print it as one JSON object."""
    model = settings.model or ""
    messages = [{"role": "user", "content": settings.prompt}]
    if settings.output == "json":
        result = await fleet.chat(
            model=model,
            messages=messages,
            instance=settings.instance,
            system=settings.system,
            timeout=settings.timeout,
        )
        click.echo(json.dumps(chat_json(result), indent=2))
        return int(ExitCode.OK)
    stream = fleet.chat_stream(
        model=model,
        messages=messages,
        instance=settings.instance,
        system=settings.system,
        timeout=settings.timeout,
    )
    async for chunk in stream:
        if chunk.content:
            click.echo(chunk.content, nl=False)
    click.echo()
    click.echo(click.style(chat_summary(stream.result), dim=True), color=settings.color)
    return int(ExitCode.OK)


async def run_smoke_tests(settings: ChatTestSettings, fleet: Fleet) -> int:
    """Run the checks, write JUnit if asked, print the table or JSON; 1 if any check failed."""
    instances = (fleet.instance(settings.instance),) if settings.instance else fleet.instances
    checks = plan_checks(instances, every_model=settings.every_model, timeout=settings.timeout)
    if not checks:
        raise ReconcilerError(
            "there are no smoke tests to run: no instance declares spec.smoke",
            hint="declare smoke tests, or add --every-model to chat with every declared model",
        )
    at_once = fleet.desired.parallelism or DEFAULT_MAX_IN_FLIGHT
    results = await run_checks(fleet, checks, parallelism=at_once)
    if settings.junit is not None:
        _write(settings.junit, render_junit(results))
    if settings.output == "json":
        click.echo(json.dumps(checks_json(results), indent=2))
    else:
        table = render_checks_table(results, color=settings.color, width=settings.width)
        click.echo(table, nl=False, color=settings.color)
    failed = any(r.verdict is Verdict.FAIL for r in results)
    return int(ExitCode.ERROR if failed else ExitCode.OK)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReconcilerError(f"cannot write the JUnit file {path}: {exc.strerror}") from exc
