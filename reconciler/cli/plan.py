"""`orc plan`: probe the fleet, diff it against the manifests, print (and save) the plan."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import (
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
from reconciler.errors import ExitCode
from reconciler.plan import Plan
from reconciler.reconcile import Reconciler, ReconcileRequest, load_desired
from reconciler.report import render_plan_text

FORMATS = ("text", "json", "markdown")


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK, ExitCode.ERROR, ExitCode.CHANGES, ExitCode.INTERRUPTED
)


@click.command("plan", epilog=EPILOG_EXIT_CODES)
@paths_argument
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the plan as JSON, for `orc apply FILE`.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (or instances that could not be planned), 0 when none.",
)
@click.option(
    "--check-updates",
    is_flag=True,
    help="Ask each pulled model's registry for a newer build and show it as `^ update` "
    "(models with `update: auto` are always checked).",
)
@selection_options
@parallelism_option
@secrets_dir_option
@state_dir_option
def plan_command(
    paths: tuple[Path, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    check_updates: bool,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    parallelism: int | None,
    secrets_dirs: tuple[Path, ...],
    state_dir: Path | None,
) -> int:
    """Show what `orc apply` would change to make the servers match the manifests.

    Probes every selected instance concurrently (health, version, models; loaded models where a
    model is kept loaded), then prints the changes grouped by instance: `+ pull`, `~ create`,
    `* load`, `- delete`, and `^ update` for a newer registry build. Nothing is changed. A plan
    refused by a safety guard (maxDeletions, allowEmpty) exits 1; a registry that cannot be
    asked is only a warning.

    \b
    Examples:
      orc plan manifests/
      orc plan manifests/ --out plan.json && orc apply plan.json
      orc plan manifests/ --format markdown > comment.md
      orc plan manifests/ --target prod-gpu-1 --detailed-exitcode
      orc plan manifests/ --check-updates
    """
    request = ReconcileRequest(
        load_desired(list(paths)),
        targets,
        parse_selector(selectors),
        apply=False,
        detailed_exitcode=detailed_exitcode,
    )
    secrets = secret_policy(paths, secrets_dirs)
    with open_state(state_dir) as state:
        reconciler = Reconciler(
            state=state, parallelism=parallelism, secrets=secrets, check_updates=check_updates
        )
        outcome = run_async(reconciler.run(request))
    made = outcome.plan
    if out is not None:
        made = replace(made, manifests=tuple(str(p.resolve()) for p in paths))
        write_output(json.dumps(made.to_dict(), indent=2, sort_keys=True), out)
    write_output(_render(made, fmt))
    if outcome.error is not None:
        raise outcome.error
    return outcome.exit_code


def _render(made: Plan, fmt: str) -> str:
    if fmt == "json":
        from reconciler.report import render_plan_json

        return render_plan_json(made)
    if fmt == "markdown":
        from reconciler.report import render_plan_markdown

        return render_plan_markdown(made)
    return render_plan_text(made, color=use_color())
