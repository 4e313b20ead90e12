"""Holes a review found, closed: a saved plan is only a file (its actions and guards are checked
again), SIGTERM stops an apply like Ctrl-C, typos in --target or --selector are errors, and a
plan that could probe nothing is not a green light."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from reconciler.testing import SimInstanceConfig

SMALL = "all-minilm:latest"
BIG = "tinyllama:latest"
EMBED = "nomic-embed-text:latest"


def saved_plan(orc_main, s, path: Path) -> dict:
    code, _, err = orc_main("plan", *s.args("--out", str(path)))
    assert code == 0, err
    return json.loads(path.read_text())


def test_deletions_added_to_a_saved_plan_by_hand_are_refused(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL, BIG, EMBED))])
    s.declare("a", [SMALL, BIG, EMBED], protect=["*"])
    data = saved_plan(orc_main, s, tmp_path / "p.json")
    data["instances"][0]["actions"] = [
        {"kind": "delete", "model": name, "reason": "edited by hand"} for name in (SMALL, BIG)
    ]
    (tmp_path / "p.json").write_text(json.dumps(data))

    code, _, err = orc_main("apply", str(tmp_path / "p.json"), "--state-dir", str(s.state_dir))

    assert code == 1
    assert "actions the manifests do not call for now: a/delete/" in err
    assert s.models("a") == {SMALL, BIG, EMBED}


def test_a_refused_plan_whose_refusals_were_erased_is_still_refused(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL, BIG, EMBED))])
    s.settings(safety={"maxDeletions": 1})
    s.declare("a", [SMALL, {"name": BIG, "state": "absent"}, {"name": EMBED, "state": "absent"}])
    code, _, _ = orc_main("plan", *s.args("--out", str(tmp_path / "p.json")))
    assert code == 1  # refused: two deletions, one allowed
    data = json.loads((tmp_path / "p.json").read_text())
    data["refusals"], data["refused"] = [], False
    (tmp_path / "p.json").write_text(json.dumps(data))

    code, _, err = orc_main("apply", str(tmp_path / "p.json"), "--state-dir", str(s.state_dir))

    assert code == 1
    assert "refused by a safety guard" in err
    assert "maxDeletions" in err
    assert s.models("a") == {SMALL, BIG, EMBED}


def test_a_saved_plan_with_only_blocked_instances_does_nothing_and_says_so(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL,), token="right")])
    s.declare("a", [SMALL, BIG], auth={"bearerToken": {"env": "ORC_TEST_NO_SUCH_VAR"}})
    code, out, _ = orc_main("plan", *s.args("--out", str(tmp_path / "p.json")))
    assert code == 1  # nothing could be planned
    assert "ORC_TEST_NO_SUCH_VAR" in out

    code, out, err = orc_main("apply", str(tmp_path / "p.json"), "--state-dir", str(s.state_dir))

    assert code == 1
    assert "nothing could be done" in err
    assert "Verified" not in out


def test_a_damaged_plan_file_is_named_in_one_line(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a")])
    s.declare("a", [SMALL])
    for name, text in (("empty.json", "{}"), ("deep.json", "[" * 100_000 + "]" * 100_000)):
        (tmp_path / name).write_text(text)
        code, _, err = orc_main("apply", str(tmp_path / name), str(s.manifests))
        assert code == 1
        assert name in err
        assert "Traceback" not in err
        assert "unexpected" not in err


def test_unknown_targets_and_empty_selections_are_usage_errors(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=(SMALL,))])
    s.declare("a", [SMALL], labels={"env": "prod"})
    for command in ("plan", "status", "apply"):
        code, _, err = orc_main(command, *s.args("--target", "typo"))
        assert code == 1, command
        assert "unknown target 'typo'" in err
        assert "known instances: a" in err
        code, _, err = orc_main(command, *s.args("--selector", "env=staging"))
        assert code == 1, command
        assert "no instance matches --selector env=staging" in err


def test_sigterm_stops_an_apply_like_ctrl_c(sim, spawn, until):
    s = sim([SimInstanceConfig("a", pull_speed=100e6)])
    s.declare("a", [SMALL, BIG])
    process = spawn("apply", *s.args("--yes"))
    until(process, f"a: + pull {SMALL} ... done")

    process.send_signal(signal.SIGTERM)
    rest, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert "Apply interrupted: 1 pulled, 0 created, 0 loaded, 0 deleted, 1 cancelled." in rest
    assert s.models("a") == {SMALL}
