"""The CI pipelines, the Dockerfile and the Kubernetes manifests call `orc` as it really is.

The linters in `.ci/run` (actionlint, GitLab's schema, hadolint, kubernetes-validate) check each
file's own format; these tests check what they cannot: that every `orc` command line in them is
accepted by orc's own parser (no renamed flag, no value of the wrong unit), and that the
Kubernetes objects point at each other (Service → pods, ServiceMonitor → Service, probes → port).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
CI = ROOT / "examples" / "ci"
KUBERNETES = ROOT / "examples" / "kubernetes"
ORC_LINE = re.compile(r"(?:^|[\s;(|&])orc\s+([a-z][a-z-]*(?:[^\n;|&>)]*))")


def check_orc_arguments(argv: list[str]) -> None:
    """Parse `orc ARGV` as the CLI would, converting every option's value; paths need not exist."""
    root = click.Context(cli, info_name="orc")
    command = cli.get_command(root, argv[0])
    assert command is not None, f"orc has no command {argv[0]!r}"
    ctx = click.Context(command, info_name=argv[0], parent=root)
    values, _, _ = command.make_parser(ctx).parse_args(list(argv[1:]))
    for param in command.params:
        if isinstance(param, click.Option) and param.name in values:
            param.type_cast_value(ctx, values[param.name])


def _scripts(document: Any) -> list[str]:
    """The shell of every GitHub step (`run:`) and GitLab job (`script:`) in a pipeline file."""
    if isinstance(document, dict):
        found = []
        for key, value in document.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            elif key == "script" and isinstance(value, list):
                found.extend(str(line) for line in value)
            else:
                found.extend(_scripts(value))
        return found
    if isinstance(document, list):
        return [script for item in document for script in _scripts(item)]
    return []


def _command_lines(path: Path) -> list[list[str]]:
    lines = []
    for script in _scripts(yaml.safe_load(path.read_text())):
        for match in ORC_LINE.finditer(script):
            lines.append(shlex.split(match.group(1).replace('"$MANIFESTS"', "manifests/")))
    return lines


CI_FILES = sorted([*CI.glob("github/*.yml"), CI / "gitlab" / ".gitlab-ci.yml"])


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_every_orc_command_in_the_pipelines_parses(path: Path) -> None:
    lines = _command_lines(path)
    if path.name != "orc-plan-comment.yml":
        assert lines, f"{path.name} runs no orc command"
    for argv in lines:
        check_orc_arguments(argv)


def test_the_checker_rejects_a_wrong_flag_and_a_wrong_unit() -> None:
    with pytest.raises(click.NoSuchOption):
        check_orc_arguments(["plan", "manifests/", "--no-such-flag"])
    with pytest.raises(click.BadParameter):
        check_orc_arguments(["plan", "manifests/", "--format", "yaml"])


def test_untrusted_pull_requests_get_no_write_token_and_confined_secrets() -> None:
    plan = yaml.safe_load((CI / "github" / "orc-plan.yml").read_text())
    assert set(plan[True]) == {"pull_request"}  # PyYAML reads the key `on` as True
    assert plan["permissions"] == {"contents": "read"}
    assert plan["jobs"]["plan"]["env"]["ORC_SECRET_ENV"]
    comment = (CI / "github" / "orc-plan-comment.yml").read_text()
    assert "actions/checkout" not in comment


def test_applies_never_overlap() -> None:
    apply = yaml.safe_load((CI / "github" / "orc-apply.yml").read_text())
    assert apply["concurrency"] == {"group": "orc-apply", "cancel-in-progress": False}
    gitlab = yaml.safe_load((CI / "gitlab" / ".gitlab-ci.yml").read_text())
    assert gitlab["apply"]["resource_group"] == "orc-apply"


def _dockerfile_json_array(instruction: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(rf"^{instruction}\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert found, f"Dockerfile has no exec-form {instruction}"
    parsed: list[str] = yaml.safe_load(found.group(1))
    return parsed


def test_the_container_runs_orc_watch_as_non_root_with_a_healthcheck() -> None:
    assert _dockerfile_json_array("ENTRYPOINT") == ["orc"]
    command = _dockerfile_json_array("CMD")
    check_orc_arguments(command)
    assert command[0] == "watch"
    listen = command[command.index("--listen") + 1]
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER\s+10001", text, re.MULTILINE)
    port = listen.rpartition(":")[2]
    assert f"127.0.0.1:{port}/healthz" in text
    assert f"EXPOSE {port}" in text


def _objects() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                found[doc["kind"]] = doc
    return found


def test_kustomization_lists_every_file() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk


def test_kubernetes_objects_point_at_each_other() -> None:
    objects = _objects()
    deployment, service, monitor = (
        objects["Deployment"],
        objects["Service"],
        objects["ServiceMonitor"],
    )
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= service_ports
    policy = objects["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()

    (orc,) = [c for c in pod["spec"]["containers"] if c["name"] == "orc"]
    check_orc_arguments(orc["args"])
    assert orc["args"][0] == "watch"
    listen = next(a for a in orc["args"] if a.startswith("--listen="))
    port = int(listen.rpartition(":")[2])
    ports = {p["name"]: p["containerPort"] for p in orc["ports"]}
    assert ports["http"] == port
    for probe in ("livenessProbe", "readinessProbe"):
        assert orc[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert orc["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in orc["env"]}
    assert "secretKeyRef" in env["ORC_WEBHOOK_TOKEN"]["valueFrom"]
    mounts = {m["mountPath"] for m in orc["volumeMounts"]}
    assert env["ORC_STATE_DIR"]["value"] in mounts
    assert orc["resources"]["limits"] and orc["resources"]["requests"]
