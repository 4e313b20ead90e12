"""Where the manifests are: the PATH arguments, else $ORC_MANIFESTS, else ./manifests.

Apart from `cli/options.py` so that `orc validate`, which needs nothing else of it, loads
neither the secret rules nor the state directory's names.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

MANIFESTS_ENV = "ORC_MANIFESTS"
DEFAULT_MANIFESTS = Path("manifests")


def manifest_paths(given: tuple[Path, ...], env: dict[str, str] | None = None) -> tuple[Path, ...]:
    """The paths given; else those in $ORC_MANIFESTS (separated by `:`); else ./manifests."""
    if given:
        return given
    from_env = (env if env is not None else dict(os.environ)).get(MANIFESTS_ENV, "")
    listed = tuple(Path(p) for p in from_env.split(os.pathsep) if p.strip())
    if listed:
        return listed
    if DEFAULT_MANIFESTS.is_dir():
        return (DEFAULT_MANIFESTS,)
    raise click.UsageError(
        f"no manifests given: name PATH..., set ${MANIFESTS_ENV}, or keep them in ./manifests"
    )


paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=False,
    type=click.Path(path_type=Path, exists=False),
    callback=lambda ctx, param, value: manifest_paths(value),
)
