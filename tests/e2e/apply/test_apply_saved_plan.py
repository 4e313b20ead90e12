"""`orc plan --out p.json` then `orc apply p.json`: exactly that plan, and never a stale one.

A saved plan is stale when the manifests changed, or when a planned instance's model inventory
changed (or it cannot be observed) since the plan was made.
"""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.testing import SimInstanceConfig

SMALL = "all-minilm:latest"


@pytest.fixture
def two(sim, orc, tmp_path):
    """Instances a and b, each with a pull and a deletion to make, and a saved plan of both."""
    s = sim(
        [
            SimInstanceConfig("a", models=("llama3.2:3b", "tinyllama")),
            SimInstanceConfig("b", models=("llama3.2:3b", "tinyllama")),
        ]
    )
    for name in ("a", "b"):
        s.declare(name, ["llama3.2:3b", SMALL, {"name": "tinyllama", "state": "absent"}])
    saved = tmp_path / "p.json"
    made = orc("plan", *s.args("--out", str(saved)))
    assert made.returncode == 0, made.stderr
    return s, saved


def apply_saved(orc, s, saved, *more):
    return orc("apply", str(saved), *more, "--state-dir", str(s.state_dir))


def untouched(s) -> bool:
    return all(
        s.models(n) == {"llama3.2:3b", "tinyllama:latest"} and s.pulls(n) == 0 for n in ("a", "b")
    )


def test_a_fresh_saved_plan_is_applied(two, orc):
    s, saved = two

    done = apply_saved(orc, s, saved)

    assert done.returncode == 0, done.stderr
    assert "Apply complete: 2 pulled, 0 created, 0 loaded, 2 deleted." in done.stdout
    for name in ("a", "b"):
        assert s.models(name) == {"llama3.2:3b", SMALL}
    again = orc("plan", *s.args("--detailed-exitcode"))
    assert again.returncode == 0
    assert "No changes." in again.stdout


def test_exactly_the_saved_plan_is_applied_not_a_new_one(sim, orc, tmp_path):
    s = sim([SimInstanceConfig("a"), SimInstanceConfig("b")])
    s.declare("a", [SMALL])
    s.declare("b", [SMALL])
    saved = tmp_path / "p.json"
    assert orc("plan", *s.args("--target", "a", "--out", str(saved))).returncode == 0
    planned = [a["id"] for i in json.loads(saved.read_text())["instances"] for a in i["actions"]]

    done = apply_saved(orc, s, saved)

    assert done.returncode == 0, done.stderr
    assert planned == [f"a/pull/{SMALL}"]
    assert s.models("a") == {SMALL}
    assert s.models("b") == set(), "b was not in the saved plan"
    outcomes = done.stdout[done.stdout.index("Outcomes:") :].splitlines()
    reported = [line.strip() for line in outcomes if line.startswith("  ")]
    assert len(reported) == 1
    assert reported[0].startswith(f"a: + pull {SMALL} ... done")


def test_a_plan_is_stale_when_an_instance_changed_behind_its_back(two, orc):
    s, saved = two
    reply = httpx.request("DELETE", s.url("b") + "/api/delete", json={"model": "llama3.2:3b"})
    assert reply.status_code == 200

    done = apply_saved(orc, s, saved)

    assert done.returncode == 1
    assert "the saved plan is stale: instance b has a different set of models now" in done.stderr
    assert "orc plan --out" in done.stderr
    assert s.models("a") == {"llama3.2:3b", "tinyllama:latest"}
    assert s.pulls("a") == s.pulls("b") == 0


def test_a_plan_is_stale_when_a_planned_instance_cannot_be_reached(two, orc):
    s, saved = two
    s.background.call(s.fleet.stop("a"))

    done = apply_saved(orc, s, saved)

    assert done.returncode == 1
    assert "instance a is not reachable now" in done.stderr
    assert s.models("b") == {"llama3.2:3b", "tinyllama:latest"}


def test_a_plan_is_stale_when_the_manifests_changed(two, orc):
    s, saved = two
    s.declare("b", ["llama3.2:3b", SMALL, "tinyllama"])

    done = apply_saved(orc, s, saved)

    assert done.returncode == 1
    assert "the manifests changed since it was made" in done.stderr
    assert untouched(s)


def test_manifests_can_be_given_explicitly_with_the_saved_plan(two, orc, tmp_path):
    s, saved = two
    moved = tmp_path / "elsewhere"
    s.manifests.rename(moved)

    missing = apply_saved(orc, s, saved)
    done = apply_saved(orc, s, saved, str(moved))

    assert missing.returncode == 1
    assert "no such file or directory" in missing.stderr
    assert done.returncode == 0, done.stderr
    assert s.models("a") == {"llama3.2:3b", SMALL}


def test_a_saved_plan_refused_by_a_guard_stays_refused(sim, orc, tmp_path):
    s = sim([SimInstanceConfig("a", models=("llama3.2:3b", "tinyllama", SMALL))])
    s.settings(safety={"maxDeletions": 1})
    s.declare("a", ["llama3.2:3b"], prune=True)
    saved = tmp_path / "p.json"
    assert orc("plan", *s.args("--out", str(saved))).returncode == 1

    done = apply_saved(orc, s, saved)

    assert done.returncode == 1
    assert "refused by a safety guard" in done.stderr
    assert s.models("a") == {"llama3.2:3b", "tinyllama:latest", SMALL}


def test_a_damaged_saved_plan_is_an_error(sim, orc, tmp_path):
    s = sim([SimInstanceConfig("a")])
    s.declare("a", [SMALL])
    saved = tmp_path / "p.json"
    saved.write_text(json.dumps({"format_version": "9", "instances": []}), encoding="utf-8")

    done = apply_saved(orc, s, saved, str(s.manifests))

    assert done.returncode == 1
    assert "format version" in done.stderr
    assert s.pulls("a") == 0


def test_a_saved_plan_cannot_be_applied_twice(two, orc):
    s, saved = two
    assert apply_saved(orc, s, saved).returncode == 0

    again = apply_saved(orc, s, saved)

    assert again.returncode == 1
    assert "the saved plan is stale: instance a has a different set of models now" in again.stderr
    assert s.pulls("a") == 1
